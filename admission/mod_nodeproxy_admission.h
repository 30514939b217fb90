/* Glue: admission control. Per-member concurrency caps (max=N) with a FIFO
 * queue that holds no worker thread (mod_nodeproxy_queue.c), and
 * per-client request-rate limits (mod_nodeproxy_ratelimit.c). */
#ifndef MOD_NODEPROXY_ADMISSION_H
#define MOD_NODEPROXY_ADMISSION_H

#include <httpd.h>
#include <http_config.h>

#include "mod_nodeproxy_relay.h"
#include "mod_nodeproxy_balancer.h"
#include "np_status.h"

/* Defaults of NodeQueueLimit / NodeQueueTimeout (docs/directives.md). */
#define NP_DEFAULT_QUEUE_LIMIT   100
#define NP_DEFAULT_QUEUE_TIMEOUT apr_time_from_sec(10)
#define NP_QUEUE_LIMIT_MAX       100000

/* Directive handlers (inside <NodeBalancer>), in np_cmds. */
const char *np_queue_limit_cmd(cmd_parms *cmd, void *dconf, const char *arg);
const char *np_queue_timeout_cmd(cmd_parms *cmd, void *dconf,
                                 const char *arg);

/* NodeRateLimit (S V L) and NodeRateLimitStore (S), in np_cmds. */
const char *np_ratelimit_cmd(cmd_parms *cmd, void *dconf, int argc,
                             char *const argv[]);
const char *np_ratelimit_store_cmd(cmd_parms *cmd, void *dconf, int argc,
                                   char *const argv[]);
/* mod_nodeproxy_ratelimit.c's hooks. */
void np_ratelimit_register_hooks(apr_pool_t *p);

/* Before picking a member of a balancer with max= members: a request that
 * is not queued yet joins the queue while others wait (first come, first
 * served). DECLINED: go on and pick; else the handler's status (SUSPENDED,
 * or the 503 already set up). */
int np_queue_gate(request_rec *r, np_request_t *rq, np_response_t *resp);
/* Every eligible member is at its max=: wait in the queue. SUSPENDED
 * (event MPM: the reactor holds the request, the worker is free), the
 * 503 when the queue is full, or (other MPMs, which wait on the thread)
 * DECLINED when it is this request's turn: pick again. */
int np_queue_wait(request_rec *r, np_request_t *rq, np_response_t *resp);
/* A member was picked: a queued request leaves the queue. */
void np_queue_served(request_rec *r, np_request_t *rq);
/* For the status page: b's queue now (NULL when it has none). */
const np_status_queue_t *np_queue_status(apr_pool_t *p, np_balancer_t *b);

/* mod_nodeproxy_handler.c: pick a member again for a request that waited
 * in the queue, on the worker that resumed it; the handler's status. */
int np_proxy_balanced_resume(request_rec *r, np_request_t *rq,
                             np_response_t *resp);

void np_admission_register_hooks(apr_pool_t *p);

#endif
