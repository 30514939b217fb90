/* Glue: WebSocket tunnels without a thread per open socket.
 *
 * Apache 2.4 cannot ask the event MPM to watch a second socket, but a
 * handler may return SUSPENDED: the MPM then forgets the connection until
 * the module finishes it. So after the backend's 101 the request is parked
 * here: one reactor thread per child polls both sockets of every tunnel and
 * moves the bytes itself (they are few: WebSocket traffic is small and
 * bursty), and finishes the request and the connection when a side closes
 * or the tunnel has been idle for NodeWebSocketIdleTimeout.
 *
 * The tunnel is a job of the per-child reactor (proxy/mod_nodeproxy_reactor.h),
 * handed over once the worker thread has let go of the connection.
 *
 * Client-side reads go through the connection's input filters (mod_ssl for
 * wss, and bytes httpd already buffered after the request head). Writes to
 * a plain client go straight to its socket, non-blocking, with POLLOUT flow
 * control; writes to a TLS client go through mod_ssl with a flush, which
 * may wait (up to Timeout) when that client does not read.
 *
 * MPMs that cannot suspend (prefork, worker) run the same pump in the
 * request's own thread. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_atomic.h>
#include <apr_poll.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <ap_mpm.h>
#include <mpm_common.h>
#include <util_filter.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_relay.h"
#include "mod_nodeproxy_tunnel.h"
#include "mod_nodeproxy_balancer.h"
#include "mod_nodeproxy_reactor.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_TUNNEL_BUF (16 * 1024)

typedef struct np_tunnel_t np_tunnel_t;
struct np_tunnel_t {
    np_job_t job;                  /* first: the reactor's view of it       */
    request_rec *r;
    conn_rec *c;
    np_conn_t *b;                  /* backend; its buf holds backend->client */
    apr_socket_t *csock;
    int tls;
    apr_pollset_t *ps;
    apr_pollfd_t cpfd, bpfd;
    apr_int16_t creq, breq;        /* events registered now, 0 = none       */
    apr_bucket_brigade *bb;
    char *up;                      /* client->backend bytes not yet sent    */
    apr_size_t up_len, up_off;
    apr_size_t down_len, down_off; /* backend->client bytes in b->buf       */
    int client_eof, backend_eof, backend_shut;
    int done;
    const char *why;
    apr_time_t last_io;
    apr_interval_time_t idle;
};

/* ---- one tunnel's pump ---------------------------------------------------- */

static void end(np_tunnel_t *t, const char *why)
{
    if (!t->done) {
        t->done = 1;
        t->why = why;
    }
}

/* Client -> backend: read what the client sent (through its filters) and
 * write it to the backend, until either side would block. */
static int pump_up(np_tunnel_t *t, apr_time_t now)
{
    apr_socket_t *bs = t->b->sock;
    int progress = 0;

    while (!t->done) {
        apr_status_t rv;
        apr_size_t n;
        apr_bucket *e;

        if (t->up_off < t->up_len) {
            n = t->up_len - t->up_off;
            rv = apr_socket_send(bs, t->up + t->up_off, &n);
            t->up_off += n;
            progress |= n > 0;
            if (APR_STATUS_IS_EAGAIN(rv)) {
                return progress;
            }
            if (rv != APR_SUCCESS) {
                end(t, "backend went away");
            }
            continue;
        }
        t->up_off = t->up_len = 0;
        if (t->client_eof) {
            if (!t->backend_shut) {
                /* Half-close: the backend sees the client's FIN and may
                 * still answer (a WebSocket close frame, say). */
                apr_socket_shutdown(bs, APR_SHUTDOWN_WRITE);
                t->backend_shut = 1;
            }
            return progress;
        }
        rv = ap_get_brigade(t->c->input_filters, t->bb, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, NP_TUNNEL_BUF);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(t->bb))) {
            apr_brigade_cleanup(t->bb);
            return progress;
        }
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(t->bb);
            t->client_eof = 1;
            continue;
        }
        for (e = APR_BRIGADE_FIRST(t->bb); e != APR_BRIGADE_SENTINEL(t->bb);
             e = APR_BUCKET_NEXT(e)) {
            if (APR_BUCKET_IS_EOS(e)) {
                t->client_eof = 1;
            }
        }
        n = NP_TUNNEL_BUF;
        apr_brigade_flatten(t->bb, t->up, &n);
        apr_brigade_cleanup(t->bb);
        t->up_len = n;
        t->up_off = 0;
        if (n > 0) {
            t->last_io = now;
            progress = 1;
        }
    }
    return progress;
}

/* Backend -> client. */
static int pump_down(np_tunnel_t *t, apr_time_t now)
{
    np_conn_t *b = t->b;
    int progress = 0;

    while (!t->done) {
        apr_status_t rv;
        apr_size_t n;

        if (t->down_off < t->down_len) {
            n = t->down_len - t->down_off;
            if (t->tls) {
                apr_bucket_alloc_t *ba = t->c->bucket_alloc;
                APR_BRIGADE_INSERT_TAIL(t->bb, apr_bucket_transient_create(
                                        b->buf + t->down_off, n, ba));
                APR_BRIGADE_INSERT_TAIL(t->bb, apr_bucket_flush_create(ba));
                rv = ap_pass_brigade(t->c->output_filters, t->bb);
                apr_brigade_cleanup(t->bb);
            }
            else {
                rv = apr_socket_send(t->csock, b->buf + t->down_off, &n);
            }
            t->down_off += n;
            progress |= n > 0;
            if (APR_STATUS_IS_EAGAIN(rv)) {
                return progress;
            }
            if (rv != APR_SUCCESS) {
                end(t, "client went away");
            }
            continue;
        }
        t->down_off = t->down_len = 0;
        if (t->backend_eof) {
            /* Everything the backend said has reached the client. */
            end(t, "backend closed");
            return progress;
        }
        n = b->bufsize;
        rv = apr_socket_recv(b->sock, b->buf, &n);
        if (n > 0) {
            t->down_len = n;
            t->last_io = now;
            progress = 1;
            continue;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return progress;
        }
        t->backend_eof = 1;
    }
    return progress;
}

static void set_events(np_tunnel_t *t, apr_pollfd_t *pfd, apr_int16_t *cur,
                       apr_int16_t want)
{
    np_reactor_watch(t->ps, pfd, cur, want);
}

/* Run both directions until neither moves, then poll for what each side
 * waits for. */
static void pump(np_tunnel_t *t)
{
    apr_time_t now = apr_time_now();
    apr_int16_t creq = 0, breq = 0;
    int rounds;

    for (rounds = 0; rounds < 64 && !t->done; rounds++) {
        int moved = pump_up(t, now);
        moved |= pump_down(t, now);
        if (!moved) {
            break;
        }
    }
    if (t->done) {
        set_events(t, &t->cpfd, &t->creq, 0);
        set_events(t, &t->bpfd, &t->breq, 0);
        return;
    }
    if (!t->client_eof && t->up_off >= t->up_len) {
        creq |= APR_POLLIN;
    }
    if (t->down_off < t->down_len) {
        creq |= APR_POLLOUT;
    }
    else if (!t->backend_eof) {
        breq |= APR_POLLIN;
    }
    if (t->up_off < t->up_len) {
        breq |= APR_POLLOUT;
    }
    set_events(t, &t->cpfd, &t->creq, creq);
    set_events(t, &t->bpfd, &t->breq, breq);
    t->job.deadline = t->idle > 0 ? t->last_io + t->idle : 0;
}

static void counters_closed(void)
{
    np_shm_global_t *g = np_shm_global();
    if (g) {
        apr_atomic_dec64(&g->tunnels_open);
    }
}

static void log_end(np_tunnel_t *t)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, t->r, NPLOGNO(00100)
                  "nodeproxy(%s): WebSocket tunnel closed: %s",
                  t->b->backend->target->url, t->why);
}

/* ---- as a reactor job (event MPM) ----------------------------------------- */

static void finish_async(np_tunnel_t *t)
{
    np_reactor_unlink(&t->job);
    set_events(t, &t->cpfd, &t->creq, 0);
    set_events(t, &t->bpfd, &t->breq, 0);
    log_end(t);
    np_conn_release(t->b, 0);
    counters_closed();
    np_reactor_finish_connection(t->r);
}

static void tunnel_adopt(np_job_t *job)
{
    np_tunnel_t *t = (np_tunnel_t *)job;
    t->ps = job->ps;
    /* Bytes may already wait in the filters or the buffer: pump first. */
    pump(t);
    if (t->done) {
        finish_async(t);
    }
}

static void tunnel_ready(np_job_t *job, const apr_pollfd_t *pfd)
{
    np_tunnel_t *t = (np_tunnel_t *)job;
    pump(t);
    if (t->done) {
        finish_async(t);
    }
}

static void tunnel_expired(np_job_t *job)
{
    np_tunnel_t *t = (np_tunnel_t *)job;
    end(t, "idle timeout");
    finish_async(t);
}

static const np_job_ops_t tunnel_ops = { tunnel_adopt, tunnel_ready,
                                         tunnel_expired };

/* ---- starting a tunnel -------------------------------------------------------- */

/* Prefork/worker: the same pump, in this thread, until the tunnel ends. */
static int run_in_thread(np_tunnel_t *t)
{
    apr_status_t rv = apr_pollset_create(&t->ps, 2, t->c->pool,
                                         APR_POLLSET_NOCOPY);
    if (rv != APR_SUCCESS) {
        end(t, "cannot create a pollset");
    }
    while (!t->done) {
        const apr_pollfd_t *fds;
        apr_int32_t n;
        apr_interval_time_t wait = apr_time_from_sec(1);
        pump(t);
        if (t->done) {
            break;
        }
        apr_pollset_poll(t->ps, wait, &n, &fds);
        if (t->idle > 0 && apr_time_now() - t->last_io >= t->idle) {
            end(t, "idle timeout");
            set_events(t, &t->cpfd, &t->creq, 0);
            set_events(t, &t->bpfd, &t->breq, 0);
        }
    }
    log_end(t);
    np_conn_release(t->b, 0);
    counters_closed();
    return DONE;
}

int np_tunnel_start(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    conn_rec *c = r->connection;
    np_dir_conf_t *dc = np_dir_conf(r->per_dir_config);
    np_shm_global_t *g = np_shm_global();
    np_tunnel_t *t;

    /* The 101, with the backend's headers (Sec-WebSocket-Accept,
     * -Protocol, -Extensions, cookies) minus hop-by-hop ones. */
    np_response_copy_headers(r, rq, resp);
    apr_table_setn(r->headers_out, "Connection", "Upgrade");
    apr_table_setn(r->headers_out, "Upgrade", "websocket");
    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = "101 Switching Protocols";
    ap_send_interim_response(r, 1);
    if (c->aborted) {
        np_conn_release(rq->conn, 0);
        rq->conn = NULL;
        return DONE;
    }

    /* In the connection's pool, not the request's: the request is finished
     * (and its pool freed) before the reactor is done with the tunnel. */
    t = apr_pcalloc(c->pool, sizeof(*t));
    t->r = r;
    t->c = c;
    t->b = rq->conn;
    rq->conn = NULL;
    t->csock = ap_get_conn_socket(c);
    t->tls = ap_ssl_conn_is_ssl(c);
    t->bb = apr_brigade_create(c->pool, c->bucket_alloc);
    t->up = apr_palloc(c->pool, NP_TUNNEL_BUF);
    t->idle = NP_PICK(dc->ws_idle_timeout, NP_DEFAULT_WS_IDLE_TIMEOUT);
    t->last_io = apr_time_now();
    /* Bytes the backend sent right after its 101 go first. */
    t->down_off = resp->head.head_len;
    t->down_len = resp->buffered;

    t->job.ops = &tunnel_ops;
    t->cpfd.p = c->pool;
    t->cpfd.desc_type = APR_POLL_SOCKET;
    t->cpfd.desc.s = t->csock;
    t->cpfd.client_data = t;
    t->bpfd.p = c->pool;
    t->bpfd.desc_type = APR_POLL_SOCKET;
    t->bpfd.desc.s = t->b->sock;
    t->bpfd.client_data = t;
    apr_socket_timeout_set(t->b->sock, 0);
    if (t->tls) {
        /* mod_ssl's flush may wait for a slow reader, up to Timeout. */
        apr_socket_timeout_set(t->csock, r->server->timeout);
    }
    else {
        apr_socket_timeout_set(t->csock, 0);
    }

    /* A byte stream now: no request timeouts, no TLS write coalescing,
     * only connection-level filters. */
    ap_remove_input_filter_byhandle(c->input_filters, "reqtimeout");
    ap_remove_output_filter_byhandle(c->output_filters,
                                     "SSL/TLS Coalescing Filter");
    r->input_filters = r->proto_input_filters = c->input_filters;
    r->output_filters = r->proto_output_filters = c->output_filters;
    c->keepalive = AP_CONN_CLOSE;

    if (g) {
        apr_atomic_inc64(&g->tunnels_open);
        apr_atomic_inc64(&g->tunnels_total);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00102)
                  "nodeproxy(%s): WebSocket tunnel open%s",
                  t->b->backend->target->url,
                  np_reactor_can_suspend(c) ? "" : " (in this thread)");
    if (np_reactor_can_suspend(c)) {
        np_reactor_suspend(c, &t->job);
        return SUSPENDED;
    }
    return run_in_thread(t);
}
