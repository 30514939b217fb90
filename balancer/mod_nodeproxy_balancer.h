/* Glue: <NodeBalancer> pools, their members' shared state and the choice of
 * a member for each request. */
#ifndef MOD_NODEPROXY_BALANCER_H
#define MOD_NODEPROXY_BALANCER_H

#include <httpd.h>
#include <http_config.h>
#include "np_lb.h"
#include "np_member.h"
#include "np_status.h"
#include "mod_nodeproxy_pool.h"

/* ---- shared memory: one segment for every balancer and member ---------- */

#define NP_SHM_KEY_MAX 192

/* A member's state, seen and updated by every child process. Counters use
 * APR atomics; the round-robin score is changed under the balancer lock. */
typedef struct {
    char key[NP_SHM_KEY_MAX];            /* "NAME|http://127.0.0.1:3001"     */
    volatile apr_uint64_t failed_at;     /* passive failure time, 0 = none   */
    volatile apr_uint32_t unhealthy;     /* active health checks said no     */
    volatile apr_uint32_t pending;       /* requests in flight               */
    volatile apr_uint64_t requests;      /* answered (any status)            */
    volatile apr_uint64_t failures;      /* connect failures, 5xx of ours    */
    volatile apr_uint64_t ewma_us;       /* response-head latency EWMA       */
    volatile apr_uint64_t state_since;   /* when usable/failed last changed  */
    volatile apr_uint32_t reason;        /* np_reason_e: why it is out       */
    volatile apr_uint32_t hc_passes;     /* consecutive good health checks   */
    volatile apr_uint32_t hc_fails;      /* consecutive failed health checks */
    volatile apr_uint32_t hc_status;     /* last check: HTTP status, 0 = none */
    volatile apr_uint64_t hc_last;       /* last check time                  */
    volatile apr_uint64_t hc_total;      /* checks run                       */
    apr_int64_t rr_current;              /* round-robin score (lock held)    */
    volatile apr_uint64_t hist[NP_HIST_N + 1];  /* response-head latency    */
    volatile apr_uint64_t hist_sum_us;
    /* admission control (admission/): with max=N, `pending` above is the
     * member's slot count, global across children: taken with a
     * compare-and-swap below max (np_lb_slot_take) and given back by the
     * request pool's cleanup, so it stays exact on every way out (answer,
     * error, client abort, tunnel end). No field of its own. */
    /* ---- runtime admin state (issue 15: NodeStatusControl, NodeBalancerPersist,
     * NodeSlowStart); kept over a graceful restart with the rest ---- */
    volatile apr_uint32_t admin;         /* np_admin_e: ready, drain, maint  */
    volatile apr_uint32_t weight_set;    /* runtime weight + 1; 0 = configured */
    volatile apr_uint64_t ramp_from;     /* slow start: usable again since (0 = not ramping) */
} np_member_shm_t;

/* Server-wide figures, in the same segment. */
typedef struct {
    volatile apr_uint64_t tunnels_open;  /* WebSocket tunnels open now       */
    volatile apr_uint64_t tunnels_total; /* opened since the server started  */
    apr_uint64_t started;                /* first start (kept over graceful) */
} np_shm_global_t;

typedef struct {
    char name[NP_SHM_KEY_MAX];
    volatile apr_uint32_t lock;          /* spin lock for lb state           */
    apr_uint32_t cursor;                 /* least-pending tie rotation       */
} np_balancer_shm_t;

typedef enum {
    NP_REASON_NONE = 0,
    NP_REASON_CONNECT_REFUSED,
    NP_REASON_CONNECT_TIMEOUT,
    NP_REASON_HEALTH_STATUS,
    NP_REASON_HEALTH_TIMEOUT,
    NP_REASON_HEALTH_CONNECT
} np_reason_e;

/* ---- configuration --------------------------------------------------------- */

typedef struct np_member_t {
    np_member_spec_t spec;
    const char *route;                   /* route= or the stable derived id  */
    np_backend_t *backend;               /* connection pool (per address)    */
    np_member_shm_t *shm;
    int index;
    struct np_balancer_t *balancer;      /* its <NodeBalancer> (issue 15)    */
} np_member_t;

typedef struct np_balancer_t {
    const char *name;
    const char *where;                   /* file:line of <NodeBalancer>      */
    apr_array_header_t *members;         /* np_member_t *                    */
    const np_lbmethod_t *method;
    const char *sticky_cookie;           /* NULL: off                        */
    int retry;                           /* NP_UNSET: every other member once */
    apr_interval_time_t fail_timeout;
    void *hcheck;                        /* NodeHealthCheck settings (hcheck/) */
    np_balancer_shm_t *shm;
    /* admission control (admission/) */
    int queue_limit;                     /* NodeQueueLimit; NP_UNSET        */
    apr_interval_time_t queue_timeout;   /* NodeQueueTimeout; NP_UNSET      */
    int has_max;                         /* some member has max=            */
    void *queue;                         /* np_queue_t in shared memory,
                                          * NULL without max=              */
    apr_interval_time_t slow_start;      /* NodeSlowStart; 0 = off (issue 15) */
} np_balancer_t;

#define NP_DEFAULT_FAIL_TIMEOUT apr_time_from_sec(5)

/* Directive handlers, in np_cmds. */
const char *np_balancer_section(cmd_parms *cmd, void *dconf, const char *arg);
const char *np_balancer_member(cmd_parms *cmd, void *dconf, int argc,
                               char *const argv[]);
const char *np_balancer_method(cmd_parms *cmd, void *dconf, const char *arg);
const char *np_balancer_sticky(cmd_parms *cmd, void *dconf, const char *a1,
                               const char *a2);
const char *np_balancer_retry(cmd_parms *cmd, void *dconf, const char *arg);
const char *np_balancer_fail_timeout(cmd_parms *cmd, void *dconf,
                                     const char *arg);
/* The <NodeBalancer> a directive stands in, or an error message. */
np_balancer_t *np_balancer_enclosing(cmd_parms *cmd, const char **err);

/* A balancer by name, as seen from server s (its own, then the main
 * server's, merged into its table); NULL when none. */
np_balancer_t *np_balancer_find(server_rec *s, const char *name);

/* post_config: members' backends and the shared segment. */
apr_status_t np_balancers_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                      server_rec *main_s);

/* mod_nodeproxy_shm.c: give every balancer and member its slot in the
 * shared segment, carrying state over from the previous generation. */
apr_status_t np_shm_attach(apr_array_header_t *all, server_rec *s);
/* The server-wide figures (never NULL after post_config). */
np_shm_global_t *np_shm_global(void);

/* Every balancer of the configuration (for health checks and status). */
apr_array_header_t *np_balancers_all(void);

/* ---- the request path -------------------------------------------------------- */

/* Choose a member for r: its sticky route when usable (and it has a free
 * max= slot), else the method's pick among usable members not yet tried
 * that have a free slot. The chosen member's slot is taken (its pending
 * count is up: give it back with np_member_end). NULL: none can take it;
 * *full then says whether that is because every eligible member is at
 * its max= (the request may wait in the queue). */
np_member_t *np_balancer_pick(request_rec *r, np_balancer_t *b, int *tried,
                              int *sticky_hit, int *full);
/* Is some usable member of b below its max= now (a cheap look, no slot
 * is taken)? */
int np_balancer_has_room(np_balancer_t *b, apr_time_t now);
/* Bookkeeping around one attempt on a member (np_balancer_pick begins). */
void np_member_end(request_rec *r, np_member_t *m);
void np_member_connect_failed(request_rec *r, np_balancer_t *b,
                              np_member_t *m, apr_status_t rv,
                              const char *cause);
void np_member_answered(np_member_t *m, apr_interval_time_t head_latency);
/* The member timed out or answered garbage (502/504). */
void np_member_request_failed(np_member_t *m);
/* Is the member taking requests now (not failed within NodeFailTimeout,
 * not unhealthy)? */
int np_member_usable(const np_balancer_t *b, const np_member_t *m,
                     apr_time_t now);

/* ---- runtime admin state (issue 15) ------------------------------------------ */

/* The member's weight now: set at runtime (control API), else configured. */
int np_member_weight(const np_member_t *m);
/* Effective weight at now for the lb methods (NP_LB_WEIGHT_SCALE scale):
 * the weight, ramped by NodeSlowStart after the member became usable again. */
int np_member_effective_weight(const np_balancer_t *b, const np_member_t *m,
                               apr_time_t now);
/* Its state as the lb methods see it. */
void np_member_lb_state(const np_balancer_t *b, const np_member_t *m,
                        apr_time_t now, np_lb_state_t *st);
/* Start the slow-start ramp: the member is usable again from now (or from
 * when its passive failure timed out, if that was earlier). */
void np_member_ramp_start(np_member_t *m, apr_time_t now);
/* NodeSlowStart DURATION, in np_cmds. */
const char *np_balancer_slow_start(cmd_parms *cmd, void *dconf,
                                   const char *arg);

void np_balancer_register_hooks(apr_pool_t *p);

#endif
