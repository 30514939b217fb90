/* Glue: the nodeproxy-status handler. It copies the shared state into one
 * snapshot and lets the pure renderers write HTML, JSON or Prometheus text,
 * so every child answers the same and the three formats agree. */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_atomic.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <util_script.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_admission.h"
#include "mod_nodeproxy_balancer.h"
#include "mod_nodeproxy_status.h"
#include "mod_nodeproxy_control.h"
#include "np_status.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_STATUS_HANDLER "nodeproxy-status"

static const char *reason_text(apr_uint32_t reason, apr_uint32_t hc_status,
                               apr_pool_t *p)
{
    switch (reason) {
    case NP_REASON_CONNECT_REFUSED: return "connect refused";
    case NP_REASON_CONNECT_TIMEOUT: return "connect timed out";
    case NP_REASON_HEALTH_STATUS:
        return apr_psprintf(p, "health check: status %u", hc_status);
    case NP_REASON_HEALTH_TIMEOUT: return "health check: timed out";
    case NP_REASON_HEALTH_CONNECT: return "health check: connect failed";
    default: return NULL;
    }
}

void np_status_snapshot_member(np_status_member_t *sm, const np_balancer_t *b,
                               const np_member_t *m, apr_time_t now,
                               apr_pool_t *p)
{
    np_member_shm_t *sh = m->shm;
    int k;

    memset(sm, 0, sizeof(*sm));
    sm->url = m->spec.target.url;
    sm->route = m->route;
    sm->state = sh->unhealthy ? NP_STATE_UNHEALTHY
              : np_member_failed_now((apr_time_t)sh->failed_at,
                                     b->fail_timeout, now) ? NP_STATE_FAILED
              : NP_STATE_USABLE;
    sm->reason = sm->state == NP_STATE_USABLE ? NULL
               : reason_text(sh->reason, sh->hc_status, p);
    sm->state_since = (apr_time_t)sh->state_since;
    sm->weight = m->spec.weight;
    sm->standby = m->spec.standby;
    sm->pending = apr_atomic_read32(&sh->pending);
    sm->requests = apr_atomic_read64(&sh->requests);
    sm->failures = apr_atomic_read64(&sh->failures);
    sm->ewma_us = apr_atomic_read64(&sh->ewma_us);
    sm->hc_enabled = b->hcheck != NULL;
    sm->hc_status = sh->hc_status;
    sm->hc_last = (apr_time_t)apr_atomic_read64(&sh->hc_last);
    sm->hc_total = apr_atomic_read64(&sh->hc_total);
    for (k = 0; k <= NP_HIST_N; k++) {
        sm->hist[k] = apr_atomic_read64(&sh->hist[k]);
    }
    sm->hist_sum_us = apr_atomic_read64(&sh->hist_sum_us);
    sm->max = (apr_uint32_t)m->spec.max;   /* admission control */
    /* runtime admin state (issue 15) */
    sm->admin = np_admin_name((int)apr_atomic_read32(&sh->admin));
    sm->configured_weight = m->spec.weight;
    sm->weight = np_member_weight(m);
    sm->effective_weight = np_member_effective_weight(b, m, now);
    sm->address = np_backend_address(m->backend, p);
}

np_status_t *np_status_snapshot(request_rec *r)
{
    apr_array_header_t *all = np_balancers_all();
    np_shm_global_t *g = np_shm_global();
    np_status_t *st = apr_pcalloc(r->pool, sizeof(*st));
    apr_time_t now = apr_time_now();
    int i, j;

    st->version = "mod_nodeproxy/" NP_VERSION;
    st->now = now;
    st->started = g ? (apr_time_t)g->started : now;
    st->tunnels_open = g ? apr_atomic_read64(&g->tunnels_open) : 0;
    st->tunnels_total = g ? apr_atomic_read64(&g->tunnels_total) : 0;
    st->nbalancers = all ? all->nelts : 0;
    st->balancers = apr_pcalloc(r->pool, (st->nbalancers + 1)
                                * sizeof(np_status_balancer_t));
    for (i = 0; i < st->nbalancers; i++) {
        np_balancer_t *b = APR_ARRAY_IDX(all, i, np_balancer_t *);
        np_status_balancer_t *sb = &st->balancers[i];
        sb->name = b->name;
        sb->method = b->method->name;
        sb->sticky_cookie = b->sticky_cookie;
        sb->queue = np_queue_status(r->pool, b);   /* admission control */
        sb->nmembers = b->members->nelts;
        sb->members = apr_palloc(r->pool, sb->nmembers * sizeof(*sb->members));
        for (j = 0; j < sb->nmembers; j++) {
            np_status_snapshot_member(&sb->members[j], b,
                            APR_ARRAY_IDX(b->members, j, np_member_t *), now,
                            r->pool);
        }
    }
    return st;
}

static int status_handler(request_rec *r)
{
    apr_table_t *args = NULL;
    const char *format, *body, *refresh;
    np_status_t *st;

    if (!r->handler || strcmp(r->handler, NP_STATUS_HANDLER) != 0) {
        return DECLINED;
    }
    r->allowed = (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    ap_args_to_table(r, &args);
    format = apr_table_get(args, "format");
    refresh = apr_table_get(args, "refresh");
    st = np_status_snapshot(r);
    st->control_token = np_control_page_token(r);   /* NULL: read-only */
    if (format && strcmp(format, "json") == 0) {
        ap_set_content_type(r, "application/json");
        body = np_status_json(r->pool, st);
    }
    else if (format && strcmp(format, "prometheus") == 0) {
        ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
        body = np_status_prometheus(r->pool, st);
    }
    else if (!format || strcmp(format, "html") == 0) {
        int n = refresh ? atoi(refresh) : 0;
        ap_set_content_type(r, "text/html; charset=utf-8");
        body = np_status_html(r->pool, st, n > 0 && n <= 3600 ? n : 0);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00090)
                      "nodeproxy-status: unknown format \"%s\"", format);
        return HTTP_BAD_REQUEST;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, strlen(body));
    if (!r->header_only) {
        ap_rputs(body, r);
    }
    return OK;
}

/* One start-up line naming the version the status page shows (the same
 * NP_VERSION, configure.ac's), once per (re)start, not in the first
 * post_config pass. NOTICE, as httpd's own "configured" line. */
static int version_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, NPLOGNO(00550)
                     "mod_nodeproxy/%s configured", NP_VERSION);
    }
    return OK;
}

void np_status_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(version_post_config, NULL, NULL, APR_HOOK_LAST);
    np_modstatus_register_hooks(p);
}
