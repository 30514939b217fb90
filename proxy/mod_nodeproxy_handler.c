/* Glue: the request path, designed once:
 *   mapping (translate_name) -> target (proxy_single, or proxy_balanced
 *   picking a member) -> pooled connection -> send (attempt) -> relay the
 *   response (respond), or on a 101 hand both sockets to the tunnel
 *   (wstunnel/), or when Node keeps us waiting suspend the request
 *   (mod_nodeproxy_async.c). */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_reactor.h"
#include "mod_nodeproxy_relay.h"
#include "np_headers.h"
#include "np_sticky.h"
#include "mod_nodeproxy_balancer.h"
#include "mod_nodeproxy_tunnel.h"
#include "mod_nodeproxy_admission.h"
#include "np_ws.h"
#include "mod_nodeproxy_errover.h"

APLOG_USE_MODULE(nodeproxy);

/* httpd drops a Content-Length sent together with Transfer-Encoding before
 * any module sees the request, and marks the connection to close: note that
 * here, while it can still be told apart, so the handler can refuse it.
 * Not on an HTTP/2 stream (a secondary connection, c->master set): there
 * mod_http2 itself adds "Transfer-Encoding: chunked" to a body sent without
 * content-length and marks the connection close; DATA frames delimit the
 * body, so nothing is ambiguous and the body streams like any other. */
static int np_post_read_request(request_rec *r)
{
    if (!r->connection->master
        && r->connection->keepalive == AP_CONN_CLOSE
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

/* A member's pending count goes down when the request's pool goes: on
 * every way out, whenever and on whichever thread the request ends. */
static apr_status_t np_pending_done(void *data)
{
    np_member_end(NULL, data);
    return APR_SUCCESS;
}

void np_proxy_set_notes(request_rec *r, np_request_t *rq)
{
    apr_table_setn(r->notes, "nodeproxy-member",
                   rq->member ? rq->member->spec.target.url
                              : rq->backend->target->url);
    apr_table_setn(r->notes, "nodeproxy-upstream-ms",
                   apr_psprintf(r->pool, "%" APR_TIME_T_FMT,
                                apr_time_as_msec(apr_time_now() - rq->started)));
    apr_table_setn(r->notes, "nodeproxy-attempts",
                   apr_itoa(r->pool, rq->attempts));
}

void np_proxy_failed(request_rec *r, np_request_t *rq, int status)
{
    np_proxy_set_notes(r, rq);
    log_failure(r, rq, status);
    if (rq->member) {
        np_member_request_failed(rq->member);
    }
}

/* One try on rq->backend: a connection, the request, the response head.
 * A pooled connection that Node closed just as we reused it is retried once
 * on a fresh connection, when that cannot run the request twice: the whole
 * body is still in hand and either nothing reached the backend or the
 * method is idempotent. */
static np_outcome_e attempt(request_rec *r, np_request_t *rq,
                            np_response_t *resp)
{
    int fresh = 0;
    for (;;) {
        np_outcome_e out;
        const char *cause = NULL;
        /* An upgrade gets a connection of its own (it never goes back to
         * the pool) with a small buffer: an open tunnel does not read
         * into it. On a client connection's first request it is made in
         * the client connection's pool, which the tunnel lives as long as
         * (no pool of its own: 4 KiB less per open tunnel); at most one
         * per client connection, so refused upgrades on a kept-alive
         * connection cannot grow its pool. */
        rq->connect_rv = np_conn_acquire(rq->backend, rq->connect_timeout,
                                         fresh || rq->websocket,
                                         rq->websocket ? NP_CONN_UPGRADE_BUFSIZE
                                                       : 0,
                                         &rq->conn, &cause, r->pool,
                                         rq->websocket && !fresh
                                         && r->connection->keepalives == 0
                                         && r->connection->master == NULL
                                         ? r->connection->pool : NULL);
        if (rq->connect_rv != APR_SUCCESS) {
            rq->cause = cause;
            rq->conn = NULL;
            return NP_CONNECT_FAILED;
        }
        rq->head_deadline = 0;
        out = np_request_send(r, rq);
        if (out == NP_SENT_OK) {
            out = np_response_read_head(r, rq, resp);
            if (out == NP_WAIT) {
                return out;   /* the connection stays with the request */
            }
            if (out == NP_STALE && !np_method_idempotent(r->method)) {
                out = NP_BAD_RESPONSE;
            }
        }
        if (out != NP_STALE || fresh
            || !(rq->body_complete || !rq->has_body || rq->body_deferred)) {
            if (out == NP_STALE) {
                out = NP_BAD_RESPONSE;
            }
            if (out != NP_SENT_OK) {
                np_conn_release(rq->conn, 0);
                rq->conn = NULL;
            }
            return out;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00041)
                      "nodeproxy(%s): pooled connection was closed (%s); "
                      "re-sending on a fresh one", rq->backend->target->url,
                      rq->cause);
        np_conn_release(rq->conn, 0);
        rq->conn = NULL;
        fresh = 1;
    }
}

/* The status for an attempt that went wrong after the connection. */
static int failed_status(request_rec *r, np_request_t *rq, np_outcome_e out)
{
    switch (out) {
    case NP_CLIENT_BODY_ERROR:
        np_proxy_set_notes(r, rq);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00042)
                      "nodeproxy(%s): %s", rq->backend->target->url, rq->cause);
        r->connection->keepalive = AP_CONN_CLOSE;
        return ap_map_http_request_error(rq->client_rv, HTTP_BAD_REQUEST);
    case NP_TIMEOUT:
        np_proxy_failed(r, rq, HTTP_GATEWAY_TIME_OUT);
        return HTTP_GATEWAY_TIME_OUT;
    default:
        np_proxy_failed(r, rq, HTTP_BAD_GATEWAY);
        return HTTP_BAD_GATEWAY;
    }
}

/* Relay the response (or open the tunnel) and return the handler's status;
 * SUSPENDED when the body pauses and the request waits in the reactor. */
static int respond(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    int status;
    if (rq->websocket && resp->head.status == 101) {
        const char *why = NULL;
        if (!np_ws_answer_ok(r->pool, 101,
                np_http1_header_dup(r->pool, &resp->head, "Upgrade"),
                np_http1_header_dup(r->pool, &resp->head, "Sec-WebSocket-Accept"),
                rq->ws_key, &why)) {
            rq->cause = apr_pstrcat(r->pool, "refused WebSocket answer: ", why,
                                    NULL);
            /* The client was told nothing yet: 502, and the connection is
             * not kept, whatever state the client thinks it is in now. */
            r->connection->keepalive = AP_CONN_CLOSE;
            np_conn_release(rq->conn, 0);
            rq->conn = NULL;
            np_proxy_failed(r, rq, HTTP_BAD_GATEWAY);
            return HTTP_BAD_GATEWAY;
        }
        np_proxy_set_notes(r, rq);
        if (rq->member && rq->member->spec.max) {
            /* admission control: a tunnel holds its max= slot for its
             * whole life; the request's pool goes when the 101 is
             * relayed, the connection's when the tunnel ends. An HTTP/2
             * stream's tunnel keeps its request (and the slot with it)
             * until it ends. */
            if (!r->connection->master) {
                apr_pool_cleanup_kill(r->pool, rq->member, np_pending_done);
                apr_pool_cleanup_register(r->connection->pool, rq->member,
                                          np_pending_done,
                                          apr_pool_cleanup_null);
            }
        }
        else if (rq->member && r->connection->master) {
            /* Without max=, an open tunnel is not pending on its member
             * (an HTTP/1.1 one's request is gone by then). */
            apr_pool_cleanup_run(r->pool, rq->member, np_pending_done);
        }
        return np_tunnel_start(r, rq, resp);
    }
    if ((status = np_errover_respond(r, rq, resp)) != DECLINED) {
        return status;
    }
    status = np_response_begin(r, rq, resp);
    if (status != OK) {
        np_conn_release(rq->conn, 0);
        rq->conn = NULL;
        np_proxy_failed(r, rq, status);
        return status;
    }
    status = np_response_pump(r, rq, resp, rq->async_delay != NP_UNSET);
    np_proxy_set_notes(r, rq);
    if (status == SUSPENDED) {
        return np_async_wait(r, rq, resp, 1);
    }
    if (status == OK && rq->next_wait > 0 && !rq->detached) {
        np_await_next_request(r, rq);
    }
    return status;
}

/* What follows a response head: member bookkeeping, the sticky cookie,
 * then the response. */
static int after_head(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    np_member_t *m = rq->member;
    if (m) {
        np_member_answered(m, apr_time_now() - rq->started);
        if (rq->balancer->sticky_cookie && !rq->sticky_hit) {
            apr_table_addn(r->headers_out, "Set-Cookie",
                           np_sticky_set_cookie(r->pool,
                                                rq->balancer->sticky_cookie,
                                                m->route,
                                                ap_ssl_conn_is_ssl(r->connection)));
            rq->sticky_set = 1;
        }
    }
    return respond(r, rq, resp);
}

int np_proxy_resume_head(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    np_outcome_e out = np_response_read_head(r, rq, resp);
    if (out == NP_WAIT) {
        return np_async_wait(r, rq, resp, 0);   /* woken too early */
    }
    if (out != NP_SENT_OK) {
        /* Too late for a re-send on a fresh connection: it was waited for. */
        np_conn_release(rq->conn, 0);
        rq->conn = NULL;
        return failed_status(r, rq, out == NP_STALE ? NP_BAD_RESPONSE : out);
    }
    return after_head(r, rq, resp);
}

static int proxy_single(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    np_outcome_e out;
    rq->backend = rq->mapping->backend;
    rq->attempts = 1;
    out = attempt(r, rq, resp);
    if (out == NP_CONNECT_FAILED && rq->connect_rv == NP_ETLS) {
        /* https:// whose handshake or certificate check failed: the app
         * is up but cannot be trusted - a gateway error, not maintenance
         * (in a balancer it fails over like a refused connection). */
        np_proxy_failed(r, rq, HTTP_BAD_GATEWAY);
        return HTTP_BAD_GATEWAY;
    }
    if (out == NP_CONNECT_FAILED) {
        np_proxy_set_notes(r, rq);
        log_failure(r, rq, HTTP_SERVICE_UNAVAILABLE);
        return np_maint_respond(r);
    }
    if (out == NP_WAIT) {
        return np_async_wait(r, rq, resp, 0);
    }
    if (out != NP_SENT_OK) {
        return failed_status(r, rq, out);
    }
    return after_head(r, rq, resp);
}

/* Pick a member; on a connect failure mark it failed and try the next,
 * up to NodeRetry more (nothing was sent, so any method may move on).
 * When every eligible member is at its max=, wait in the queue
 * (admission/): SUSPENDED, then np_proxy_balanced_resume on a worker. */
static int proxy_balanced(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    np_balancer_t *b = rq->mapping->backend;
    int n = b->members->nelts;
    int *tried = apr_pcalloc(r->pool, n * sizeof(int));
    int max = b->retry == NP_UNSET ? n : b->retry + 1;

    rq->balancer = b;
    for (;;) {
        np_member_t *m;
        np_outcome_e out;
        int full = 0, qs;
        if (b->has_max
            && (qs = np_queue_gate(r, rq, resp)) != DECLINED) {
            return qs;
        }
        m = np_balancer_pick(r, b, tried, &rq->sticky_hit, &full);
        if (!m && full) {
            if ((qs = np_queue_wait(r, rq, resp)) != DECLINED) {
                return qs;
            }
            continue;   /* its turn (waited on the thread): pick again */
        }
        if (!m) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NPLOGNO(00043)
                          "nodeproxy(balancer %s): no member can take the "
                          "request (%d tried); answering 503", b->name,
                          rq->attempts);
            if (rq->attempts > 0) {
                np_proxy_set_notes(r, rq);
            }
            return np_maint_respond(r);
        }
        rq->backend = m->backend;
        rq->member = m;
        rq->attempts++;
        if (rq->queue) {
            np_queue_served(r, rq);
        }
        apr_pool_cleanup_register(r->pool, m, np_pending_done,
                                  apr_pool_cleanup_null);
        out = attempt(r, rq, resp);
        if (out == NP_CONNECT_FAILED) {
            np_member_connect_failed(r, b, m, rq->connect_rv, rq->cause);
            apr_pool_cleanup_run(r->pool, m, np_pending_done);
            rq->member = NULL;
            tried[m->index] = 1;
            if (rq->attempts >= max) {
                np_proxy_set_notes(r, rq);
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NPLOGNO(00044)
                              "nodeproxy(balancer %s): %d member(s) tried, "
                              "none answered; answering 503", b->name,
                              rq->attempts);
                return np_maint_respond(r);
            }
            continue;
        }
        if (out == NP_WAIT) {
            return np_async_wait(r, rq, resp, 0);
        }
        if (out != NP_SENT_OK) {
            return failed_status(r, rq, out);
        }
        return after_head(r, rq, resp);
    }
}

int np_proxy_balanced_resume(request_rec *r, np_request_t *rq,
                             np_response_t *resp)
{
    return proxy_balanced(r, rq, resp);
}

static int handle(request_rec *r, np_request_t *rq)
{
    np_response_t *resp;
    int status;

    if (np_maint_flag_on(r)) {
        return np_maint_respond(r);
    }
    if ((status = np_request_prepare(r, rq)) != OK) {
        return status;
    }
    /* Not zeroed: it holds 128 header slots; read_head and begin set what
     * is used. */
    resp = apr_palloc(r->pool, sizeof(*resp));
    rq->started = apr_time_now();
    if (rq->mapping->target.kind == NP_TARGET_BALANCER) {
        status = proxy_balanced(r, rq, resp);
    }
    else {
        status = proxy_single(r, rq, resp);
    }
    if (rq->body_deferred && status != SUSPENDED) {
        /* Answered (503...) without asking for the body (no 100 Continue):
         * the client may still send it, and it must not be read as the
         * next request. */
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    return status;
}

static int np_handler(request_rec *r)
{
    np_request_t *rq;
    int status;

    if (!r->handler || strcmp(r->handler, NP_HANDLER) != 0) {
        return DECLINED;
    }
    rq = ap_get_module_config(r->request_config, &nodeproxy_module);
    if (!rq) {
        return DECLINED;
    }
    np_reactor_handler_enter();
    status = handle(r, rq);
    np_reactor_handler_leave();
    return status;
}

static void np_child_init(apr_pool_t *pchild, server_rec *s)
{
    np_backends_child_init(pchild, s);
    np_maint_child_init(pchild);
}

void np_handler_register_hooks(apr_pool_t *p)
{
    ap_hook_post_read_request(np_post_read_request, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_handler(np_handler, NULL, NULL, APR_HOOK_FIRST);
    np_request_register_filters();
    np_fold_register_hooks(p);
    ap_hook_child_init(np_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
