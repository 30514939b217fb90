/* Pure: the nodeproxy-status page (HTML, JSON, Prometheus text 0.0.4),
 * rendered from one np_status_t snapshot that the glue fills from shm.
 *
 * JSON schema (`?format=json`, Content-Type application/json). Field names
 * are stable; new fields may be added, none renamed or removed.
 *
 * {
 *   "version": "mod_nodeproxy/0.1.0",   string
 *   "now": 1700000000.123,               unix seconds (3 decimals)
 *   "uptime_seconds": 3725,              integer seconds since server start
 *   "websocket": {
 *     "tunnels_open": 2,                 WebSocket tunnels open now
 *     "tunnels_total": 17                tunnels opened since start
 *   },
 *   "balancers": [
 *     {
 *       "name": "app",                   NodeBalancer NAME
 *       "method": "least-pending",       NodeBalancerMethod
 *       "sticky_cookie": "ROUTEID",      cookie name, null when NodeSticky off
 *       "members": [
 *         {
 *           "url": "http://127.0.0.1:3001",   member URL as configured
 *           "address": "127.0.0.1",           address(es) new connections go to, null = not resolved yet
 *           "route": "a1b2c3",                sticky route id (null if none)
 *           "state": "usable",                "usable" | "failed" | "unhealthy"
 *           "reason": null,                   why it is out, null when usable
 *           "state_since": 1699999000.000,    unix seconds of the last state change, null = unknown
 *           "weight": 1,
 *           "standby": false,                 used only while no other member is usable
 *           "pending": 0,                     requests in flight now
 *           "requests": 1234,                 requests sent since start
 *           "failures": 3,                    connect failures since start
 *           "latency_ewma_ms": 12.5,          response-head latency EWMA, ms, 1 decimal
 *           "max": 2,                         max=N (slots; pending = slots in use), null = unlimited
 *           "health": {
 *             "enabled": true,                the balancer has NodeHealthCheck
 *             "last_status": 200,             last check's HTTP status, null = none / no answer
 *             "last_check": 1699999990.000,   unix seconds of the last check, null = never
 *             "checks_total": 42              checks run since start
 *           },
 *           "admin": "ready",                 "ready" | "drain" | "maint" (control API)
 *           "configured_weight": 1,           NodeMember weight= ("weight" is the one in use)
 *           "effective_weight": 1.00,         weight after NodeSlowStart, 2 decimals
 *           "slow_start_percent": 100         effective / weight, 100 when not ramping
 *         }
 *       ],
 *       "queue": {                       null when no member has max=
 *         "limit": 100, "timeout_ms": 10000,  NodeQueueLimit, NodeQueueTimeout
 *         "length": 0,                   requests waiting for a slot now
 *         "served": 7, "timeouts": 0,    left with a slot / with 503 after the timeout
 *         "rejected": 0, "abandoned": 1, 503 because full / the client left
 *         "wait_seconds_total": 1.250    time waited by those served
 *       }
 *     }
 *   ]
 * }
 *
 * Prometheus (`?format=prometheus`, text/plain; version=0.0.4): families
 * nodeproxy_info{version}, nodeproxy_uptime_seconds,
 * nodeproxy_websocket_tunnels_open, nodeproxy_websocket_tunnels_total and,
 * labelled {balancer,member}: nodeproxy_member_up, _pending, _requests_total,
 * _failures_total, _weight, _latency_ewma_seconds, _response_seconds
 * (histogram), nodeproxy_health_checks_total and nodeproxy_member_health_status
 * (the last two only for members whose balancer has NodeHealthCheck),
 * nodeproxy_member_max (max=N, 0 = unlimited) and, labelled {balancer}
 * for balancers with a queue: nodeproxy_queue_length, _limit,
 * _served_total, _timeouts_total, _rejected_total, _abandoned_total,
 * _wait_seconds_total.
 */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "np_status.h"

const double np_hist_bounds[NP_HIST_N] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
/* The same bounds in microseconds (exact boundaries without float error) and
 * as Prometheus `le` label values. */
static const apr_interval_time_t hist_bounds_us[NP_HIST_N] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};
static const char *const hist_le[NP_HIST_N] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1", "2.5", "5", "10"
};

int np_hist_bucket(apr_interval_time_t latency_us)
{
    int i;
    for (i = 0; i < NP_HIST_N; i++) {
        if (latency_us <= hist_bounds_us[i]) {
            return i;
        }
    }
    return NP_HIST_N;
}

const char *np_status_state_name(np_member_state_e s)
{
    switch (s) {
    case NP_STATE_USABLE:    return "usable";
    case NP_STATE_FAILED:    return "failed";
    case NP_STATE_UNHEALTHY: return "unhealthy";
    }
    return "unknown";
}

/* --- output buffer: pieces joined once at the end --------------------------- */

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *parts;
} outbuf_t;

static void out_init(outbuf_t *o, apr_pool_t *p)
{
    o->p = p;
    o->parts = apr_array_make(p, 256, sizeof(const char *));
}

static void out_str(outbuf_t *o, const char *s)
{
    APR_ARRAY_PUSH(o->parts, const char *) = s;
}

#ifdef __GNUC__
static void out_fmt(outbuf_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#endif
static void out_fmt(outbuf_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    out_str(o, apr_pvsprintf(o->p, fmt, ap));
    va_end(ap);
}

static const char *out_done(outbuf_t *o)
{
    return apr_array_pstrcat(o->p, o->parts, 0);
}

/* Escape by a per-byte table: repl(c) returns the replacement or NULL. */
typedef const char *(*esc_fn)(apr_pool_t *p, unsigned char c);

static const char *escape(apr_pool_t *p, const char *s, esc_fn repl)
{
    outbuf_t o;
    const char *run = s, *q;
    if (!s) {
        return "";
    }
    out_init(&o, p);
    for (q = s; *q; q++) {
        const char *r = repl(p, (unsigned char)*q);
        if (r) {
            if (q > run) {
                out_str(&o, apr_pstrmemdup(p, run, (apr_size_t)(q - run)));
            }
            out_str(&o, r);
            run = q + 1;
        }
    }
    if (run == s) {
        return s;
    }
    out_str(&o, run);
    return out_done(&o);
}

static const char *json_repl(apr_pool_t *p, unsigned char c)
{
    if (c == '"') {
        return "\\\"";
    }
    if (c == '\\') {
        return "\\\\";
    }
    if (c < 0x20 || c == 0x7f) {
        return apr_psprintf(p, "\\u%04x", c);
    }
    return NULL;
}

static const char *prom_repl(apr_pool_t *p, unsigned char c)
{
    switch (c) {
    case '\\': return "\\\\";
    case '"':  return "\\\"";
    case '\n': return "\\n";
    }
    return NULL;
}

static const char *html_repl(apr_pool_t *p, unsigned char c)
{
    switch (c) {
    case '&':  return "&amp;";
    case '<':  return "&lt;";
    case '>':  return "&gt;";
    case '"':  return "&quot;";
    case '\'': return "&#39;";
    }
    return NULL;
}

const char *np_status_html_escape(apr_pool_t *p, const char *s)
{
    return escape(p, s, html_repl);
}

/* A JSON string literal, or null for NULL. */
static const char *json_str(apr_pool_t *p, const char *s)
{
    if (!s) {
        return "null";
    }
    return apr_pstrcat(p, "\"", escape(p, s, json_repl), "\"", NULL);
}

/* Unix seconds with milliseconds, or null for 0 (unknown / never). */
static const char *json_time(apr_pool_t *p, apr_time_t t)
{
    if (t <= 0) {
        return "null";
    }
    return apr_psprintf(p, "%" APR_TIME_T_FMT ".%03d", apr_time_sec(t),
                        (int)(apr_time_usec(t) / 1000));
}

static apr_int64_t uptime_sec(const np_status_t *st)
{
    if (st->started <= 0 || st->now <= st->started) {
        return 0;
    }
    return apr_time_sec(st->now - st->started);
}

/* Microseconds as decimal seconds, exact: "0.012500". */
static const char *us_as_sec(apr_pool_t *p, apr_uint64_t us)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06u",
                        us / 1000000, (unsigned)(us % 1000000));
}

/* Microseconds as milliseconds with one decimal, rounded: "12.5". */
static const char *us_as_ms1(apr_pool_t *p, apr_uint64_t us)
{
    apr_uint64_t tenths = (us + 50) / 100;
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%u",
                        tenths / 10, (unsigned)(tenths % 10));
}

/* --- JSON ------------------------------------------------------------------ */

/* Runtime admin state (issue 15): the end of a member's JSON object. */
static int slow_start_percent(const np_status_member_t *m)
{
    if (m->weight <= 0 || m->effective_weight >= m->weight * 100) {
        return 100;
    }
    return m->effective_weight / m->weight;
}

static void json_member_admin(outbuf_t *o, const np_status_member_t *m)
{
    out_fmt(o, "\"admin\":\"%s\",\"configured_weight\":%d,"
            "\"effective_weight\":%d.%02d,\"slow_start_percent\":%d}",
            m->admin ? m->admin : "ready", m->configured_weight,
            m->effective_weight / 100, m->effective_weight % 100,
            slow_start_percent(m));
}

static void json_member(outbuf_t *o, const np_status_member_t *m)
{
    apr_pool_t *p = o->p;
    out_fmt(o, "{\"url\":%s,\"address\":%s,\"route\":%s,\"state\":\"%s\","
            "\"reason\":%s,\"state_since\":%s,\"weight\":%d,\"standby\":%s,",
            json_str(p, m->url), json_str(p, m->address), json_str(p, m->route),
            np_status_state_name(m->state), json_str(p, m->reason),
            json_time(p, m->state_since), m->weight,
            m->standby ? "true" : "false");
    out_fmt(o, "\"pending\":%u,\"requests\":%" APR_UINT64_T_FMT
            ",\"failures\":%" APR_UINT64_T_FMT ",\"latency_ewma_ms\":%s,",
            (unsigned)m->pending, m->requests, m->failures,
            us_as_ms1(p, m->ewma_us));
    out_fmt(o, "\"max\":%s,", m->max ? apr_psprintf(p, "%u", (unsigned)m->max)
                                     : "null");
    out_fmt(o, "\"health\":{\"enabled\":%s,\"last_status\":%s,"
            "\"last_check\":%s,\"checks_total\":%" APR_UINT64_T_FMT "},",
            m->hc_enabled ? "true" : "false",
            m->hc_enabled && m->hc_status
                ? apr_psprintf(p, "%u", (unsigned)m->hc_status) : "null",
            m->hc_enabled ? json_time(p, m->hc_last) : "null",
            m->hc_total);
    json_member_admin(o, m);
}

const char *np_status_member_json(apr_pool_t *p, const np_status_member_t *m)
{
    outbuf_t o;
    out_init(&o, p);
    json_member(&o, m);
    return out_done(&o);
}

const char *np_status_json_string(apr_pool_t *p, const char *s)
{
    return json_str(p, s);
}

static void json_queue(outbuf_t *o, const np_status_queue_t *q)
{
    if (!q) {
        out_str(o, "\"queue\":null");
        return;
    }
    out_fmt(o, "\"queue\":{\"limit\":%u,\"timeout_ms\":%" APR_INT64_T_FMT
            ",\"length\":%u,\"served\":%" APR_UINT64_T_FMT ",\"timeouts\":%"
            APR_UINT64_T_FMT ",\"rejected\":%" APR_UINT64_T_FMT
            ",\"abandoned\":%" APR_UINT64_T_FMT ",\"wait_seconds_total\":%s}",
            (unsigned)q->limit, (apr_int64_t)apr_time_as_msec(q->timeout),
            (unsigned)q->length, q->served, q->timeouts, q->rejected,
            q->abandoned, us_as_sec(o->p, q->wait_us));
}

const char *np_status_json(apr_pool_t *p, const np_status_t *st)
{
    outbuf_t o;
    int b, i;
    out_init(&o, p);
    out_fmt(&o, "{\"version\":%s,\"now\":%s,\"uptime_seconds\":%" APR_INT64_T_FMT
            ",\"websocket\":{\"tunnels_open\":%" APR_UINT64_T_FMT
            ",\"tunnels_total\":%" APR_UINT64_T_FMT "},\"balancers\":[",
            json_str(p, st->version ? st->version : ""),
            st->now > 0 ? json_time(p, st->now) : "0", uptime_sec(st),
            st->tunnels_open, st->tunnels_total);
    for (b = 0; b < st->nbalancers; b++) {
        const np_status_balancer_t *bal = &st->balancers[b];
        out_fmt(&o, "%s\n{\"name\":%s,\"method\":%s,\"sticky_cookie\":%s,\"members\":[",
                b ? "," : "", json_str(p, bal->name ? bal->name : ""),
                json_str(p, bal->method), json_str(p, bal->sticky_cookie));
        for (i = 0; i < bal->nmembers; i++) {
            out_str(&o, i ? ",\n " : "\n ");
            json_member(&o, &bal->members[i]);
        }
        out_str(&o, "],");
        json_queue(&o, bal->queue);
        out_str(&o, "}");
    }
    out_str(&o, "]}\n");
    return out_done(&o);
}

/* --- Prometheus text exposition 0.0.4 --------------------------------------- */

static void prom_family(outbuf_t *o, const char *name, const char *type,
                        const char *help)
{
    out_fmt(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *prom_labels(apr_pool_t *p, const np_status_balancer_t *bal,
                               const np_status_member_t *m)
{
    return apr_pstrcat(p, "balancer=\"", escape(p, bal->name, prom_repl),
                       "\",member=\"", escape(p, m->url, prom_repl), "\"", NULL);
}

typedef enum {
    PM_UP, PM_PENDING, PM_REQUESTS, PM_FAILURES, PM_WEIGHT, PM_EWMA,
    PM_HC_TOTAL, PM_HC_STATUS, PM_MAX
} prom_member_metric_e;

static const struct {
    prom_member_metric_e which;
    const char *name, *type, *help;
    int hc_only;
} prom_member_families[] = {
    { PM_UP, "nodeproxy_member_up", "gauge",
      "1 when the member takes requests (usable), 0 when failed or unhealthy.", 0 },
    { PM_PENDING, "nodeproxy_member_pending", "gauge",
      "Requests in flight to the member.", 0 },
    { PM_REQUESTS, "nodeproxy_member_requests_total", "counter",
      "Requests sent to the member since server start.", 0 },
    { PM_FAILURES, "nodeproxy_member_failures_total", "counter",
      "Connect failures of the member since server start.", 0 },
    { PM_WEIGHT, "nodeproxy_member_weight", "gauge",
      "Weight of the member in use (set at runtime, else configured).", 0 },
    { PM_EWMA, "nodeproxy_member_latency_ewma_seconds", "gauge",
      "Moving average (EWMA) of the member's response-head latency.", 0 },
    { PM_HC_TOTAL, "nodeproxy_health_checks_total", "counter",
      "Active health checks run against the member since server start.", 1 },
    { PM_HC_STATUS, "nodeproxy_member_health_status", "gauge",
      "HTTP status of the member's last health check, 0 when none or no answer.", 1 },
    { PM_MAX, "nodeproxy_member_max", "gauge",
      "max=N: requests the member may have in flight (slots in use: pending); 0 = unlimited.", 0 },
};

static const char *prom_member_value(apr_pool_t *p, prom_member_metric_e which,
                                     const np_status_member_t *m)
{
    switch (which) {
    case PM_UP:        return m->state == NP_STATE_USABLE ? "1" : "0";
    case PM_PENDING:   return apr_psprintf(p, "%u", (unsigned)m->pending);
    case PM_REQUESTS:  return apr_psprintf(p, "%" APR_UINT64_T_FMT, m->requests);
    case PM_FAILURES:  return apr_psprintf(p, "%" APR_UINT64_T_FMT, m->failures);
    case PM_WEIGHT:    return apr_psprintf(p, "%d", m->weight);
    case PM_EWMA:      return us_as_sec(p, m->ewma_us);
    case PM_HC_TOTAL:  return apr_psprintf(p, "%" APR_UINT64_T_FMT, m->hc_total);
    case PM_HC_STATUS: return apr_psprintf(p, "%u", (unsigned)m->hc_status);
    case PM_MAX:       return apr_psprintf(p, "%u", (unsigned)m->max);
    }
    return "0";
}

static void prom_histogram(outbuf_t *o, const np_status_t *st)
{
    apr_pool_t *p = o->p;
    int b, i, k;
    prom_family(o, "nodeproxy_member_response_seconds", "histogram",
                "Response-head latency of the member's requests.");
    for (b = 0; b < st->nbalancers; b++) {
        const np_status_balancer_t *bal = &st->balancers[b];
        for (i = 0; i < bal->nmembers; i++) {
            const np_status_member_t *m = &bal->members[i];
            const char *lab = prom_labels(p, bal, m);
            apr_uint64_t cum = 0;
            for (k = 0; k < NP_HIST_N; k++) {
                cum += m->hist[k];
                out_fmt(o, "nodeproxy_member_response_seconds_bucket{%s,le=\"%s\"} %"
                        APR_UINT64_T_FMT "\n", lab, hist_le[k], cum);
            }
            cum += m->hist[NP_HIST_N];
            out_fmt(o, "nodeproxy_member_response_seconds_bucket{%s,le=\"+Inf\"} %"
                    APR_UINT64_T_FMT "\n", lab, cum);
            out_fmt(o, "nodeproxy_member_response_seconds_sum{%s} %s\n",
                    lab, us_as_sec(p, m->hist_sum_us));
            out_fmt(o, "nodeproxy_member_response_seconds_count{%s} %"
                    APR_UINT64_T_FMT "\n", lab, cum);
        }
    }
}

/* Admission control: one family at a time, a line per balancer with a
 * queue. */
static void prom_queues(outbuf_t *o, const np_status_t *st)
{
    static const struct { const char *name, *type, *help; } fam[] = {
        { "nodeproxy_queue_length", "gauge",
          "Requests waiting for a free max= slot of the balancer now." },
        { "nodeproxy_queue_limit", "gauge", "NodeQueueLimit of the balancer." },
        { "nodeproxy_queue_served_total", "counter",
          "Requests that got a slot after waiting, since server start." },
        { "nodeproxy_queue_timeouts_total", "counter",
          "Requests answered 503 after NodeQueueTimeout, since server start." },
        { "nodeproxy_queue_rejected_total", "counter",
          "Requests answered 503 because the queue was full, since server start." },
        { "nodeproxy_queue_abandoned_total", "counter",
          "Clients that went away while waiting, since server start." },
        { "nodeproxy_queue_wait_seconds_total", "counter",
          "Time waited in the queue by the requests served, since server start." },
    };
    apr_pool_t *p = o->p;
    size_t f;
    int b, any = 0;
    for (b = 0; b < st->nbalancers; b++) {
        any |= st->balancers[b].queue != NULL;
    }
    for (f = 0; any && f < sizeof(fam) / sizeof(fam[0]); f++) {
        prom_family(o, fam[f].name, fam[f].type, fam[f].help);
        for (b = 0; b < st->nbalancers; b++) {
            const np_status_queue_t *q = st->balancers[b].queue;
            const char *v;
            if (!q) {
                continue;
            }
            switch (f) {
            case 0:  v = apr_psprintf(p, "%u", (unsigned)q->length); break;
            case 1:  v = apr_psprintf(p, "%u", (unsigned)q->limit); break;
            case 2:  v = apr_psprintf(p, "%" APR_UINT64_T_FMT, q->served); break;
            case 3:  v = apr_psprintf(p, "%" APR_UINT64_T_FMT, q->timeouts); break;
            case 4:  v = apr_psprintf(p, "%" APR_UINT64_T_FMT, q->rejected); break;
            case 5:  v = apr_psprintf(p, "%" APR_UINT64_T_FMT, q->abandoned); break;
            default: v = us_as_sec(p, q->wait_us); break;
            }
            out_fmt(o, "%s{balancer=\"%s\"} %s\n", fam[f].name,
                    escape(p, st->balancers[b].name, prom_repl), v);
        }
    }
}

/* Runtime admin state (issue 15): one 0/1 series per state, and the
 * effective weight. */
static void prom_admin(outbuf_t *o, const np_status_t *st)
{
    static const char *const states[] = { "ready", "drain", "maint" };
    apr_pool_t *p = o->p;
    int b, i;
    size_t k;
    prom_family(o, "nodeproxy_member_admin_state", "gauge",
                "1 for the member's admin state (ready, drain, maint), 0 for the others.");
    for (b = 0; b < st->nbalancers; b++) {
        const np_status_balancer_t *bal = &st->balancers[b];
        for (i = 0; i < bal->nmembers; i++) {
            const np_status_member_t *m = &bal->members[i];
            const char *cur = m->admin ? m->admin : "ready";
            for (k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
                out_fmt(o, "nodeproxy_member_admin_state{%s,state=\"%s\"} %d\n",
                        prom_labels(p, bal, m), states[k],
                        strcmp(cur, states[k]) == 0);
            }
        }
    }
    prom_family(o, "nodeproxy_member_effective_weight", "gauge",
                "Weight the balancer uses now (the weight, ramped by NodeSlowStart).");
    for (b = 0; b < st->nbalancers; b++) {
        const np_status_balancer_t *bal = &st->balancers[b];
        for (i = 0; i < bal->nmembers; i++) {
            const np_status_member_t *m = &bal->members[i];
            out_fmt(o, "nodeproxy_member_effective_weight{%s} %d.%02d\n",
                    prom_labels(p, bal, m), m->effective_weight / 100,
                    m->effective_weight % 100);
        }
    }
}

const char *np_status_prometheus(apr_pool_t *p, const np_status_t *st)
{
    outbuf_t o;
    size_t f;
    int b, i;
    out_init(&o, p);

    prom_family(&o, "nodeproxy_info", "gauge",
                "Always 1; the version label names the running module.");
    out_fmt(&o, "nodeproxy_info{version=\"%s\"} 1\n",
            escape(p, st->version ? st->version : "", prom_repl));
    prom_family(&o, "nodeproxy_uptime_seconds", "gauge",
                "Seconds since the server started.");
    out_fmt(&o, "nodeproxy_uptime_seconds %" APR_INT64_T_FMT "\n", uptime_sec(st));
    prom_family(&o, "nodeproxy_websocket_tunnels_open", "gauge",
                "WebSocket tunnels open now.");
    out_fmt(&o, "nodeproxy_websocket_tunnels_open %" APR_UINT64_T_FMT "\n",
            st->tunnels_open);
    prom_family(&o, "nodeproxy_websocket_tunnels_total", "counter",
                "WebSocket tunnels opened since server start.");
    out_fmt(&o, "nodeproxy_websocket_tunnels_total %" APR_UINT64_T_FMT "\n",
            st->tunnels_total);

    for (f = 0; f < sizeof(prom_member_families) / sizeof(prom_member_families[0]); f++) {
        prom_family(&o, prom_member_families[f].name, prom_member_families[f].type,
                    prom_member_families[f].help);
        for (b = 0; b < st->nbalancers; b++) {
            const np_status_balancer_t *bal = &st->balancers[b];
            for (i = 0; i < bal->nmembers; i++) {
                const np_status_member_t *m = &bal->members[i];
                if (prom_member_families[f].hc_only && !m->hc_enabled) {
                    continue;
                }
                out_fmt(&o, "%s{%s} %s\n", prom_member_families[f].name,
                        prom_labels(p, bal, m),
                        prom_member_value(p, prom_member_families[f].which, m));
            }
        }
    }
    prom_histogram(&o, st);
    prom_queues(&o, st);
    prom_admin(&o, st);
    return out_done(&o);
}

/* --- HTML ------------------------------------------------------------------ */

/* "0s", "45s", "1m 5s", "2h 3m", "4d 1h": two units are enough to read. */
static const char *human_duration(apr_pool_t *p, apr_int64_t s)
{
    if (s < 0) {
        s = 0;
    }
    if (s < 60) {
        return apr_psprintf(p, "%ds", (int)s);
    }
    if (s < 3600) {
        return apr_psprintf(p, "%dm %ds", (int)(s / 60), (int)(s % 60));
    }
    if (s < 86400) {
        return apr_psprintf(p, "%dh %dm", (int)(s / 3600), (int)(s % 3600 / 60));
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT "d %dh", s / 86400,
                        (int)(s % 86400 / 3600));
}

static apr_int64_t ago_sec(const np_status_t *st, apr_time_t t)
{
    return st->now > t ? apr_time_sec(st->now - t) : 0;
}

static const char *html_css =
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;"
    "margin:1em;color:#222;background:#fff}"
    "h1{font-size:1.4em;margin:0 0 .4em}h2{font-size:1.15em;margin:1.4em 0 .3em}"
    "p{margin:.3em 0}.meta{color:#555}"
    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}"
    "table{border-collapse:collapse;font-size:.9em}"
    "th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;"
    "white-space:nowrap;vertical-align:top}"
    "th{background:#f2f2f2}td.n{text-align:right}"
    ".usable{color:#176b26;font-weight:bold}"
    ".failed,.unhealthy{color:#b00020;font-weight:bold}"
    ".tag{font-size:.8em;background:#eee;border-radius:3px;padding:0 .3em}"
    ".admin-drain{color:#8a5a00;font-weight:bold}.admin-maint{color:#b00020;font-weight:bold}"
    "small{color:#666}";

/* Runtime admin state (issue 15): the admin and effective-weight cells,
 * and with NodeStatusControl on, the member's buttons and weight field. */
static void html_member_admin(outbuf_t *o, const np_status_t *st,
                              const np_status_balancer_t *bal,
                              const np_status_member_t *m)
{
    apr_pool_t *p = o->p;
    const char *admin = m->admin ? m->admin : "ready";
    int pct = slow_start_percent(m);
    out_fmt(o, "<td><span class=\"admin-%s\">%s</span></td>", admin, admin);
    out_fmt(o, "<td class=\"n\">%d.%02d%s</td>", m->effective_weight / 100,
            m->effective_weight % 100,
            pct < 100 ? apr_psprintf(p, " <small>slow start %d%%</small>", pct)
                      : "");
    if (st->control_token) {
        const char *b = escape(p, bal->name, html_repl);
        const char *u = escape(p, m->url, html_repl);
        out_fmt(o, "<td><form method=\"post\" class=\"np-ctl\">"
                "<input type=\"hidden\" name=\"token\" value=\"%s\">"
                "<input type=\"hidden\" name=\"balancer\" value=\"%s\">"
                "<input type=\"hidden\" name=\"member\" value=\"%s\">",
                escape(p, st->control_token, html_repl), b, u);
        out_str(o, "<button name=\"action\" value=\"ready\">ready</button> "
                "<button name=\"action\" value=\"drain\">drain</button> "
                "<button name=\"action\" value=\"maint\">maint</button> ");
        out_fmt(o, "<input name=\"weight\" size=\"3\" value=\"%d\" "
                "aria-label=\"weight\"> <button name=\"action\" "
                "value=\"weight\">set weight</button></form></td>", m->weight);
    }
}

static void html_member(outbuf_t *o, const np_status_t *st,
                        const np_status_balancer_t *bal,
                        const np_status_member_t *m)
{
    apr_pool_t *p = o->p;
    const char *state = np_status_state_name(m->state);
    const char *hc;

    out_fmt(o, "<tr data-member=\"%s\"><td>%s", escape(p, m->url, html_repl),
            escape(p, m->url, html_repl));
    if (m->address) {
        out_fmt(o, " <small>at %s</small>", escape(p, m->address, html_repl));
    }
    if (m->route && *m->route) {
        out_fmt(o, " <small>route %s</small>", escape(p, m->route, html_repl));
    }
    if (m->standby) {
        out_str(o, " <span class=\"tag\">standby</span>");
    }
    out_fmt(o, "</td><td><span class=\"%s\">%s</span>", state, state);
    if (m->state_since > 0) {
        out_fmt(o, " <small>for %s</small>",
                human_duration(p, ago_sec(st, m->state_since)));
    }
    out_fmt(o, "</td><td>%s</td>", m->reason ? escape(p, m->reason, html_repl) : "");

    if (!m->hc_enabled) {
        hc = "off";
    }
    else if (m->hc_last <= 0) {
        hc = "never";
    }
    else {
        hc = apr_psprintf(p, "%s, %s ago",
                          m->hc_status ? apr_psprintf(p, "%u", (unsigned)m->hc_status)
                                       : "no answer",
                          human_duration(p, ago_sec(st, m->hc_last)));
    }
    out_fmt(o, "<td class=\"n\">%d</td><td class=\"n\">%u%s</td>"
            "<td class=\"n\">%" APR_UINT64_T_FMT "</td>"
            "<td class=\"n\">%" APR_UINT64_T_FMT "</td>"
            "<td class=\"n\">%s</td><td>%s</td>",
            m->weight, (unsigned)m->pending,
            m->max ? apr_psprintf(p, " <small>of max %u</small>",
                                  (unsigned)m->max) : "",
            m->requests, m->failures, us_as_ms1(p, m->ewma_us), hc);
    html_member_admin(o, st, bal, m);
    out_str(o, "</tr>\n");
}

static void html_balancer(outbuf_t *o, const np_status_t *st,
                          const np_status_balancer_t *bal)
{
    apr_pool_t *p = o->p;
    int i;
    out_fmt(o, "<h2>Balancer %s</h2>\n<p class=\"meta\">method %s &middot; "
            "sticky cookie %s</p>\n",
            escape(p, bal->name, html_repl),
            bal->method ? escape(p, bal->method, html_repl) : "?",
            bal->sticky_cookie ? escape(p, bal->sticky_cookie, html_repl) : "off");
    if (bal->queue) {
        const np_status_queue_t *q = bal->queue;
        out_fmt(o, "<p class=\"meta\">queue: %u waiting (limit %u, timeout %s"
                " s) &middot; %" APR_UINT64_T_FMT " served after %s s in all"
                " &middot; %" APR_UINT64_T_FMT " timed out &middot; %"
                APR_UINT64_T_FMT " refused (full) &middot; %" APR_UINT64_T_FMT
                " left</p>\n", (unsigned)q->length, (unsigned)q->limit,
                us_as_sec(p, (apr_uint64_t)q->timeout), q->served,
                us_as_sec(p, q->wait_us), q->timeouts, q->rejected,
                q->abandoned);
    }
    out_fmt(o, "<div class=\"scroll\"><table>\n<thead><tr><th>member</th>"
            "<th>state</th><th>why</th><th>weight</th><th>pending</th>"
            "<th>requests</th><th>failures</th><th>latency (ms)</th>"
            "<th>last health check</th><th>admin</th><th>effective weight</th>%s"
            "</tr></thead>\n<tbody>\n", st->control_token ? "<th>control</th>" : "");
    for (i = 0; i < bal->nmembers; i++) {
        html_member(o, st, bal, &bal->members[i]);
    }
    if (bal->nmembers == 0) {
        out_fmt(o, "<tr><td colspan=\"%d\">no members</td></tr>\n",
                st->control_token ? 12 : 11);
    }
    out_str(o, "</tbody></table></div>\n");
}

const char *np_status_html(apr_pool_t *p, const np_status_t *st, int refresh)
{
    outbuf_t o;
    int b;
    out_init(&o, p);
    out_str(&o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    if (refresh > 0) {
        out_fmt(&o, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh);
    }
    out_fmt(&o, "<title>mod_nodeproxy status</title>\n<style>%s</style>\n"
            "</head><body>\n<h1>mod_nodeproxy status</h1>\n", html_css);
    out_fmt(&o, "<p>Version: %s</p>\n<p>Uptime: %s</p>\n",
            escape(p, st->version ? st->version : "", html_repl),
            human_duration(p, uptime_sec(st)));
    if (st->now > 0) {
        char date[APR_RFC822_DATE_LEN];
        if (apr_rfc822_date(date, st->now) == APR_SUCCESS) {
            out_fmt(&o, "<p>Current time: %s</p>\n", date);
        }
    }
    out_fmt(&o, "<p>WebSocket tunnels: %" APR_UINT64_T_FMT " open, %"
            APR_UINT64_T_FMT " since start</p>\n", st->tunnels_open, st->tunnels_total);
    for (b = 0; b < st->nbalancers; b++) {
        html_balancer(&o, st, &st->balancers[b]);
    }
    if (st->nbalancers == 0) {
        out_str(&o, "<p>No balancers configured.</p>\n");
    }
    out_str(&o, "</body></html>\n");
    return out_done(&o);
}
