/* Pure: the nodeproxy-status page in its three formats (HTML, JSON,
 * Prometheus text 0.0.4), rendered from one snapshot of the shared state. */
#ifndef NP_STATUS_H
#define NP_STATUS_H

#include <apr_pools.h>
#include <apr_time.h>

/* Response-time histogram buckets (upper bounds, seconds), Prometheus'
 * defaults; the last bucket (+Inf) is implicit. */
#define NP_HIST_N 11
extern const double np_hist_bounds[NP_HIST_N];
/* Index of the first bucket whose bound >= the latency; NP_HIST_N = +Inf. */
int np_hist_bucket(apr_interval_time_t latency_us);

typedef enum {
    NP_STATE_USABLE = 0,     /* takes requests                              */
    NP_STATE_FAILED,         /* passive: connect failed, within NodeFailTimeout */
    NP_STATE_UNHEALTHY       /* active health checks said no                */
} np_member_state_e;

typedef struct {
    const char *url;              /* member URL as configured               */
    const char *route;            /* sticky route id                        */
    np_member_state_e state;
    const char *reason;           /* why it is out ("connect refused", "health check: status 500", "health check: timed out"), NULL when usable */
    apr_time_t state_since;       /* when state last changed (0 = unknown)  */
    int weight;
    int standby;
    apr_uint32_t pending;
    apr_uint64_t requests;
    apr_uint64_t failures;
    apr_uint64_t ewma_us;         /* response-head latency EWMA, microseconds */
    int hc_enabled;               /* the balancer has NodeHealthCheck        */
    apr_uint32_t hc_status;       /* last check's HTTP status, 0 = none/failed to answer */
    apr_time_t hc_last;           /* time of the last check, 0 = never       */
    apr_uint64_t hc_total;        /* checks run                              */
    apr_uint64_t hist[NP_HIST_N + 1];  /* per bucket counts (not cumulative); [NP_HIST_N] = +Inf */
    apr_uint64_t hist_sum_us;     /* sum of latencies, microseconds          */
    /* admission control: max=N (0 = unlimited); slots in use = pending */
    apr_uint32_t max;
    /* ---- runtime admin state (issue 15); weight above is the weight now */
    const char *admin;            /* "ready", "drain", "maint" (NULL: ready) */
    int configured_weight;        /* NodeMember weight=                      */
    int effective_weight;         /* after slow start, hundredths of a weight */
    /* backend names re-resolved (issue 16) */
    const char *address;          /* address(es) in use ("10.0.3.7"), NULL = not known yet */
} np_status_member_t;

/* Admission control: a balancer's queue of requests waiting for a free
 * max= slot (admission/np_queue.h), as seen now. */
typedef struct {
    apr_uint32_t limit;           /* NodeQueueLimit                          */
    apr_interval_time_t timeout;  /* NodeQueueTimeout                        */
    apr_uint32_t length;          /* waiting now                             */
    apr_uint64_t served;          /* got a slot after waiting, since start   */
    apr_uint64_t timeouts;        /* 503 after NodeQueueTimeout              */
    apr_uint64_t rejected;        /* 503, the queue was full                 */
    apr_uint64_t abandoned;       /* the client left while waiting           */
    apr_uint64_t wait_us;         /* time waited by those served             */
} np_status_queue_t;

typedef struct {
    const char *name;             /* balancer NAME                           */
    const char *method;           /* least-pending, round-robin, ...         */
    const char *sticky_cookie;    /* NULL when off                           */
    int nmembers;
    np_status_member_t *members;
    const np_status_queue_t *queue;  /* NULL: no member has max=         */
} np_status_balancer_t;

typedef struct {
    const char *version;          /* "mod_nodeproxy/0.1.0"                   */
    apr_time_t now;
    apr_time_t started;           /* server start, for uptime                */
    apr_uint64_t tunnels_open;    /* WebSocket tunnels open now              */
    apr_uint64_t tunnels_total;   /* opened since start                      */
    int nbalancers;
    np_status_balancer_t *balancers;
    const char *control_token;    /* NodeStatusControl on: the HTML page's
                                   * forms carry it; NULL: read-only page    */
} np_status_t;

/* Each returns a NUL-terminated document allocated in p. */
const char *np_status_json(apr_pool_t *p, const np_status_t *st);
const char *np_status_prometheus(apr_pool_t *p, const np_status_t *st);
/* refresh > 0 adds <meta http-equiv="refresh" content="N">. */
const char *np_status_html(apr_pool_t *p, const np_status_t *st, int refresh);

/* One member as the JSON object of the status page (the control API
 * answers with it); a JSON string literal (or null). */
const char *np_status_member_json(apr_pool_t *p, const np_status_member_t *m);
const char *np_status_json_string(apr_pool_t *p, const char *s);

/* s with & < > " ' as HTML entities ("" for NULL). */
const char *np_status_html_escape(apr_pool_t *p, const char *s);

const char *np_status_state_name(np_member_state_e s);   /* "usable", "failed", "unhealthy" */

#endif
