/* Glue: the directive table, create/merge of both config records, and the
 * config-time checks. Values are parsed by the pure np_* functions so that
 * configtest names the directive and what is wrong with the value. */
#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_core.h>
#include <http_main.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_control.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_pool.h"
#include "mod_nodeproxy_balancer.h"
#include "mod_nodeproxy_hcheck.h"
#include "mod_nodeproxy_admission.h"
#include "mod_nodeproxy_tls.h"
#include "mod_nodeproxy_resolve.h"
#include "np_duration.h"
#include "np_cidr.h"
#include "mod_nodeproxy_errover.h"

APLOG_USE_MODULE(nodeproxy);

/* ---- create / merge: every field has an unset value and is merged ------- */

void *np_create_server_conf(apr_pool_t *p, server_rec *s)
{
    np_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    sc->mappings = apr_array_make(p, 4, sizeof(np_mapping_t *));
    sc->map = NULL;
    sc->trusted = NULL;
    sc->backend_keepalive = NP_UNSET;
    sc->balancers = apr_hash_make(p);
    sc->tls = np_tls_conf_create(p);
    return sc;
}

void *np_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    np_server_conf_t *base = basev, *add = addv;
    np_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    /* A vhost keeps its own mappings; the main server's are added when the
     * table is compiled (own PATHs win), so nothing is copied here. */
    sc->mappings = add->mappings;
    sc->map = NULL;
    sc->trusted = add->trusted ? add->trusted : base->trusted;
    sc->backend_keepalive = NP_PICK(add->backend_keepalive,
                                    base->backend_keepalive);
    /* Balancers of the main server are usable from every vhost. */
    sc->balancers = apr_hash_overlay(p, add->balancers, base->balancers);
    sc->tls = np_tls_conf_merge(p, base->tls, add->tls);
    return sc;
}

void *np_create_dir_conf(apr_pool_t *p, char *dir)
{
    np_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));
    dc->connect_timeout = NP_UNSET;
    dc->timeout = NP_UNSET;
    dc->forwarded = NP_UNSET;
    dc->preserve_host = NP_UNSET;
    dc->maint_page = NULL;
    dc->retry_after = NP_UNSET;
    dc->maint_flag = NULL;
    dc->websocket = NP_UNSET;
    dc->ws_idle_timeout = NP_UNSET;
    dc->async_delay = NP_UNSET;
    dc->next_wait = NP_UNSET;
    dc->ratelimit = NULL;
    dc->status_control = NP_UNSET;
    dc->error_override = NP_UNSET;
    dc->error_codes = NULL;
    return dc;
}

void *np_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    np_dir_conf_t *base = basev, *add = addv;
    np_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));
    dc->connect_timeout = NP_PICK(add->connect_timeout, base->connect_timeout);
    dc->timeout = NP_PICK(add->timeout, base->timeout);
    dc->forwarded = NP_PICK(add->forwarded, base->forwarded);
    dc->preserve_host = NP_PICK(add->preserve_host, base->preserve_host);
    dc->maint_page = add->maint_page ? add->maint_page : base->maint_page;
    dc->retry_after = NP_PICK(add->retry_after, base->retry_after);
    dc->maint_flag = add->maint_flag ? add->maint_flag : base->maint_flag;
    dc->websocket = NP_PICK(add->websocket, base->websocket);
    dc->ws_idle_timeout = NP_PICK(add->ws_idle_timeout, base->ws_idle_timeout);
    dc->async_delay = NP_PICK(add->async_delay, base->async_delay);
    dc->next_wait = NP_PICK(add->next_wait, base->next_wait);
    dc->ratelimit = add->ratelimit ? add->ratelimit : base->ratelimit;
    dc->status_control = NP_PICK(add->status_control, base->status_control);
    /* on/off and its code list go together */
    dc->error_override = NP_PICK(add->error_override, base->error_override);
    dc->error_codes = add->error_override != NP_UNSET ? add->error_codes
                                                      : base->error_codes;
    return dc;
}

/* ---- directive handlers --------------------------------------------------- */

static const char *cmd_error(cmd_parms *cmd, const char *what)
{
    return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, what);
}

/* Which section encloses the directive: NULL (server/vhost) or its name. */
static const char *enclosing_section(cmd_parms *cmd)
{
    const ap_directive_t *d = cmd->directive ? cmd->directive->parent : NULL;
    for (; d; d = d->parent) {
        if (strcasecmp(d->directive, "<VirtualHost") != 0
            && strcasecmp(d->directive, "<IfModule") != 0
            && strcasecmp(d->directive, "<IfDefine") != 0
            && strcasecmp(d->directive, "<IfVersion") != 0
            && strcasecmp(d->directive, "<IfFile") != 0
            && strcasecmp(d->directive, "<IfDirective") != 0
            && strcasecmp(d->directive, "<IfSection") != 0) {
            return d->directive;
        }
    }
    return NULL;
}

static const char *cmd_proxy_pass(cmd_parms *cmd, void *dconf, int argc,
                                  char *const argv[])
{
    np_server_conf_t *sc = np_server_conf(cmd->server);
    np_mapping_t *m = apr_pcalloc(cmd->pool, sizeof(*m));
    const char *section = enclosing_section(cmd);
    const char *err;
    int i = 0;

    m->timeout = m->connect_timeout = NP_UNSET;
    m->websocket = m->preserve_host = m->reverse = NP_UNSET;
    m->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                            cmd->directive->line_num);
    if (section) {
        /* Location form: the Location's path is PATH. */
        if (strcasecmp(section, "<Location") != 0 || !cmd->path
            || (cmd->directive->parent->args
                && cmd->directive->parent->args[0] == '~')) {
            return cmd_error(cmd, apr_psprintf(cmd->pool, "not allowed in %s> "
                             "(use it in <Location /path> or with a PATH at "
                             "server or virtual host level)", section));
        }
        m->path = cmd->path;
    }
    else {
        if (argc < 2) {
            return cmd_error(cmd, "needs PATH and TARGET (or PATH !)");
        }
        m->path = argv[i++];
    }
    if (argc <= i) {
        return cmd_error(cmd, "missing target (use http://HOST:PORT/, "
                         "unix:/path.sock|http://localhost/, balancer://NAME/ "
                         "or !)");
    }
    if (np_mapping_check_path(cmd->pool, m->path, &err) != APR_SUCCESS) {
        return cmd_error(cmd, err);
    }
    m->path_len = strlen(m->path);
    if (strcmp(argv[i], "!") == 0) {
        m->exclude = 1;
        if (argc > i + 1) {
            return cmd_error(cmd, apr_psprintf(cmd->pool, "\"%s\": an excluded "
                             "path (!) takes no keys", argv[i + 1]));
        }
    }
    else if (np_target_parse(cmd->pool, argv[i], &m->target, &err)
             != APR_SUCCESS) {
        return cmd_error(cmd, err);
    }
    for (i++; i < argc; i++) {
        if (np_mapping_set_key(cmd->pool, m, argv[i], &err) != APR_SUCCESS) {
            return cmd_error(cmd, err);
        }
    }
    for (i = 0; i < sc->mappings->nelts; i++) {
        const np_mapping_t *o = APR_ARRAY_IDX(sc->mappings, i, np_mapping_t *);
        if (strcmp(o->path, m->path) == 0) {
            return cmd_error(cmd, apr_psprintf(cmd->pool, "path \"%s\" is "
                             "already mapped at %s", m->path, o->where));
        }
    }
    APR_ARRAY_PUSH(sc->mappings, np_mapping_t *) = m;
    return NULL;
}

static const char *parse_duration(cmd_parms *cmd, const char *arg,
                                  apr_interval_time_t *out, int allow_zero)
{
    const char *err;
    if (np_duration_parse_p(cmd->pool, arg, out, &err) != APR_SUCCESS) {
        return cmd_error(cmd, err);
    }
    if (*out == 0 && !allow_zero) {
        return cmd_error(cmd, apr_psprintf(cmd->pool, "\"%s\" must be more "
                                           "than 0", arg));
    }
    return NULL;
}

static const char *cmd_connect_timeout(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    return parse_duration(cmd, arg, &((np_dir_conf_t *)dconf)->connect_timeout, 0);
}

static const char *cmd_timeout(cmd_parms *cmd, void *dconf, const char *arg)
{
    return parse_duration(cmd, arg, &((np_dir_conf_t *)dconf)->timeout, 0);
}

static const char *cmd_backend_keepalive(cmd_parms *cmd, void *dconf,
                                         const char *arg)
{
    /* 0 turns pooling off: every request gets a new connection. */
    return parse_duration(cmd, arg,
                          &np_server_conf(cmd->server)->backend_keepalive, 1);
}

static const char *cmd_forwarded(cmd_parms *cmd, void *dconf, int on)
{
    ((np_dir_conf_t *)dconf)->forwarded = on;
    return NULL;
}

static const char *cmd_preserve_host(cmd_parms *cmd, void *dconf, int on)
{
    ((np_dir_conf_t *)dconf)->preserve_host = on;
    return NULL;
}

static const char *cmd_websocket(cmd_parms *cmd, void *dconf, int on)
{
    ((np_dir_conf_t *)dconf)->websocket = on;
    return NULL;
}

static const char *cmd_ws_idle_timeout(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    /* 0: no idle timeout (the tunnel lives as long as both sides do). */
    return parse_duration(cmd, arg, &((np_dir_conf_t *)dconf)->ws_idle_timeout,
                          1);
}

static const char *cmd_async_delay(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    np_dir_conf_t *dc = dconf;
    if (strcasecmp(arg, "off") == 0) {
        dc->async_delay = NP_ASYNC_OFF;
        return NULL;
    }
    /* 0: suspend at once when the answer is not already there. */
    return parse_duration(cmd, arg, &dc->async_delay, 1);
}

static const char *cmd_next_wait(cmd_parms *cmd, void *dconf,
                                 const char *arg)
{
    np_dir_conf_t *dc = dconf;
    if (strcasecmp(arg, "off") == 0) {
        dc->next_wait = 0;
        return NULL;
    }
    return parse_duration(cmd, arg, &dc->next_wait, 1);
}

static const char *cmd_trusted_proxy(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    np_server_conf_t *sc = np_server_conf(cmd->server);
    np_cidr_t *c;
    const char *err;
    if (!sc->trusted) {
        sc->trusted = apr_array_make(cmd->pool, 4, sizeof(np_cidr_t));
    }
    c = apr_array_push(sc->trusted);
    if (np_cidr_parse_p(cmd->pool, arg, c, &err) != APR_SUCCESS) {
        return cmd_error(cmd, err);
    }
    return NULL;
}

/* The page's content type, from its extension. */
static const char *page_type(const char *file)
{
    const char *dot = strrchr(file, '.');
    if (dot && (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm"))) {
        return "text/html; charset=utf-8";
    }
    if (dot && !strcasecmp(dot, ".json")) {
        return "application/json";
    }
    return "text/plain; charset=utf-8";
}

static const char *cmd_maint_page(cmd_parms *cmd, void *dconf,
                                  const char *file, const char *opt)
{
    np_dir_conf_t *dc = dconf;
    const char *path = ap_server_root_relative(cmd->pool, file);
    np_page_t *page;
    const char *err;

    if (!path) {
        return cmd_error(cmd, apr_psprintf(cmd->pool, "bad path \"%s\"", file));
    }
    if (opt) {
        char *end;
        long n;
        if (strncasecmp(opt, "retry-after=", 12) != 0) {
            return cmd_error(cmd, apr_psprintf(cmd->pool, "unknown option "
                             "\"%s\" (use retry-after=SECONDS)", opt));
        }
        n = strtol(opt + 12, &end, 10);
        if (end == opt + 12 || *end || n < 0 || n > 86400) {
            return cmd_error(cmd, apr_psprintf(cmd->pool, "\"%s\": retry-after "
                             "must be 0-86400 seconds", opt));
        }
        dc->retry_after = (int)n;
    }
    page = apr_pcalloc(cmd->pool, sizeof(*page));
    page->path = path;
    page->type = page_type(path);
    page->current = np_page_load(cmd->pool, path, &err);
    if (!page->current) {
        return cmd_error(cmd, err);
    }
    page->checked = apr_time_now();
    dc->maint_page = page;
    return NULL;
}

static const char *cmd_maint_flag(cmd_parms *cmd, void *dconf, const char *file)
{
    const char *path = ap_server_root_relative(cmd->pool, file);
    np_flag_t *flag = apr_pcalloc(cmd->pool, sizeof(*flag));
    if (!path) {
        return cmd_error(cmd, apr_psprintf(cmd->pool, "bad path \"%s\"", file));
    }
    flag->path = path;
    ((np_dir_conf_t *)dconf)->maint_flag = flag;
    return NULL;
}

const command_rec np_cmds[] = {
    AP_INIT_TAKE_ARGV("NodeProxyPass", cmd_proxy_pass, NULL,
        RSRC_CONF | ACCESS_CONF,
        "PATH TARGET [key=value...] | PATH ! (in <Location>: TARGET | !) - "
        "proxy a URL-path prefix to a Node.js app"),
    AP_INIT_TAKE1("NodeConnectTimeout", cmd_connect_timeout, NULL,
        RSRC_CONF | ACCESS_CONF, "TCP connect timeout to a backend (3s)"),
    AP_INIT_TAKE1("NodeTimeout", cmd_timeout, NULL, RSRC_CONF | ACCESS_CONF,
        "how long to wait for backend response bytes (60s)"),
    AP_INIT_TAKE1("NodeBackendKeepAlive", cmd_backend_keepalive, NULL,
        RSRC_CONF, "idle pooled backend connections are closed after this "
        "(4s, below Node's 5s keepAliveTimeout; 0 = no pooling)"),
    AP_INIT_FLAG("NodeForwardedHeaders", cmd_forwarded, NULL,
        RSRC_CONF | ACCESS_CONF,
        "on|off - send X-Forwarded-For/-Proto/-Host/-Port and Forwarded (on)"),
    AP_INIT_ITERATE("NodeTrustedProxy", cmd_trusted_proxy, NULL, RSRC_CONF,
        "CIDR... - peers whose X-Forwarded-*/Forwarded headers are kept"),
    AP_INIT_FLAG("NodePreserveHost", cmd_preserve_host, NULL,
        RSRC_CONF | ACCESS_CONF, "on|off - send the client's Host (on)"),
    AP_INIT_TAKE12("NodeMaintenancePage", cmd_maint_page, NULL,
        RSRC_CONF | ACCESS_CONF, "FILE [retry-after=SECONDS] - served with "
        "503 when no backend can answer"),
    AP_INIT_TAKE1("NodeMaintenanceFlag", cmd_maint_flag, NULL,
        RSRC_CONF | ACCESS_CONF, "FILE - while it exists, proxied requests "
        "get the maintenance response"),
    AP_INIT_FLAG("NodeWebSocket", cmd_websocket, NULL, RSRC_CONF | ACCESS_CONF,
        "on|off - tunnel Upgrade: websocket requests (on)"),
    AP_INIT_TAKE1("NodeWebSocketIdleTimeout", cmd_ws_idle_timeout, NULL,
        RSRC_CONF | ACCESS_CONF, "close a tunnel with no traffic either way "
        "for this long (300s; 0 = never)"),
    AP_INIT_TAKE1("NodeAsyncDelay", cmd_async_delay, NULL,
        RSRC_CONF | ACCESS_CONF, "DURATION | off - a response Node has not "
        "started (or paused) this long waits without a worker thread (50ms)"),
    AP_INIT_TAKE1("NodeNextRequestWait", cmd_next_wait, NULL,
        RSRC_CONF | ACCESS_CONF, "DURATION | off - after a response, how "
        "long the worker waits for the client's next request before the "
        "MPM takes the connection back (2ms)"),
    AP_INIT_TAKE_ARGV("NodeErrorOverride", np_errover_cmd, NULL,
        RSRC_CONF | ACCESS_CONF, "on|off [CODE...] - a 4xx/5xx from the "
        "backend (all, or the listed codes) is replaced by Apache's own "
        "error handling (ErrorDocument) (off)"),
    AP_INIT_RAW_ARGS("<NodeBalancer", np_balancer_section, NULL, RSRC_CONF,
        "<NodeBalancer NAME> ... </NodeBalancer> - a pool of app processes, "
        "used as balancer://NAME"),
    AP_INIT_TAKE_ARGV("NodeMember", np_balancer_member, NULL, RSRC_CONF,
        "URL [weight=N] [standby] [route=ID] - one member; "
        "http://HOST:P1-P2 adds one per port"),
    AP_INIT_TAKE1("NodeBalancerMethod", np_balancer_method, NULL, RSRC_CONF,
        "least-pending (default), round-robin, p2c or ip-hash"),
    AP_INIT_TAKE12("NodeSticky", np_balancer_sticky, NULL, RSRC_CONF,
        "cookie NAME | off - proxy-inserted sticky-session cookie"),
    AP_INIT_TAKE_ARGV("NodeHealthCheck", np_hcheck_directive, NULL, RSRC_CONF,
        "PATH [interval=5s] [timeout=2s] [passes=2] [fails=3] "
        "[expect=200-399] [method=GET] - active health checks"),
    AP_INIT_TAKE1("NodeRetry", np_balancer_retry, NULL, RSRC_CONF,
        "N - further members tried after a connect failure "
        "(default: every other member once)"),
    /* admission control (admission/) */
    AP_INIT_TAKE1("NodeQueueLimit", np_queue_limit_cmd, NULL, RSRC_CONF,
                  "requests that may wait for a free max= slot of the "
                  "balancer (inside <NodeBalancer>; default 100, 0 = none)"),
    AP_INIT_TAKE1("NodeQueueTimeout", np_queue_timeout_cmd, NULL, RSRC_CONF,
                  "how long a request waits for a free max= slot before "
                  "503 (inside <NodeBalancer>; default 10s)"),
    AP_INIT_TAKE_ARGV("NodeRateLimit", np_ratelimit_cmd, NULL,
                      RSRC_CONF | ACCESS_CONF,
                      "rate=N/s|N/m [burst=N] [key=ip|header:NAME|"
                      "cookie:NAME], or off: per-client request-rate limit"),
    AP_INIT_TAKE_ARGV("NodeRateLimitStore", np_ratelimit_store_cmd, NULL,
                      RSRC_CONF,
                      "shm [size=N] | redis://HOST:PORT[/DB] [password=...] "
                      "[tls=on] [timeout=DURATION]: where rate-limit counters "
                      "live"),
    AP_INIT_TAKE1("NodeFailTimeout", np_balancer_fail_timeout, NULL, RSRC_CONF,
        "a member that refused a connection is skipped this long (5s)"),
    /* runtime control (issue 15): control/mod_nodeproxy_control.c */
    AP_INIT_FLAG("NodeStatusControl", np_control_cmd_status_control, NULL,
        ACCESS_CONF, "on|off - the nodeproxy-status handler of this Location "
        "accepts POSTed admin changes (off)"),
    AP_INIT_TAKE1("NodeBalancerPersist", np_control_cmd_persist, NULL,
        RSRC_CONF, "FILE - admin states and weights survive a full stop/start"),
    AP_INIT_TAKE1("NodeSlowStart", np_balancer_slow_start, NULL, RSRC_CONF,
        "DURATION - a member usable again ramps its weight up over this (0 = off)"),
    /* https:// backends (tls/) */
    AP_INIT_TAKE1("NodeBackendCA", np_tls_cmd_ca, NULL, RSRC_CONF,
        "FILE|DIR - trust anchors for https:// backends, added to the "
        "system CA store"),
    AP_INIT_FLAG("NodeBackendVerify", np_tls_cmd_verify, NULL, RSRC_CONF,
        "on|off - verify https:// backends' certificates and names (on)"),
    AP_INIT_TAKE12("NodeBackendClientCert", np_tls_cmd_client_cert, NULL,
        RSRC_CONF, "CERTFILE [KEYFILE] - client certificate for mutual TLS "
        "to https:// backends"),
    /* backend host names re-resolved in the background (resolve/) */
    AP_INIT_TAKE1("NodeResolveInterval", np_resolve_cmd_interval, NULL,
        RSRC_CONF, "DURATION - how often backend host names are looked up "
        "again (30s; 0 = at start only)"),
    { NULL }
};

/* ---- config-time cross checks and set-up ---------------------------------- */

static int np_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    int bad = 0;
    for (; s; s = s->next) {
        np_server_conf_t *sc = np_server_conf(s);
        int i;
        for (i = 0; i < sc->mappings->nelts; i++) {
            const np_mapping_t *m = APR_ARRAY_IDX(sc->mappings, i,
                                                  np_mapping_t *);
            if (!m->exclude && m->target.kind == NP_TARGET_BALANCER
                && !np_balancer_find(s, m->target.host)) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, NPLOGNO(00001)
                             "NodeProxyPass %s %s (%s): balancer \"%s\" is not "
                             "defined (no <NodeBalancer %s> section)", m->path,
                             m->target.url, m->where, m->target.host,
                             m->target.host);
                bad = 1;
            }
        }
    }
    return bad ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

static int np_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *main_s)
{
    np_server_conf_t *main_sc = np_server_conf(main_s);
    server_rec *s;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    np_backends_reset(pconf);
    for (s = main_s; s; s = s->next) {
        np_server_conf_t *sc = np_server_conf(s);
        apr_interval_time_t ka = NP_PICK(sc->backend_keepalive,
                                         NP_DEFAULT_KEEPALIVE);
        int i;
        sc->map = np_map_compile(pconf, sc->mappings,
                                 s == main_s ? NULL : main_sc->mappings);
        for (i = 0; i < sc->map->n; i++) {
            np_mapping_t *m = sc->map->sorted[i];
            if (m->exclude) {
                continue;
            }
            if (m->target.kind == NP_TARGET_BALANCER) {
                m->backend = np_balancer_find(s, m->target.host);
            }
            else {
                const char *err = NULL;
                m->backend = np_backend_get(pconf, s, &m->target, ka, &err);
                if (!m->backend) {
                    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, NPLOGNO(00450)
                                 "NodeProxyPass %s %s (%s): %s", m->path,
                                 m->target.url, m->where, err);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
        }
    }
    if (np_balancers_post_config(pconf, ptemp, main_s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void np_config_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(np_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(np_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}
