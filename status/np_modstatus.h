/* Pure: mod_nodeproxy's section of Apache's own server-status page
 * (mod_status' status_hook): per child, what the module holds without a
 * worker thread; per balancer member, state, pending and requests. The
 * HTML section and the `?auto` lines are rendered from the same figures. */
#ifndef NP_MODSTATUS_H
#define NP_MODSTATUS_H

#include <apr_pools.h>
#include "np_status.h"

/* One httpd child, as its counters in shared memory say. */
typedef struct {
    int slot;                 /* scoreboard slot (mod_status' Slot column) */
    apr_uint32_t pid;
    int stopping;             /* old generation, or gracefully stopping    */
    apr_uint32_t waiting;     /* async requests: Node's answer (or the
                               * client's reading) awaited without a thread */
    apr_uint32_t tunnels;     /* WebSocket tunnels open                    */
    apr_uint32_t queued;      /* requests waiting for a free max= slot     */
    apr_uint32_t keepalive;   /* idle keep-alive connections the module
                               * carries (the MPM let go of them)          */
} np_child_count_t;

typedef struct {
    int children;
    apr_uint64_t waiting, tunnels, queued, keepalive;
} np_child_total_t;

/* The sums over n children. */
void np_modstatus_sum(const np_child_count_t *c, int n, np_child_total_t *t);

/* `server-status?auto` lines ("Key: value\n"), totals first:
 *   NodeProxyWaiting, NodeProxyTunnels, NodeProxyQueued,
 *   NodeProxyKeepAlive, NodeProxyChildren, then per child (by slot S)
 *   NodeProxyChild[S]Pid, ...Stopping, ...Waiting, ...Tunnels, ...Queued,
 *   ...KeepAlive, then per balancer I and member J
 *   NodeProxyBalancer[I]Name, NodeProxyBalancer[I]Queued (with max=),
 *   NodeProxyBalancer[I]Member[J]Name, ...State, ...Admin, ...Pending,
 *   ...Requests, ...Failures.
 * st may be NULL (no balancers). */
const char *np_modstatus_auto(apr_pool_t *p, const np_child_count_t *c, int n,
                              const np_status_t *st);

/* The HTML section (a fragment of mod_status' page): tables, or plain
 * lines when notable (server-status?notable). */
const char *np_modstatus_html(apr_pool_t *p, const np_child_count_t *c, int n,
                              const np_status_t *st, int notable);

#endif
