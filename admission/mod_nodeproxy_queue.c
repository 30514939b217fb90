/* Glue: the queue of requests waiting for a free max= slot.
 *
 * When every eligible member of a balancer is at its max=, the request
 * joins the balancer's FIFO (np_queue.c) in shared memory, seen by every
 * child, and - on the event MPM - returns SUSPENDED: it waits as a reactor
 * job that watches the client socket (a client that leaves gives up its
 * place at once) and holds no worker thread.
 *
 * How a freed slot reaches the oldest waiter across children: a slot is
 * given back by a plain atomic decrement (the request pool's cleanup,
 * wherever the request ends); nobody is signalled. Instead each waiting
 * job looks at the shared queue on every reactor sweep (every 100 ms):
 * only the waiter whose ticket is first in line, and only when some member
 * has room, is handed to a worker (ap_mpm_register_timed_callback), which
 * picks a member and takes the slot by compare-and-swap. Polling costs a
 * few loads per waiter per sweep and needs no per-child pipe registry; it
 * adds at most one sweep (100 ms) of latency per hand-over, which is small
 * next to the slow requests that fill a capped member. A waiter that loses
 * the race for the slot (an upgrade request, which never queues, took it)
 * keeps its ticket and goes back to waiting.
 *
 * Other MPMs (prefork, worker) and HTTP/2 streams cannot suspend: the
 * request waits on its thread, looking every 10 ms. */
#include <errno.h>
#include <sched.h>
#include <sys/socket.h>
#include <apr_atomic.h>
#include <apr_portable.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_reactor.h"
#include "mod_nodeproxy_children.h"
#include "mod_nodeproxy_admission.h"
#include "np_duration.h"
#include "np_queue.h"

APLOG_USE_MODULE(nodeproxy);

/* Ticket entries are taken for dead this long after their waiter's own
 * deadline (its child died). */
#define NP_QUEUE_GRACE apr_time_from_sec(2)
#define NP_QUEUE_THREAD_POLL apr_time_from_msec(10)

typedef enum { NP_QWAKE_TURN, NP_QWAKE_TIMEOUT, NP_QWAKE_GONE } np_qwake_e;

typedef struct {
    np_job_t job;                 /* first: the reactor's view of it        */
    request_rec *r;
    np_request_t *rq;
    np_response_t *resp;
    np_queue_t *q;
    apr_uint64_t ticket;
    apr_time_t entered, deadline;
    int in_queue;
    apr_pollfd_t cpfd;
    apr_int16_t creq;
    int watch_client;
    np_qwake_e why;
} np_qwait_t;

/* ---- the queue's lock (a spin lock in the segment) ------------------------ */

static void qlock(np_queue_t *q)
{
    int spins = 0;
    while (apr_atomic_cas32(&q->lock, 1, 0) != 0) {
        if (++spins > 64) {
            sched_yield();
            spins = 0;
        }
    }
}

static void qunlock(np_queue_t *q)
{
    apr_atomic_set32(&q->lock, 0);
}

static apr_interval_time_t queue_timeout(const np_balancer_t *b)
{
    return b->queue_timeout != NP_UNSET ? b->queue_timeout
                                        : NP_DEFAULT_QUEUE_TIMEOUT;
}

static apr_uint32_t queue_limit(const np_balancer_t *b)
{
    return (apr_uint32_t)NP_PICK(b->queue_limit, NP_DEFAULT_QUEUE_LIMIT);
}

/* ---- directives ------------------------------------------------------------ */

const char *np_queue_limit_cmd(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err, *d;
    long v = 0;
    np_balancer_t *b = np_balancer_enclosing(cmd, &err);
    if (!b) {
        return err;
    }
    for (d = arg; *d >= '0' && *d <= '9' && v <= NP_QUEUE_LIMIT_MAX; d++) {
        v = v * 10 + (*d - '0');
    }
    if (d == arg || *d || v > NP_QUEUE_LIMIT_MAX) {
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not valid: use a whole "
                            "number 0-%d (0: no queue, 503 at once when every "
                            "member is at its max=)", cmd->cmd->name, arg,
                            NP_QUEUE_LIMIT_MAX);
    }
    b->queue_limit = (int)v;
    return NULL;
}

const char *np_queue_timeout_cmd(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err;
    np_balancer_t *b = np_balancer_enclosing(cmd, &err);
    if (!b) {
        return err;
    }
    if (np_duration_parse_p(cmd->pool, arg, &b->queue_timeout, &err)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    if (b->queue_timeout <= 0) {
        return apr_psprintf(cmd->pool, "%s: must be more than 0 (use "
                            "NodeQueueLimit 0 for no queue)", cmd->cmd->name);
    }
    return NULL;
}

/* ---- shared memory: one segment for every balancer's queue ------------------ */

static int np_queue_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *all;
    apr_size_t total = 0, off = 0;
    apr_shm_t *shm;
    apr_status_t rv;
    char *base;
    int i;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        || !(all = np_balancers_all())) {
        return OK;
    }
    for (i = 0; i < all->nelts; i++) {
        np_balancer_t *b = APR_ARRAY_IDX(all, i, np_balancer_t *);
        if (b->has_max) {
            total += APR_ALIGN_DEFAULT(np_queue_size(queue_limit(b)));
        }
    }
    if (!total) {
        return OK;
    }
    /* Anonymous, made anew each generation: children of an old
     * generation keep their mapping of the old one; the slots themselves
     * (member pending counts) carry over in the members' segment. */
    rv = apr_shm_create(&shm, total, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, NPLOGNO(00500)
                     "nodeproxy: cannot create the shared memory for the "
                     "max= queues (%" APR_SIZE_T_FMT " bytes)", total);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    base = apr_shm_baseaddr_get(shm);
    for (i = 0; i < all->nelts; i++) {
        np_balancer_t *b = APR_ARRAY_IDX(all, i, np_balancer_t *);
        if (b->has_max) {
            b->queue = base + off;
            np_queue_init(b->queue, queue_limit(b));
            off += APR_ALIGN_DEFAULT(np_queue_size(queue_limit(b)));
        }
    }
    return OK;
}

const np_status_queue_t *np_queue_status(apr_pool_t *p, np_balancer_t *b)
{
    np_queue_t *q = b->queue;
    np_status_queue_t *out;
    if (!q) {
        return NULL;
    }
    out = apr_pcalloc(p, sizeof(*out));
    qlock(q);
    np_queue_busy(q, apr_time_now());    /* steps over dead tickets */
    out->length = q->waiting;
    out->served = q->served;
    out->timeouts = q->timeouts;
    out->rejected = q->rejected;
    out->abandoned = q->abandoned;
    out->wait_us = q->wait_us;
    qunlock(q);
    out->limit = q->limit;
    out->timeout = queue_timeout(b);
    return out;
}

/* ---- leaving the queue ------------------------------------------------------ */

static void leave(np_qwait_t *w, np_queue_exit_e how)
{
    apr_time_t now = apr_time_now();
    if (!w->in_queue) {
        return;
    }
    w->in_queue = 0;
    np_child_count(NP_CHILD_QUEUED, -1);
    qlock(w->q);
    np_queue_leave(w->q, w->ticket, how, now - w->entered, now);
    qunlock(w->q);
    apr_table_setn(w->r->notes, "nodeproxy-queue-ms",
                   apr_psprintf(w->r->pool, "%" APR_TIME_T_FMT,
                                apr_time_as_msec(now - w->entered)));
}

/* A request pool that goes while still queued (an error path we did not
 * foresee, a child stopping): its ticket does not block the queue. */
static apr_status_t leave_cleanup(void *data)
{
    leave(data, NP_QUEUE_ABANDONED);
    return APR_SUCCESS;
}

void np_queue_served(request_rec *r, np_request_t *rq)
{
    np_qwait_t *w = rq->queue;
    if (w && w->in_queue) {
        leave(w, NP_QUEUE_SERVED);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00501)
                      "nodeproxy(balancer %s): got a slot after %s ms in the "
                      "queue", rq->balancer->name,
                      apr_table_get(r->notes, "nodeproxy-queue-ms"));
    }
}

/* 503 (the maintenance response when configured), with Retry-After. */
static int refuse(request_rec *r, np_request_t *rq, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NPLOGNO(00502)
                  "nodeproxy(balancer %s): every member is at its max= and %s; "
                  "answering 503", rq->balancer->name, why);
    apr_table_setn(r->notes, "nodeproxy-queue", why);
    return np_maint_respond(r);
}

/* ---- waiting in the reactor ------------------------------------------------- */

static void queue_resume(void *baton);

static void wake(np_qwait_t *w, np_qwake_e why)
{
    w->why = why;
    np_reactor_watch(w->job.ps, &w->cpfd, &w->creq, 0);
    np_reactor_unlink(&w->job);
    if (ap_mpm_register_timed_callback(0, queue_resume, w) != APR_SUCCESS) {
        queue_resume(w);   /* cannot happen on the event MPM */
    }
}

static void qjob_adopt(np_job_t *job)
{
    np_qwait_t *w = (np_qwait_t *)job;
    if (w->watch_client) {
        np_reactor_watch(job->ps, &w->cpfd, &w->creq, APR_POLLIN);
    }
}

/* Did the client go away (EOF, reset)? Bytes it sent (a body, a pipelined
 * request) stay unread. */
static int client_gone(apr_socket_t *s, int *has_data)
{
    apr_os_sock_t fd;
    char byte;
    ssize_t n = -1;
    *has_data = 0;
    if (apr_os_sock_get(&fd, s) == APR_SUCCESS) {
        n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    }
    if (n > 0) {
        *has_data = 1;
        return 0;
    }
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void qjob_ready(np_job_t *job, const apr_pollfd_t *pfd)
{
    np_qwait_t *w = (np_qwait_t *)job;
    int has_data;
    if (client_gone(w->cpfd.desc.s, &has_data)) {
        wake(w, NP_QWAKE_GONE);
        return;
    }
    /* Data: read later; stop watching so it does not wake us again. */
    w->watch_client = 0;
    np_reactor_watch(job->ps, &w->cpfd, &w->creq, 0);
}

/* Every sweep: the deadline, or our turn with a free slot. */
static void qjob_expired(np_job_t *job)
{
    np_qwait_t *w = (np_qwait_t *)job;
    apr_time_t now = apr_time_now();
    int head;
    if (now >= w->deadline) {
        wake(w, NP_QWAKE_TIMEOUT);
        return;
    }
    qlock(w->q);
    head = np_queue_is_head(w->q, w->ticket, now);
    qunlock(w->q);
    if (head && np_balancer_has_room(w->rq->balancer, now)) {
        wake(w, NP_QWAKE_TURN);
        return;
    }
    /* look again at the reactor's next tick (every 100 ms) */
    np_reactor_set_deadline(job, now + 1);
}

static const np_job_ops_t qjob_ops = { qjob_adopt, qjob_ready, qjob_expired };

static void finish(np_qwait_t *w)
{
    np_reactor_finish_connection(w->r);
}

/* On an MPM worker: the request's turn came, its time ran out, or its
 * client left. */
static void queue_resume(void *baton)
{
    np_qwait_t *w = baton;
    request_rec *r = w->r;
    int status;

    np_reactor_enter(r->connection);
    switch (w->why) {
    case NP_QWAKE_GONE:
        leave(w, NP_QUEUE_ABANDONED);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00503)
                      "nodeproxy(balancer %s): client went away after %s ms "
                      "in the queue", w->rq->balancer->name,
                      apr_table_get(r->notes, "nodeproxy-queue-ms"));
        r->connection->aborted = 1;
        r->connection->keepalive = AP_CONN_CLOSE;
        finish(w);
        return;
    case NP_QWAKE_TIMEOUT:
        leave(w, NP_QUEUE_TIMEOUT);
        status = refuse(r, w->rq, apr_psprintf(r->pool, "the request waited "
                        "NodeQueueTimeout (%" APR_TIME_T_FMT " ms) in the "
                        "queue", apr_time_as_msec(queue_timeout(w->rq->balancer))));
        break;
    default:
        status = np_proxy_balanced_resume(r, w->rq, w->resp);
        break;
    }
    if (status == SUSPENDED) {
        return;   /* back in the reactor: queued again, or async */
    }
    if (status != OK && status != DONE) {
        r->status = HTTP_OK;
        ap_die(status, r);
    }
    finish(w);
}

/* ---- waiting on the thread (other MPMs, HTTP/2 streams) ------------------- */

static int wait_in_thread(np_qwait_t *w)
{
    request_rec *r = w->r;
    apr_socket_t *csd = r->connection->master ? NULL
                                              : ap_get_conn_socket(r->connection);
    int watch = csd != NULL;
    for (;;) {
        apr_time_t now = apr_time_now();
        int head, has_data;
        if (now >= w->deadline) {
            leave(w, NP_QUEUE_TIMEOUT);
            return refuse(r, w->rq, apr_psprintf(r->pool, "the request "
                          "waited NodeQueueTimeout (%" APR_TIME_T_FMT " ms) "
                          "in the queue (on its thread)",
                          apr_time_as_msec(queue_timeout(w->rq->balancer))));
        }
        if (watch && client_gone(csd, &has_data)) {
            leave(w, NP_QUEUE_ABANDONED);
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00504)
                          "nodeproxy(balancer %s): client went away while "
                          "queued", w->rq->balancer->name);
            r->connection->aborted = 1;
            r->connection->keepalive = AP_CONN_CLOSE;
            return DONE;
        }
        if (watch && has_data) {
            watch = 0;
        }
        qlock(w->q);
        head = np_queue_is_head(w->q, w->ticket, now);
        qunlock(w->q);
        if (head && np_balancer_has_room(w->rq->balancer, now)) {
            return DECLINED;
        }
        apr_sleep(NP_QUEUE_THREAD_POLL);
    }
}

/* ---- the request path ------------------------------------------------------- */

int np_queue_wait(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    np_balancer_t *b = rq->balancer;
    conn_rec *c = r->connection;
    np_qwait_t *w = rq->queue;
    apr_time_t now = apr_time_now();

    if (!b->queue || rq->websocket) {
        /* An upgrade would hold its slot for the tunnel's life; it does
         * not wait for one either. */
        return refuse(r, rq, rq->websocket ? "a WebSocket upgrade does not "
                      "queue" : "there is no queue");
    }
    if (!w) {
        w = apr_pcalloc(r->pool, sizeof(*w));
        w->job.ops = &qjob_ops;
        w->r = r;
        w->rq = rq;
        w->resp = resp;
        w->q = b->queue;
        w->watch_client = 1;
        rq->queue = w;
    }
    if (!w->in_queue) {
        apr_status_t rv;
        w->entered = now;
        w->deadline = now + queue_timeout(b);
        qlock(w->q);
        rv = np_queue_enter(w->q, w->deadline + NP_QUEUE_GRACE, now,
                            &w->ticket);
        qunlock(w->q);
        if (rv != APR_SUCCESS) {
            return refuse(r, rq, apr_psprintf(r->pool, "the queue is full "
                          "(NodeQueueLimit %u)", w->q->limit));
        }
        w->in_queue = 1;
        np_child_count(NP_CHILD_QUEUED, 1);
        apr_pool_cleanup_register(r->pool, w, leave_cleanup,
                                  apr_pool_cleanup_null);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      "nodeproxy(balancer %s): every member is at its max=; "
                      "queued (ticket %" APR_UINT64_T_FMT ")", b->name,
                      w->ticket);
    }
    if (!np_reactor_can_suspend(c)) {
        return wait_in_thread(w);
    }
    w->job.deadline = now + 1;
    if (!rq->detached) {
        w->cpfd.p = r->pool;
        w->cpfd.desc_type = APR_POLL_SOCKET;
        w->cpfd.desc.s = ap_get_conn_socket(c);
        w->cpfd.client_data = w;
        rq->detached = 1;
        np_reactor_suspend(c, &w->job);
    }
    else {
        np_reactor_leave(c);
        np_reactor_add(&w->job);
    }
    return SUSPENDED;
}

int np_queue_gate(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    np_balancer_t *b = rq->balancer;
    np_qwait_t *w = rq->queue;
    int busy;
    if (!b->queue || rq->websocket || (w && w->in_queue)) {
        return DECLINED;
    }
    qlock(b->queue);
    busy = np_queue_busy(b->queue, apr_time_now());
    qunlock(b->queue);
    return busy ? np_queue_wait(r, rq, resp) : DECLINED;
}

/* The folder's one register function: the queue's and the rate limit's
 * hooks. */
void np_admission_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(np_queue_post_config, NULL, NULL, APR_HOOK_LAST);
    np_ratelimit_register_hooks(p);
}
