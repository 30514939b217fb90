/* Glue: keep-alive for connections whose request went async.
 *
 * A request that waited in the reactor (async proxying) left the event MPM
 * with its connection SUSPENDED, and Apache 2.4 has no call that gives such
 * a connection back (ap_mpm_resume_suspended is trunk-only). So once the
 * response is complete we carry on as the MPM would, in the same order:
 * write completion (non-blocking writes, waiting for the socket to drain in
 * the reactor, up to Timeout), then keep-alive (waiting in the reactor for
 * the next request, up to KeepAliveTimeout), then the next request through
 * ap_run_process_connection() on an MPM worker (a timed callback). That
 * request may suspend again (async response, WebSocket) like any other.
 *
 * The MPM counted the connection as suspended when it let go of it; its
 * pool cleanup takes it off that count only if the state says SUSPENDED
 * again when the pool goes, which np_reactor_close_connection sees to. */
#include <apr_strings.h>
#include <apr_poll.h>
#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <util_filter.h>
#include <ap_mpm.h>

#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_reactor.h"
#include "mod_nodeproxy_keepalive.h"
#include "mod_nodeproxy_children.h"
#include "mod_nodeproxy_relay.h"

APLOG_USE_MODULE(nodeproxy);

typedef struct {
    np_job_t job;                 /* first: the reactor's view of it     */
    conn_rec *c;
    apr_pollfd_t pfd;
    apr_int16_t req;
    int expired;
    int idle;                     /* counted as idle keep-alive (status)  */
} np_ka_t;

static void drive(np_ka_t *k);

static void on_worker(void *baton)
{
    drive(baton);
}

static void wake(np_ka_t *k, int expired)
{
    k->expired = expired;
    if (k->idle) {
        k->idle = 0;
        np_child_count(NP_CHILD_KEEPALIVE, -1);
    }
    np_reactor_watch(k->job.ps, &k->pfd, &k->req, 0);
    np_reactor_unlink(&k->job);
    if (ap_mpm_register_timed_callback(0, on_worker, k) != APR_SUCCESS) {
        on_worker(k);   /* only the event MPM gets here, and it has them */
    }
}

static void ka_adopt(np_job_t *job)
{
    np_ka_t *k = (np_ka_t *)job;
    np_reactor_watch(job->ps, &k->pfd, &k->req, k->pfd.reqevents);
}

static void ka_ready(np_job_t *job, const apr_pollfd_t *pfd)
{
    (void)pfd;
    wake((np_ka_t *)job, 0);
}

static void ka_expired(np_job_t *job)
{
    wake((np_ka_t *)job, 1);
}

static const np_job_ops_t ka_ops = { ka_adopt, ka_ready, ka_expired };

/* Wait in the reactor for the client socket to be readable (the next
 * request) or writable (the rest of a response), at most timeout. */
static void wait_client(np_ka_t *k, apr_int16_t events,
                        apr_interval_time_t timeout)
{
    np_reactor_leave(k->c);
    k->pfd.reqevents = events;
    k->req = 0;
    k->expired = 0;
    k->job.deadline = apr_time_now() + timeout;
    /* An idle connection goes first when the child stops. */
    k->job.idle = events == APR_POLLIN;
    if (k->job.idle) {
        k->idle = 1;    /* uncounted by wake(), on the reactor thread */
        np_child_count(NP_CHILD_KEEPALIVE, 1);
    }
    np_reactor_add(&k->job);
}

static void drive(np_ka_t *k)
{
    conn_rec *c = k->c;
    conn_state_t *cs = c->cs;

    np_reactor_enter(c);
    if (k->expired) {
        int idle = cs->state == CONN_STATE_KEEPALIVE;
        ap_log_cerror(APLOG_MARK, APLOG_TRACE1, 0, c, "nodeproxy: %s",
                      idle ? "keep-alive timeout" : "write timeout");
        if (!idle) {
            c->aborted = 1;   /* no last flush that would wait again */
        }
        np_reactor_close_connection(c);
        return;
    }
    if (cs->state == CONN_STATE_KEEPALIVE) {
        cs->state = CONN_STATE_PROCESSING;
    }
    for (;;) {
        if (cs->state == CONN_STATE_WRITE_COMPLETION) {
            if (!np_write_pending(c)) {
                break;
            }
            if (c->data_in_output_filters) {
                wait_client(k, APR_POLLOUT, c->base_server->timeout);
                return;
            }
            if (c->keepalive != AP_CONN_KEEPALIVE || c->aborted
                || np_reactor_stopping()) {
                break;
            }
            if (!c->data_in_input_filters) {
                cs->state = CONN_STATE_KEEPALIVE;
                wait_client(k, APR_POLLIN, c->base_server->keep_alive_timeout);
                return;
            }
            cs->state = CONN_STATE_PROCESSING;   /* a pipelined request */
        }
        if (cs->state != CONN_STATE_PROCESSING) {
            break;   /* LINGER, or a state only the MPM would know */
        }
        {
            int rc = ap_run_process_connection(c);
            if (rc == DONE) {
                rc = OK;
            }
            if (rc == OK && cs->state == CONN_STATE_KEEPALIVE) {
                cs->state = CONN_STATE_WRITE_COMPLETION;
            }
            if (rc != OK || c->aborted) {
                break;
            }
        }
        if (cs->state == CONN_STATE_SUSPENDED) {
            /* Async again, or a WebSocket: the reactor has it now. */
            np_reactor_take_suspended(c);
            return;
        }
    }
    np_reactor_close_connection(c);
}

void np_keepalive_continue(conn_rec *c)
{
    np_conn_state_t *st = np_conn_state(c, 1);
    np_ka_t *k = st->keepalive;

    if (!k) {
        k = apr_pcalloc(c->pool, sizeof(*k));
        k->job.ops = &ka_ops;
        k->c = c;
        k->pfd.p = c->pool;
        k->pfd.desc_type = APR_POLL_SOCKET;
        k->pfd.desc.s = ap_get_conn_socket(c);
        k->pfd.client_data = k;
        st->keepalive = k;
    }
    k->expired = 0;
    drive(k);
}

/* ---- NodeNextRequestWait ---------------------------------------------------
 * Between two requests of a kept-alive connection the event MPM parks it in
 * its listener thread, and the next request goes to a worker thread: two
 * thread hand-offs and their system calls per request. The MPM skips them
 * when the next request is already there as this one ends (it checks for
 * pipelined input then). A client in a loop (a service calling an API, a
 * load generator) sends its next request as soon as it has the answer: so
 * the answer is written now, and the thread waits a moment for that next
 * request. A client that twice in a row is not back in time is not waited
 * for during its next NP_NEXT_SKIP requests; nobody is while the child's
 * threads are scarce. */
#define NP_NEXT_MISSES_MAX 2
#define NP_NEXT_SKIP       8

/* Does httpd hold input for c already? A speculative look that does not
 * wait: it reads the socket only when nothing is buffered. */
static int next_request_buffered(conn_rec *c, np_conn_state_t *st)
{
    apr_status_t rv;
    int buffered;

    if (!st->peek) {
        st->peek = apr_brigade_create(c->pool, c->bucket_alloc);
    }
    rv = ap_get_brigade(c->input_filters, st->peek, AP_MODE_SPECULATIVE,
                        APR_NONBLOCK_READ, 1);
    /* Nothing yet (the core says so with an empty brigade, a TLS filter
     * may say EAGAIN): worth the wait. Data, EOF or an error: the MPM
     * sees it at once without us. */
    if (rv == APR_SUCCESS) {
        buffered = !APR_BRIGADE_EMPTY(st->peek);
    }
    else {
        buffered = !APR_STATUS_IS_EAGAIN(rv);
    }
    apr_brigade_cleanup(st->peek);
    return buffered;
}

void np_await_next_request(request_rec *r, np_request_t *rq)
{
    conn_rec *c = r->connection;
    np_conn_state_t *st;
    apr_pollfd_t pfd;
    apr_int32_t n = 0;
    apr_status_t rv;

    if (c->keepalive != AP_CONN_KEEPALIVE || c->aborted) {
        return;
    }
    st = np_conn_state(c, 1);
    if (st->next_skip > 0) {
        st->next_skip--;
        return;
    }
    if (!np_reactor_threads_spare()) {
        return;   /* the MPM may need this thread for another connection */
    }
    /* The response is in the core (after EOS nothing is held above it):
     * write it without blocking; a client that does not take it at once
     * is left to the MPM's write completion. */
    if (!np_write_pending(c) || c->data_in_output_filters) {
        return;
    }
    /* A pipelined request httpd has already read needs no wait. (Not
     * c->data_in_input_filters: while the handler runs, that flag still
     * describes the previous request; httpd sets it after the handler.) */
    if (next_request_buffered(c, st)) {
        return;
    }
    if (!np_reactor_wait_begin()) {
        return;
    }
    pfd.p = r->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = ap_get_conn_socket(c);
    pfd.reqevents = APR_POLLIN;
    pfd.rtnevents = 0;
    pfd.client_data = NULL;
    rv = apr_poll(&pfd, 1, &n, rq->next_wait);
    np_reactor_wait_end();
    if (rv == APR_SUCCESS && n > 0) {
        st->next_misses = 0;
    }
    else if (++st->next_misses >= NP_NEXT_MISSES_MAX) {
        st->next_misses = 0;
        st->next_skip = NP_NEXT_SKIP;
    }
}
