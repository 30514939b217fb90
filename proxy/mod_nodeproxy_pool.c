/* Glue: backend registry and per-process connection pools.
 *
 * Idle connections are kept per backend in a LIFO list: the most recently
 * used one is the least likely to have been closed by Node, whose
 * keepAliveTimeout (5 s) is longer than our NodeBackendKeepAlive (4 s).
 * Before reuse a connection is checked without blocking; a close that races
 * us anyway is handled by the caller's re-send rule. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_portable.h>
#include <apr_hash.h>
#include <httpd.h>
#include <http_log.h>

#include "mod_nodeproxy_pool.h"
#include "mod_nodeproxy_log.h"

APLOG_USE_MODULE(nodeproxy);

/* Per config generation; lives in pconf. */
static apr_hash_t *backends;

/* More idle connections than this per backend and child are closed: enough
 * for every worker thread to keep one. */
#define NP_MAX_IDLE 256

static apr_status_t backends_cleared(void *unused)
{
    backends = NULL;
    return APR_SUCCESS;
}

void np_backends_reset(apr_pool_t *pconf)
{
    backends = apr_hash_make(pconf);
    apr_pool_cleanup_register(pconf, NULL, backends_cleared,
                              apr_pool_cleanup_null);
}

static const np_tls_provider_t *tls_provider;
static const np_dns_provider_t *dns_provider;

void np_backend_dns_provider(const np_dns_provider_t *provider)
{
    dns_provider = provider;
}

apr_hash_t *np_backends_all(void)
{
    return backends;
}

/* The generation of b's address list in shared memory; 0: not managed. */
static APR_INLINE apr_uint32_t dns_generation(np_backend_t *b)
{
    return b->dns ? dns_provider->generation(b) : 0;
}

const char *np_backend_address(np_backend_t *b, apr_pool_t *p)
{
    apr_sockaddr_t *sa = NULL;
    const char *out = NULL;
    if (b->target->kind == NP_TARGET_UNIX) {
        return b->target->sock_path;
    }
    if (dns_generation(b) == 0
        || dns_provider->addresses(b, p, &sa) != APR_SUCCESS) {
        sa = b->addr;   /* a pointer read: lists are never freed */
    }
    for (; sa; sa = sa->next) {
        char *ip = NULL;
        apr_sockaddr_ip_get(&ip, sa);
        out = out ? apr_pstrcat(p, out, ", ", ip, NULL) : ip;
    }
    return out;
}

void np_backend_tls_provider(const np_tls_provider_t *provider)
{
    tls_provider = provider;
}

np_backend_t *np_backend_get(apr_pool_t *pconf, server_rec *s,
                             const np_target_t *t,
                             apr_interval_time_t keepalive, const char **err)
{
    const char *key = t->key;
    np_backend_t *b;
    np_target_t *own;
    void *tls = NULL;

    b = apr_pcalloc(pconf, sizeof(*b));
    /* Mappings with other paths share this backend: it is named by its
     * address ("http://127.0.0.1:3000", "unix:/run/app.sock") in logs, not
     * by the first mapping's URL. */
    own = apr_pmemdup(pconf, t, sizeof(*t));
    own->url = own->key;
    b->target = own;
    if (t->tls) {
        const char *settings = NULL;
        if (!tls_provider) {
            *err = "https:// is not available";
            return NULL;
        }
        tls = tls_provider->setup(pconf, s, b, &settings, err);
        if (!tls) {
            return NULL;
        }
        key = apr_pstrcat(pconf, t->key, "|", settings, NULL);
    }
    {
        np_backend_t *have = apr_hash_get(backends, key, APR_HASH_KEY_STRING);
        if (have) {
            /* Shared by servers with different settings: the shorter
             * keep-alive is the safe one. */
            if (keepalive < have->keepalive) {
                have->keepalive = keepalive;
            }
            return have;
        }
    }
    b->tls = tls;
    b->keepalive = keepalive;
    apr_hash_set(backends, key, APR_HASH_KEY_STRING, b);
    return b;
}

/* Set once this child's backends have their locks and pools. */
static apr_uint32_t backends_ready;

int np_backends_ready(void)
{
    return apr_atomic_read32(&backends_ready) != 0;
}

apr_status_t np_backends_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_index_t *hi;
    apr_status_t rv;
    if (!backends) {
        apr_atomic_set32(&backends_ready, 1);
        return APR_SUCCESS;
    }
    for (hi = apr_hash_first(pchild, backends); hi; hi = apr_hash_next(hi)) {
        np_backend_t *b = apr_hash_this_val(hi);
        apr_pool_create(&b->pool, pchild);
        apr_pool_tag(b->pool, "nodeproxy_backend");
        rv = apr_thread_mutex_create(&b->lock, APR_THREAD_MUTEX_DEFAULT, b->pool);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NPLOGNO(00010)
                         "nodeproxy(%s): cannot create the pool lock",
                         b->target->url);
            return rv;
        }
        b->idle = NULL;
        b->nidle = 0;
        b->addr = NULL;
    }
    apr_atomic_set32(&backends_ready, 1);
    return APR_SUCCESS;
}

static apr_status_t conn_buffer_free(void *data);

static void conn_close(np_conn_t *c)
{
    if (c->borrowed) {
        /* The pool is someone else's: close what is ours in it. */
        apr_pool_cleanup_run(c->pool, c, conn_buffer_free);
        apr_socket_close(c->sock);
        return;
    }
    /* The socket and buffer belong to the connection's own pool. */
    apr_pool_destroy(c->pool);
}

/* ---- the plain-socket transport ------------------------------------------- */

static apr_status_t plain_recv(np_conn_t *c, char *buf, apr_size_t *len)
{
    return apr_socket_recv(c->sock, buf, len);
}

static apr_status_t plain_send(np_conn_t *c, const char *buf, apr_size_t *len)
{
    return apr_socket_send(c->sock, buf, len);
}

static apr_status_t plain_sendv(np_conn_t *c, const struct iovec *v,
                                apr_int32_t n, apr_size_t *written)
{
    return apr_socket_sendv(c->sock, v, n, written);
}

static apr_status_t plain_shutdown_write(np_conn_t *c)
{
    return apr_socket_shutdown(c->sock, APR_SHUTDOWN_WRITE);
}

static int plain_pending(np_conn_t *c)
{
    return 0;
}

/* Neither closed by the backend nor holding anything unsolicited. */
static int plain_idle_ok(np_conn_t *c)
{
    apr_os_sock_t fd;
    char byte;
    ssize_t n;

    if (apr_os_sock_get(&fd, c->sock) != APR_SUCCESS) {
        return 0;
    }
    n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

const np_conn_io_t np_conn_io_plain = {
    plain_recv, plain_send, plain_sendv, plain_shutdown_write, plain_pending,
    plain_idle_ok
};

/* A pooled connection is usable when it is young enough and the backend has
 * neither closed it nor sent anything unsolicited. */
static int conn_alive(np_conn_t *c, apr_time_t now)
{
    if (now - c->idle_since >= c->backend->keepalive) {
        return 0;
    }
    return c->io->idle_ok(c);
}

static apr_status_t resolve(np_backend_t *b, const char **cause)
{
    const np_target_t *t = b->target;
    apr_uint32_t gen = dns_generation(b);
    apr_sockaddr_t *sa = NULL;
    apr_status_t rv;

    apr_thread_mutex_lock(b->lock);
    if (b->addr && gen == b->addr_gen) {
        apr_thread_mutex_unlock(b->lock);
        return APR_SUCCESS;
    }
    if (gen != 0) {
        /* The background lookup has a (new) answer: use it from now on.
         * An old list stays allocated: a connect may still walk it. */
        if (dns_provider->addresses(b, b->pool, &sa) == APR_SUCCESS && sa) {
            b->addr = sa;
            b->addr_gen = gen;
            apr_thread_mutex_unlock(b->lock);
            return APR_SUCCESS;
        }
        if (b->addr) {
            apr_thread_mutex_unlock(b->lock);
            return APR_SUCCESS;
        }
    }
    if (t->kind == NP_TARGET_UNIX) {
        rv = apr_sockaddr_info_get(&sa, t->sock_path, APR_UNIX, 0, 0, b->pool);
    }
    else {
        rv = apr_sockaddr_info_get(&sa, t->host, APR_UNSPEC, t->port, 0,
                                   b->pool);
    }
    if (rv == APR_SUCCESS) {
        b->addr = sa;
    }
    else {
        *cause = "cannot resolve the backend host name";
    }
    apr_thread_mutex_unlock(b->lock);
    return rv;
}

/* Connect to each address the name resolved to, in order (localhost may be
 * ::1 and 127.0.0.1 while Node listens on only one of them). */
static apr_status_t connect_socket(np_backend_t *b,
                                   apr_interval_time_t timeout, apr_pool_t *p,
                                   apr_socket_t **out, const char **cause)
{
    apr_status_t rv;
    apr_sockaddr_t *sa;

    if ((rv = resolve(b, cause)) != APR_SUCCESS) {
        return rv;
    }
    rv = APR_EGENERAL;
    for (sa = b->addr; sa; sa = sa->next) {
        apr_socket_t *sock;
        rv = apr_socket_create(&sock, sa->family, SOCK_STREAM,
                               sa->family == APR_UNIX ? 0 : APR_PROTO_TCP, p);
        if (rv != APR_SUCCESS) {
            continue;
        }
        if (sa->family != APR_UNIX) {
            apr_socket_opt_set(sock, APR_TCP_NODELAY, 1);
        }
        apr_socket_timeout_set(sock, timeout);
        rv = apr_socket_connect(sock, sa);
        if (rv == APR_SUCCESS) {
            *out = sock;
            return APR_SUCCESS;
        }
        apr_socket_close(sock);
    }
    *cause = APR_STATUS_IS_TIMEUP(rv) ? "connect timed out"
           : apr_psprintf(p, "connect failed: %pm", &rv);
    return rv;
}

static apr_status_t conn_buffer_free(void *data)
{
    np_conn_t *c = data;
    free(c->buf);
    c->buf = NULL;
    return APR_SUCCESS;
}

void np_conn_drop_buffer(np_conn_t *c)
{
    free(c->buf);
    c->buf = NULL;
    c->bufsize = 0;
}

static apr_status_t conn_open_in(np_backend_t *b, apr_interval_time_t timeout,
                                 apr_size_t bufsize, np_conn_t **out,
                                 const char **cause, apr_pool_t *rp,
                                 apr_pool_t *home)
{
    apr_socket_t *sock = NULL;
    apr_status_t rv;
    apr_pool_t *p = home;
    np_conn_t *c;
    apr_time_t started;

    /* Unmanaged: the connection outlives requests and moves between threads. */
    rv = home ? APR_SUCCESS : apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    if (rv != APR_SUCCESS) {
        *cause = "out of memory";
        return rv;
    }
    if (bufsize == 0) {
        bufsize = NP_CONN_BUFSIZE;
    }
    started = apr_time_now();
    rv = connect_socket(b, timeout, p, &sock, cause);
    if (rv != APR_SUCCESS) {
        *cause = apr_pstrdup(rp, *cause);
        if (!home) {
            apr_pool_destroy(p);
        }
        return rv;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->backend = b;
    c->pool = p;
    c->sock = sock;
    c->addr_gen = b->addr_gen;
    c->io = &np_conn_io_plain;
    c->want_recv = APR_POLLIN;
    c->want_send = APR_POLLOUT;
    c->borrowed = home != NULL;
    /* malloc'd so that a tunnel can give it back (np_conn_drop_buffer). */
    c->buf = malloc(bufsize);
    if (!c->buf) {
        *cause = "out of memory";
        if (home) {
            apr_socket_close(sock);
        }
        else {
            apr_pool_destroy(p);
        }
        return APR_ENOMEM;
    }
    c->bufsize = bufsize;
    apr_pool_cleanup_register(p, c, conn_buffer_free, apr_pool_cleanup_null);
    if (b->tls) {
        /* The connect timeout covers the handshake too. */
        apr_interval_time_t left = timeout - (apr_time_now() - started);
        rv = tls_provider->handshake(c, left > 0 ? left : 1, cause, rp);
        if (rv != APR_SUCCESS) {
            apr_pool_destroy(p);
            return rv;
        }
    }
    *out = c;
    return APR_SUCCESS;
}

apr_status_t np_conn_open(np_backend_t *b, apr_interval_time_t timeout,
                          apr_size_t bufsize, np_conn_t **out,
                          const char **cause, apr_pool_t *rp)
{
    return conn_open_in(b, timeout, bufsize, out, cause, rp, NULL);
}

apr_status_t np_conn_acquire(np_backend_t *b, apr_interval_time_t connect_timeout,
                             int fresh, apr_size_t bufsize, np_conn_t **out,
                             const char **cause, apr_pool_t *rp,
                             apr_pool_t *home)
{
    apr_time_t now = apr_time_now();
    apr_uint32_t gen = dns_generation(b);

    while (!fresh) {
        np_conn_t *c;
        apr_thread_mutex_lock(b->lock);
        c = b->idle;
        if (c) {
            b->idle = c->next;
            b->nidle--;
        }
        apr_thread_mutex_unlock(b->lock);
        if (!c) {
            break;
        }
        /* A connection to an address the name no longer resolves to is
         * retired (gen 0: not managed, or no background answer yet). */
        if (conn_alive(c, now) && (gen == 0 || c->addr_gen == gen)) {
            c->reused = 1;
            c->next = NULL;
            *out = c;
            return APR_SUCCESS;
        }
        conn_close(c);
    }
    return conn_open_in(b, connect_timeout, bufsize, out, cause, rp,
                        fresh ? home : NULL);
}

/* The idle list is newest first, so everything from the first expired
 * connection on is expired too: cut it off (the lock must be held), so
 * connections Node has closed do not sit here as CLOSE_WAIT sockets. */
static np_conn_t *detach_expired(np_backend_t *b, apr_time_t now)
{
    np_conn_t **link = &b->idle, *stale;
    while (*link && now - (*link)->idle_since < b->keepalive) {
        link = &(*link)->next;
    }
    stale = *link;
    *link = NULL;
    for (np_conn_t *c = stale; c; c = c->next) {
        b->nidle--;
    }
    return stale;
}

void np_conn_release(np_conn_t *c, int reusable)
{
    np_backend_t *b = c->backend;
    np_conn_t *stale;
    if (!reusable || b->keepalive <= 0 || c->borrowed) {
        conn_close(c);
        return;
    }
    c->idle_since = apr_time_now();
    c->reused = 0;
    apr_thread_mutex_lock(b->lock);
    if (b->nidle >= NP_MAX_IDLE) {
        apr_thread_mutex_unlock(b->lock);
        conn_close(c);
        return;
    }
    c->next = b->idle;
    b->idle = c;
    b->nidle++;
    stale = detach_expired(b, c->idle_since);
    apr_thread_mutex_unlock(b->lock);
    while (stale) {
        np_conn_t *next = stale->next;
        conn_close(stale);
        stale = next;
    }
}
