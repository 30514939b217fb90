/* Glue: the Redis store of NodeRateLimit.
 *
 * Client library: hiredis (Debian's libhiredis-dev), for the protocol
 * only. apr-util's apr_redis has INCR but no EVAL, no expiry in the same
 * step and no AUTH; Apache's socache redis provider has no atomic
 * increment at all. The token bucket must be read and written in one
 * atomic step shared by every Apache of a fleet, which is what a Lua
 * script (EVALSHA) gives. The connection is our own
 * (mod_nodeproxy_redis_conn.c): plain TCP or TLS through OpenSSL, because
 * Debian 12's hiredis 0.14 has no TLS and TLS-only Redis servers with
 * client certificates are common.
 *
 * Never stalling requests:
 *  - each worker thread keeps its own connection (no lock between
 *    threads); connecting, the TLS handshake and every call are each
 *    bounded by timeout= (50 ms);
 *  - the first failure marks Redis down for this child: from then on
 *    requests count in the shared-memory table at once (fail open to the
 *    local limits), without trying Redis;
 *  - a background thread per child tries to reconnect every 500 ms and
 *    marks Redis up again; the outage (with its reason) and the recovery
 *    are each logged once for the whole server (a flag word in shared
 *    memory). */
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <hiredis/hiredis.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_redis.h"
#include "mod_nodeproxy_redis_conn.h"
#include "mod_nodeproxy_tls.h"
#include "np_lb.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_REDIS_RETRY apr_time_from_msec(500)
#define NP_WHY 256

struct np_redis_conf_t {
    np_rl_redis_t r;
    const char *url;
    np_rconn_opts_t io;                /* how to connect (TLS context...) */
    const char *db_arg;                /* SELECT's argument               */
    volatile apr_uint32_t *outage;     /* shared by all children          */
    volatile apr_uint32_t down;        /* this child: use local counting  */
    volatile apr_uint32_t gen;         /* bumped on failure and recovery:
                                        * threads drop older connections  */
    volatile apr_uint32_t stop;
    char sha[48];                      /* the script's SHA1 (SCRIPT LOAD) */
    /* HOST's addresses in this child: looked up at child_init and again
     * by the reconnect thread during an outage, never by a request. */
    apr_thread_mutex_t *addr_lock;
    np_raddr_t addrs[NP_RADDR_MAX];
    int naddrs;
    char addr_why[NP_WHY];             /* why the last lookup failed      */
    server_rec *s;
    apr_thread_t *thread;
};

static __thread np_rconn_t *tconn;
static __thread apr_uint32_t tgen;

/* A file option: resolved against ServerRoot. */
static const char *file_opt(cmd_parms *cmd, const char *opt, const char *v,
                            const char **out)
{
    *out = v ? ap_server_root_relative(cmd->pool, v) : NULL;
    if (v && !*out) {
        return apr_psprintf(cmd->pool, "%s=\"%s\": bad path", opt, v);
    }
    return NULL;
}

/* The TLS context, made now so that configtest names a file that cannot
 * be read, holds nothing usable, or a key that does not match its
 * certificate. */
static const char *make_tls(cmd_parms *cmd, np_redis_conf_t *c)
{
    const char *err = NULL, *ca, *cert, *key;
    SSL_CTX *ctx;

    if ((err = file_opt(cmd, "ca", c->r.ca, &ca))
        || (err = file_opt(cmd, "cert", c->r.cert, &cert))
        || (err = file_opt(cmd, "key", c->r.key, &key))) {
        return err;
    }
    if (!(ctx = np_tls_client_ctx(cmd->pool, c->r.verify, &err))) {
        return err;
    }
    if (ca && (err = np_tls_load_ca(cmd->pool, ctx, ca)) != NULL) {
        return apr_pstrcat(cmd->pool, "ca=: ", err, NULL);
    }
    if (cert && (err = np_tls_load_client_cert(cmd->pool, ctx, cert, key))
                != NULL) {
        return apr_pstrcat(cmd->pool, key ? "cert=/key=: " : "cert=: ", err,
                           NULL);
    }
    c->io.ssl_ctx = ctx;
    c->io.verify = c->r.verify;
    np_rl_redis_peer(&c->r, &c->io.sni, &c->io.check_name, &c->io.check_ip);
    return NULL;
}

const char *np_redis_parse(cmd_parms *cmd, int argc, const char *const *argv,
                           np_redis_conf_t **out)
{
    np_redis_conf_t *c = apr_pcalloc(cmd->pool, sizeof(*c));
    const char *err = NULL;
    if (np_rl_redis_parse(cmd->pool, argc, argv, &c->r, &err)
        != APR_SUCCESS) {
        return err;
    }
    c->url = np_rl_redis_url(cmd->pool, &c->r);
    c->io.timeout = c->r.timeout;
    c->db_arg = apr_itoa(cmd->pool, c->r.db);
    if (c->r.tls && (err = make_tls(cmd, c)) != NULL) {
        return err;
    }
    *out = c;
    return NULL;
}

static redisReply *command(np_rconn_t *conn, int argc, const char **argv,
                           const size_t *lens, char *why)
{
    return np_rconn_call(conn, argc, argv, lens, why, NP_WHY);
}

static int reply_ok(redisReply *rep)
{
    return rep && rep->type != REDIS_REPLY_ERROR;
}

/* After a refused step: Redis' own words (an error reply) or the I/O
 * failure. */
static void refused(char *why, const char *step, redisReply *rep)
{
    if (rep) {
        apr_snprintf(why, NP_WHY, "%s refused: %.*s", step,
                     rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 0,
                     rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    }
    else {
        char io[NP_WHY];
        apr_cpystrn(io, why, sizeof(io));
        apr_snprintf(why, NP_WHY, "%s: %s", step, io[0] ? io : "no answer");
    }
}

/* Connect (TLS handshake), AUTH, SELECT, SCRIPT LOAD: a ready connection
 * or NULL with why[]. */
static void resolve(np_redis_conf_t *c)
{
    np_raddr_t a[NP_RADDR_MAX];
    char why[NP_WHY];
    int n = np_rconn_resolve(c->r.host, c->r.port, a, NP_RADDR_MAX, why,
                             sizeof(why));
    apr_thread_mutex_lock(c->addr_lock);
    if (n > 0) {
        memcpy(c->addrs, a, n * sizeof(a[0]));
        c->naddrs = n;   /* a failed lookup keeps the last good list */
    }
    apr_cpystrn(c->addr_why, n > 0 ? "" : why, sizeof(c->addr_why));
    apr_thread_mutex_unlock(c->addr_lock);
}

static np_rconn_t *connect_one(np_redis_conf_t *c, char *why)
{
    np_raddr_t addrs[NP_RADDR_MAX];
    np_rconn_t *conn;
    redisReply *rep = NULL;
    int n;

    apr_thread_mutex_lock(c->addr_lock);
    n = c->naddrs;
    memcpy(addrs, c->addrs, n * sizeof(addrs[0]));
    if (!n) {
        apr_cpystrn(why, c->addr_why[0] ? c->addr_why : "no address",
                    NP_WHY);
    }
    apr_thread_mutex_unlock(c->addr_lock);
    if (!n) {
        return NULL;
    }
    conn = np_rconn_open(&c->io, addrs, n, why, NP_WHY);
    if (!conn) {
        return NULL;
    }
    if (c->r.password) {
        /* Redis 6 ACL: AUTH user password; else the default user. */
        const char *a[3] = { "AUTH", c->r.user ? c->r.user : c->r.password,
                             c->r.password };
        size_t l[3] = { 4, strlen(a[1]), strlen(a[2]) };
        rep = command(conn, c->r.user ? 3 : 2, a, l, why);
        if (!reply_ok(rep)) {
            refused(why, "AUTH", rep);
            goto fail;
        }
        freeReplyObject(rep);
    }
    if (c->r.db) {
        const char *a[2] = { "SELECT", c->db_arg };
        size_t l[2] = { 6, strlen(c->db_arg) };
        rep = command(conn, 2, a, l, why);
        if (!reply_ok(rep)) {
            refused(why, "SELECT", rep);
            goto fail;
        }
        freeReplyObject(rep);
    }
    {
        const char *a[3] = { "SCRIPT", "LOAD", np_rl_redis_script };
        size_t l[3] = { 6, 4, strlen(np_rl_redis_script) };
        rep = command(conn, 3, a, l, why);
        if (!reply_ok(rep) || rep->type != REDIS_REPLY_STRING
            || rep->len >= sizeof(c->sha)) {
            refused(why, "SCRIPT LOAD", rep);
            goto fail;
        }
        if (!c->sha[0]) {
            memcpy(c->sha, rep->str, rep->len);   /* the same every time */
        }
        freeReplyObject(rep);
    }
    return conn;
fail:
    if (rep) {
        freeReplyObject(rep);
    }
    np_rconn_close(conn);
    return NULL;
}

static void mark_down(request_rec *r, np_redis_conf_t *c, const char *why)
{
    apr_atomic_inc32(&c->gen);
    if (apr_atomic_cas32(&c->down, 1, 0) == 0
        && apr_atomic_cas32(c->outage, 1, 0) == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NPLOGNO(00520)
                      "nodeproxy: NodeRateLimitStore %s unreachable (%s); "
                      "counting locally in shared memory (fail open) until "
                      "it is back", c->url, why);
    }
}

apr_status_t np_redis_take(request_rec *r, np_redis_conf_t *c,
                           const char *key, const np_rl_policy_t *pol,
                           np_rl_result_t *res)
{
    redisReply *rep;
    const char *k, *targ, *carg;
    char why[NP_WHY];
    int tries, fresh = 0;

    if (apr_atomic_read32(&c->down)) {
        return APR_EAGAIN;
    }
    if (tconn && tgen != apr_atomic_read32(&c->gen)) {
        np_rconn_close(tconn);
        tconn = NULL;
    }
again:
    if (!tconn) {
        tgen = apr_atomic_read32(&c->gen);
        fresh = 1;
        if (!(tconn = connect_one(c, why))) {
            mark_down(r, c, why);
            return APR_EAGAIN;
        }
    }
    /* A short key whatever the client sent: "nprl:" + 16 hex digits. */
    k = apr_psprintf(r->pool, "nprl:%016" APR_UINT64_T_HEX_FMT,
                     np_lb_hash(key, strlen(key), 0x6e70726c));
    targ = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, (apr_int64_t)pol->interval);
    carg = apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                        (apr_int64_t)pol->interval * pol->burst);
    for (tries = 0; tries < 2; tries++) {
        const char *a[6] = { "EVALSHA", c->sha, "1", k, targ, carg };
        size_t l[6];
        int i;
        for (i = 0; i < 6; i++) {
            l[i] = strlen(a[i]);
        }
        rep = command(tconn, 6, a, l, why);
        if (!rep) {
            np_rconn_close(tconn);
            tconn = NULL;
            if (!fresh) {
                /* A kept connection may have died with an earlier Redis
                 * (restarted since): one fresh try before calling it down. */
                goto again;
            }
            mark_down(r, c, why);
            return APR_EAGAIN;
        }
        if (rep->type == REDIS_REPLY_ERROR && tries == 0
            && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
            /* Redis restarted and forgot the script: load it again. */
            const char *la[3] = { "SCRIPT", "LOAD", np_rl_redis_script };
            size_t ll[3] = { 6, 4, strlen(np_rl_redis_script) };
            freeReplyObject(rep);
            rep = command(tconn, 3, la, ll, why);
            if (rep) {
                freeReplyObject(rep);
            }
            continue;
        }
        break;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2
        || rep->element[0]->type != REDIS_REPLY_INTEGER
        || rep->element[1]->type != REDIS_REPLY_INTEGER) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NPLOGNO(00521)
                      "nodeproxy: NodeRateLimitStore %s: unexpected answer "
                      "to the rate-limit script (%s); counting locally",
                      c->url, rep->type == REDIS_REPLY_ERROR ? rep->str
                                                            : "not two numbers");
        freeReplyObject(rep);
        return APR_EGENERAL;
    }
    np_rl_result_from(pol, rep->element[0]->integer != 0,
                      (apr_interval_time_t)rep->element[1]->integer, res);
    freeReplyObject(rep);
    return APR_SUCCESS;
}

/* ---- the background reconnect ---------------------------------------------- */

static void *APR_THREAD_FUNC watch_main(apr_thread_t *thd, void *data)
{
    np_redis_conf_t *c = data;
    while (!c->stop) {
        apr_sleep(NP_REDIS_RETRY);
        if (c->stop || !apr_atomic_read32(&c->down)) {
            continue;
        }
        resolve(c);
        {
            char why[NP_WHY];
            np_rconn_t *conn = connect_one(c, why);
            redisReply *rep = NULL;
            if (conn) {
                const char *a[1] = { "PING" };
                size_t l[1] = { 4 };
                rep = command(conn, 1, a, l, why);
            }
            if (reply_ok(rep)) {
                apr_atomic_inc32(&c->gen);
                apr_atomic_set32(&c->down, 0);
                if (apr_atomic_cas32(c->outage, 0, 1) == 1) {
                    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, c->s,
                                 NPLOGNO(00522) "nodeproxy: NodeRateLimitStore "
                                 "%s is back; rate limits are shared again",
                                 c->url);
                }
            }
            if (rep) {
                freeReplyObject(rep);
            }
            np_rconn_close(conn);
        }
    }
    return NULL;
}

static apr_status_t watch_stop(void *data)
{
    np_redis_conf_t *c = data;
    apr_status_t rv;
    c->stop = 1;
    if (c->thread) {
        apr_thread_join(&rv, c->thread);
        c->thread = NULL;
    }
    return APR_SUCCESS;
}

void np_redis_post_config(apr_pool_t *pconf, server_rec *s,
                          np_redis_conf_t *c,
                          volatile apr_uint32_t *outage_flag)
{
    c->s = s;
    c->outage = outage_flag;
    c->down = 0;
    c->gen = 0;
    c->stop = 0;
    c->sha[0] = '\0';
    c->thread = NULL;
    if (c->r.tls && !c->r.verify) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, NPLOGNO(00524)
                     "nodeproxy: NodeRateLimitStore %s verify=off: the Redis "
                     "server is not authenticated (its certificate and name "
                     "are not checked)", c->url);
    }
}

void np_redis_child_init(apr_pool_t *pchild, server_rec *s,
                         np_redis_conf_t *c)
{
    apr_status_t rv = apr_thread_mutex_create(&c->addr_lock,
                                              APR_THREAD_MUTEX_DEFAULT,
                                              pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, NPLOGNO(00525)
                     "nodeproxy: cannot make the Redis store's lock; this "
                     "child counts locally");
        apr_atomic_set32(&c->down, 1);
        c->addr_lock = NULL;
        return;
    }
    c->naddrs = 0;
    resolve(c);   /* here, not in a request: DNS may be slow */
    rv = apr_thread_create(&c->thread, NULL, watch_main, c, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, NPLOGNO(00523)
                     "nodeproxy: cannot start the Redis reconnect thread; "
                     "after an outage this child counts locally");
        c->thread = NULL;
        return;
    }
    apr_pool_pre_cleanup_register(pchild, c, watch_stop);
}
