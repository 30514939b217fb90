/* Glue: the per-child reactor that lets requests wait without a thread.
 *
 * Apache 2.4 cannot ask the event MPM to watch a backend socket, but a
 * handler may return SUSPENDED: the MPM then leaves the connection alone
 * until the module finishes it. A suspended request becomes a job here: one
 * reactor thread per child polls the sockets of every job and calls the
 * job's ready() when one is ready, or expired() when its deadline passes.
 * WebSocket tunnels (wstunnel/) and responses that keep Node waiting
 * (async proxying) are the two kinds of job. */
#ifndef MOD_NODEPROXY_REACTOR_H
#define MOD_NODEPROXY_REACTOR_H

#include <apr_poll.h>
#include <httpd.h>

#include "np_timer.h"

typedef struct np_job_t np_job_t;

typedef struct {
    /* On the reactor thread, when the job arrives: register its sockets. */
    void (*adopt)(np_job_t *job);
    /* On the reactor thread: one of its sockets is ready. */
    void (*ready)(np_job_t *job, const apr_pollfd_t *pfd);
    /* On the reactor thread: the deadline passed. */
    void (*expired)(np_job_t *job);
} np_job_ops_t;

/* Deadlines: a job sets deadline before it is handed to the reactor.
 * While it is live it may move it LATER by a plain store at no cost (a
 * tunnel with traffic just pushes its idle deadline on): the reactor's
 * timer still fires at the old time, sees the new one and re-arms. To move
 * it EARLIER, or to set one on a live job that had none, call
 * np_reactor_set_deadline(). 0 means none. */
struct np_job_t {
    const np_job_ops_t *ops;
    apr_pollset_t *ps;            /* the reactor's, set before adopt()    */
    apr_time_t deadline;          /* 0: none                              */
    np_job_t *prev, *next;        /* the reactor's list of live jobs      */
    int live;
    int idle;                     /* expire it at once when the child stops */
    np_timer_t timer;             /* the reactor's; armed at some time
                                   * <= deadline while live              */
};

/* What the module keeps per client connection (its conn_config slot). */
typedef struct {
    np_job_t *stash;        /* a suspended request's job, until the MPM has
                             * let go of the connection                  */
    void *sbh;              /* the MPM's scoreboard handle for it        */
    int next_misses;        /* NodeNextRequestWait: times in a row the
                             * client was not back in time               */
    int next_skip;          /* requests still to come without a wait     */
    struct apr_bucket_brigade *peek; /* NodeNextRequestWait's look at input
                             * httpd already holds (made on first use)   */
    void *keepalive;        /* mod_nodeproxy_keepalive.c's job for it    */
} np_conn_state_t;

/* c's state; with create, made on first use (in c->pool). */
np_conn_state_t *np_conn_state(conn_rec *c, int create);

/* Can requests on c be suspended (event MPM, reactor running, a plain
 * HTTP/1 connection of the MPM)? */
int np_reactor_can_suspend(conn_rec *c);

/* From the handler, before it returns SUSPENDED: the job is taken over in
 * the MPM's suspend_connection hook, once the worker has let go of c. */
void np_reactor_suspend(conn_rec *c, np_job_t *job);

/* After ap_run_process_connection() left c SUSPENDED outside the MPM (on a
 * connection we keep alive ourselves): hand the job the handler set aside
 * to the reactor, as the MPM's suspend_connection hook would have. */
void np_reactor_take_suspended(conn_rec *c);

/* On an MPM worker that carries on a connection the MPM has let go of
 * (a resumed request, our keep-alive): lend c this worker's scoreboard
 * handle; take it back before c goes to the reactor again. */
void np_reactor_enter(conn_rec *c);
void np_reactor_leave(conn_rec *c);

/* Around a worker's wait of NodeAsyncDelay for a response head: begin
 * says whether this thread may wait (fewer than three quarters of the
 * child's threads wait so already); when it says yes, call end after. */
int np_reactor_wait_begin(void);
void np_reactor_wait_end(void);

/* Around the module's handler on an MPM worker: how many of the child's
 * threads it holds. threads_spare says whether at most three quarters do,
 * so that a thread may wait for a client's next request without leaving
 * the MPM short of workers (with none idle it closes idle keep-alive
 * connections). */
void np_reactor_handler_enter(void);
void np_reactor_handler_leave(void);
int np_reactor_threads_spare(void);

/* Is this child on its way out (graceful stop or restart)? */
int np_reactor_stopping(void);

/* From any thread: (re)hand a job to the reactor. */
void np_reactor_add(np_job_t *job);

/* On the reactor thread: take a job off the live list (before its memory
 * goes, or before it is handed to another thread). */
void np_reactor_unlink(np_job_t *job);

/* On the reactor thread: give a live job a new deadline (0: none). */
void np_reactor_set_deadline(np_job_t *job, apr_time_t deadline);

/* Register / change / drop one socket's events (reactor thread, or the
 * thread that owns a job outside the reactor). */
void np_reactor_watch(apr_pollset_t *ps, apr_pollfd_t *pfd, apr_int16_t *cur,
                      apr_int16_t want);

/* Destroy a finished connection's pool a little later, so that no thread
 * that touched it last is still on its way out. */
void np_reactor_bury(apr_pool_t *pool);

/* On an MPM worker, when a suspended request is complete: log it and free
 * it (ap_process_request_after_handler), then keep the connection alive
 * (mod_nodeproxy_keepalive.c) or close it. */
void np_reactor_finish_connection(request_rec *r);
/* Close and release a connection the MPM has let go of, the way the MPM
 * would have: flushes, closes the socket, buries the connection's pool. */
void np_reactor_close_connection(conn_rec *c);

void np_reactor_register_hooks(apr_pool_t *p);

#endif
