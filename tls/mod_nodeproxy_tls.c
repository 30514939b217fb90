/* Glue: https:// backends with OpenSSL.
 *
 * One SSL_CTX per distinct settings (trust anchors, verification, client
 * certificate), made at start-up and copied into every child by fork:
 * TLS 1.2 at least, the peer's certificate verified against the system
 * store plus NodeBackendCA and its name checked against the target host
 * (or sni=), ALPN http/1.1, client sessions kept per backend (the newest
 * ticket) so that new connections resume. OpenSSL is never initialised or
 * cleaned up here: OpenSSL 3 does that itself, and mod_ssl may share it.
 *
 * The TLS transport reads and writes through a BIO over the connection's
 * APR socket, so the socket's timeout keeps its meaning for every caller
 * (0: non-blocking, and SSL's WANT_READ/WANT_WRITE become APR_EAGAIN with
 * the connection's want_recv/want_send). */
#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_atomic.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_portable.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_pool.h"
#include "mod_nodeproxy_tls.h"
#include "np_tls.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_TLS_SESSIONS 4   /* kept per backend and child */

/* One per distinct settings, per configuration generation. */
typedef struct {
    SSL_CTX *ctx;
    int verify;
} tls_ctx_t;

/* One per https:// backend. */
typedef struct {
    tls_ctx_t *tc;
    np_backend_t *b;
    server_rec *s;
    const char *sni;           /* sent as SNI; NULL: none (an IP target)  */
    const char *check_name;    /* DNS name the certificate must carry     */
    const char *check_ip;      /* or the IP address                       */
    /* Sessions to resume, newest last (b->lock). A TLS 1.3 ticket is
     * used once (OpenSSL marks it spent on resumption); Node sends two
     * after a full handshake and none after a resumed one. */
    SSL_SESSION *sessions[NP_TLS_SESSIONS];
    int nsessions;
    volatile apr_uint32_t failing;   /* a handshake failure was logged    */
} tls_backend_t;

/* One per connection, in its pool. */
typedef struct {
    SSL *ssl;
    np_conn_t *c;
    apr_status_t bio_rv;       /* what the socket said last              */
    apr_time_t deadline;       /* during the handshake; 0: none          */
} tls_conn_t;

static apr_hash_t *contexts;   /* settings key -> tls_ctx_t              */
static BIO_METHOD *bio_method;
static int ex_index = -1;

/* ---- the BIO over the APR socket ------------------------------------------ */

static int bio_deadline(tls_conn_t *t)
{
    apr_interval_time_t left;
    if (!t->deadline) {
        return 1;
    }
    left = t->deadline - apr_time_now();
    if (left <= 0) {
        t->bio_rv = APR_TIMEUP;
        return 0;
    }
    apr_socket_timeout_set(t->c->sock, left);
    return 1;
}

static int bio_read(BIO *bio, char *buf, int len)
{
    tls_conn_t *t = BIO_get_data(bio);
    apr_size_t n = len > 0 ? (apr_size_t)len : 0;
    apr_status_t rv;

    BIO_clear_retry_flags(bio);
    if (!bio_deadline(t)) {
        return -1;
    }
    rv = apr_socket_recv(t->c->sock, buf, &n);
    if (n > 0) {
        return (int)n;
    }
    t->bio_rv = rv == APR_SUCCESS ? APR_EOF : rv;
    if (APR_STATUS_IS_EAGAIN(rv)) {
        BIO_set_retry_read(bio);
        return -1;
    }
    return APR_STATUS_IS_EOF(t->bio_rv) ? 0 : -1;
}

static int bio_write(BIO *bio, const char *buf, int len)
{
    tls_conn_t *t = BIO_get_data(bio);
    apr_size_t n = len > 0 ? (apr_size_t)len : 0;
    apr_status_t rv;

    BIO_clear_retry_flags(bio);
    if (!bio_deadline(t)) {
        return -1;
    }
    rv = apr_socket_send(t->c->sock, buf, &n);
    if (n > 0) {
        return (int)n;
    }
    t->bio_rv = rv;
    if (APR_STATUS_IS_EAGAIN(rv)) {
        BIO_set_retry_write(bio);
    }
    return -1;
}

static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static int bio_destroy(BIO *bio)
{
    return 1;
}

/* ---- the TLS transport ------------------------------------------------------ */

/* After SSL_read/SSL_write/SSL_connect returned n <= 0: an APR status, and
 * which poll event the operation waits for (*want) when it would block. */
static apr_status_t io_status(tls_conn_t *t, int n, apr_int16_t *want)
{
    switch (SSL_get_error(t->ssl, n)) {
    case SSL_ERROR_ZERO_RETURN:
        return APR_EOF;                  /* close_notify: a clean end */
    case SSL_ERROR_WANT_READ:
        *want = APR_POLLIN;
        return APR_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = APR_POLLOUT;
        return APR_EAGAIN;
    default:
        ERR_clear_error();
        if (t->bio_rv != APR_SUCCESS && !APR_STATUS_IS_EOF(t->bio_rv)) {
            return t->bio_rv;            /* timed out, reset... */
        }
        /* Closed without close_notify, or a protocol error: never a
         * clean end of a body that ends at the close. */
        return APR_ECONNRESET;
    }
}

static apr_status_t tls_recv(np_conn_t *c, char *buf, apr_size_t *len)
{
    tls_conn_t *t = c->io_ctx;
    int n;

    ERR_clear_error();
    t->bio_rv = APR_SUCCESS;
    n = SSL_read(t->ssl, buf, *len > INT_MAX ? INT_MAX : (int)*len);
    if (n > 0) {
        *len = (apr_size_t)n;
        return APR_SUCCESS;
    }
    *len = 0;
    return io_status(t, n, &c->want_recv);
}

/* Partial writes are on: each SSL_write sends at most one record. */
static apr_status_t tls_send(np_conn_t *c, const char *buf, apr_size_t *len)
{
    tls_conn_t *t = c->io_ctx;
    apr_size_t done = 0, want = *len;

    while (done < want) {
        apr_size_t chunk = want - done;
        apr_status_t rv;
        int n;
        if (chunk > 16384) {
            chunk = 16384;   /* a retry after EAGAIN asks the same again */
        }
        ERR_clear_error();
        t->bio_rv = APR_SUCCESS;
        n = SSL_write(t->ssl, buf + done, (int)chunk);
        if (n > 0) {
            done += (apr_size_t)n;
            continue;
        }
        rv = io_status(t, n, &c->want_send);
        *len = done;
        return (done > 0 && APR_STATUS_IS_EAGAIN(rv)) ? APR_SUCCESS : rv;
    }
    *len = done;
    return APR_SUCCESS;
}

/* Small pieces (a head, body buckets) are gathered into full records.
 * Used on blocking sockets (the request path), where a send either
 * completes or fails. */
static apr_status_t tls_sendv(np_conn_t *c, const struct iovec *v,
                              apr_int32_t n, apr_size_t *written)
{
    char buf[16384];
    apr_size_t fill = 0, total = 0, k;
    apr_status_t rv;
    apr_int32_t i;

    for (i = 0; i < n; i++) {
        const char *d = v[i].iov_base;
        apr_size_t l = v[i].iov_len;
        while (l > 0) {
            apr_size_t take;
            if (fill == 0 && l >= sizeof(buf)) {
                k = l;
                rv = tls_send(c, d, &k);
                total += k;
                if (rv != APR_SUCCESS || k < l) {
                    *written = total;
                    return rv != APR_SUCCESS ? rv : APR_EAGAIN;
                }
                break;
            }
            take = sizeof(buf) - fill < l ? sizeof(buf) - fill : l;
            memcpy(buf + fill, d, take);
            fill += take;
            d += take;
            l -= take;
            if (fill == sizeof(buf)) {
                k = fill;
                rv = tls_send(c, buf, &k);
                if (rv != APR_SUCCESS || k < fill) {
                    *written = total;
                    return rv != APR_SUCCESS ? rv : APR_EAGAIN;
                }
                total += fill;
                fill = 0;
            }
        }
    }
    if (fill > 0) {
        k = fill;
        rv = tls_send(c, buf, &k);
        if (rv != APR_SUCCESS || k < fill) {
            *written = total;
            return rv != APR_SUCCESS ? rv : APR_EAGAIN;
        }
        total += fill;
    }
    *written = total;
    return APR_SUCCESS;
}

static apr_status_t tls_shutdown_write(np_conn_t *c)
{
    tls_conn_t *t = c->io_ctx;
    ERR_clear_error();
    SSL_shutdown(t->ssl);   /* close_notify; the answer is not waited for */
    ERR_clear_error();
    return apr_socket_shutdown(c->sock, APR_SHUTDOWN_WRITE);
}

static int tls_pending(np_conn_t *c)
{
    return SSL_pending(((tls_conn_t *)c->io_ctx)->ssl) > 0;
}

/* Nothing decrypted and waiting, and nothing on the socket (a close_notify
 * or a close would be). */
static int tls_idle_ok(np_conn_t *c)
{
    apr_os_sock_t fd;
    char byte;
    ssize_t n;

    if (tls_pending(c) || apr_os_sock_get(&fd, c->sock) != APR_SUCCESS) {
        return 0;
    }
    n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static const np_conn_io_t tls_io = {
    tls_recv, tls_send, tls_sendv, tls_shutdown_write, tls_pending,
    tls_idle_ok
};

/* ---- sessions ---------------------------------------------------------------- */

/* Keep a session (the reference is given); the oldest goes when full.
 * b->lock must be held; returns a session to free after unlocking. */
static SSL_SESSION *session_push(tls_backend_t *tb, SSL_SESSION *sess)
{
    SSL_SESSION *drop = NULL;
    if (tb->nsessions == NP_TLS_SESSIONS) {
        drop = tb->sessions[0];
        memmove(tb->sessions, tb->sessions + 1,
                (NP_TLS_SESSIONS - 1) * sizeof(tb->sessions[0]));
        tb->nsessions--;
    }
    tb->sessions[tb->nsessions++] = sess;
    return drop;
}

/* OpenSSL hands over each new session (a TLS 1.3 ticket comes after the
 * handshake, while reading): keep it for a later connection. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    tls_backend_t *tb = SSL_get_ex_data(ssl, ex_index);
    SSL_SESSION *drop;
    if (!tb || !tb->b->lock) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_TRACE2, 0, tb->s,
                 "nodeproxy(%s): new TLS session kept for resumption",
                 tb->b->target->url);
    apr_thread_mutex_lock(tb->b->lock);
    drop = session_push(tb, sess);
    apr_thread_mutex_unlock(tb->b->lock);
    if (drop) {
        SSL_SESSION_free(drop);
    }
    return 1;   /* the reference is ours */
}

/* Take the newest session still resumable for a new connection (NULL:
 * none; a full handshake). */
static SSL_SESSION *session_pop(tls_backend_t *tb)
{
    SSL_SESSION *sess = NULL;
    apr_thread_mutex_lock(tb->b->lock);
    while (tb->nsessions > 0 && !sess) {
        sess = tb->sessions[--tb->nsessions];
        if (!SSL_SESSION_is_resumable(sess)) {
            SSL_SESSION_free(sess);
            sess = NULL;
        }
    }
    apr_thread_mutex_unlock(tb->b->lock);
    return sess;
}

/* ---- the handshake ------------------------------------------------------------- */

/* Closing: a close_notify, without waiting for anything. Besides being
 * polite, it keeps the session resumable: OpenSSL marks the session of a
 * connection freed without a shutdown as not resumable. (The socket is
 * still open: its cleanup was registered first, so it runs after this.) */
static apr_status_t conn_free(void *data)
{
    tls_conn_t *t = data;
    if (SSL_is_init_finished(t->ssl)) {
        apr_socket_timeout_set(t->c->sock, 0);
        ERR_clear_error();
        SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    SSL_free(t->ssl);   /* frees the BIO too */
    return APR_SUCCESS;
}

/* Why a handshake failed, in OpenSSL's words. */
static const char *handshake_reason(tls_conn_t *t, apr_pool_t *p)
{
    long vr = SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_peek_last_error();
    const char *why;

    if (vr != X509_V_OK) {
        why = apr_psprintf(p, "certificate verify failed: %s",
                           X509_verify_cert_error_string(vr));
    }
    else if (APR_STATUS_IS_TIMEUP(t->bio_rv)) {
        why = "timed out";
    }
    else if (e) {
        const char *r = ERR_reason_error_string(e);
        why = r ? apr_pstrdup(p, r)
                : apr_psprintf(p, "OpenSSL error %lx", e);
    }
    else if (t->bio_rv != APR_SUCCESS && !APR_STATUS_IS_EOF(t->bio_rv)) {
        why = apr_psprintf(p, "%pm", &t->bio_rv);
    }
    else {
        why = "the backend closed the connection (not a TLS server?)";
    }
    ERR_clear_error();
    return why;
}

static apr_status_t handshake(np_conn_t *c, apr_interval_time_t timeout,
                              const char **cause, apr_pool_t *rp)
{
    tls_backend_t *tb = c->backend->tls;
    tls_conn_t *t = apr_pcalloc(c->pool, sizeof(*t));
    const char *why;
    SSL_SESSION *sess;
    BIO *bio;
    int rc;

    t->c = c;
    t->ssl = SSL_new(tb->tc->ctx);
    bio = t->ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        SSL_free(t->ssl);
        ERR_clear_error();
        *cause = "cannot set up TLS (out of memory)";
        return APR_ENOMEM;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    apr_pool_cleanup_register(c->pool, t, conn_free, apr_pool_cleanup_null);
    SSL_set_ex_data(t->ssl, ex_index, tb);
    if (tb->sni) {
        SSL_set_tlsext_host_name(t->ssl, tb->sni);
    }
    np_tls_expect_peer(t->ssl, tb->tc->verify, tb->check_name, tb->check_ip);
    if (c->backend->lock && (sess = session_pop(tb)) != NULL) {
        SSL_set_session(t->ssl, sess);   /* takes a reference of its own */
        SSL_SESSION_free(sess);
    }
    c->io = &tls_io;
    c->io_ctx = t;

    ERR_clear_error();
    t->deadline = apr_time_now() + timeout;
    rc = SSL_connect(t->ssl);
    t->deadline = 0;
    if (rc == 1) {
        ap_log_error(APLOG_MARK, APLOG_TRACE2, 0, tb->s,
                     "nodeproxy(%s): TLS handshake done (%s, %s)",
                     c->backend->target->url, SSL_get_version(t->ssl),
                     SSL_session_reused(t->ssl) ? "session resumed"
                                                : "full handshake");
        if (SSL_session_reused(t->ssl) && c->backend->lock
            && SSL_SESSION_is_resumable(SSL_get0_session(t->ssl))) {
            /* TLS 1.2: a session may be resumed again. */
            SSL_SESSION *drop;
            sess = SSL_get1_session(t->ssl);
            apr_thread_mutex_lock(c->backend->lock);
            drop = session_push(tb, sess);
            apr_thread_mutex_unlock(c->backend->lock);
            if (drop) {
                SSL_SESSION_free(drop);
            }
        }
        if (tb->failing && apr_atomic_cas32(&tb->failing, 0, 1) == 1) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, tb->s, NPLOGNO(00455)
                         "nodeproxy(%s): TLS handshakes succeed again",
                         c->backend->target->url);
        }
        return APR_SUCCESS;
    }
    why = handshake_reason(t, rp);
    *cause = apr_pstrcat(rp, "TLS handshake failed: ", why, NULL);
    /* Logged once per change of state (per child), with OpenSSL's reason;
     * each request's own failure line names it too. */
    if (apr_atomic_cas32(&tb->failing, 1, 0) == 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, tb->s, NPLOGNO(00453)
                     "nodeproxy(%s): TLS handshake failed: %s (server name "
                     "%s, verification %s)", c->backend->target->url, why,
                     tb->sni ? tb->sni : "(none: IP address)",
                     tb->tc->verify ? "on" : "off");
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, tb->s, NPLOGNO(00454)
                     "nodeproxy(%s): TLS handshake failed again: %s",
                     c->backend->target->url, why);
    }
    return APR_STATUS_IS_TIMEUP(t->bio_rv) ? APR_TIMEUP : NP_ETLS;
}

/* ---- contexts ------------------------------------------------------------------- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return 0;   /* encrypted keys are refused, never prompted for */
}

/* OpenSSL's last error, or what is given. */
static const char *ssl_error(apr_pool_t *p, const char *dflt)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? apr_pstrdup(p, r) : dflt;
}

static const char *check_readable(apr_pool_t *p, const char *path, int *dir)
{
    apr_finfo_t fi;
    apr_status_t rv = apr_stat(&fi, path, APR_FINFO_TYPE, p);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "cannot read \"%s\": %pm", path, &rv);
    }
    *dir = fi.filetype == APR_DIR;
    if (*dir) {
        apr_dir_t *d;
        rv = apr_dir_open(&d, path, p);
        if (rv == APR_SUCCESS) {
            apr_dir_close(d);
        }
    }
    else {
        apr_file_t *f;
        rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p);
        if (rv == APR_SUCCESS) {
            apr_file_close(f);
        }
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "cannot read \"%s\": %pm", path, &rv);
    }
    return NULL;
}

/* Trust anchors into ctx; NULL or what is wrong. */
const char *np_tls_load_ca(apr_pool_t *p, SSL_CTX *ctx, const char *ca)
{
    int dir = 0;
    const char *err = check_readable(p, ca, &dir);
    if (err) {
        return err;
    }
    ERR_clear_error();
    if (!SSL_CTX_load_verify_locations(ctx, dir ? NULL : ca, dir ? ca : NULL)) {
        return apr_psprintf(p, "\"%s\" holds no usable PEM certificate (%s)",
                            ca, ssl_error(p, "unknown error"));
    }
    return NULL;
}

/* Client certificate and key into ctx; NULL or what is wrong. */
const char *np_tls_load_client_cert(apr_pool_t *p, SSL_CTX *ctx,
                                    const char *cert, const char *key)
{
    int dir = 0;
    const char *err = check_readable(p, cert, &dir);
    if (!err && key) {
        err = check_readable(p, key, &dir);
    }
    if (err) {
        return err;
    }
    ERR_clear_error();
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
        return apr_psprintf(p, "\"%s\" is not a PEM certificate (%s)", cert,
                            ssl_error(p, "unknown error"));
    }
    if (!SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert, SSL_FILETYPE_PEM)) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509
            && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            return apr_psprintf(p, "the key \"%s\" does not match the "
                                "certificate \"%s\"", key ? key : cert, cert);
        }
        return apr_psprintf(p, "\"%s\" holds no usable PEM private key "
                            "(encrypted keys are not supported) (%s)",
                            key ? key : cert, ssl_error(p, "unknown error"));
    }
    if (!SSL_CTX_check_private_key(ctx)) {
        return apr_psprintf(p, "the key \"%s\" does not match the "
                            "certificate \"%s\" (%s)", key ? key : cert, cert,
                            ssl_error(p, "unknown error"));
    }
    return NULL;
}

static apr_status_t ctx_free(void *data)
{
    SSL_CTX_free(data);
    return APR_SUCCESS;
}

static apr_status_t contexts_cleared(void *unused)
{
    contexts = NULL;
    return APR_SUCCESS;
}

SSL_CTX *np_tls_client_ctx(apr_pool_t *p, int verify, const char **err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx) {
        *err = apr_psprintf(p, "cannot make a TLS context (%s)",
                            ssl_error(p, "unknown error"));
        return NULL;
    }
    apr_pool_cleanup_register(p, ctx, ctx_free, apr_pool_cleanup_null);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                          | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (!SSL_CTX_set_default_verify_paths(ctx)) {
            ERR_clear_error();   /* no system store: a CA file may do */
        }
    }
    else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

void np_tls_expect_peer(SSL *ssl, int verify, const char *name,
                        const char *ip)
{
    if (!verify) {
        return;
    }
    if (name) {
        SSL_set1_host(ssl, name);
    }
    else if (ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip);
    }
}

static tls_ctx_t *make_ctx(apr_pool_t *pconf, const np_tls_conf_t *conf,
                           int verify, const char **err)
{
    tls_ctx_t *tc = apr_pcalloc(pconf, sizeof(*tc));
    SSL_CTX *ctx = np_tls_client_ctx(pconf, verify, err);
    static const unsigned char alpn[] = "\x08http/1.1";

    if (!ctx) {
        return NULL;
    }
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
                                        | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);
    if (conf->ca && (*err = np_tls_load_ca(pconf, ctx, conf->ca)) != NULL) {
        *err = apr_pstrcat(pconf, "NodeBackendCA: ", *err, NULL);
        return NULL;
    }
    if (conf->cert
        && (*err = np_tls_load_client_cert(pconf, ctx, conf->cert, conf->key))
           != NULL) {
        *err = apr_pstrcat(pconf, "NodeBackendClientCert: ", *err, NULL);
        return NULL;
    }
    tc->ctx = ctx;
    tc->verify = verify;
    return tc;
}

static void *setup(apr_pool_t *pconf, server_rec *s, np_backend_t *b,
                   const char **key, const char **err)
{
    const np_tls_conf_t *conf = np_server_conf(s)->tls;
    const np_target_t *t = b->target;
    int verify = conf->verify != NP_UNSET ? conf->verify : 1;
    const char *settings = np_tls_settings_key(pconf, conf->ca, verify,
                                               conf->cert, conf->key);
    tls_backend_t *tb;
    tls_ctx_t *tc;

    if (!bio_method) {
        /* Once per process, at start-up (never freed). */
        bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                  "nodeproxy backend");
        if (!bio_method) {
            *err = "cannot set up TLS (out of memory)";
            return NULL;
        }
        BIO_meth_set_write(bio_method, bio_write);
        BIO_meth_set_read(bio_method, bio_read);
        BIO_meth_set_ctrl(bio_method, bio_ctrl);
        BIO_meth_set_create(bio_method, bio_create);
        BIO_meth_set_destroy(bio_method, bio_destroy);
        ex_index = SSL_get_ex_new_index(0, "nodeproxy backend", NULL, NULL,
                                        NULL);
    }
    if (!contexts) {
        contexts = apr_hash_make(pconf);
        apr_pool_cleanup_register(pconf, NULL, contexts_cleared,
                                  apr_pool_cleanup_null);
    }
    tc = apr_hash_get(contexts, settings, APR_HASH_KEY_STRING);
    if (!tc) {
        tc = make_ctx(pconf, conf, verify, err);
        if (!tc) {
            return NULL;
        }
        apr_hash_set(contexts, settings, APR_HASH_KEY_STRING, tc);
        if (!verify) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, NPLOGNO(00452)
                         "nodeproxy(%s): NodeBackendVerify off: https:// "
                         "backends of %s:%d are not authenticated (their "
                         "certificates and names are not checked)", t->url,
                         s->server_hostname ? s->server_hostname : "server",
                         s->port);
        }
    }
    tb = apr_pcalloc(pconf, sizeof(*tb));
    tb->tc = tc;
    tb->b = b;
    tb->s = s;
    tb->sni = np_tls_sni_for(t->host, t->sni);
    if (tb->sni) {
        tb->check_name = tb->sni;
    }
    else {
        tb->check_ip = t->host;
    }
    *key = settings;
    return tb;
}

static const np_tls_provider_t provider = { setup, handshake };

/* ---- directives -------------------------------------------------------------------- */

np_tls_conf_t *np_tls_conf_create(apr_pool_t *p)
{
    np_tls_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->ca = NULL;
    c->verify = NP_UNSET;
    c->cert = NULL;
    c->key = NULL;
    return c;
}

np_tls_conf_t *np_tls_conf_merge(apr_pool_t *p, const np_tls_conf_t *base,
                                 const np_tls_conf_t *add)
{
    np_tls_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->ca = add->ca ? add->ca : base->ca;
    c->verify = NP_PICK(add->verify, base->verify);
    /* The key goes with its certificate. */
    c->cert = add->cert ? add->cert : base->cert;
    c->key = add->cert ? add->key : base->key;
    return c;
}

static const char *cmd_error(cmd_parms *cmd, const char *what)
{
    return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, what);
}

/* Files are checked now, so that configtest names a bad one. */
const char *np_tls_cmd_ca(cmd_parms *cmd, void *dconf, const char *arg)
{
    np_tls_conf_t *conf = np_server_conf(cmd->server)->tls;
    const char *path = ap_server_root_relative(cmd->pool, arg);
    SSL_CTX *ctx;
    const char *err;

    if (!path) {
        return cmd_error(cmd, apr_psprintf(cmd->pool, "bad path \"%s\"", arg));
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        return cmd_error(cmd, "cannot make a TLS context");
    }
    err = np_tls_load_ca(cmd->temp_pool, ctx, path);
    SSL_CTX_free(ctx);
    if (err) {
        return cmd_error(cmd, err);
    }
    conf->ca = path;
    return NULL;
}

const char *np_tls_cmd_verify(cmd_parms *cmd, void *dconf, int on)
{
    np_server_conf(cmd->server)->tls->verify = on;
    return NULL;
}

const char *np_tls_cmd_client_cert(cmd_parms *cmd, void *dconf,
                                   const char *cert, const char *key)
{
    np_tls_conf_t *conf = np_server_conf(cmd->server)->tls;
    const char *cpath = ap_server_root_relative(cmd->pool, cert);
    const char *kpath = key ? ap_server_root_relative(cmd->pool, key) : NULL;
    SSL_CTX *ctx;
    const char *err;

    if (!cpath || (key && !kpath)) {
        return cmd_error(cmd, apr_psprintf(cmd->pool, "bad path \"%s\"",
                                           !cpath ? cert : key));
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        return cmd_error(cmd, "cannot make a TLS context");
    }
    err = np_tls_load_client_cert(cmd->temp_pool, ctx, cpath, kpath);
    SSL_CTX_free(ctx);
    if (err) {
        return cmd_error(cmd, err);
    }
    conf->cert = cpath;
    conf->key = kpath;
    return NULL;
}

void np_tls_register_hooks(apr_pool_t *p)
{
    np_backend_tls_provider(&provider);
}
