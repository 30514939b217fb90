/* Glue: WebSocket tunnels over HTTP/2 streams (RFC 8441).
 *
 * With H2WebSockets on, mod_http2 turns a client's extended CONNECT
 * (:protocol websocket) into a GET + Upgrade: websocket on the stream's
 * secondary connection, with a Sec-WebSocket-Key of its own; the request
 * path sends it to Node like any upgrade, checks Node's Accept against that
 * key and relays the 101, which mod_http2 turns into the stream's 200.
 *
 * The tunnel cannot be parked in the reactor like an HTTP/1.1 one: a
 * secondary connection has no socket of its own (the one it shows is a
 * process-wide dummy; polling it spins) and cannot be SUSPENDED - mod_http2
 * ends the stream when the handler returns. So the tunnel runs here, on the
 * stream's h2 worker thread, until a side closes or it has been idle for
 * NodeWebSocketIdleTimeout: one h2 worker (H2MaxWorkers) per open tunnel.
 *
 * Client bytes are read through the connection's input filters, without
 * blocking; ap_get_pollfd_from_conn() gives the pipe mod_http2 signals when
 * the stream has new input (drained by the read that finds nothing).
 * Backend bytes go to the client through the output filters with a flush;
 * mod_http2 blocks that write while the client's flow-control window is
 * full (bounded by its stream timeout), which is the back-pressure. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_atomic.h>
#include <apr_poll.h>
#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_relay.h"
#include "mod_nodeproxy_tunnel.h"
#include "mod_nodeproxy_balancer.h"
#include "mod_nodeproxy_children.h"
#include "np_ws.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_H2T_BUF (16 * 1024)

/* ap_get_pollfd_from_conn() came with httpd 2.4.58 (MMN 20120211.129). */
static apr_status_t stream_pollfd(conn_rec *c, apr_pollfd_t *pfd,
                                  apr_pool_t *p)
{
    memset(pfd, 0, sizeof(*pfd));
    pfd->p = p;
    pfd->desc_type = APR_NO_DESC;
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 129)
    if (ap_get_pollfd_from_conn(c, pfd, NULL) == APR_SUCCESS
        && pfd->desc_type != APR_NO_DESC) {
        return APR_SUCCESS;
    }
#else
    (void)c;
#endif
    pfd->desc_type = APR_NO_DESC;
    return APR_ENOTIMPL;
}

typedef struct {
    conn_rec *c;
    np_conn_t *b;
    apr_bucket_brigade *bb;
    np_ws_h2_in_t in;
    char *up;                     /* client bytes the backend has not taken */
    apr_size_t up_len, up_off;
    int client_eof, backend_shut;
    const char *why;              /* set: the tunnel is over                */
    apr_time_t last_io;
} np_h2t_t;

int np_h2tunnel_check(request_rec *r, int websocket_on)
{
    apr_pollfd_t pfd;
    const char *why;
    int status;

    status = np_ws_h2_refusal(websocket_on,
                              stream_pollfd(r->connection, &pfd, r->pool)
                              == APR_SUCCESS, &why);
    if (status) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00620)
                      "nodeproxy(%s): WebSocket over HTTP/2 refused with %d: "
                      "%s", r->uri, status, why);
    }
    return status ? status : OK;
}

/* Client -> backend: what the stream has now, until the backend would
 * block (the rest waits in t->up) or the stream has nothing more. */
static void pump_up(np_h2t_t *t, char *scratch)
{
    while (!t->why && !t->client_eof) {
        apr_status_t rv;
        apr_size_t n = 0, sent;
        apr_bucket *e;

        if (t->up) {
            n = t->up_len - t->up_off;
            rv = np_conn_send(t->b, t->up + t->up_off, &n);
            t->up_off += n;
            if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
                t->why = "backend went away";
                return;
            }
            if (t->up_off < t->up_len) {
                return;                     /* POLLOUT on the backend */
            }
            free(t->up);
            t->up = NULL;
            continue;
        }
        rv = ap_get_brigade(t->c->input_filters, t->bb, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, NP_H2T_BUF);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(t->bb))) {
            apr_brigade_cleanup(t->bb);
            return;                         /* the pipe says when more comes */
        }
        if (APR_STATUS_IS_EOF(rv)) {
            t->client_eof = 1;
            break;
        }
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(t->bb);
            t->why = "client reset the stream";
            return;
        }
        for (e = APR_BRIGADE_FIRST(t->bb); e != APR_BRIGADE_SENTINEL(t->bb);
             e = APR_BUCKET_NEXT(e)) {
            if (APR_BUCKET_IS_EOS(e) && np_ws_h2_eos(&t->in)) {
                t->client_eof = 1;
            }
        }
        n = NP_H2T_BUF;
        apr_brigade_flatten(t->bb, scratch, &n);
        apr_brigade_cleanup(t->bb);
        if (n == 0) {
            continue;
        }
        t->last_io = apr_time_now();
        sent = n;
        rv = np_conn_send(t->b, scratch, &sent);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
            t->why = "backend went away";
            return;
        }
        if (sent < n) {
            t->up = malloc(n - sent);
            if (!t->up) {
                t->why = "out of memory";
                return;
            }
            memcpy(t->up, scratch + sent, n - sent);
            t->up_len = n - sent;
            t->up_off = 0;
        }
    }
    if (t->client_eof && !t->up && !t->backend_shut && !t->why) {
        /* END_STREAM: a half-close, as for an HTTP/1.1 client's FIN; the
         * backend may still answer (its close frame). */
        np_conn_shutdown_write(t->b);
        t->backend_shut = 1;
    }
}

/* Write to the stream, flushed: mod_http2 sends it on at once. */
static apr_status_t client_send(np_h2t_t *t, const char *data, apr_size_t n)
{
    apr_bucket_alloc_t *ba = t->c->bucket_alloc;
    apr_status_t rv;
    APR_BRIGADE_INSERT_TAIL(t->bb, apr_bucket_transient_create(data, n, ba));
    APR_BRIGADE_INSERT_TAIL(t->bb, apr_bucket_flush_create(ba));
    rv = ap_pass_brigade(t->c->output_filters, t->bb);
    apr_brigade_cleanup(t->bb);
    if (rv == APR_SUCCESS && t->c->aborted) {
        rv = APR_ECONNABORTED;
    }
    return rv;
}

/* Backend -> client: everything the backend has now. */
static void pump_down(np_h2t_t *t, char *scratch)
{
    while (!t->why) {
        apr_size_t n = NP_H2T_BUF;
        apr_status_t rv = np_conn_recv(t->b, scratch, &n);
        if (n == 0) {
            if (APR_STATUS_IS_EAGAIN(rv)) {
                return;
            }
            t->why = "backend closed";
            return;
        }
        t->last_io = apr_time_now();
        if (client_send(t, scratch, n) != APR_SUCCESS) {
            t->why = "client went away";
            return;
        }
        if (n < NP_H2T_BUF && !np_conn_pending(t->b)) {
            return;                         /* drained */
        }
    }
}

int np_h2tunnel_run(request_rec *r, np_conn_t *b, const char *early,
                    apr_size_t early_len)
{
    conn_rec *c = r->connection;
    np_dir_conf_t *dc = np_dir_conf(r->per_dir_config);
    np_shm_global_t *g = np_shm_global();
    apr_interval_time_t idle = NP_PICK(dc->ws_idle_timeout,
                                       NP_DEFAULT_WS_IDLE_TIMEOUT);
    apr_time_t opened = apr_time_now();
    char *scratch = malloc(NP_H2T_BUF);
    apr_pollfd_t pipe_pfd, be_pfd, pfds[2];
    np_h2t_t t;

    memset(&t, 0, sizeof(t));
    t.c = c;
    t.b = b;
    t.bb = apr_brigade_create(r->pool, c->bucket_alloc);
    t.last_io = opened;

    /* A byte stream now: no request timeouts, only connection filters. */
    ap_remove_input_filter_byhandle(c->input_filters, "reqtimeout");
    r->input_filters = r->proto_input_filters = c->input_filters;
    r->output_filters = r->proto_output_filters = c->output_filters;
    c->keepalive = AP_CONN_CLOSE;

    if (stream_pollfd(c, &pipe_pfd, r->pool) != APR_SUCCESS) {
        t.why = "the stream's input cannot be polled";   /* checked before */
    }
    memset(&be_pfd, 0, sizeof(be_pfd));
    be_pfd.p = r->pool;
    be_pfd.desc_type = APR_POLL_SOCKET;
    be_pfd.desc.s = b->sock;
    apr_socket_timeout_set(b->sock, 0);
    if (!scratch) {
        t.why = "out of memory";
    }

    if (g) {
        apr_atomic_inc64(&g->tunnels_open);
        apr_atomic_inc64(&g->tunnels_total);
    }
    np_child_count(NP_CHILD_TUNNELS, 1);     /* mod_status' per-child view */
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00621)
                  "nodeproxy(%s): WebSocket tunnel open over HTTP/2 (on this "
                  "h2 worker thread)", b->backend->target->url);

    /* What the backend sent right after its 101 goes first. */
    if (!t.why && early_len > 0
        && client_send(&t, early, early_len) != APR_SUCCESS) {
        t.why = "client went away";
    }
    np_conn_drop_buffer(b);

    while (!t.why) {
        apr_int32_t nready;
        apr_interval_time_t wait;
        apr_status_t rv;
        apr_time_t now;
        int n = 0;

        pump_up(&t, scratch);
        if (!t.why) {
            pump_down(&t, scratch);
        }
        if (t.why) {
            break;
        }
        /* The stream's pipe while we can take client bytes; the backend
         * for reading, and for writing while it holds back client bytes. */
        if (!t.client_eof && !t.up) {
            pfds[n] = pipe_pfd;
            pfds[n++].reqevents = APR_POLLIN;
        }
        pfds[n] = be_pfd;
        pfds[n++].reqevents = b->want_recv | (t.up ? b->want_send : 0);
        now = apr_time_now();
        /* At most a second: a reset stream is also seen as c->aborted. */
        wait = apr_time_from_sec(1);
        if (idle > 0) {
            if (now - t.last_io >= idle) {
                t.why = "idle timeout";
                break;
            }
            if (t.last_io + idle - now < wait) {
                wait = t.last_io + idle - now;
            }
        }
        rv = apr_poll(pfds, n, &nready, wait);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv)
            && !APR_STATUS_IS_EINTR(rv)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, NPLOGNO(00622)
                          "nodeproxy(%s): polling the HTTP/2 WebSocket "
                          "tunnel failed", b->backend->target->url);
            t.why = "poll failed";
        }
        else if (c->aborted) {
            t.why = "client reset the stream";
        }
    }

    free(scratch);
    free(t.up);
    if (g) {
        apr_atomic_dec64(&g->tunnels_open);
    }
    np_child_count(NP_CHILD_TUNNELS, -1);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00623)
                  "nodeproxy(%s): WebSocket tunnel over HTTP/2 closed: %s "
                  "(open %" APR_TIME_T_FMT " s)", b->backend->target->url,
                  t.why, apr_time_sec(apr_time_now() - opened));
    np_conn_release(b, 0);
    /* The handler's return ends the stream (END_STREAM): mod_http2's way
     * of saying the backend closed. */
    return DONE;
}
