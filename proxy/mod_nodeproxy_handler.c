/* Glue: the request path, designed once:
 *   mapping (translate_name) -> target -> pooled connection -> send ->
 *   relay the response.
 * Picking a balancer member and the WebSocket hand-over plug in at the
 * marked places. */
#include <string.h>
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
#include "np_headers.h"

APLOG_USE_MODULE(nodeproxy);

/* httpd drops a Content-Length sent together with Transfer-Encoding before
 * any module sees the request, and marks the connection to close: note that
 * here, while it can still be told apart, so the handler can refuse it. */
static int np_post_read_request(request_rec *r)
{
    if (r->connection->keepalive == AP_CONN_CLOSE
        && apr_table_get(r->headers_in, "Transfer-Encoding")) {
        apr_table_setn(r->notes, "nodeproxy-cl-te", "1");
    }
    return DECLINED;
}

static void log_failure(request_rec *r, np_request_t *rq, int status)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NPLOGNO(00040)
                  "nodeproxy(%s): %s; answering %d", rq->backend->target->url,
                  rq->cause ? rq->cause : "failed", status);
}

static void set_notes(request_rec *r, np_request_t *rq)
{
    apr_table_setn(r->notes, "nodeproxy-member", rq->backend->target->url);
    apr_table_setn(r->notes, "nodeproxy-upstream-ms",
                   apr_psprintf(r->pool, "%" APR_TIME_T_FMT,
                                apr_time_as_msec(apr_time_now() - rq->started)));
}

static int np_handler(request_rec *r)
{
    np_request_t *rq;
    np_response_t *resp;
    np_outcome_e out;
    int status, fresh = 0, attempt;

    if (!r->handler || strcmp(r->handler, NP_HANDLER) != 0) {
        return DECLINED;
    }
    rq = ap_get_module_config(r->request_config, &nodeproxy_module);
    if (!rq) {
        return DECLINED;
    }
    if (np_maint_flag_on(r)) {
        return np_maint_respond(r);
    }
    if ((status = np_request_prepare(r, rq)) != OK) {
        return status;
    }
    /* Target: one backend. (A balancer picks its member here.) */
    rq->backend = rq->mapping->backend;
    if (!rq->backend) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    resp = apr_palloc(r->pool, sizeof(*resp));
    rq->started = apr_time_now();

    /* A pooled connection that Node closed just as we reused it is retried
     * once on a fresh connection, when that cannot run the request twice:
     * the whole body is still in hand and either nothing reached the backend
     * or the method is idempotent. */
    for (attempt = 0; ; attempt++) {
        const char *cause = NULL;
        if (np_conn_acquire(rq->backend, rq->connect_timeout, fresh,
                            &rq->conn, &cause, r->pool) != APR_SUCCESS) {
            rq->cause = cause;
            rq->conn = NULL;
            set_notes(r, rq);
            log_failure(r, rq, HTTP_SERVICE_UNAVAILABLE);
            return np_maint_respond(r);
        }
        out = np_request_send(r, rq);
        if (out == NP_SENT_OK) {
            out = np_response_read_head(r, rq, resp);
            if (out == NP_STALE && !np_method_idempotent(r->method)) {
                out = NP_BAD_RESPONSE;
            }
        }
        if (out != NP_STALE || attempt > 0
            || !(rq->body_complete || !rq->has_body)) {
            break;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00041)
                      "nodeproxy(%s): pooled connection was closed (%s); "
                      "re-sending on a fresh one", rq->backend->target->url,
                      rq->cause);
        np_conn_release(rq->conn, 0);
        fresh = 1;
    }
    if (out != NP_SENT_OK) {
        np_conn_release(rq->conn, 0);
        rq->conn = NULL;
        set_notes(r, rq);
        switch (out) {
        case NP_CLIENT_BODY_ERROR:
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00042)
                          "nodeproxy(%s): %s", rq->backend->target->url,
                          rq->cause);
            r->connection->keepalive = AP_CONN_CLOSE;
            return HTTP_BAD_REQUEST;
        case NP_TIMEOUT:
            log_failure(r, rq, HTTP_GATEWAY_TIME_OUT);
            return HTTP_GATEWAY_TIME_OUT;
        default:
            log_failure(r, rq, HTTP_BAD_GATEWAY);
            return HTTP_BAD_GATEWAY;
        }
    }
    /* (A 101 answer to a WebSocket upgrade is handed to the tunnel here.) */
    status = np_response_relay(r, rq, resp);
    set_notes(r, rq);
    if (status != OK) {
        np_conn_release(rq->conn, 0);
        rq->conn = NULL;
        log_failure(r, rq, status);
    }
    return status;
}

static void np_child_init(apr_pool_t *pchild, server_rec *s)
{
    np_backends_child_init(pchild, s);
}

void np_handler_register_hooks(apr_pool_t *p)
{
    ap_hook_post_read_request(np_post_read_request, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_handler(np_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_child_init(np_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
