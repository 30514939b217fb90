/* Glue: WebSocket tunnels without a thread per open socket.
 *
 * Apache 2.4 cannot ask the event MPM to watch a second socket, but a
 * handler may return SUSPENDED: the MPM then forgets the connection until
 * the module finishes it. So after the backend's 101 the request is parked
 * here: one reactor thread per child polls both sockets of every tunnel and
 * moves the bytes itself (they are few: WebSocket traffic is small and
 * bursty). The request is logged and freed when the tunnel opens; the
 * connection is closed when a side closes or the tunnel has been idle for
 * NodeWebSocketIdleTimeout.
 *
 * The tunnel is a job of the per-child reactor (reactor/mod_nodeproxy_reactor.h),
 * handed over once the worker thread has let go of the connection.
 *
 * Client-side reads go through the connection's input filters (mod_ssl for
 * wss, and bytes httpd already buffered after the request head); once those
 * are drained, a plain client's socket is read directly. Writes to
 * a plain client go straight to its socket, non-blocking, with POLLOUT flow
 * control; writes to a TLS client go through mod_ssl without a flush, and
 * the core writes what it holds without blocking: while some is left the
 * backend is not read (POLLOUT again), and a closing tunnel waits for the
 * client to take it (up to Timeout) in the reactor, not on a write.
 *
 * MPMs that cannot suspend (prefork, worker) run the same pump in the
 * request's own thread. An HTTP/2 stream's tunnel (RFC 8441) has no
 * socket to suspend on: mod_nodeproxy_h2tunnel.c runs it on its thread. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_atomic.h>
#include <apr_poll.h>
#include <apr_allocator.h>
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
#include "mod_nodeproxy_children.h"

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
    /* Bytes read but not yet written: malloc'd only while there are some,
     * so an idle tunnel holds no buffer (reads go to the pump's stack). */
    char *up;                      /* client->backend                       */
    apr_size_t up_len, up_off;
    char *down;                    /* backend->client                       */
    apr_size_t down_len, down_off;
    int client_eof, backend_eof, backend_shut;
    int direct_in;                 /* plain client: read its socket itself  */
    int done;
    int draining;                  /* done; the core still holds TLS output */
    const char *why;
    apr_time_t last_io;
    apr_time_t opened;
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

/* Keep what a non-blocking write left over, to send when writable. */
static int keep_rest(char **buf, apr_size_t *len, apr_size_t *off,
                     const char *data, apr_size_t n)
{
    *buf = malloc(n);
    if (!*buf) {
        return 0;
    }
    memcpy(*buf, data, n);
    *len = n;
    *off = 0;
    return 1;
}

static void drop(char **buf, apr_size_t *len, apr_size_t *off)
{
    free(*buf);
    *buf = NULL;
    *len = *off = 0;
}

/* Client -> backend: read what the client sent (through its filters) and
 * write it to the backend, until either side would block. A direct read
 * that did not fill the buffer means the socket is drained: no second
 * read to hear EAGAIN (the poll says when more comes). */
static int pump_up(np_tunnel_t *t, apr_time_t now, char *scratch)
{
    np_conn_t *bs = t->b;
    int progress = 0;

    while (!t->done) {
        apr_status_t rv;
        apr_size_t n, sent;
        apr_bucket *e;

        if (t->up) {
            n = t->up_len - t->up_off;
            rv = np_conn_send(bs, t->up + t->up_off, &n);
            t->up_off += n;
            progress |= n > 0;
            if (t->up_off == t->up_len) {
                drop(&t->up, &t->up_len, &t->up_off);
            }
            else if (APR_STATUS_IS_EAGAIN(rv) || rv == APR_SUCCESS) {
                return progress;
            }
            if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
                end(t, "backend went away");
            }
            continue;
        }
        if (t->client_eof) {
            if (!t->backend_shut) {
                /* Half-close: the backend sees the client's FIN and may
                 * still answer (a WebSocket close frame, say). */
                np_conn_shutdown_write(bs);
                t->backend_shut = 1;
            }
            return progress;
        }
        if (t->direct_in) {
            /* A plain client whose filters hold nothing more: read its
             * socket straight into the stack, no buckets. */
            n = NP_TUNNEL_BUF;
            rv = apr_socket_recv(t->csock, scratch, &n);
            if (n == 0) {
                if (APR_STATUS_IS_EAGAIN(rv)) {
                    return progress;
                }
                t->client_eof = 1;
                continue;
            }
            goto got;
        }
        rv = ap_get_brigade(t->c->input_filters, t->bb, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, NP_TUNNEL_BUF);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(t->bb))) {
            apr_brigade_cleanup(t->bb);
            /* What httpd had buffered after the request head is drained:
             * from now on a plain client's socket can be read directly. */
            t->direct_in = !t->tls;
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
        apr_brigade_flatten(t->bb, scratch, &n);
        apr_brigade_cleanup(t->bb);
        if (n == 0) {
            continue;
        }
got:
        t->last_io = now;
        progress = 1;
        sent = n;
        rv = np_conn_send(bs, scratch, &sent);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
            end(t, "backend went away");
        }
        else if (sent < n && !keep_rest(&t->up, &t->up_len, &t->up_off,
                                        scratch + sent, n - sent)) {
            end(t, "out of memory");
        }
        else if (t->direct_in && n < NP_TUNNEL_BUF && sent == n) {
            break;
        }
    }
    return progress;
}

/* Write to the client: straight to its socket, or through mod_ssl. */
static apr_status_t client_send(np_tunnel_t *t, const char *data,
                                apr_size_t *n)
{
    apr_status_t rv;
    if (t->tls) {
        /* mod_ssl hands each record to the core, which keeps what the
         * socket does not take (tls_behind() then says so). */
        apr_bucket_alloc_t *ba = t->c->bucket_alloc;
        APR_BRIGADE_INSERT_TAIL(t->bb, apr_bucket_transient_create(data, *n,
                                                                   ba));
        rv = ap_pass_brigade(t->c->output_filters, t->bb);
        apr_brigade_cleanup(t->bb);
        if (rv == APR_SUCCESS && !np_write_pending(t->c)) {
            rv = APR_ECONNABORTED;
        }
        if (rv != APR_SUCCESS) {
            *n = 0;
        }
        return rv;
    }
    return apr_socket_send(t->csock, data, n);
}

/* TLS: does the core still hold output for the client? Write what it can
 * first; -1 when the client is gone. */
static int tls_behind(np_tunnel_t *t)
{
    if (!t->tls || !t->c->data_in_output_filters) {
        return 0;
    }
    if (!np_write_pending(t->c)) {
        return -1;
    }
    return t->c->data_in_output_filters != 0;
}

/* Backend -> client. */
static int pump_down(np_tunnel_t *t, apr_time_t now, char *scratch)
{
    np_conn_t *b = t->b;
    int progress = 0;

    while (!t->done) {
        apr_status_t rv;
        apr_size_t n, sent;
        int behind = tls_behind(t);

        if (behind < 0) {
            end(t, "client went away");
            continue;
        }
        if (behind) {
            return progress;   /* POLLOUT first; the backend waits */
        }
        if (t->down) {
            n = t->down_len - t->down_off;
            rv = client_send(t, t->down + t->down_off, &n);
            t->down_off += n;
            progress |= n > 0;
            if (t->down_off == t->down_len) {
                drop(&t->down, &t->down_len, &t->down_off);
            }
            else if (APR_STATUS_IS_EAGAIN(rv) || rv == APR_SUCCESS) {
                return progress;
            }
            if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
                end(t, "client went away");
            }
            continue;
        }
        if (t->backend_eof) {
            /* Everything the backend said has reached the client. */
            end(t, "backend closed");
            return progress;
        }
        n = NP_TUNNEL_BUF;
        rv = np_conn_recv(b, scratch, &n);
        if (n == 0) {
            if (APR_STATUS_IS_EAGAIN(rv)) {
                return progress;
            }
            t->backend_eof = 1;
            continue;
        }
        t->last_io = now;
        progress = 1;
        sent = n;
        rv = client_send(t, scratch, &sent);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
            end(t, "client went away");
        }
        else if (sent < n && !keep_rest(&t->down, &t->down_len, &t->down_off,
                                        scratch + sent, n - sent)) {
            end(t, "out of memory");
        }
        else if (n < NP_TUNNEL_BUF && sent == n && !np_conn_pending(b)) {
            break;   /* drained, as above (TLS may hold more: read on) */
        }
    }
    return progress;
}

static void set_events(np_tunnel_t *t, apr_pollfd_t *pfd, apr_int16_t *cur,
                       apr_int16_t want)
{
    np_reactor_watch(t->ps, pfd, cur, want);
}

/* Move what the ready side allows (up: client -> backend, down: backend
 * -> client), then poll for what each side waits for. Only the directions
 * a poll event concerns are tried: each read that finds nothing is a
 * system call per message. */
static void pump(np_tunnel_t *t, int up, int down)
{
    apr_time_t now = apr_time_now();
    apr_int16_t creq = 0, breq = 0;
    char scratch[NP_TUNNEL_BUF];

    if (up) {
        pump_up(t, now, scratch);
    }
    if (down && !t->done) {
        pump_down(t, now, scratch);
    }
    if (t->done) {
        set_events(t, &t->cpfd, &t->creq, 0);
        set_events(t, &t->bpfd, &t->breq, 0);
        return;
    }
    if (!t->client_eof && !t->up) {
        creq |= APR_POLLIN;
    }
    if (t->down || (t->tls && t->c->data_in_output_filters)) {
        creq |= APR_POLLOUT;
    }
    else if (!t->backend_eof) {
        breq |= t->b->want_recv;   /* POLLIN, or what TLS waits for */
    }
    if (t->up) {
        breq |= t->b->want_send;
    }
    set_events(t, &t->cpfd, &t->creq, creq);
    set_events(t, &t->bpfd, &t->breq, breq);
    /* Later only (last_io never goes back): a plain store, which the
     * reactor's timer picks up lazily when the old deadline comes. */
    t->job.deadline = t->idle > 0 ? t->last_io + t->idle : 0;
}

static void counters_closed(void)
{
    np_shm_global_t *g = np_shm_global();
    np_child_count(NP_CHILD_TUNNELS, -1);
    if (g) {
        apr_atomic_dec64(&g->tunnels_open);
    }
}

/* The tunnel is over: say why, and let go of its buffers and backend. */
static void close_tunnel(np_tunnel_t *t)
{
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, t->c, NPLOGNO(00100)
                  "nodeproxy(%s): WebSocket tunnel closed: %s (open %"
                  APR_TIME_T_FMT " s)", t->b->backend->target->url, t->why,
                  apr_time_sec(apr_time_now() - t->opened));
    drop(&t->up, &t->up_len, &t->up_off);
    drop(&t->down, &t->down_len, &t->down_off);
    np_conn_release(t->b, 0);
    counters_closed();
}

/* ---- as a reactor job (event MPM) ----------------------------------------- */

static void finish_async(np_tunnel_t *t)
{
    conn_rec *c = t->c;
    set_events(t, &t->cpfd, &t->creq, 0);
    set_events(t, &t->bpfd, &t->breq, 0);
    if (!t->draining) {
        close_tunnel(t);
        if (tls_behind(t) > 0) {
            /* The last records (a close frame, say) wait for the client
             * here, at most Timeout, rather than in a blocking write. */
            t->draining = 1;
            np_reactor_set_deadline(&t->job, apr_time_now()
                                             + c->base_server->timeout);
            set_events(t, &t->cpfd, &t->creq, APR_POLLOUT);
            return;
        }
    }
    np_reactor_unlink(&t->job);
    np_reactor_close_connection(c);
}

static void tunnel_adopt(np_job_t *job)
{
    np_tunnel_t *t = (np_tunnel_t *)job;
    t->ps = job->ps;
    /* The request is logged now, as opened (101), and its pool freed: an
     * open tunnel keeps only what it needs (the connection, the backend
     * socket and this record), not the request. The connection will never
     * serve another request, so its allocator need not keep freed memory. */
    apr_allocator_max_free_set(apr_pool_allocator_get(t->c->pool), 1);
    ap_process_request_after_handler(t->r);
    t->r = NULL;
    if (t->tls) {
        /* mod_ssl's reads and writes use buckets all the time: let the
         * allocator keep a little, or every record costs a system call. */
        apr_allocator_max_free_set(apr_pool_allocator_get(t->c->pool),
                                   32 * 1024);
    }
    /* Bytes may already wait in the filters or the buffer: pump first. */
    pump(t, 1, 1);
    if (t->done) {
        finish_async(t);
    }
}

static void tunnel_ready(np_job_t *job, const apr_pollfd_t *pfd)
{
    np_tunnel_t *t = (np_tunnel_t *)job;
    if (t->draining) {
        if (tls_behind(t) <= 0) {
            finish_async(t);
        }
        return;
    }
    apr_int16_t in = pfd->rtnevents & (APR_POLLIN | APR_POLLHUP | APR_POLLERR);
    apr_int16_t out = pfd->rtnevents & APR_POLLOUT;
    if (pfd->desc.s == t->csock) {
        pump(t, in != 0, out != 0);    /* readable: up; writable: flush down */
    }
    else {
        /* Plain: writable means up, readable down. TLS may need to read
         * to write or write to read: the backend's wants say which. */
        apr_int16_t ev = (in ? APR_POLLIN : 0) | out;
        pump(t, (ev & t->b->want_send) != 0, (ev & t->b->want_recv) != 0);
    }
    if (t->done) {
        finish_async(t);
    }
}

static void tunnel_expired(np_job_t *job)
{
    np_tunnel_t *t = (np_tunnel_t *)job;
    if (t->draining) {
        t->c->aborted = 1;   /* the client took nothing for Timeout */
        finish_async(t);
        return;
    }
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
        pump(t, 1, 1);
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
    close_tunnel(t);
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
    if (c->master) {
        /* An HTTP/2 stream (mod_http2 made the 101 its 200): tunnelled on
         * this thread, through the stream's filters. */
        np_conn_t *b = rq->conn;
        rq->conn = NULL;
        return np_h2tunnel_run(r, b, b->buf + resp->head.head_len,
                               resp->buffered > resp->head.head_len
                               ? resp->buffered - resp->head.head_len : 0);
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

    t->idle = NP_PICK(dc->ws_idle_timeout, NP_DEFAULT_WS_IDLE_TIMEOUT);
    t->last_io = t->opened = apr_time_now();
    /* Bytes the backend sent right after its 101 go first; then the
     * connection's own read buffer is not needed any more. */
    if (resp->buffered > resp->head.head_len
        && !keep_rest(&t->down, &t->down_len, &t->down_off,
                      t->b->buf + resp->head.head_len,
                      resp->buffered - resp->head.head_len)) {
        np_conn_release(t->b, 0);
        c->aborted = 1;   /* the 101 is out: nothing else can be said */
        return DONE;
    }
    np_conn_drop_buffer(t->b);

    t->job.ops = &tunnel_ops;
    t->job.deadline = t->idle > 0 ? t->last_io + t->idle : 0;
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
        /* Writes go through mod_ssl and the core without blocking; this
         * bounds only the close of a connection that could not drain. */
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
    np_child_count(NP_CHILD_TUNNELS, 1);
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
