/* Glue: the Redis store of NodeRateLimit.
 *
 * Client library: hiredis (Debian's libhiredis-dev). apr-util's apr_redis
 * has INCR but no EVAL, no expiry in the same step and no AUTH; Apache's
 * socache redis provider has no atomic increment at all. The token bucket
 * must be read and written in one atomic step shared by every Apache of a
 * fleet, which is what a Lua script (EVALSHA) gives; hiredis speaks it,
 * with timeouts on connect and on every call. (Debian 12's hiredis 0.14
 * has no TLS: tls=on is refused at configtest; reach a TLS-only Redis
 * through a local stunnel.)
 *
 * Never stalling requests:
 *  - each worker thread keeps its own connection (no lock between
 *    threads); connect and every call are bounded by timeout= (50 ms);
 *  - the first failure marks Redis down for this child: from then on
 *    requests count in the shared-memory table at once (fail open to the
 *    local limits), without trying Redis;
 *  - a background thread per child tries to reconnect every 500 ms and
 *    marks Redis up again; the outage and the recovery are each logged
 *    once for the whole server (a flag word in shared memory). */
#include <string.h>
#include <sys/time.h>
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
#include "np_lb.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_REDIS_RETRY apr_time_from_msec(500)

struct np_redis_conf_t {
    np_rl_redis_t r;
    const char *url;
    volatile apr_uint32_t *outage;     /* shared by all children          */
    volatile apr_uint32_t down;        /* this child: use local counting  */
    volatile apr_uint32_t gen;         /* bumped on failure and recovery:
                                        * threads drop older connections  */
    volatile apr_uint32_t stop;
    char sha[48];                      /* the script's SHA1 (SCRIPT LOAD) */
    server_rec *s;
    apr_thread_t *thread;
};

static __thread redisContext *tctx;
static __thread apr_uint32_t tgen;

const char *np_redis_parse(apr_pool_t *p, int argc, const char *const *argv,
                           np_redis_conf_t **out)
{
    np_redis_conf_t *c = apr_pcalloc(p, sizeof(*c));
    const char *err = NULL;
    if (np_rl_redis_parse(p, argc, argv, &c->r, &err) != APR_SUCCESS) {
        return err;
    }
    if (c->r.tls) {
        return "TLS to Redis is not supported by this build (Debian 12's "
               "hiredis 0.14 has no TLS): reach the server through a local "
               "TLS tunnel (stunnel) and use redis://127.0.0.1:PORT";
    }
    c->url = apr_psprintf(p, "redis://%s:%d/%d", c->r.host, c->r.port,
                          c->r.db);
    *out = c;
    return NULL;
}

static struct timeval tv_of(apr_interval_time_t t)
{
    struct timeval tv;
    tv.tv_sec = (long)apr_time_sec(t);
    tv.tv_usec = (long)apr_time_usec(t);
    return tv;
}

/* A command's reply, or NULL (the connection is unusable then). An error
 * reply is returned as such. */
static redisReply *command(redisContext *ctx, int argc, const char **argv,
                           const size_t *lens)
{
    return redisCommandArgv(ctx, argc, argv, lens);
}

static int reply_ok(redisReply *rep)
{
    return rep && rep->type != REDIS_REPLY_ERROR;
}

/* Connect, AUTH, SELECT, SCRIPT LOAD: a ready connection or NULL, *why. */
static redisContext *connect_one(np_redis_conf_t *c, const char **why)
{
    struct timeval tv = tv_of(c->r.timeout);
    redisContext *ctx = redisConnectWithTimeout(c->r.host, c->r.port, tv);
    redisReply *rep;
    if (!ctx || ctx->err) {
        *why = ctx ? apr_pstrdup(c->s->process->pool, ctx->errstr)
                   : "out of memory";
        if (ctx) {
            redisFree(ctx);
        }
        return NULL;
    }
    redisSetTimeout(ctx, tv);
    if (c->r.password) {
        const char *a[2] = { "AUTH", c->r.password };
        size_t l[2] = { 4, strlen(c->r.password) };
        rep = command(ctx, 2, a, l);
        if (!reply_ok(rep)) {
            *why = "AUTH refused";
            goto fail;
        }
        freeReplyObject(rep);
    }
    if (c->r.db) {
        const char *db = apr_itoa(c->s->process->pool, c->r.db);
        const char *a[2] = { "SELECT", db };
        size_t l[2] = { 6, strlen(db) };
        rep = command(ctx, 2, a, l);
        if (!reply_ok(rep)) {
            *why = "SELECT refused";
            goto fail;
        }
        freeReplyObject(rep);
    }
    {
        const char *a[3] = { "SCRIPT", "LOAD", np_rl_redis_script };
        size_t l[3] = { 6, 4, strlen(np_rl_redis_script) };
        rep = command(ctx, 3, a, l);
        if (!reply_ok(rep) || rep->type != REDIS_REPLY_STRING
            || rep->len >= (int)sizeof(c->sha)) {
            *why = "SCRIPT LOAD failed";
            goto fail;
        }
        if (!c->sha[0]) {
            memcpy(c->sha, rep->str, rep->len);   /* the same every time */
        }
        freeReplyObject(rep);
    }
    return ctx;
fail:
    if (rep) {
        freeReplyObject(rep);
    }
    else {
        *why = ctx->errstr[0] ? apr_pstrdup(c->s->process->pool, ctx->errstr)
                              : "no answer";
    }
    redisFree(ctx);
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
    const char *why = NULL, *k, *targ, *carg;
    int tries, fresh = 0;

    if (apr_atomic_read32(&c->down)) {
        return APR_EAGAIN;
    }
    if (tctx && tgen != apr_atomic_read32(&c->gen)) {
        redisFree(tctx);
        tctx = NULL;
    }
again:
    if (!tctx) {
        tgen = apr_atomic_read32(&c->gen);
        fresh = 1;
        if (!(tctx = connect_one(c, &why))) {
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
        rep = command(tctx, 6, a, l);
        if (!rep) {
            why = tctx->errstr[0] ? apr_pstrdup(r->pool, tctx->errstr)
                                  : "no answer";
            redisFree(tctx);
            tctx = NULL;
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
            rep = command(tctx, 3, la, ll);
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
        {
            const char *why = NULL;
            redisContext *ctx = connect_one(c, &why);
            redisReply *rep = NULL;
            if (ctx) {
                const char *a[1] = { "PING" };
                size_t l[1] = { 4 };
                rep = command(ctx, 1, a, l);
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
            if (ctx) {
                redisFree(ctx);
            }
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
}

void np_redis_child_init(apr_pool_t *pchild, server_rec *s,
                         np_redis_conf_t *c)
{
    apr_status_t rv = apr_thread_create(&c->thread, NULL, watch_main, c,
                                        pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, NPLOGNO(00523)
                     "nodeproxy: cannot start the Redis reconnect thread; "
                     "after an outage this child counts locally");
        c->thread = NULL;
        return;
    }
    apr_pool_pre_cleanup_register(pchild, c, watch_stop);
}
