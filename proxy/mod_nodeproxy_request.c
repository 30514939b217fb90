/* Glue: the request towards the backend. The head is built once into one
 * buffer (re-sendable on a fresh connection); the first part of the body is
 * read before a connection is taken, so a bad body costs no backend and a
 * small body can be replayed; the rest streams through in constant memory. */
#include <string.h>
#include <sys/uio.h>
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
            || np_request_header_dropped(e[i].key, conn, !rq->forwarded)) {
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

int np_request_prepare(request_rec *r, np_request_t *rq)
{
    np_dir_conf_t *dc = np_dir_conf(r->per_dir_config);
    const np_mapping_t *m = rq->mapping;
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    int status;

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
    if (NP_PICK(m->websocket, NP_PICK(dc->websocket, 1))
        && np_ws_is_upgrade(r->method, apr_table_get(r->headers_in, "Upgrade"),
                            apr_table_get(r->headers_in, "Connection"))) {
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
    rq->has_body = ap_request_has_body(r);
    if (rq->has_body && (status = prefetch_body(r, rq)) != OK) {
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
    /* Past the prefetch: stream the rest; from here on it cannot be replayed. */
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!done) {
        apr_bucket *last;
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, NP_CONN_BUFSIZE);
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
