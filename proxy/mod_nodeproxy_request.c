/* Glue: the request towards the backend. The head is built once into one
 * buffer (re-sendable on a fresh connection); the first part of the body is
 * read before a connection is taken, so a bad body costs no backend and a
 * small body can be replayed; the rest streams through in constant memory. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <apr_poll.h>
#include <apr_portable.h>
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
#include "np_cidr.h"
#include "np_forwarded.h"
#include "np_headers.h"
#include "np_ws.h"
#include "mod_nodeproxy_reactor.h"
#include "mod_nodeproxy_tunnel.h"

APLOG_USE_MODULE(nodeproxy);

/* Body bytes read before the backend is chosen; a body that ends within
 * this is sent with a Content-Length and can be re-sent. */
#define NP_PREFETCH (16 * 1024)

/* ---- the head ------------------------------------------------------------ */

typedef struct {
    struct iovec v[64];
    int n;
    apr_size_t len;
    apr_array_header_t *more;   /* past 64 pieces */
} pieces_t;

static void add(pieces_t *ps, apr_pool_t *p, const char *s, apr_size_t len)
{
    struct iovec *v;
    if (ps->n < 64) {
        v = &ps->v[ps->n++];
    }
    else {
        if (!ps->more) {
            ps->more = apr_array_make(p, 64, sizeof(struct iovec));
        }
        v = apr_array_push(ps->more);
    }
    v->iov_base = (void *)s;
    v->iov_len = len;
    ps->len += len;
}

static void add_header(pieces_t *ps, apr_pool_t *p, const char *name,
                       const char *value)
{
    add(ps, p, name, strlen(name));
    add(ps, p, ": ", 2);
    add(ps, p, value, strlen(value));
    add(ps, p, "\r\n", 2);
}

static char *flatten(pieces_t *ps, apr_pool_t *p, apr_size_t *len)
{
    char *buf = apr_palloc(p, ps->len + 1), *at = buf;
    int i;
    for (i = 0; i < ps->n; i++) {
        memcpy(at, ps->v[i].iov_base, ps->v[i].iov_len);
        at += ps->v[i].iov_len;
    }
    for (i = 0; ps->more && i < ps->more->nelts; i++) {
        struct iovec *v = &APR_ARRAY_IDX(ps->more, i, struct iovec);
        memcpy(at, v->iov_base, v->iov_len);
        at += v->iov_len;
    }
    *at = '\0';
    *len = ps->len;
    return buf;
}

static void add_forwarded(pieces_t *ps, request_rec *r, np_request_t *rq,
                          int trusted)
{
    const np_mapping_t *m = rq->mapping;
    np_forwarded_in_t in;
    np_forwarded_out_t out;

    memset(&in, 0, sizeof(in));
    /* The client Apache established: mod_remoteip's answer when it took
     * one from a trusted balancer, else the TCP peer. */
    in.client_ip = r->useragent_ip ? r->useragent_ip
                                   : r->connection->client_ip;
    in.tls = ap_ssl_conn_is_ssl(r->connection);
    in.host = apr_table_get(r->headers_in, "Host");
    if (!in.host) {
        in.host = r->hostname;
    }
    in.server_name = r->server->server_hostname;
    in.port = r->connection->local_addr->port;
    in.prefix = strcmp(m->path, m->target.path) != 0 ? m->path : NULL;
    in.trusted = trusted;
    if (trusted) {
        in.in_xff = apr_table_get(r->headers_in, "X-Forwarded-For");
        in.in_proto = apr_table_get(r->headers_in, "X-Forwarded-Proto");
        in.in_host = apr_table_get(r->headers_in, "X-Forwarded-Host");
        in.in_port = apr_table_get(r->headers_in, "X-Forwarded-Port");
        in.in_prefix = apr_table_get(r->headers_in, "X-Forwarded-Prefix");
        in.in_forwarded = apr_table_get(r->headers_in, "Forwarded");
    }
    np_forwarded_build(r->pool, &in, &out);
    if (out.xff) add_header(ps, r->pool, "X-Forwarded-For", out.xff);
    if (out.proto) add_header(ps, r->pool, "X-Forwarded-Proto", out.proto);
    if (out.host) add_header(ps, r->pool, "X-Forwarded-Host", out.host);
    if (out.port) add_header(ps, r->pool, "X-Forwarded-Port", out.port);
    if (out.prefix) add_header(ps, r->pool, "X-Forwarded-Prefix", out.prefix);
    if (out.forwarded) add_header(ps, r->pool, "Forwarded", out.forwarded);
}

static void build_head(request_rec *r, np_request_t *rq)
{
    np_server_conf_t *sc = np_server_conf(r->server);
    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char *conn = apr_table_get(r->headers_in, "Connection");
    const char *host;
    int trusted, i;
    pieces_t ps;

    ps.n = 0;
    ps.len = 0;
    ps.more = NULL;
    /* With NodeForwardedHeaders off the proxy neither adds nor removes
     * forwarding headers: they pass as the client sent them. Trust is the
     * TCP peer's: it is the one that sent these headers (mod_remoteip may
     * have named another client, but it did not vouch for the peer's
     * X-Forwarded-Proto/-Host). */
    trusted = !rq->forwarded
        || (sc->trusted && np_cidr_match_any(sc->trusted,
                                             r->connection->client_ip));
    add(&ps, r->pool, r->method, strlen(r->method));
    add(&ps, r->pool, " ", 1);
    add(&ps, r->pool, rq->backend_uri, strlen(rq->backend_uri));
    add(&ps, r->pool, " HTTP/1.1\r\n", 11);

    host = rq->preserve_host ? apr_table_get(r->headers_in, "Host") : NULL;
    if (!host) {
        host = rq->preserve_host && r->hostname ? r->hostname
             : rq->mapping->target.authority;
    }
    add_header(&ps, r->pool, "Host", host);
    for (i = 0; i < arr->nelts; i++) {
        /* With forwarding on, the peer's forwarding headers are never
         * copied: add_forwarded() re-emits a trusted peer's, extended. */
        if (!e[i].key || strcasecmp(e[i].key, "Host") == 0
            || np_request_header_dropped(e[i].key, conn, !rq->forwarded)
            || (!trusted && np_header_is_client_ip(e[i].key))) {
            continue;
        }
        add_header(&ps, r->pool, e[i].key, e[i].val);
    }
    if (rq->websocket) {
        /* Hop-by-hop, so dropped above; re-stated for this hop. Any other
         * Upgrade (h2c...) is never passed on. */
        add_header(&ps, r->pool, "Connection", "Upgrade");
        add_header(&ps, r->pool, "Upgrade", "websocket");
    }
    if (rq->forwarded) {
        add_forwarded(&ps, r, rq, trusted);
    }
    if (rq->body_complete) {
        add_header(&ps, r->pool, "Content-Length",
                   apr_off_t_toa(r->pool, rq->prefetch_len));
    }
    else if (rq->has_body) {
        const char *cl = apr_table_get(r->headers_in, "Content-Length");
        if (cl) {
            add_header(&ps, r->pool, "Content-Length", cl);
        }
        else {
            rq->body_chunked = 1;
            add_header(&ps, r->pool, "Transfer-Encoding", "chunked");
        }
    }
    else if (apr_table_get(r->headers_in, "Content-Length")) {
        add_header(&ps, r->pool, "Content-Length", "0");
    }
    add(&ps, r->pool, "\r\n", 2);
    rq->head = flatten(&ps, r->pool, &rq->head_len);
}

/* ---- the body ------------------------------------------------------------ */

/* Read up to NP_PREFETCH bytes of the body. Errors are the client's: the
 * HTTP_IN filter rejects bad chunk sizes and over-long bodies. */
static int prefetch_body(request_rec *r, np_request_t *rq)
{
    apr_bucket_brigade *tmp = apr_brigade_create(r->pool,
                                                 r->connection->bucket_alloc);
    rq->prefetch = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    rq->prefetch_len = 0;
    while (rq->prefetch_len < NP_PREFETCH) {
        apr_bucket *last;
        apr_off_t len = 0;
        apr_status_t rv = ap_get_brigade(r->input_filters, tmp,
                                         AP_MODE_READBYTES, APR_BLOCK_READ,
                                         NP_PREFETCH - rq->prefetch_len);
        if (rv != APR_SUCCESS) {
            /* AP_FILTER_ERROR: HTTP_IN has answered (400, 413) already. */
            ap_log_rerror(APLOG_MARK, APLOG_INFO,
                          rv == AP_FILTER_ERROR ? 0 : rv, r, NPLOGNO(00020)
                          "nodeproxy(%s): reading the client's request body "
                          "failed%s", rq->mapping->target.url,
                          rv == AP_FILTER_ERROR ? " (bad framing or too "
                          "large)" : "");
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        last = APR_BRIGADE_EMPTY(tmp) ? NULL : APR_BRIGADE_LAST(tmp);
        if (last && APR_BUCKET_IS_EOS(last)) {
            apr_bucket_delete(last);
            rq->body_complete = 1;
        }
        apr_brigade_length(tmp, 1, &len);
        rq->prefetch_len += len;
        rv = ap_save_brigade(NULL, &rq->prefetch, &tmp, r->pool);
        if (rv != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_brigade_cleanup(tmp);
        if (rq->body_complete) {
            break;
        }
    }
    return OK;
}

/* Write every byte of v[0..n) (sendv may write part of it). */
static apr_status_t send_all(np_conn_t *c, struct iovec *v, int n)
{
    while (n > 0) {
        apr_size_t written = 0;
        apr_status_t rv = np_conn_sendv(c, v, n, &written);
        while (n > 0 && written >= v->iov_len) {
            written -= v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + written;
            v->iov_len -= written;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* Make v[1..n) one chunk: its size line in v[0], its CRLF after it.
 * Returns the new count. */
static int frame_chunk(struct iovec *v, int n, apr_off_t total,
                       char *size_line, apr_size_t size)
{
    v[0].iov_len = apr_snprintf(size_line, size, "%" APR_UINT64_T_HEX_FMT
                                "\r\n", (apr_uint64_t)total);
    v[0].iov_base = size_line;
    v[n].iov_base = "\r\n";
    v[n].iov_len = 2;
    return n + 1;
}

/* Send the data buckets of bb, chunk-framed when asked. */
static apr_status_t send_brigade(np_request_t *rq, apr_bucket_brigade *bb,
                                 int chunked, apr_pool_t *p)
{
    struct iovec v[66];
    char size_line[32];
    apr_off_t total = 0;
    apr_bucket *b;
    int n = chunked ? 1 : 0;
    apr_status_t rv;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;
        if (APR_BUCKET_IS_METADATA(b)) {
            continue;
        }
        rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (len == 0) {
            continue;
        }
        if (n == 65) {   /* flush a full vector */
            if (chunked) {
                n = frame_chunk(v, n, total, size_line, sizeof(size_line));
            }
            if ((rv = send_all(rq->conn, v, n)) != APR_SUCCESS) {
                return rv;
            }
            n = chunked ? 1 : 0;
            total = 0;
        }
        v[n].iov_base = (void *)data;
        v[n++].iov_len = len;
        total += len;
    }
    if (total == 0) {
        return APR_SUCCESS;
    }
    if (chunked) {
        n = frame_chunk(v, n, total, size_line, sizeof(size_line));
    }
    return send_all(rq->conn, v, n);
}

/* ---- the client's chunk framing ------------------------------------------
 * httpd's HTTP_IN filter answers 413 to a chunk size of more than 16 hex
 * digits and to an over-long chunk extension (its parser reports them as
 * "no space"); both are malformed requests: 400. This filter sits just
 * below HTTP_IN for a chunked request body, sees the same bytes first, and
 * runs them through the module's own chunk decoder; on those two errors it
 * answers 400 the way HTTP_IN answers its own errors. Anything else is left
 * to HTTP_IN. */
#define NP_CHUNK_FILTER "NODEPROXY_CHUNKS"
static ap_filter_rec_t *chunk_filter;

typedef struct {
    np_chunk_decoder_t dec;
    int off;                      /* done, or left to HTTP_IN */
} chunk_check_t;

static apr_status_t chunk_check(ap_filter_t *f, apr_bucket_brigade *bb,
                                ap_input_mode_t mode, apr_read_type_e block,
                                apr_off_t readbytes)
{
    chunk_check_t *cc = f->ctx;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    apr_bucket *b;

    if (rv != APR_SUCCESS || cc->off || mode == AP_MODE_SPECULATIVE) {
        return rv;
    }
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb) && !cc->off;
         b = APR_BUCKET_NEXT(b)) {
        const char *data, *span, *err = NULL;
        apr_size_t len, used, span_len;
        int done = 0;
        if (APR_BUCKET_IS_METADATA(b)
            || apr_bucket_read(b, &data, &len, APR_BLOCK_READ) != APR_SUCCESS) {
            continue;
        }
        while (len > 0 && !cc->off) {
            if (np_chunk_next(&cc->dec, data, len, &used, &span, &span_len,
                              &done, &err) != APR_SUCCESS) {
                cc->off = 1;
                if (strcmp(err, "chunk size too large") == 0
                    || strcmp(err, "chunk size line too long") == 0) {
                    request_rec *r = f->r;
                    apr_bucket_brigade *eb = apr_brigade_create(r->pool,
                                                 f->c->bucket_alloc);
                    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00304)
                                  "nodeproxy: refused chunked request body: "
                                  "%s", err);
                    apr_brigade_cleanup(bb);
                    r->connection->keepalive = AP_CONN_CLOSE;
                    APR_BRIGADE_INSERT_TAIL(eb, ap_bucket_error_create(
                        HTTP_BAD_REQUEST, NULL, r->pool, f->c->bucket_alloc));
                    APR_BRIGADE_INSERT_TAIL(eb, apr_bucket_eos_create(
                        f->c->bucket_alloc));
                    ap_pass_brigade(r->output_filters, eb);
                    return AP_FILTER_ERROR;
                }
                break;
            }
            data += used;
            len -= used;
            if (done) {
                cc->off = 1;
            }
        }
    }
    return rv;
}

void np_request_register_filters(void)
{
    /* Below HTTP_IN (AP_FTYPE_PROTOCOL), above the connection's filters. */
    chunk_filter = ap_register_input_filter(NP_CHUNK_FILTER, chunk_check, NULL,
                                            AP_FTYPE_PROTOCOL + 5);
}

/* Has the backend sent something already, before the whole request body
 * was sent (an early final answer: 401, 413...)? */
static int backend_answered(np_request_t *rq)
{
    apr_os_sock_t fd;
    char byte;
    if (apr_os_sock_get(&fd, rq->conn->sock) != APR_SUCCESS) {
        return 0;
    }
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* The client has sent nothing more for now: wait until it does, or the
 * backend answers, or the client's Timeout passes (APR_TIMEUP). */
static apr_status_t wait_client_or_backend(request_rec *r, np_request_t *rq)
{
    apr_pollfd_t pfd[2];
    apr_int32_t n = 0;
    apr_status_t rv;
    memset(pfd, 0, sizeof(pfd));
    pfd[0].p = pfd[1].p = r->pool;
    pfd[0].desc_type = pfd[1].desc_type = APR_POLL_SOCKET;
    pfd[0].reqevents = pfd[1].reqevents = APR_POLLIN;
    pfd[0].desc.s = ap_get_conn_socket(r->connection);
    pfd[1].desc.s = rq->conn->sock;
    do {
        rv = apr_poll(pfd, 2, &n, r->server->timeout);
    } while (APR_STATUS_IS_EINTR(rv));
    return rv;
}

static np_outcome_e early_answer(request_rec *r, np_request_t *rq)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00303)
                  "nodeproxy(%s): the backend answered before the whole "
                  "request body was sent: the rest is not sent, both "
                  "connections are closed after the answer",
                  rq->backend->target->url);
    rq->early_answer = 1;
    return NP_SENT_OK;
}

int np_request_prepare(request_rec *r, np_request_t *rq)
{
    np_dir_conf_t *dc = np_dir_conf(r->per_dir_config);
    const np_mapping_t *m = rq->mapping;
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    int status, upgrade, ws_on;

    rq->connect_timeout = NP_PICK(m->connect_timeout,
                                  NP_PICK(dc->connect_timeout,
                                          NP_DEFAULT_CONNECT_TIMEOUT));
    rq->timeout = NP_PICK(m->timeout, NP_PICK(dc->timeout, NP_DEFAULT_TIMEOUT));
    rq->preserve_host = NP_PICK(m->preserve_host, NP_PICK(dc->preserve_host, 1));
    rq->forwarded = NP_PICK(dc->forwarded, 1);
    rq->reverse = NP_PICK(m->reverse, 1);

    /* Ambiguous framing never reaches a backend. httpd itself refuses a
     * Transfer-Encoding that does not end in chunked and differing
     * Content-Lengths; it accepts "gzip, chunked" and drops a Content-Length
     * sent with Transfer-Encoding, which a proxy must refuse instead. */
    if (te && (strcasecmp(te, "chunked") != 0
               || apr_table_get(r->notes, "nodeproxy-cl-te"))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00021)
                      "nodeproxy(%s): refused request with ambiguous framing "
                      "(Transfer-Encoding: %s%s)", m->target.url, te,
                      apr_table_get(r->notes, "nodeproxy-cl-te")
                      ? " and Content-Length" : "");
        r->connection->keepalive = AP_CONN_CLOSE;
        return HTTP_BAD_REQUEST;
    }
    /* A folded header line: httpd has unfolded it; the strict answer for
     * what we forward is 400 (mod_nodeproxy_fold.c noticed it). */
    if (apr_table_get(r->notes, "nodeproxy-obs-fold")) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00305)
                      "nodeproxy(%s): refused request with a folded header "
                      "line (obs-fold)", m->target.url);
        r->connection->keepalive = AP_CONN_CLOSE;
        return HTTP_BAD_REQUEST;
    }
    /* Transfer-Encoding does not exist in HTTP/1.0 (RFC 9112 6.1): a 1.0
     * peer that sends it frames its body some other way than we would
     * read it. httpd reads it as chunked; we do not forward it. */
    if (te && r->proto_num < HTTP_VERSION(1, 1)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00302)
                      "nodeproxy(%s): refused %s request with "
                      "Transfer-Encoding", m->target.url, r->protocol);
        r->connection->keepalive = AP_CONN_CLOSE;
        return HTTP_BAD_REQUEST;
    }
    upgrade = np_ws_is_upgrade(r->method,
                               apr_table_get(r->headers_in, "Upgrade"),
                               apr_table_get(r->headers_in, "Connection"));
    ws_on = NP_PICK(m->websocket, NP_PICK(dc->websocket, 1));
    if (upgrade && r->connection->master) {
        /* On an HTTP/2 stream only mod_http2 makes an upgrade (RFC 8441:
         * h2 forbids Upgrade and Connection from clients). It is tunnelled
         * or refused, never sent on as a plain GET: mod_http2 would turn
         * Node's 200 into a 502. */
        if ((status = np_h2tunnel_check(r, ws_on)) != OK) {
            return status;
        }
    }
    if (ws_on && upgrade) {
        rq->websocket = 1;
        rq->ws_key = apr_table_get(r->headers_in, "Sec-WebSocket-Key");
    }
    /* Wait for Node without a thread when it takes longer than
     * NodeAsyncDelay: not for tunnels (they suspend on their own), nor for
     * subrequests and internal redirects (only the main request can). */
    rq->async_delay = NP_UNSET;
    rq->next_wait = 0;
    if (!rq->websocket && !r->main && !r->prev
        && np_reactor_can_suspend(r->connection)) {
        apr_interval_time_t d = NP_PICK(dc->async_delay,
                                        NP_DEFAULT_ASYNC_DELAY);
        if (d != NP_ASYNC_OFF) {
            rq->async_delay = d;
        }
        rq->next_wait = NP_PICK(dc->next_wait, NP_DEFAULT_NEXT_WAIT);
    }
    rq->backend_uri = np_map_backend_uri(r->pool, m, r->uri, r->args);
    /* An upgrade on an HTTP/2 stream has no body: mod_http2 adds
     * "Transfer-Encoding: chunked" to it, but the stream's DATA frames are
     * the tunnel's bytes, read once the 101 is out. */
    rq->has_body = ap_request_has_body(r)
                   && !(rq->websocket && r->connection->master);
    if (rq->has_body && te) {
        chunk_check_t *cc = apr_pcalloc(r->pool, sizeof(*cc));
        np_chunk_init(&cc->dec);
        ap_add_input_filter_handle(chunk_filter, cc, r, r->connection);
    }
    if (rq->has_body && r->expecting_100) {
        /* The client waits for a 100 Continue, which the first read of the
         * body sends: only once a backend is connected, so that an answer
         * from Apache itself (503) comes without it. */
        rq->body_deferred = 1;
    }
    else if (rq->has_body && (status = prefetch_body(r, rq)) != OK) {
        return status;
    }
    build_head(r, rq);
    return OK;
}

np_outcome_e np_request_send(request_rec *r, np_request_t *rq)
{
    apr_bucket_brigade *bb;
    struct iovec v[1];
    apr_status_t rv;
    int done = rq->body_complete || !rq->has_body;
    int nonblock, nb;

    apr_socket_timeout_set(rq->conn->sock, rq->timeout);
    v[0].iov_base = (void *)rq->head;
    v[0].iov_len = rq->head_len;
    rv = send_all(rq->conn, v, 1);
    if (rv == APR_SUCCESS && rq->prefetch_len > 0) {
        rv = send_brigade(rq, rq->prefetch, rq->body_chunked, r->pool);
    }
    if (rv != APR_SUCCESS) {
        rq->cause = apr_psprintf(r->pool, "sending the request failed: %pm", &rv);
        /* Nothing the client sent is lost yet: a re-send is safe. */
        return rq->conn->reused ? NP_STALE : NP_SEND_FAILED;
    }
    if (done) {
        return NP_SENT_OK;
    }
    /* Past the prefetch: stream the rest; from here on it cannot be replayed.
     * The client's body is read without blocking, so that a backend that
     * answers early (401, 413 before reading the body) is noticed while
     * the client is still uploading: the answer goes out at once. An h2
     * stream has no socket of its own to wait on, and on a TLS backend
     * readable bytes need not be an answer (a session ticket): those read
     * blocking, as before. */
    nonblock = !r->connection->master && rq->conn->io == &np_conn_io_plain;
    rq->body_deferred = 0;
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!done) {
        apr_bucket *last;
        if (nonblock && backend_answered(rq)) {
            return early_answer(r, rq);
        }
        /* A client still waiting for its 100 Continue gets it on a
         * blocking read only (HTTP_IN's rule). */
        nb = nonblock && !r->expecting_100;
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            nb ? APR_NONBLOCK_READ : APR_BLOCK_READ,
                            NP_CONN_BUFSIZE);
        if (nb && (APR_STATUS_IS_EAGAIN(rv)
                         || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(bb)))) {
            apr_brigade_cleanup(bb);
            rv = wait_client_or_backend(r, rq);
            if (APR_STATUS_IS_TIMEUP(rv)) {
                rq->client_rv = rv;
                rq->cause = "the client sent no more of its request body "
                            "within Timeout";
                return NP_CLIENT_BODY_ERROR;
            }
            continue;
        }
        if (rv != APR_SUCCESS) {
            rq->client_rv = rv;
            rq->cause = rv == AP_FILTER_ERROR
                ? "the client's request body was refused (bad framing or too "
                  "large)"
                : apr_psprintf(r->pool, "reading the client's request body "
                               "failed: %pm", &rv);
            return NP_CLIENT_BODY_ERROR;
        }
        last = APR_BRIGADE_EMPTY(bb) ? NULL : APR_BRIGADE_LAST(bb);
        done = last && APR_BUCKET_IS_EOS(last);
        rv = send_brigade(rq, bb, rq->body_chunked, r->pool);
        apr_brigade_cleanup(bb);
        if (rv != APR_SUCCESS) {
            if (nonblock && backend_answered(rq)) {
                return early_answer(r, rq);   /* and stopped reading */
            }
            rq->cause = apr_psprintf(r->pool, "sending the request body "
                                     "failed: %pm", &rv);
            return NP_SEND_FAILED;
        }
    }
    if (rq->body_chunked) {
        v[0].iov_base = "0\r\n\r\n";
        v[0].iov_len = 5;
        if ((rv = send_all(rq->conn, v, 1)) != APR_SUCCESS) {
            rq->cause = apr_psprintf(r->pool, "sending the request body "
                                     "failed: %pm", &rv);
            return NP_SEND_FAILED;
        }
    }
    return NP_SENT_OK;
}
