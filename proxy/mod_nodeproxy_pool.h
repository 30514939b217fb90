/* Glue: backends and their per-process pools of kept-alive connections. */
#ifndef MOD_NODEPROXY_POOL_H
#define MOD_NODEPROXY_POOL_H

#include <apr_network_io.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include "np_map.h"

typedef struct np_conn_t np_conn_t;

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
} np_backend_t;

struct np_conn_t {
    np_backend_t *backend;
    apr_pool_t *pool;                /* lives as long as the connection     */
    apr_socket_t *sock;
    char *buf;                       /* read buffer, reused per request     */
    apr_size_t bufsize;
    apr_time_t idle_since;
    int reused;                      /* came from the pool: may be closed   */
    np_conn_t *next;
};

#define NP_CONN_BUFSIZE (32 * 1024)
/* A WebSocket upgrade's connection only reads the 101 head with it. */
#define NP_CONN_UPGRADE_BUFSIZE (8 * 1024)

/* Config time: forget the previous generation's backends. */
void np_backends_reset(apr_pool_t *pconf);
/* Config time: the backend for a target, shared by key. */
np_backend_t *np_backend_get(apr_pool_t *pconf, const np_target_t *t,
                             apr_interval_time_t keepalive);
/* child_init: locks and pools for every backend. */
apr_status_t np_backends_child_init(apr_pool_t *pchild, server_rec *s);

/* A new connection to b, allocated in p (health checks; the pool uses it
 * too). *cause, in p, says what failed. */
apr_status_t np_backend_connect(np_backend_t *b, apr_interval_time_t timeout,
                                apr_pool_t *p, apr_socket_t **out,
                                const char **cause);

/* A connection: a live idle one from the pool (reused=1) unless fresh is
 * set, else a new one whose read buffer has bufsize bytes (0: the default).
 * *cause names what failed on error. */
apr_status_t np_conn_acquire(np_backend_t *b, apr_interval_time_t connect_timeout,
                             int fresh, apr_size_t bufsize, np_conn_t **out,
                             const char **cause, apr_pool_t *rp);
/* Free the read buffer of a connection that will not need it again (an
 * open tunnel reads into its pump's stack instead). */
void np_conn_drop_buffer(np_conn_t *c);

/* Give a connection back: pooled when reusable and keep-alive is on, else
 * closed. */
void np_conn_release(np_conn_t *c, int reusable);

#endif
