/* Pure: load-balancing methods. Each picks one member for a request from a
 * snapshot of the members' state; the glue registers them as Apache
 * providers (group "nodeproxy_lbmethod") and keeps their state in shared
 * memory. */
#ifndef NP_LB_H
#define NP_LB_H

#include <apr.h>
#include <apr_pools.h>

typedef struct {
    int weight;             /* 1..100                                        */
    apr_uint32_t pending;   /* requests in flight now, in every child        */
    int eligible;           /* may take this request: usable, and the standby
                             * rule applied (np_lb_mark_eligible)            */
    apr_int64_t *current;   /* round-robin: this member's running score      */
    const char *id;         /* ip-hash: stable member id (its route)         */
    apr_uint32_t max;       /* max=N (admission control); 0 = unlimited      */
} np_lb_member_t;

typedef struct {
    np_lb_member_t *m;
    int n;
    apr_uint32_t *cursor;   /* rotates round-robin tie breaks               */
    apr_uint32_t random;    /* p2c: a random number from the caller          */
    const char *client;     /* ip-hash: the client address                   */
} np_lb_ctx_t;

/* A method: returns the chosen member's index, or -1 when none is eligible.
 * Methods that update shared state (current, cursor) say so in
 * needs_lock: the caller holds the balancer's lock around pick(). */
typedef struct {
    const char *name;
    int (*pick)(np_lb_ctx_t *ctx);
    int needs_lock;
} np_lbmethod_t;

extern const np_lbmethod_t np_lb_round_robin;
extern const np_lbmethod_t np_lb_least_pending;
extern const np_lbmethod_t np_lb_p2c;
extern const np_lbmethod_t np_lb_ip_hash;

/* Member states as the balancer sees them. */
typedef struct {
    int failed;        /* connect refused/timed out, within NodeFailTimeout  */
    int unhealthy;     /* active health checks say no                        */
    int standby;       /* used only while no other member is usable          */
} np_lb_state_t;

/* Set eligible[i]: usable non-standby members; when there are none, usable
 * standby members. `skip` (may be NULL) marks members already tried for this
 * request. Returns how many are eligible. */
int np_lb_mark_eligible(np_lb_member_t *m, const np_lb_state_t *st,
                        const int *skip, int n);

/* Admission control (max=N): clear eligible[i] of members that have no
 * free slot (pending >= max, max > 0), so that every method prefers
 * members with room. Returns how many stay eligible; 0 while some were
 * eligible means "all full": the request waits in the queue. */
int np_lb_drop_full(np_lb_member_t *m, int n);

/* Take one of max slots counted by *pending (shared by every child):
 * atomically pending + 1 when pending < max (or max is 0). 1 = taken,
 * 0 = full. The slot is given back by decrementing *pending. */
int np_lb_slot_take(volatile apr_uint32_t *pending, apr_uint32_t max);

/* 64-bit FNV-1a, the hash behind route ids and ip-hash. */
apr_uint64_t np_lb_hash(const char *s, apr_size_t len, apr_uint64_t seed);

#endif
