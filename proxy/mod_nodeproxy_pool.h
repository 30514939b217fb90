/* Glue: backends and their per-process pools of kept-alive connections. */
#ifndef MOD_NODEPROXY_POOL_H
#define MOD_NODEPROXY_POOL_H

#include <sys/uio.h>
#include <apr_hash.h>
#include <apr_network_io.h>
#include <apr_poll.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include "np_map.h"

typedef struct np_conn_t np_conn_t;

/* A handshake or certificate check failed on an https:// backend: a
 * connect failure (nothing was sent), told apart for the answer. */
#define NP_ETLS (APR_OS_START_USERERR + 1601)

/* One backend address (an http:// target or a unix: socket). Mappings that
 * name the same address share it, and so share its connection pool. */
typedef struct np_backend_t {
    const np_target_t *target;
    apr_interval_time_t keepalive;   /* idle connections older than this are closed */
    /* Per child process, set up in child_init: */
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;        /* guards idle and addr                */
    np_conn_t *idle;                 /* most recently used first            */
    int nidle;
    apr_sockaddr_t *addr;            /* resolved on first use, per child    */
    void *tls;                       /* https://: the TLS layer's state      */
    /* A host name re-resolved in the background (resolve/): */
    void *dns;                       /* resolve/'s record; NULL: not managed */
    apr_uint32_t addr_gen;           /* generation of addr (under lock)     */
} np_backend_t;

/* The transport seam: how bytes move on a backend connection (the plain
 * socket below, or TLS from tls/). Every path that talks to a backend goes
 * through it. Timeouts stay the socket's (apr_socket_timeout_set on
 * c->sock): with 0 an operation that would block returns APR_EAGAIN, and
 * c->want_recv / c->want_send say which poll event lets it go on (TLS may
 * need to write to read, or read to write). */
typedef struct np_conn_io_t {
    apr_status_t (*recv)(np_conn_t *c, char *buf, apr_size_t *len);
    apr_status_t (*send)(np_conn_t *c, const char *buf, apr_size_t *len);
    apr_status_t (*sendv)(np_conn_t *c, const struct iovec *v, apr_int32_t n,
                          apr_size_t *written);
    /* No more data from us (the peer may still send). */
    apr_status_t (*shutdown_write)(np_conn_t *c);
    /* Bytes already read off the socket and ready to be received, which a
     * poll on the socket would not announce. */
    int (*pending)(np_conn_t *c);
    /* An idle pooled connection: has the backend neither closed it nor
     * sent anything? (Must not block.) */
    int (*idle_ok)(np_conn_t *c);
} np_conn_io_t;

struct np_conn_t {
    np_backend_t *backend;
    apr_pool_t *pool;                /* lives as long as the connection     */
    apr_socket_t *sock;
    const np_conn_io_t *io;          /* plain or TLS                         */
    void *io_ctx;                    /* the transport's own state            */
    apr_int16_t want_recv;           /* poll event a blocked recv waits for  */
    apr_int16_t want_send;           /* poll event a blocked send waits for  */
    char *buf;                       /* read buffer, reused per request     */
    apr_size_t bufsize;
    apr_time_t idle_since;
    int reused;                      /* came from the pool: may be closed   */
    apr_uint32_t addr_gen;           /* the backend's addr_gen it was made at */
    np_conn_t *next;
    int borrowed;                    /* lives in a caller's pool (home):
                                      * closed on release, never pooled     */
};

#define NP_CONN_BUFSIZE (32 * 1024)
/* A WebSocket upgrade's connection only reads the 101 head with it. */
#define NP_CONN_UPGRADE_BUFSIZE (8 * 1024)

/* The TLS layer (tls/) plugs in here, so the pool needs no TLS code.
 * setup: config time, for an https:// target as configured in server s:
 * its state (NULL + *err when it cannot be set up) and *key, which tells
 * settings apart (backends with other settings get pools of their own).
 * handshake: on a new connection, within timeout; sets c->io. */
typedef struct np_tls_provider_t {
    void *(*setup)(apr_pool_t *pconf, server_rec *s, np_backend_t *b,
                   const char **key, const char **err);
    apr_status_t (*handshake)(np_conn_t *c, apr_interval_time_t timeout,
                              const char **cause, apr_pool_t *rp);
} np_tls_provider_t;
void np_backend_tls_provider(const np_tls_provider_t *provider);

/* Host names re-resolved in the background (resolve/) plug in here:
 * generation: of b's current address list (0: none yet - the child then
 * resolves the name itself, once, as without re-resolution); addresses:
 * that list, allocated in p. */
typedef struct np_dns_provider_t {
    apr_uint32_t (*generation)(np_backend_t *b);
    apr_status_t (*addresses)(np_backend_t *b, apr_pool_t *p,
                              apr_sockaddr_t **out);
} np_dns_provider_t;
void np_backend_dns_provider(const np_dns_provider_t *provider);

/* The address(es) b's new connections go to now, for the status page:
 * the background answer for a re-resolved name, else what this child
 * resolved (NULL: nothing yet). */
const char *np_backend_address(np_backend_t *b, apr_pool_t *p);

/* Every backend of the configuration (post_config on): key -> np_backend_t *. */
apr_hash_t *np_backends_all(void);

/* Config time: forget the previous generation's backends. */
void np_backends_reset(apr_pool_t *pconf);
/* Config time: the backend for a target as configured in server s,
 * shared by key (and TLS settings); NULL + *err when it cannot be set up. */
np_backend_t *np_backend_get(apr_pool_t *pconf, server_rec *s,
                             const np_target_t *t,
                             apr_interval_time_t keepalive, const char **err);
/* child_init: locks and pools for every backend. */
apr_status_t np_backends_child_init(apr_pool_t *pchild, server_rec *s);
/* Has this child's np_backends_child_init finished? Threads that start
 * before it (mod_watchdog starts its threads in its own child_init, which
 * may run first) must not open a connection until then. */
int np_backends_ready(void);

/* The plain-socket transport. */
extern const np_conn_io_t np_conn_io_plain;

static APR_INLINE apr_status_t np_conn_recv(np_conn_t *c, char *buf,
                                            apr_size_t *len)
{
    return c->io->recv(c, buf, len);
}

static APR_INLINE apr_status_t np_conn_send(np_conn_t *c, const char *buf,
                                            apr_size_t *len)
{
    return c->io->send(c, buf, len);
}

static APR_INLINE apr_status_t np_conn_sendv(np_conn_t *c,
                                             const struct iovec *v,
                                             apr_int32_t n, apr_size_t *written)
{
    return c->io->sendv(c, v, n, written);
}

static APR_INLINE apr_status_t np_conn_shutdown_write(np_conn_t *c)
{
    return c->io->shutdown_write(c);
}

static APR_INLINE int np_conn_pending(np_conn_t *c)
{
    return c->io->pending(c);
}

/* A new connection to b that is not pooled (health checks; the pool uses
 * it too), with a read buffer of bufsize bytes (0: the default); give it
 * back with np_conn_release(c, 0). *cause, in rp, says what failed. */
apr_status_t np_conn_open(np_backend_t *b, apr_interval_time_t timeout,
                          apr_size_t bufsize, np_conn_t **out,
                          const char **cause, apr_pool_t *rp);

/* A connection: a live idle one from the pool (reused=1) unless fresh is
 * set, else a new one whose read buffer has bufsize bytes (0: the default).
 * With home (and fresh), the new connection is made in home instead of a
 * pool of its own: a WebSocket upgrade's connection lives as long as the
 * client's, and a pool of its own would cost an 8 KiB allocator node per
 * open tunnel. *cause names what failed on error. */
apr_status_t np_conn_acquire(np_backend_t *b, apr_interval_time_t connect_timeout,
                             int fresh, apr_size_t bufsize, np_conn_t **out,
                             const char **cause, apr_pool_t *rp,
                             apr_pool_t *home);
/* Free the read buffer of a connection that will not need it again (an
 * open tunnel reads into its pump's stack instead). */
void np_conn_drop_buffer(np_conn_t *c);

/* Give a connection back: pooled when reusable and keep-alive is on, else
 * closed. */
void np_conn_release(np_conn_t *c, int reusable);

#endif
