/* Pure: load-balancing methods. Each picks one member for a request from a
 * snapshot of the members' state; the glue registers them as Apache
 * providers (group "nodeproxy_lbmethod") and keeps their state in shared
 * memory. */
#ifndef NP_LB_H
#define NP_LB_H

#include <apr.h>
#include <apr_pools.h>

typedef struct {
    int weight;             /* relative weight > 0: the glue passes the
                             * effective weight (np_lb_effective_weight, on
                             * the NP_LB_WEIGHT_SCALE scale)                 */
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
    /* runtime admin state (NodeStatusControl): np_admin_e; a member that is
     * not NP_ADMIN_READY, or whose weight is 0, takes no new requests */
    int admin;
} np_lb_state_t;

/* Admin states set at runtime through the status handler's control API.
 * 0 is ready, so a zeroed shared record is a member taking requests. */
typedef enum {
    NP_ADMIN_READY = 0,  /* takes requests                                   */
    NP_ADMIN_DRAIN = 1,  /* no new requests; sticky ones (cookie names it) still go */
    NP_ADMIN_MAINT = 2   /* no requests at all; sticky clients are re-routed  */
} np_admin_e;

/* "ready", "drain", "maint" (NULL for other values); parse: -1 if unknown. */
const char *np_admin_name(int admin);
int np_admin_parse(const char *name);

/* May a request whose sticky cookie names this member go there? It must be
 * usable (not failed, not unhealthy) and not in maint; drain and weight 0
 * still take their sticky clients. */
int np_lb_sticky_ok(const np_lb_state_t *st);

/* Weights as the methods see them: the member's weight (0-100) times
 * NP_LB_WEIGHT_SCALE, so that slow start can give a weight-1 member a
 * tenth of its share. */
#define NP_LB_WEIGHT_SCALE 100

/* NodeSlowStart: the effective weight of a member of `weight` (0-100) that
 * became usable again at `since` (0 = not ramping), for a ramp of `ramp`
 * (0 = slow start off), at `now`: from weight x 10 (a tenth) at `since`,
 * linearly to weight x 100 (full, NP_LB_WEIGHT_SCALE) at since + ramp, and
 * full from then on. Weight 1, ramp 10 s: 10 at 0 s, 55 at 5 s, 100 at
 * 10 s. Never below 1 for a weight above 0; 0 for weight 0. */
int np_lb_effective_weight(int weight, apr_int64_t since, apr_int64_t ramp,
                           apr_int64_t now);

/* Set eligible[i]: usable non-standby members; when there are none, usable
 * standby members. Usable: not failed, not unhealthy, admin state ready and
 * weight (m[i].weight) above 0. `skip` (may be NULL) marks members already tried for this
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
