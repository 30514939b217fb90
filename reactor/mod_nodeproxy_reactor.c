/* Glue: the per-child reactor (see mod_nodeproxy_reactor.h). */
#include <stddef.h>
#include <stdlib.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <mpm_common.h>
#include <scoreboard.h>
#include <unistd.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_reactor.h"
#include "mod_nodeproxy_keepalive.h"
#include "mod_nodeproxy_children.h"

APLOG_USE_MODULE(nodeproxy);

/* A finished connection's pool, destroyed a little later. */
typedef struct np_grave_t {
    apr_pool_t *pool;
    apr_time_t at;
    struct np_grave_t *next;
} np_grave_t;

typedef struct {
    apr_pollset_t *ps;
    apr_thread_t *thread;
    apr_thread_mutex_t *lock;      /* guards incoming and graves            */
    apr_array_header_t *incoming;  /* np_job_t *, from other threads        */
    np_grave_t *graves;
    np_job_t *live;                /* reactor thread only                   */
    np_timers_t timers;            /* live jobs' deadlines; reactor thread  */
    int stopping;                  /* the child was seen stopping           */
    int unarmed;                   /* a timer could not be armed (ENOMEM)   */
    volatile apr_uint32_t stop;
} np_reactor_t;

static np_reactor_t *reactor;      /* per child; NULL: nothing suspends     */

/* Threads of this child waiting NodeAsyncDelay for a response head, and
 * how many may. When every worker is busy the event MPM closes idle
 * keep-alive connections and stops accepting; so once three quarters of
 * the threads wait on Node, further requests suspend at once instead. */
static apr_uint32_t sync_waiters;
static apr_uint32_t sync_wait_limit = 1;

int np_reactor_wait_begin(void)
{
    if (apr_atomic_inc32(&sync_waiters) >= sync_wait_limit) {
        apr_atomic_dec32(&sync_waiters);
        return 0;
    }
    return 1;
}

void np_reactor_wait_end(void)
{
    apr_atomic_dec32(&sync_waiters);
}

/* Threads of this child in the module's handler. Up to the same three
 * quarters, NodeNextRequestWait may keep its thread; beyond, it gives it
 * back to the MPM at once. */
static apr_uint32_t handlers_busy;

void np_reactor_handler_enter(void)
{
    apr_atomic_inc32(&handlers_busy);
}

void np_reactor_handler_leave(void)
{
    apr_atomic_dec32(&handlers_busy);
}

int np_reactor_threads_spare(void)
{
    return apr_atomic_read32(&handlers_busy) <= sync_wait_limit;
}

/* A connection the MPM has let go of has no scoreboard handle (c->sbh
 * NULL). While a worker carries it on, it gets back the one the MPM gave it,
 * pointed at this worker's scoreboard slot, as the MPM does when it hands a
 * connection to a thread: mod_status shows the request, and the error log
 * says "[client ...]". The slot of this thread is looked up once. */
static __thread int thread_child = -1, thread_slot = -1, thread_looked;

static int find_thread_slot(void)
{
    if (!thread_looked) {
        int limit_d = 0, limit_t = 0, i, j;
        apr_os_thread_t self = apr_os_thread_current();
        pid_t pid = getpid();
        thread_looked = 1;
        ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit_d);
        ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &limit_t);
        for (i = 0; i < limit_d && thread_slot < 0; i++) {
            if (ap_get_scoreboard_process(i)->pid != pid) {
                continue;
            }
            for (j = 0; j < limit_t; j++) {
                worker_score *ws = ap_get_scoreboard_worker_from_indexes(i, j);
                if (ws->pid == pid && apr_os_thread_equal(ws->tid, self)) {
                    thread_child = i;
                    thread_slot = j;
                    break;
                }
            }
        }
    }
    return thread_slot >= 0;
}

np_conn_state_t *np_conn_state(conn_rec *c, int create)
{
    np_conn_state_t *cs = ap_get_module_config(c->conn_config,
                                               &nodeproxy_module);
    if (!cs && create) {
        cs = apr_pcalloc(c->pool, sizeof(*cs));
        ap_set_module_config(c->conn_config, &nodeproxy_module, cs);
    }
    return cs;
}

void np_reactor_enter(conn_rec *c)
{
    np_conn_state_t *cs = np_conn_state(c, 0);
    if (cs && cs->sbh && find_thread_slot()) {
        ap_update_sb_handle(cs->sbh, thread_child, thread_slot);
        c->sbh = cs->sbh;
    }
}

void np_reactor_leave(conn_rec *c)
{
    c->sbh = NULL;
}

int np_reactor_can_suspend(conn_rec *c)
{
    /* c->cs: a connection of the event MPM (not an HTTP/2 stream's). */
    return reactor != NULL && c->cs != NULL && c->master == NULL;
}

void np_reactor_watch(apr_pollset_t *ps, apr_pollfd_t *pfd, apr_int16_t *cur,
                      apr_int16_t want)
{
    if (*cur == want) {
        return;
    }
    if (*cur) {
        apr_pollset_remove(ps, pfd);
    }
    pfd->reqevents = want;
    if (want) {
        apr_pollset_add(ps, pfd);
    }
    *cur = want;
}

void np_reactor_add(np_job_t *job)
{
    apr_thread_mutex_lock(reactor->lock);
    APR_ARRAY_PUSH(reactor->incoming, np_job_t *) = job;
    apr_thread_mutex_unlock(reactor->lock);
    apr_pollset_wakeup(reactor->ps);
}

void np_reactor_unlink(np_job_t *job)
{
    if (!job->live) {
        return;
    }
    if (job->prev) {
        job->prev->next = job->next;
    }
    else {
        reactor->live = job->next;
    }
    if (job->next) {
        job->next->prev = job->prev;
    }
    job->prev = job->next = NULL;
    job->live = 0;
    if (reactor) {
        np_timers_remove(&reactor->timers, &job->timer);
    }
}

/* Arm the job's timer at its deadline (at once for an idle job of a
 * stopping child). When the heap cannot grow, the job is left unarmed and
 * the next tick looks at every job once (as before the heap) until all
 * are armed again. */
static void arm(np_reactor_t *re, np_job_t *job)
{
    apr_time_t when = job->deadline;
    if (!when) {
        np_timers_remove(&re->timers, &job->timer);
        return;
    }
    if (re->stopping && job->idle) {
        when = 0;
    }
    if (np_timers_set(&re->timers, &job->timer, when) != APR_SUCCESS) {
        re->unarmed = 1;
    }
}

void np_reactor_set_deadline(np_job_t *job, apr_time_t deadline)
{
    job->deadline = deadline;
    if (job->live && reactor) {
        arm(reactor, job);
    }
}

static void link_job(np_reactor_t *re, np_job_t *job)
{
    job->prev = NULL;
    job->next = re->live;
    if (re->live) {
        re->live->prev = job;
    }
    re->live = job;
    job->live = 1;
    job->timer.pos = 0;
    arm(re, job);
}

void np_reactor_bury(apr_pool_t *pool)
{
    np_grave_t *g = malloc(sizeof(*g));
    if (!g || !reactor) {
        free(g);
        apr_pool_destroy(pool);
        return;
    }
    g->pool = pool;
    g->at = apr_time_now();
    apr_thread_mutex_lock(reactor->lock);
    g->next = reactor->graves;
    reactor->graves = g;
    apr_thread_mutex_unlock(reactor->lock);
}

void np_reactor_close_connection(conn_rec *c)
{
    apr_socket_t *csd = ap_get_conn_socket(c);
    /* The MPM has forgotten this connection (2.4 has no way to give a
     * suspended connection back to it): close it ourselves. */
    if (!ap_start_lingering_close(c)) {
        apr_socket_close(csd);
    }
    c->aborted = 1;
    /* The MPM counted c as suspended; its cleanup of c->pool uncounts it
     * by the state it finds (LINGER would uncount a lingering close that
     * never was). */
    if (c->cs) {
        c->cs->state = CONN_STATE_SUSPENDED;
    }
    np_reactor_leave(c);
    np_reactor_bury(c->pool);
}

void np_reactor_finish_connection(request_rec *r)
{
    conn_rec *c = r->connection;
    /* Logs the request and frees its pool (pending counts go down there). */
    ap_process_request_after_handler(r);
    np_keepalive_continue(c);
}

int np_reactor_stopping(void)
{
    int state = AP_MPMQ_RUNNING;
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
           && state == AP_MPMQ_STOPPING;
}

/* Expire the jobs whose deadline passed. Only timers that are due are
 * visited: a job that moved its deadline later meanwhile (traffic on a
 * tunnel) is re-armed there, one heap move per idle period, never a scan
 * of every job. Each timer due now is looked at once per tick, so an
 * expired() that sets a deadline already past runs again next tick, not
 * in a loop. */
static void expire_due(np_reactor_t *re, apr_time_t now)
{
    apr_size_t budget = re->timers.n;
    np_timer_t *tm;

    if (!re->stopping && np_reactor_stopping()) {
        /* A stopping child closes its idle keep-alive connections at
         * once, as the MPM does with its own: one walk, when it starts
         * stopping; idle jobs that come later are armed at once. */
        np_job_t *job;
        re->stopping = 1;
        for (job = re->live; job; job = job->next) {
            if (job->idle && job->deadline) {
                arm(re, job);
            }
        }
        budget = re->timers.n;
    }
    if (re->unarmed) {
        np_job_t *job, *next;
        re->unarmed = 0;
        for (job = re->live; job; job = next) {
            next = job->next;
            if (job->deadline && !np_timer_armed(&job->timer)) {
                if (now >= job->deadline) {
                    job->deadline = 0;
                    job->ops->expired(job);
                }
                else {
                    arm(re, job);
                }
            }
        }
        budget = re->timers.n;
    }
    while (budget-- > 0 && (tm = np_timers_pop_due(&re->timers, now))) {
        np_job_t *job = (np_job_t *)((char *)tm - offsetof(np_job_t, timer));
        if (!job->deadline) {
            continue;
        }
        if (job->deadline > now && !(re->stopping && job->idle)) {
            arm(re, job);          /* moved later since it was armed */
            continue;
        }
        job->deadline = 0;
        job->ops->expired(job);
    }
}

static void sweep(np_reactor_t *re, apr_time_t now)
{
    np_grave_t *ready = NULL, **gp;

    expire_due(re, now);
    apr_thread_mutex_lock(re->lock);
    for (gp = &re->graves; *gp;) {
        np_grave_t *g = *gp;
        if (re->stop || now - g->at >= apr_time_from_msec(500)) {
            *gp = g->next;
            g->next = ready;
            ready = g;
        }
        else {
            gp = &g->next;
        }
    }
    apr_thread_mutex_unlock(re->lock);
    while (ready) {
        np_grave_t *g = ready;
        ready = g->next;
        apr_pool_destroy(g->pool);
        free(g);
    }
}

static void *APR_THREAD_FUNC reactor_main(apr_thread_t *thd, void *data)
{
    np_reactor_t *re = data;
    apr_time_t last_sweep = apr_time_now();

    while (!re->stop) {
        const apr_pollfd_t *fds;
        apr_int32_t n = 0, i;
        apr_status_t rv;
        apr_time_t now;

        rv = apr_pollset_poll(re->ps, apr_time_from_msec(100), &n, &fds);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)
            && !APR_STATUS_IS_TIMEUP(rv)) {
            apr_sleep(apr_time_from_msec(10));
        }
        for (i = 0; rv == APR_SUCCESS && i < n; i++) {
            np_job_t *job = fds[i].client_data;
            /* A job that an earlier event of this batch finished or handed
             * away is no longer live: its events are stale. */
            if (job->live) {
                job->ops->ready(job, &fds[i]);
            }
        }
        apr_thread_mutex_lock(re->lock);
        while (re->incoming->nelts > 0) {
            np_job_t *job = *(np_job_t **)apr_array_pop(re->incoming);
            apr_thread_mutex_unlock(re->lock);
            job->ps = re->ps;
            link_job(re, job);
            job->ops->adopt(job);
            apr_thread_mutex_lock(re->lock);
        }
        apr_thread_mutex_unlock(re->lock);
        now = apr_time_now();
        if (now - last_sweep >= apr_time_from_msec(100)) {
            sweep(re, now);
            last_sweep = now;
        }
    }
    return NULL;
}

void np_reactor_suspend(conn_rec *c, np_job_t *job)
{
    np_conn_state(c, 1)->stash = job;
}

void np_reactor_take_suspended(conn_rec *c)
{
    np_conn_state_t *cs = np_conn_state(c, 0);
    np_job_t *job = cs ? cs->stash : NULL;
    if (!job || !reactor) {
        return;
    }
    cs->stash = NULL;
    if (c->sbh && !cs->sbh) {
        /* Still the MPM's (the suspend hook runs before it drops it). */
        cs->sbh = c->sbh;
    }
    np_reactor_leave(c);
    np_reactor_add(job);
}

/* The worker has let go of the connection: the reactor takes the job. */
static void np_suspend_connection(conn_rec *c, request_rec *r)
{
    (void)r;
    np_reactor_take_suspended(c);
}

static apr_status_t reactor_stop(void *data)
{
    np_reactor_t *re = data;
    apr_status_t rv;
    re->stop = 1;
    apr_pollset_wakeup(re->ps);
    apr_thread_join(&rv, re->thread);
    sweep(re, apr_time_now());
    np_timers_free(&re->timers);
    reactor = NULL;
    return APR_SUCCESS;
}

static void np_reactor_child_init(apr_pool_t *pchild, server_rec *s)
{
    np_reactor_t *re;
    int async = 0, threads = 0;
    apr_status_t rv;

    if (ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) != APR_SUCCESS || !async) {
        return;   /* prefork/worker: requests keep their thread */
    }
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) == APR_SUCCESS
        && threads >= 4) {
        sync_wait_limit = (apr_uint32_t)threads * 3 / 4;
    }
    re = apr_pcalloc(pchild, sizeof(*re));
    re->incoming = apr_array_make(pchild, 16, sizeof(np_job_t *));
    np_timers_init(&re->timers);
    rv = apr_thread_mutex_create(&re->lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_pollset_create(&re->ps, 1024, pchild,
                                APR_POLLSET_WAKEABLE | APR_POLLSET_NOCOPY);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_create(&re->thread, NULL, reactor_main, re, pchild);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, NPLOGNO(00101)
                     "nodeproxy: cannot start the reactor thread; WebSockets "
                     "and slow responses will hold a worker thread each");
        return;
    }
    reactor = re;
    apr_pool_pre_cleanup_register(pchild, re, reactor_stop);
}

void np_reactor_register_hooks(apr_pool_t *p)
{
    np_children_register_hooks(p);
    ap_hook_child_init(np_reactor_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_suspend_connection(np_suspend_connection, NULL, NULL,
                               APR_HOOK_MIDDLE);
}
