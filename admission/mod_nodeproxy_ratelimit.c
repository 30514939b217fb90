/* Glue: NodeRateLimit, per-client request-rate limits, answered before
 * anything is sent to Node.
 *
 * A request to a proxied path (handler "nodeproxy") whose per-dir config
 * has a NodeRateLimit takes one token from its client's bucket (GCRA,
 * np_ratelimit.c). The bucket lives in the store NodeRateLimitStore names:
 * the default, shared memory seen by every child (a fixed-size table,
 * created in post_config), or Redis (mod_nodeproxy_redis.c), shared by a
 * fleet of Apache servers, with the shared-memory table as the fallback
 * while Redis is unreachable. Over the limit: 429 with Retry-After and the
 * IETF RateLimit-Policy / RateLimit headers, a JSON body for clients that
 * prefer JSON, else Apache's own 429 (ErrorDocument applies). */
#include <string.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_relay.h"
#include "mod_nodeproxy_admission.h"
#include "mod_nodeproxy_redis.h"
#include "np_lb.h"
#include "np_maint.h"
#include "np_ratelimit.h"
#include "np_sticky.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_RL_DEFAULT_ENTRIES 65536
#define NP_RL_MIN_ENTRIES     64
#define NP_RL_MAX_ENTRIES     (16 * 1024 * 1024)

/* NodeRateLimitStore: one per server (the main server's). */
typedef struct {
    int set;
    const char *where;
    apr_uint32_t entries;          /* shm size=N (also Redis' fallback)  */
    np_redis_conf_t *redis;        /* NULL: shared memory                */
} np_rl_store_t;

static np_rl_store_t store;
static np_rl_table_t *table;       /* this generation's, after post_config */
static int any_limit;              /* some NodeRateLimit is configured    */

/* ---- directives -------------------------------------------------------------- */

const char *np_ratelimit_cmd(cmd_parms *cmd, void *dconf, int argc,
                             char *const argv[])
{
    np_dir_conf_t *dc = dconf;
    np_rl_policy_t *pol = apr_pcalloc(cmd->pool, sizeof(*pol));
    const char *err = NULL;
    if (np_rl_parse(cmd->pool, argc, (const char *const *)argv, pol, &err)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    dc->ratelimit = pol;
    any_limit |= !pol->off;
    return NULL;
}

const char *np_ratelimit_store_cmd(cmd_parms *cmd, void *dconf, int argc,
                                   char *const argv[])
{
    const char *err;
    int i;
    if ((err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) != NULL) {
        return err;
    }
    if (store.set) {
        return apr_psprintf(cmd->pool, "%s: given twice (first at %s)",
                            cmd->cmd->name, store.where);
    }
    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: use shm [size=N] or "
                            "redis://HOST:PORT[/DB] [key=value...]",
                            cmd->cmd->name);
    }
    store.set = 1;
    store.where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                               cmd->directive->line_num);
    if (strncasecmp(argv[0], "redis://", 8) == 0
        || strncasecmp(argv[0], "rediss://", 9) == 0) {
        err = np_redis_parse(cmd, argc, (const char *const *)argv,
                             &store.redis);
        return err ? apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err)
                   : NULL;
    }
    if (strcasecmp(argv[0], "shm") != 0) {
        return apr_psprintf(cmd->pool, "%s: unknown store \"%s\" (use shm "
                            "[size=N] or redis://HOST:PORT[/DB])",
                            cmd->cmd->name, argv[0]);
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *d;
        long v = 0;
        if (strncasecmp(a, "size=", 5) != 0) {
            return apr_psprintf(cmd->pool, "%s: unknown option \"%s\" for "
                                "shm (use size=N)", cmd->cmd->name, a);
        }
        for (d = a + 5; *d >= '0' && *d <= '9' && v <= NP_RL_MAX_ENTRIES; d++) {
            v = v * 10 + (*d - '0');
        }
        if (d == a + 5 || *d || v < NP_RL_MIN_ENTRIES || v > NP_RL_MAX_ENTRIES) {
            return apr_psprintf(cmd->pool, "%s: size \"%s\" is not valid: use "
                                "a number of client entries %d-%d",
                                cmd->cmd->name, a + 5, NP_RL_MIN_ENTRIES,
                                NP_RL_MAX_ENTRIES);
        }
        store.entries = (apr_uint32_t)v;
    }
    return NULL;
}

static apr_status_t store_reset(void *unused)
{
    memset(&store, 0, sizeof(store));
    table = NULL;
    any_limit = 0;
    return APR_SUCCESS;
}

static int np_rl_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    store_reset(NULL);
    apr_pool_cleanup_register(pconf, NULL, store_reset, apr_pool_cleanup_null);
    return OK;
}

/* ---- the table in shared memory ---------------------------------------------- */

static int np_rl_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    apr_uint32_t entries = store.entries ? store.entries
                                         : NP_RL_DEFAULT_ENTRIES;
    apr_shm_t *shm;
    apr_status_t rv;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        || !any_limit) {
        return OK;
    }
    /* Anonymous and made anew each generation: a graceful restart starts
     * every client with a full bucket. */
    rv = apr_shm_create(&shm, np_rl_table_size(entries), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, NPLOGNO(00510)
                     "nodeproxy: cannot create the shared memory for "
                     "NodeRateLimit (%u entries, %" APR_SIZE_T_FMT " bytes)",
                     (unsigned)entries, np_rl_table_size(entries));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    table = apr_shm_baseaddr_get(shm);
    np_rl_table_init(table, entries);
    if (store.redis) {
        np_redis_post_config(pconf, s, store.redis, &table->flags);
    }
    return OK;
}

static void np_rl_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (store.redis && any_limit) {
        np_redis_child_init(pchild, s, store.redis);
    }
}

/* ---- the request ---------------------------------------------------------------- */

/* The client's key: its address as Apache established it (mod_remoteip
 * included), or a header / cookie (the address when it is missing). */
static const char *client_key(request_rec *r, const np_rl_policy_t *pol)
{
    const char *v = NULL;
    if (pol->key == NP_RL_KEY_HEADER) {
        v = apr_table_get(r->headers_in, pol->key_name);
    }
    else if (pol->key == NP_RL_KEY_COOKIE) {
        v = np_sticky_cookie_get(r->pool, apr_table_get(r->headers_in,
                                                       "Cookie"),
                                 pol->key_name);
    }
    if (v && *v) {
        return apr_pstrcat(r->pool, pol->key == NP_RL_KEY_HEADER ? "h:" : "c:",
                           v, NULL);
    }
    return apr_pstrcat(r->pool, "ip:", r->useragent_ip ? r->useragent_ip : "",
                       NULL);
}

static int too_many(request_rec *r, const np_rl_policy_t *pol,
                    const np_rl_result_t *res, const char *key)
{
    long retry = np_rl_retry_secs(res->retry_after);
    apr_table_t *h = r->err_headers_out;
    const char *body;
    apr_bucket_brigade *bb;

    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00511)
                  "nodeproxy: NodeRateLimit %s: %s is over the limit; "
                  "answering 429 (Retry-After %ld)", pol->text, key, retry);
    apr_table_setn(r->notes, "nodeproxy-ratelimit", "limited");
    apr_table_setn(h, "Retry-After", apr_ltoa(r->pool, retry));
    apr_table_setn(h, "RateLimit-Policy", np_rl_policy_header(r->pool, pol));
    apr_table_setn(h, "RateLimit", np_rl_header(r->pool, res));
    apr_table_setn(h, "Cache-Control", "no-store");
    if (ap_discard_request_body(r) != OK) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    if (!np_accept_prefers_json(apr_table_get(r->headers_in, "Accept"))) {
        return HTTP_TOO_MANY_REQUESTS;   /* Apache's page, ErrorDocument */
    }
    apr_table_mergen(r->headers_out, "Vary", "Accept");
    r->status = HTTP_TOO_MANY_REQUESTS;
    ap_set_content_type(r, "application/json");
    body = np_rl_json(r->pool, retry);
    ap_set_content_length(r, strlen(body));
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (!r->header_only) {
        apr_brigade_write(bb, NULL, NULL, body, strlen(body));
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    return OK;
}

static int np_rl_handler(request_rec *r)
{
    np_dir_conf_t *dc;
    const np_rl_policy_t *pol;
    np_rl_result_t res;
    const char *key, *full;
    apr_uint64_t h;

    if (!table || !r->handler || strcmp(r->handler, NP_HANDLER) != 0
        || r->main) {
        return DECLINED;
    }
    dc = np_dir_conf(r->per_dir_config);
    pol = dc->ratelimit;
    if (!pol || pol->off) {
        return DECLINED;
    }
    key = client_key(r, pol);
    /* The same policy and client count together wherever the limit is
     * configured, on every server of a fleet. */
    full = apr_pstrcat(r->pool, pol->text, "|", key, NULL);
    if (!store.redis
        || np_redis_take(r, store.redis, full, pol, &res) != APR_SUCCESS) {
        h = np_lb_hash(full, strlen(full), 0x6e70726c);   /* "nprl" */
        np_rl_table_take(table, h, apr_time_now(), pol, &res);
    }
    if (res.allowed) {
        return DECLINED;
    }
    return too_many(r, pol, &res, key);
}

void np_ratelimit_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(np_rl_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(np_rl_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(np_rl_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before the proxy's handler: a refused request never reaches Node. */
    ap_hook_handler(np_rl_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
