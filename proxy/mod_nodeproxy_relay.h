/* Glue: one proxied request as it moves through the request path:
 * mapping -> target -> pooled connection -> send -> relay response. */
#ifndef MOD_NODEPROXY_RELAY_H
#define MOD_NODEPROXY_RELAY_H

#include <httpd.h>
#include <apr_buckets.h>
#include "np_map.h"
#include "np_http1.h"
#include "mod_nodeproxy_pool.h"

#define NP_HANDLER "nodeproxy"

/* How many response header lines a backend may send. */
#define NP_MAX_HEADERS 128

/* Set at translate_name, used by the handler. */
typedef struct np_request_t {
    const np_mapping_t *mapping;
    /* Effective settings (mapping keys over per-dir directives). */
    apr_interval_time_t connect_timeout, timeout;
    int preserve_host, forwarded, reverse;
    int websocket;                 /* a WebSocket upgrade, to be forwarded */
    const char *ws_key;            /* the client's Sec-WebSocket-Key       */
    /* The request body read before choosing a connection: replayable on a
     * fresh connection while body_complete is set. */
    apr_bucket_brigade *prefetch;
    apr_off_t prefetch_len;
    int has_body, body_complete, body_chunked;
    /* What is sent, built once, re-sendable. */
    const char *head;
    apr_size_t head_len;
    const char *backend_uri;
    /* The backend in use and what happened on it. */
    np_backend_t *backend;
    np_conn_t *conn;
    const char *cause;             /* why it failed, for the log         */
    apr_status_t connect_rv;       /* why the connection failed          */
    apr_status_t client_rv;        /* why reading the client's body failed */
    apr_time_t started;
    apr_interval_time_t async_delay; /* NP_UNSET: never suspend             */
    apr_interval_time_t next_wait;   /* 0: hand the connection straight back */
    struct np_balancer_t *balancer;  /* the balancer, if the target is one  */
    struct np_member_t *member;      /* the member in use                   */
    int sticky_hit;                  /* chosen by its sticky cookie         */
    int sticky_set;                  /* the proxy sets the sticky cookie on
                                      * this response (Cache-Control private) */
    int attempts;
    void *async;                     /* mod_nodeproxy_async.c's state       */
    /* admission control (admission/) */
    void *queue;                     /* its wait for a max= slot            */
    int detached;                    /* resumed on a worker after the MPM
                                      * let go of the connection (queued) */
    /* Hardening (issue 13): */
    apr_time_t head_deadline;        /* the whole response head by then     */
    int early_answer;                /* the backend answered before it had
                                      * the whole body: sending stopped     */
    int body_deferred;               /* Expect: 100-continue: no body read
                                      * before the backend is connected     */
} np_request_t;

/* Outcomes of one attempt on one connection. */
typedef enum {
    NP_SENT_OK,           /* request sent, response head parsed          */
    NP_CONNECT_FAILED,    /* no connection: 503 / next member            */
    NP_STALE,             /* reused connection closed under us: re-send  */
    NP_SEND_FAILED,       /* backend went away while we sent             */
    NP_CLIENT_BODY_ERROR, /* the client's body was bad or cut: 400       */
    NP_TIMEOUT,           /* no response head in time: 504               */
    NP_WAIT,              /* no response head yet after NodeAsyncDelay:
                           * wait for it without a thread (async)        */
    NP_BAD_RESPONSE       /* garbage, close, bad framing: 502            */
} np_outcome_e;

/* mod_nodeproxy_request.c */
int np_request_prepare(request_rec *r, np_request_t *rq);
/* register_hooks: the request body's chunk-framing check filter. */
void np_request_register_filters(void);
/* mod_nodeproxy_fold.c: notes an obs-fold in a request head
 * (r->notes "nodeproxy-obs-fold"), which httpd would unfold silently. */
void np_fold_register_hooks(apr_pool_t *p);
np_outcome_e np_request_send(request_rec *r, np_request_t *rq);

/* mod_nodeproxy_response.c */
typedef struct np_response_t {
    np_response_head_t head;
    np_header_t hdrs[NP_MAX_HEADERS];
    apr_size_t buffered;     /* bytes in conn->buf                           */
    /* The body relay, kept between pumps so a response can be suspended
     * while Node takes its time and picked up again later. */
    np_body_kind_e kind;
    apr_off_t remaining;     /* NP_BODY_LENGTH: bytes still to come          */
    np_chunk_decoder_t dec;
    int reusable;
    apr_size_t data_off;     /* unrelayed bytes: conn->buf[data_off..+avail] */
    apr_size_t avail;
    apr_bucket_brigade *bb;
    int want_write;          /* suspended until the client can take more */
    int ended;               /* NP_PUMP_REACTOR: over; rq->conn to release */
} np_response_t;
np_outcome_e np_response_read_head(request_rec *r, np_request_t *rq,
                                   np_response_t *resp);
/* Check the framing and set status and headers: OK or HTTP_BAD_GATEWAY. */
int np_response_begin(request_rec *r, np_request_t *rq, np_response_t *resp);
/* Relay body bytes. OK: the response is over (complete, cut off by the
 * backend, or the client left; the connection is released either way).
 * SUSPENDED (only when may_suspend): the backend has nothing more for now
 * and what the client has was flushed: call again when the backend is
 * readable; or, with resp->want_write, the client is not taking what it
 * was given (writes do not block then): call again when it is writable. */
/* After a complete synchronous response (mod_nodeproxy_keepalive.c): send
 * it, then give the client rq->next_wait to send its next request, which
 * the MPM then serves on this thread. */
void np_await_next_request(request_rec *r, np_request_t *rq);

/* Write what the core output filter holds, without blocking; 0 when the
 * client is gone. c->data_in_output_filters says whether some is left. */
int np_write_pending(conn_rec *c);
/* may_suspend: NP_PUMP_BLOCK (0: the synchronous path), NP_PUMP_WORKER (1:
 * an MPM worker that may suspend), or NP_PUMP_REACTOR (2: on the reactor
 * thread, for a suspended response whose output filters pass bytes through
 * (np_response_reactor_safe): never blocks, never flushes, never waits for
 * Node, and yields after a few reads so other jobs get their turn. In that
 * mode an ended response keeps rq->conn (resp->ended set, resp->reusable
 * says whether to pool it): the caller drops its poll watches first, then
 * releases it). */
#define NP_PUMP_BLOCK 0
#define NP_PUMP_WORKER 1
#define NP_PUMP_REACTOR 2
int np_response_pump(request_rec *r, np_request_t *rq, np_response_t *resp,
                     int may_suspend);
/* Can the reactor thread relay this response's body itself? Only when every
 * output filter left on r passes bytes through as they come (HTTP/1.1
 * chunking, the core): a filter that buffers or transforms (mod_deflate,
 * mod_ssl, mod_filter chains, anything unknown) needs the worker path,
 * which flushes and may block. */
int np_response_reactor_safe(request_rec *r);
/* A suspended response whose backend stayed silent past NodeTimeout. */
void np_response_timed_out(request_rec *r, np_request_t *rq,
                           np_response_t *resp);
/* The backend's headers into r->headers_out, minus hop-by-hop ones, with
 * reverse rewriting. */
void np_response_copy_headers(request_rec *r, np_request_t *rq,
                              np_response_t *resp);

/* mod_nodeproxy_handler.c, for the async path: what follows a response
 * head that was waited for; notes; a failure's log line and notes. */
int np_proxy_resume_head(request_rec *r, np_request_t *rq,
                         np_response_t *resp);
void np_proxy_set_notes(request_rec *r, np_request_t *rq);
void np_proxy_failed(request_rec *r, np_request_t *rq, int status);

/* mod_nodeproxy_async.c: wait for the backend without a thread; returns
 * SUSPENDED (the caller returns it too). */
int np_async_wait(request_rec *r, np_request_t *rq, np_response_t *resp,
                  int in_body);

/* mod_nodeproxy_maint.c: while the flag file exists / when nothing can
 * answer: 503 with the maintenance page (or Apache's own 503). */
int np_maint_flag_on(request_rec *r);
int np_maint_respond(request_rec *r);
void np_maint_child_init(apr_pool_t *pchild);

void np_map_register_hooks(apr_pool_t *p);
/* mod_nodeproxy_coexist.c: configtest warns about NodeProxyPass/ProxyPass
 * overlaps (registered by np_map_register_hooks). */
void np_coexist_register_hooks(apr_pool_t *p);
void np_handler_register_hooks(apr_pool_t *p);

#endif
