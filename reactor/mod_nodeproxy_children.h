/* Glue: per-child counts of what the module holds without a worker thread
 * (async requests, tunnels, queued requests, idle keep-alive connections),
 * in shared memory so that whichever child serves server-status sees every
 * child's (mod_nodeproxy_modstatus.c reads them). */
#ifndef MOD_NODEPROXY_CHILDREN_H
#define MOD_NODEPROXY_CHILDREN_H

#include <apr_pools.h>

typedef enum {
    NP_CHILD_WAITING = 0,   /* async requests (mod_nodeproxy_async.c)      */
    NP_CHILD_TUNNELS,       /* WebSocket tunnels open (wstunnel/)         */
    NP_CHILD_QUEUED,        /* waiting for a max= slot (admission/)       */
    NP_CHILD_KEEPALIVE,     /* idle keep-alive connections we carry       */
    NP_CHILD_NCOUNTS
} np_child_count_e;

/* One child's record: one cache line, so children do not share one. */
typedef struct {
    volatile apr_uint32_t pid;           /* owner; 0: none yet            */
    volatile apr_uint32_t count[NP_CHILD_NCOUNTS];
    apr_uint32_t pad[16 - 1 - NP_CHILD_NCOUNTS];
} np_child_shm_t;

/* From any thread of this child: count one up or down. One atomic add on
 * this child's record (no lock, no system call); nothing when the child
 * has no record (its slot was not found at start, logged). Only the
 * requests that go async, tunnel, queue or are kept alive by the module
 * pay it, at those transitions; a plain proxied request pays nothing. */
void np_child_count(np_child_count_e which, int delta);

/* Every record, indexed by scoreboard slot (n = ServerLimit); NULL before
 * post_config. A record is the live child's only when its pid is the one
 * the scoreboard has for that slot. */
np_child_shm_t *np_children_records(int *n);

void np_children_register_hooks(apr_pool_t *p);

#endif
