/* Glue: the backend's response. The head is read into the connection's
 * buffer and parsed in place; the body is relayed from the same buffer as
 * transient buckets (the core sets aside what it cannot write at once), and
 * flushed whenever the backend has nothing more ready, so a byte Node sent
 * reaches the client without waiting for more (Server-Sent Events). */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <util_filter.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_relay.h"
#include "np_sticky.h"
#include "mod_nodeproxy_reactor.h"
#include "np_headers.h"
#include "np_reverse.h"

APLOG_USE_MODULE(nodeproxy);

/* A response head larger than the connection buffer is refused (502), as
 * are more than NP_MAX_INTERIM interim (1xx) heads before the final one. The
 * whole head must arrive within the timeout (NodeTimeout, timeout=) from the
 * first read: a backend that drips it a byte at a time gets 504, not a
 * timeout per byte. */
#define NP_MAX_INTERIM 16

np_outcome_e np_response_read_head(request_rec *r, np_request_t *rq,
                                   np_response_t *resp)
{
    np_conn_t *c = rq->conn;
    apr_size_t have = 0;
    const char *err = NULL;
    int interim = 0;

    /* Wait NodeAsyncDelay for the first bytes; a backend that takes longer
     * is waited for without a thread (NP_WAIT). When most of the child's
     * threads already wait so, do not wait at all (np_reactor_wait_begin). */
    int first = rq->async_delay != NP_UNSET;
    int counted = first && np_reactor_wait_begin();

    if (!rq->head_deadline) {
        rq->head_deadline = apr_time_now() + rq->timeout;
    }
    apr_socket_timeout_set(c->sock, !first ? rq->timeout
                                    : counted ? rq->async_delay : 0);
    for (;;) {
        apr_size_t len = c->bufsize - have;
        apr_status_t rv;

        if (!first) {
            apr_interval_time_t left = rq->head_deadline - apr_time_now();
            if (left <= 0) {
                rq->cause = apr_psprintf(r->pool, "response head not complete "
                                         "within %" APR_TIME_T_FMT " ms",
                                         apr_time_as_msec(rq->timeout));
                return NP_TIMEOUT;
            }
            apr_socket_timeout_set(c->sock, left < rq->timeout ? left
                                                               : rq->timeout);
        }
        if (len == 0) {
            rq->cause = apr_psprintf(r->pool, "response head larger than %"
                                     APR_SIZE_T_FMT " bytes", c->bufsize);
            return NP_BAD_RESPONSE;
        }
        rv = np_conn_recv(c, c->buf + have, &len);
        if (first) {
            first = 0;
            if (counted) {
                np_reactor_wait_end();
            }
            if (len == 0 && (APR_STATUS_IS_TIMEUP(rv)
                             || APR_STATUS_IS_EAGAIN(rv))) {
                return NP_WAIT;
            }
        }
        if (len == 0 || (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv))) {
            if (APR_STATUS_IS_TIMEUP(rv)) {
                rq->cause = apr_psprintf(r->pool, "%s within %"
                                         APR_TIME_T_FMT " ms",
                                         have ? "response head not complete"
                                              : "no response",
                                         apr_time_as_msec(rq->timeout));
                return NP_TIMEOUT;
            }
            rq->cause = have ? "connection closed inside the response head"
                      : APR_STATUS_IS_EOF(rv) || len == 0
                        ? "connection closed before any response"
                        : apr_psprintf(r->pool, "reading the response failed: "
                                       "%pm", &rv);
            /* Nothing came back on a pooled connection: Node closed it
             * as we reused it. */
            return (have == 0 && c->reused) ? NP_STALE : NP_BAD_RESPONSE;
        }
        have += len;
        for (;;) {
            rv = np_http1_parse_response_head(c->buf, have, resp->hdrs,
                                              NP_MAX_HEADERS, &resp->head, &err);
            if (rv == APR_INCOMPLETE) {
                break;
            }
            if (rv != APR_SUCCESS) {
                rq->cause = apr_psprintf(r->pool, "bad response head: %s", err);
                return NP_BAD_RESPONSE;
            }
            if (resp->head.status >= 100 && resp->head.status < 200
                && resp->head.status != 101) {
                /* Interim (100 Continue, 103 Early Hints): skip it. */
                if (++interim > NP_MAX_INTERIM) {
                    rq->cause = apr_psprintf(r->pool, "more than %d interim "
                                             "(1xx) responses", NP_MAX_INTERIM);
                    return NP_BAD_RESPONSE;
                }
                have -= resp->head.head_len;
                memmove(c->buf, c->buf + resp->head.head_len, have);
                continue;
            }
            resp->buffered = have;
            return NP_SENT_OK;
        }
    }
}

/* Copy the backend's headers to the client response, minus hop-by-hop
 * ones, with reverse rewriting when asked. */
/* Is header h the one named lit? Lengths first: that settles most. */
#define NP_IS(h, lit) ((h)->name_len == sizeof(lit) - 1 \
                       && strncasecmp((h)->name, lit, sizeof(lit) - 1) == 0)

static void reverse_setup(request_rec *r, np_request_t *rq, np_reverse_t *rv)
{
    const char *host = apr_table_get(r->headers_in, "Host");
    /* The address the request went to: for a balancer, the member. */
    rv->backend_authority = rq->backend->target->authority;
    rv->target_path = rq->mapping->target.path;
    rv->mapped_path = rq->mapping->path;
    rv->client_scheme = ap_ssl_conn_is_ssl(r->connection) ? "https" : "http";
    rv->client_host = host ? host : r->hostname;
    rv->preserve_host = rq->preserve_host;
}

void np_response_copy_headers(request_rec *r, np_request_t *rq,
                              np_response_t *resp)
{
    const np_response_head_t *h = &resp->head;
    apr_size_t conn_len = 0;
    const char *conn = np_http1_header(h, "Connection", &conn_len);
    np_reverse_t rv;
    int i, rv_ready = 0;

    if (conn) {
        conn = apr_pstrmemdup(r->pool, conn, conn_len);
    }
    for (i = 0; i < h->nheaders; i++) {
        const np_header_t *hd = &h->headers[i];
        const char *name, *value;
        if (NP_IS(hd, "Content-Length")) {
            continue;   /* set from the framing decision */
        }
        name = apr_pstrmemdup(r->pool, hd->name, hd->name_len);
        if (np_response_header_dropped(name, conn)) {
            continue;
        }
        value = apr_pstrmemdup(r->pool, hd->value, hd->value_len);
        if (NP_IS(hd, "Content-Type")) {
            ap_set_content_type(r, value);
            continue;
        }
        if (rq->reverse) {
            int url = NP_IS(hd, "Location") || NP_IS(hd, "Content-Location")
                      || NP_IS(hd, "URI");
            int cookie = !url && NP_IS(hd, "Set-Cookie");
            if ((url || cookie) && !rv_ready) {
                reverse_setup(r, rq, &rv);
                rv_ready = 1;
            }
            if (url && rv.client_host) {
                value = np_reverse_url(r->pool, &rv, value);
            }
            else if (cookie && rv.client_host) {
                value = np_reverse_cookie_path(r->pool, &rv, value);
            }
        }
        apr_table_addn(r->headers_out, name, value);
    }
}

/* Pass what we have to the client; with flush, make it leave now. */
static apr_status_t pass(request_rec *r, apr_bucket_brigade *bb,
                         const char *data, apr_size_t len, int flush)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    if (len) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_transient_create(data, len, ba));
    }
    if (flush) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(ba));
    }
    if (APR_BRIGADE_EMPTY(bb)) {
        return APR_SUCCESS;
    }
    {
        apr_status_t rv = ap_pass_brigade(r->output_filters, bb);
        apr_brigade_cleanup(bb);
        return rv;
    }
}

/* Write what the core output filter holds without blocking (the event
 * MPM's write completion does the same): 0 when the client is gone. */
int np_write_pending(conn_rec *c)
{
    ap_filter_t *core = c->output_filters;
    while (core->next) {
        core = core->next;
    }
    return core->frec->filter_func.out_func(core, NULL) == APR_SUCCESS;
}

/* After a pass on the async path: has the client fallen behind? Then the
 * relay waits (without a thread) until it can write again, rather than
 * let the core block on it. */
static int client_behind(conn_rec *c, np_response_t *resp)
{
    if (!c->data_in_output_filters) {
        return 0;
    }
    if (!np_write_pending(c)) {
        return -1;
    }
    resp->want_write = c->data_in_output_filters;
    return resp->want_write;
}

/* End a response the backend broke off: the client must see it truncated
 * (no last chunk, connection closed), never a clean end. */
static void end_broken(request_rec *r, apr_bucket_brigade *bb)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    r->connection->keepalive = AP_CONN_CLOSE;
    APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL,
                                                       r->pool, ba));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
}

/* Read more body bytes into buf without waiting. When there are none,
 * flush what the client has; then wait up to the timeout or, when the
 * caller may suspend, up to NodeAsyncDelay and then say so (APR_EAGAIN). */
static apr_status_t read_more(request_rec *r, np_request_t *rq,
                              apr_bucket_brigade *bb, apr_size_t *len,
                              int may_suspend)
{
    np_conn_t *c = rq->conn;
    apr_size_t want = *len;
    apr_status_t rv;

    apr_socket_timeout_set(c->sock, 0);
    rv = np_conn_recv(c, c->buf, len);
    if (rv == APR_SUCCESS || !APR_STATUS_IS_EAGAIN(rv)) {
        return rv;
    }
    if (may_suspend == NP_PUMP_REACTOR) {
        return APR_EAGAIN;   /* nothing buffers in its filters: no flush */
    }
    if ((rv = pass(r, bb, NULL, 0, 1)) != APR_SUCCESS) {
        return APR_ECONNABORTED;   /* the client went away */
    }
    *len = want;
    if (may_suspend) {
        /* A body that keeps flowing never suspends: only a pause does,
         * longer than NodeAsyncDelay but at most NP_ASYNC_BODY_PAUSE (a
         * stream of events must not hold a worker for each pause). */
        apr_socket_timeout_set(c->sock, rq->async_delay < NP_ASYNC_BODY_PAUSE
                                        ? rq->async_delay
                                        : NP_ASYNC_BODY_PAUSE);
        rv = np_conn_recv(c, c->buf, len);
        if (*len == 0 && (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_EAGAIN(rv))) {
            return APR_EAGAIN;
        }
        return rv;
    }
    apr_socket_timeout_set(c->sock, rq->timeout);
    return np_conn_recv(c, c->buf, len);
}

/* The proxy's sticky Set-Cookie must not be stored by a shared cache and
 * handed to every later client (all of them would stick to one member):
 * such a response gets Cache-Control "private" (np_sticky_cache_control).
 * Responses to clients that hold a valid cookie carry no Set-Cookie of
 * ours and keep the app's Cache-Control. */
static void np_response_sticky_private(request_rec *r)
{
    const char *cc = apr_table_getm(r->pool, r->headers_out, "Cache-Control");
    const char *ncc = np_sticky_cache_control(r->pool, cc);
    if (ncc != cc) {
        apr_table_setn(r->headers_out, "Cache-Control", ncc);
    }
}

int np_response_begin(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    const char *err = NULL;
    apr_size_t len;

    if (np_http1_response_framing(&resp->head, r->header_only, &resp->kind,
                                  &resp->remaining, &resp->reusable, &err)
        != APR_SUCCESS) {
        rq->cause = apr_psprintf(r->pool, "bad response framing: %s", err);
        return HTTP_BAD_GATEWAY;
    }
    if (resp->head.status == 101) {
        /* A 101 nobody asked for: what follows is not HTTP, and the client
         * must not send another request on this connection. */
        rq->cause = "unexpected 101 Switching Protocols";
        r->connection->keepalive = AP_CONN_CLOSE;
        return HTTP_BAD_GATEWAY;
    }
    if (resp->kind == NP_BODY_NONE
        && (resp->buffered > resp->head.head_len || !resp->reusable)) {
        /* Bytes after a head that has no body (HEAD, 204, 304), or one that
         * announced some: the head is relayed, the bytes are dropped, and
         * the connection is closed (what else is coming is unknown). */
        if (resp->buffered > resp->head.head_len) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00300)
                          "nodeproxy(%s): %d response with %" APR_SIZE_T_FMT
                          " unexpected body bytes: dropped, connection closed",
                          rq->backend->target->url, resp->head.status,
                          resp->buffered - resp->head.head_len);
        }
        resp->reusable = 0;
        resp->buffered = resp->head.head_len;
    }
    if (rq->early_answer) {
        /* Answered before the request body was all sent: the backend
         * connection is in the middle of a request, and the client's
         * connection in the middle of its upload. */
        resp->reusable = 0;
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    if (rq->websocket) {
        /* An upgrade the backend turned down: that connection may be in
         * an unknown state, so it is not reused. */
        resp->reusable = 0;
    }
    r->status = resp->head.status;
    r->status_line = apr_psprintf(r->pool, "%d %.*s", r->status,
                                  (int)resp->head.reason_len,
                                  resp->head.reason ? resp->head.reason : "");
    np_response_copy_headers(r, rq, resp);
    if (rq->sticky_set) {
        np_response_sticky_private(r);
    }
    if (resp->kind == NP_BODY_LENGTH) {
        ap_set_content_length(r, resp->remaining);
    }
    else if (resp->kind == NP_BODY_NONE && r->header_only) {
        const char *cl = np_http1_header(&resp->head, "Content-Length", &len);
        if (cl) {
            apr_table_setn(r->headers_out, "Content-Length",
                           apr_pstrmemdup(r->pool, cl, len));
        }
    }
    if (resp->kind == NP_BODY_CHUNKED) {
        np_chunk_init(&resp->dec);
    }
    resp->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    resp->want_write = 0;
    resp->ended = 0;
    resp->data_off = resp->head.head_len;
    resp->avail = resp->buffered - resp->head.head_len;
    return OK;
}

/* Reads per NP_PUMP_REACTOR pump before the reactor turns to other jobs
 * (a level-triggered poll brings it back): at most 4 x 32 KiB at a time. */
#define NP_REACTOR_READS 4

int np_response_reactor_safe(request_rec *r)
{
    /* Filters known to pass each brigade on at once, without holding or
     * rewriting bytes and without blocking when the core does not. */
    static const char *const through[] = {
        "chunk", "http_outerror", "content_length", "core", NULL
    };
    ap_filter_t *f;
    for (f = r->output_filters; f; f = f->next) {
        const char *name = f->frec ? f->frec->name : NULL;
        int i;
        for (i = 0; name && through[i]; i++) {
            if (strcasecmp(name, through[i]) == 0) {
                break;
            }
        }
        if (!name || !through[i]) {
            ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r,
                          "nodeproxy: output filter %s: the body's pauses "
                          "are relayed by a worker", name ? name : "?");
            return 0;
        }
    }
    return 1;
}

/* The relay is over: release the backend connection, or, on the reactor
 * (whose poll set may still hold its socket), leave that to the caller. */
static int ended(np_request_t *rq, np_response_t *resp, int reactor,
                 int reusable)
{
    resp->reusable = reusable;
    resp->ended = 1;
    if (!reactor) {
        np_conn_release(rq->conn, reusable);
        rq->conn = NULL;
    }
    return OK;
}

int np_response_pump(request_rec *r, np_request_t *rq, np_response_t *resp,
                     int may_suspend)
{
    np_conn_t *c = rq->conn;
    apr_bucket_brigade *bb = resp->bb;
    int done = resp->kind == NP_BODY_NONE
               || (resp->kind == NP_BODY_LENGTH && resp->remaining == 0);
    int reactor = may_suspend == NP_PUMP_REACTOR;
    int reads = 0, drained = 0;
    const char *err = NULL;
    apr_status_t rv;

    if (resp->want_write) {
        if (!np_write_pending(r->connection)) {
            goto client_gone;
        }
        if (r->connection->data_in_output_filters) {
            return SUSPENDED;   /* still behind */
        }
        resp->want_write = 0;
    }
    while (!done) {
        /* Hand over what is in the buffer. */
        while (resp->avail > 0 && !done) {
            const char *data = c->buf + resp->data_off;
            const char *span = data;
            apr_size_t span_len = resp->avail, used = resp->avail;
            if (resp->kind == NP_BODY_CHUNKED) {
                rv = np_chunk_next(&resp->dec, data, resp->avail, &used, &span,
                                   &span_len, &done, &err);
                if (rv != APR_SUCCESS) {
                    rq->cause = apr_psprintf(r->pool, "bad chunked body: %s", err);
                    goto broken;
                }
            }
            else if (resp->kind == NP_BODY_LENGTH) {
                if ((apr_off_t)span_len >= resp->remaining) {
                    span_len = used = (apr_size_t)resp->remaining;
                    done = 1;
                }
                resp->remaining -= span_len;
            }
            resp->data_off += used;
            resp->avail -= used;
            if (span_len && pass(r, bb, span, span_len, 0) != APR_SUCCESS) {
                goto client_gone;
            }
            /* The reactor writes once per buffer read (the core holds
             * small passes until then), never more than it read. */
            if (may_suspend && !done && (!reactor || resp->avail == 0)) {
                int behind = client_behind(r->connection, resp);
                if (behind < 0) {
                    goto client_gone;
                }
                if (behind) {
                    return SUSPENDED;
                }
            }
        }
        if (done) {
            if (resp->avail > 0) {
                resp->reusable = 0;   /* bytes past the end: do not trust it */
            }
            break;
        }
        if (reactor && !c->io->pending(c)
            && (drained || reads >= NP_REACTOR_READS)) {
            /* A short read emptied the socket: the poll says when there is
             * more (no read that only says EAGAIN). */
            resp->avail = 0;
            return SUSPENDED;
        }
        resp->avail = c->bufsize;
        rv = read_more(r, rq, bb, &resp->avail, may_suspend);
        reads++;
        drained = resp->avail < c->bufsize;
        if (APR_STATUS_IS_EAGAIN(rv)) {
            resp->avail = 0;
            return SUSPENDED;
        }
        if (rv == APR_ECONNABORTED) {
            goto client_gone;
        }
        if (resp->avail == 0 || rv != APR_SUCCESS) {
            resp->avail = 0;
            if (resp->kind == NP_BODY_UNTIL_CLOSE
                && (APR_STATUS_IS_EOF(rv) || rv == APR_SUCCESS)) {
                break;   /* the close is the end of this body */
            }
            rq->cause = APR_STATUS_IS_TIMEUP(rv)
                ? "timed out in the response body"
                : "connection closed inside the response body";
            goto broken;
        }
        resp->data_off = 0;
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return ended(rq, resp, reactor, resp->reusable);

broken:
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NPLOGNO(00030)
                  "nodeproxy(%s): %s; the client gets a truncated response",
                  rq->backend->target->url, rq->cause);
    ended(rq, resp, reactor, 0);
    end_broken(r, bb);
    return OK;

client_gone:
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00031)
                  "nodeproxy(%s): client went away during the response",
                  rq->backend->target->url);
    ended(rq, resp, reactor, 0);
    r->connection->aborted = 1;
    return OK;
}

void np_response_timed_out(request_rec *r, np_request_t *rq,
                           np_response_t *resp)
{
    rq->cause = "timed out in the response body";
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, NPLOGNO(00032)
                  "nodeproxy(%s): %s; the client gets a truncated response",
                  rq->backend->target->url, rq->cause);
    np_conn_release(rq->conn, 0);
    rq->conn = NULL;
    end_broken(r, resp->bb);
}
