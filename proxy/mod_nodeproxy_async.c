/* Glue: async proxying. A response that Node does not start within
 * NodeAsyncDelay, or whose body pauses (a long-poll, Server-Sent Events, a
 * slow upstream call), waits in the reactor instead of on a worker thread:
 * the handler returns SUSPENDED, the reactor watches the backend socket (and
 * the client's, to notice it leaving), and when Node sends more an MPM
 * worker picks the request up (ap_mpm_register_timed_callback) and relays
 * what is there, suspending again while the body is still trickling.
 *
 * A body that streams in pauses (Server-Sent Events) is relayed by the
 * reactor thread itself when the response's output filters only pass bytes
 * through (plain HTTP/1.1: chunking and the core; np_response_reactor_safe):
 * while suspended the connection belongs to nobody else, and the relay
 * never blocks (non-blocking writes, no flush; a client that falls behind
 * is waited for with POLLOUT, Node meanwhile left unread). Each event then
 * costs a read, a write and a share of the reactor's poll, and both sockets
 * stay registered. Other chains (mod_ssl, mod_deflate, ...) hand each pause
 * to an MPM worker as above. The end of the response goes to a worker too
 * (logging, keep-alive).
 *
 * Apache 2.4 has no way to give a suspended connection back to the MPM:
 * once the response is complete, mod_nodeproxy_keepalive.c keeps the
 * connection alive itself. Responses that come within NodeAsyncDelay keep
 * the synchronous path and pay no hand-off. */
#include <errno.h>
#include <sys/socket.h>
#include <apr_strings.h>
#include <apr_portable.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_relay.h"
#include "mod_nodeproxy_reactor.h"
#include "mod_nodeproxy_children.h"

APLOG_USE_MODULE(nodeproxy);

typedef enum { NP_WAKE_READY, NP_WAKE_TIMEOUT, NP_WAKE_CLIENT_GONE,
               NP_WAKE_DONE /* the reactor relayed the whole body */
} np_wake_e;

typedef struct {
    np_job_t job;                 /* first: the reactor's view of it        */
    request_rec *r;
    np_request_t *rq;
    np_response_t *resp;
    int in_body;                  /* the head has been relayed              */
    int want_write;               /* waiting for the client, not for Node   */
    int suspended;                /* the MPM has let go of the connection   */
    int watch_client;
    int waits;                    /* times it waited without a thread     */
    int relay;                    /* -1: not decided; 1: the reactor relays
                                   * the body (np_response_reactor_safe)  */
    apr_uint32_t relayed;         /* times the reactor relayed body bytes */
    apr_pollfd_t bpfd, cpfd;
    apr_int16_t breq, creq;
    np_wake_e why;
} np_async_t;

static void unwatch(np_async_t *a)
{
    np_reactor_watch(a->job.ps, &a->bpfd, &a->breq, 0);
    np_reactor_watch(a->job.ps, &a->cpfd, &a->creq, 0);
}

static void resume(void *baton);

/* server-status counts the request as waiting from its first wait until
 * its pool goes: every way out (answered, timed out, client gone, child
 * stopping) passes there, and its brief returns to a worker between two
 * waits of a trickling body do not make the count flicker. */
static apr_status_t uncount_waiting(void *data)
{
    (void)data;
    np_child_count(NP_CHILD_WAITING, -1);
    return APR_SUCCESS;
}

/* Off the reactor, onto an MPM worker thread. */
static void wake(np_async_t *a, np_wake_e why)
{
    a->why = why;
    unwatch(a);
    if (why == NP_WAKE_DONE && a->rq->conn) {
        /* Out of the poll set first: a closed socket's number may be
         * reused at once by another thread. */
        np_conn_release(a->rq->conn, a->resp->reusable);
        a->rq->conn = NULL;
    }
    np_reactor_unlink(&a->job);
    if (ap_mpm_register_timed_callback(0, resume, a) != APR_SUCCESS) {
        /* Cannot happen on the event MPM; run it here rather than hang. */
        resume(a);
    }
}

/* Register what the job waits for; a watch that is already right costs
 * nothing (np_reactor_watch compares), so a relayed stream keeps both. */
static void async_adopt(np_job_t *job)
{
    np_async_t *a = (np_async_t *)job;
    if (a->want_write) {
        /* Node waits meanwhile: what it sends stays in its socket. */
        np_reactor_watch(job->ps, &a->bpfd, &a->breq, 0);
        np_reactor_watch(job->ps, &a->cpfd, &a->creq, APR_POLLOUT);
        return;
    }
    /* POLLIN, or what a TLS backend connection waits for. */
    np_reactor_watch(job->ps, &a->bpfd, &a->breq, a->rq->conn->want_recv);
    np_reactor_watch(job->ps, &a->cpfd, &a->creq,
                     a->watch_client ? APR_POLLIN : 0);
}

/* On the reactor thread: relay what Node sent (or what the client can now
 * take) without a worker. */
static void relay(np_async_t *a)
{
    request_rec *r = a->r;
    np_request_t *rq = a->rq;
    apr_time_t deadline;

    a->relayed++;
    if (np_response_pump(r, rq, a->resp, NP_PUMP_REACTOR) != SUSPENDED) {
        wake(a, NP_WAKE_DONE);
        return;
    }
    a->want_write = a->resp->want_write;
    deadline = apr_time_now() + (a->want_write
                                 ? r->connection->base_server->timeout
                                 : rq->timeout);
    if (a->job.deadline && deadline >= a->job.deadline) {
        a->job.deadline = deadline;      /* later: a plain store */
    }
    else {
        np_reactor_set_deadline(&a->job, deadline);
    }
    async_adopt(&a->job);
}

static void async_ready(np_job_t *job, const apr_pollfd_t *pfd)
{
    np_async_t *a = (np_async_t *)job;
    if (a->want_write) {
        /* writable, or gone: the write tells */
        if (a->relay > 0) {
            relay(a);
        }
        else {
            wake(a, NP_WAKE_READY);
        }
        return;
    }
    if (pfd->desc.s == a->cpfd.desc.s) {
        /* The client said something while we wait: gone (EOF, reset), or a
         * pipelined request, which is left for later. */
        apr_os_sock_t fd;
        char byte;
        ssize_t n = -1;
        if (apr_os_sock_get(&fd, a->cpfd.desc.s) == APR_SUCCESS) {
            n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            wake(a, NP_WAKE_CLIENT_GONE);
            return;
        }
        a->watch_client = 0;
        np_reactor_watch(job->ps, &a->cpfd, &a->creq, 0);
        return;
    }
    if (a->relay > 0 && a->in_body) {
        relay(a);
        return;
    }
    wake(a, NP_WAKE_READY);
}

static void async_expired(np_job_t *job)
{
    wake((np_async_t *)job, NP_WAKE_TIMEOUT);
}

static const np_job_ops_t async_ops = { async_adopt, async_ready,
                                        async_expired };

int np_async_wait(request_rec *r, np_request_t *rq, np_response_t *resp,
                  int in_body)
{
    conn_rec *c = r->connection;
    np_async_t *a = rq->async;

    if (!a) {
        a = apr_pcalloc(r->pool, sizeof(*a));
        a->job.ops = &async_ops;
        a->r = r;
        a->rq = rq;
        a->resp = resp;
        a->watch_client = 1;
        a->relay = -1;
        a->bpfd.p = a->cpfd.p = r->pool;
        a->bpfd.desc_type = a->cpfd.desc_type = APR_POLL_SOCKET;
        a->bpfd.client_data = a->cpfd.client_data = a;
        a->cpfd.desc.s = ap_get_conn_socket(c);
        rq->async = a;
        np_child_count(NP_CHILD_WAITING, 1);
        apr_pool_cleanup_register(r->pool, NULL, uncount_waiting,
                                  apr_pool_cleanup_null);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      "nodeproxy(%s): waiting for the %s without a thread",
                      rq->backend->target->url,
                      in_body ? "rest of the body" : "response");
    }
    a->in_body = in_body;
    if (in_body && a->relay < 0) {
        /* Decided once: the filters left after the head do not change. */
        a->relay = np_response_reactor_safe(r);
    }
    /* (Before the head, resp is not set up yet: only a body waits so.) */
    a->want_write = in_body && resp->want_write;
    a->waits++;
    a->bpfd.desc.s = rq->conn->sock;
    /* A client that takes nothing for Timeout is gone, as the core would
     * decide on a blocking write. */
    a->job.deadline = apr_time_now()
                      + (a->want_write ? c->base_server->timeout : rq->timeout);
    if (!a->suspended && !rq->detached) {
        a->suspended = 1;
        np_reactor_suspend(c, &a->job);
    }
    else {
        /* Already let go of by the MPM (a wait before, or the queue). */
        a->suspended = 1;
        np_reactor_leave(c);
        np_reactor_add(&a->job);
    }
    return SUSPENDED;
}

static void finish(np_async_t *a)
{
    np_proxy_set_notes(a->r, a->rq);
    /* For the access log: this request waited without a thread, n times. */
    apr_table_setn(a->r->notes, "nodeproxy-async",
                   apr_itoa(a->r->pool, a->waits));
    /* ... and the reactor relayed this many of its body's reads. */
    apr_table_setn(a->r->notes, "nodeproxy-relayed",
                   apr_psprintf(a->r->pool, "%u", (unsigned)a->relayed));
    np_reactor_finish_connection(a->r);
}

/* On an MPM worker: carry on where the response waited. */
static void resume(void *baton)
{
    np_async_t *a = baton;
    request_rec *r = a->r;
    np_request_t *rq = a->rq;
    int status;

    np_reactor_enter(r->connection);
    if (a->why == NP_WAKE_DONE) {
        finish(a);   /* relayed, backend released: log, keep alive */
        return;
    }
    if (a->why == NP_WAKE_CLIENT_GONE) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00110)
                      "nodeproxy(%s): client went away while the backend was "
                      "still answering", rq->backend->target->url);
        np_conn_release(rq->conn, 0);
        rq->conn = NULL;
        r->connection->aborted = 1;
        finish(a);
        return;
    }
    if (a->why == NP_WAKE_TIMEOUT && a->want_write) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00111)
                      "nodeproxy(%s): the client took nothing for %" APR_TIME_T_FMT
                      " s (Timeout); response cut off",
                      rq->backend->target->url,
                      apr_time_sec(r->connection->base_server->timeout));
        np_conn_release(rq->conn, 0);
        rq->conn = NULL;
        r->connection->aborted = 1;
        finish(a);
        return;
    }
    if (a->why == NP_WAKE_TIMEOUT) {
        if (a->in_body) {
            np_response_timed_out(r, rq, a->resp);
        }
        else {
            np_conn_release(rq->conn, 0);
            rq->conn = NULL;
            rq->cause = apr_psprintf(r->pool, "no response within %"
                                     APR_TIME_T_FMT " ms",
                                     apr_time_as_msec(rq->timeout));
            np_proxy_failed(r, rq, HTTP_GATEWAY_TIME_OUT);
            r->status = HTTP_OK;
            ap_die(HTTP_GATEWAY_TIME_OUT, r);
        }
        finish(a);
        return;
    }
    if (a->in_body) {
        status = np_response_pump(r, rq, a->resp, 1);
        if (status == SUSPENDED) {
            np_async_wait(r, rq, a->resp, 1);
        }
    }
    else {
        status = np_proxy_resume_head(r, rq, a->resp);
    }
    if (status == SUSPENDED) {
        return;   /* back in the reactor */
    }
    if (status != OK && status != DONE) {
        r->status = HTTP_OK;
        ap_die(status, r);
    }
    finish(a);
}
