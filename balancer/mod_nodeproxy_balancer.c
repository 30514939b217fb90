/* Glue: choosing a balancer member for a request, and keeping the members'
 * shared state (pending, failures, passive failure) as requests come and go. */
#include <string.h>
#include <sched.h>
#include <apr_strings.h>
#include <apr_atomic.h>
#include <apr_random.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_ssl.h>
#include <ap_provider.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_balancer.h"
#include "np_sticky.h"

APLOG_USE_MODULE(nodeproxy);

/* Every balancer of the current configuration (pconf lifetime). */
static apr_array_header_t *all_balancers;

apr_array_header_t *np_balancers_all(void)
{
    return all_balancers;
}

static apr_status_t all_cleared(void *unused)
{
    all_balancers = NULL;
    return APR_SUCCESS;
}

apr_status_t np_balancers_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                      server_rec *main_s)
{
    apr_hash_t *seen = apr_hash_make(ptemp);
    server_rec *s;

    all_balancers = apr_array_make(pconf, 4, sizeof(np_balancer_t *));
    apr_pool_cleanup_register(pconf, NULL, all_cleared, apr_pool_cleanup_null);
    for (s = main_s; s; s = s->next) {
        np_server_conf_t *sc = np_server_conf(s);
        apr_interval_time_t ka = NP_PICK(sc->backend_keepalive,
                                         NP_DEFAULT_KEEPALIVE);
        apr_hash_index_t *hi;
        for (hi = apr_hash_first(ptemp, sc->balancers); hi;
             hi = apr_hash_next(hi)) {
            np_balancer_t *b = apr_hash_this_val(hi);
            int i;
            if (apr_hash_get(seen, &b, sizeof(b))) {
                continue;   /* the main server's, seen from a vhost */
            }
            apr_hash_set(seen, apr_pmemdup(ptemp, &b, sizeof(b)), sizeof(b), b);
            APR_ARRAY_PUSH(all_balancers, np_balancer_t *) = b;
            for (i = 0; i < b->members->nelts; i++) {
                np_member_t *m = APR_ARRAY_IDX(b->members, i, np_member_t *);
                const char *err = NULL;
                m->backend = np_backend_get(pconf, s, &m->spec.target, ka,
                                            &err);
                if (!m->backend) {
                    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, NPLOGNO(00451)
                                 "nodeproxy(balancer %s, member %s): %s",
                                 b->name, m->spec.target.url, err);
                    return APR_EGENERAL;
                }
            }
        }
    }
    return np_shm_attach(all_balancers, main_s);
}

/* ---- member state ---------------------------------------------------------- */

int np_member_usable(const np_balancer_t *b, const np_member_t *m,
                     apr_time_t now)
{
    return !m->shm->unhealthy
        && !np_member_failed_now((apr_time_t)m->shm->failed_at,
                                 b->fail_timeout, now);
}

/* The balancer's lock: a spin lock in shared memory, held only while a
 * method updates its scores (a few dozen instructions). */
static void lock(np_balancer_t *b)
{
    int spins = 0;
    while (apr_atomic_cas32(&b->shm->lock, 1, 0) != 0) {
        if (++spins > 64) {
            sched_yield();
            spins = 0;
        }
    }
}

static void unlock(np_balancer_t *b)
{
    apr_atomic_set32(&b->shm->lock, 0);
}

static apr_uint32_t random32(void)
{
    /* Per-thread xorshift, seeded from the thread's address and the clock:
     * p2c needs spread, not secrecy. */
    static __thread apr_uint32_t x;
    if (x == 0) {
        x = (apr_uint32_t)(apr_time_now() ^ (apr_uintptr_t)&x) | 1;
    }
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

/* Take m's slot (max=), or count it full. */
static int slot_take(np_member_t *m)
{
    return np_lb_slot_take(&m->shm->pending, (apr_uint32_t)m->spec.max);
}

int np_balancer_has_room(np_balancer_t *b, apr_time_t now)
{
    int i;
    for (i = 0; i < b->members->nelts; i++) {
        np_member_t *m = APR_ARRAY_IDX(b->members, i, np_member_t *);
        if (np_member_usable(b, m, now)
            && (!m->spec.max || apr_atomic_read32(&m->shm->pending)
                                < (apr_uint32_t)m->spec.max)) {
            return 1;
        }
    }
    return 0;
}

static np_member_t *pick_once(request_rec *r, np_balancer_t *b, int *tried,
                              int *sticky_hit, int *full);

/* A member picked from the snapshot may lose its last slot to another
 * child before we take it: then pick again without it (at most once per
 * member). */
np_member_t *np_balancer_pick(request_rec *r, np_balancer_t *b, int *tried,
                              int *sticky_hit, int *full)
{
    int n = b->members->nelts, k;
    int *skip = tried;
    *full = 0;
    for (k = 0; k <= n; k++) {
        np_member_t *m = pick_once(r, b, skip, sticky_hit, full);
        if (!m || slot_take(m)) {
            return m;
        }
        if (skip == tried) {
            skip = apr_pmemdup(r->pool, tried, n * sizeof(int));
        }
        skip[m->index] = 1;
        *full = 1;
    }
    return NULL;
}

static np_member_t *pick_once(request_rec *r, np_balancer_t *b, int *tried,
                              int *sticky_hit, int *full)
{
    int n = b->members->nelts, i, pick;
    np_lb_member_t *lm = apr_palloc(r->pool, n * sizeof(*lm));
    np_lb_state_t *st = apr_palloc(r->pool, n * sizeof(*st));
    apr_time_t now = apr_time_now();
    np_lb_ctx_t ctx;

    *sticky_hit = 0;
    if (b->sticky_cookie) {
        const char *route = np_sticky_cookie_get(r->pool,
                apr_table_get(r->headers_in, "Cookie"), b->sticky_cookie);
        for (i = 0; route && i < n; i++) {
            np_member_t *m = APR_ARRAY_IDX(b->members, i, np_member_t *);
            if (strcmp(m->route, route) == 0) {
                np_lb_state_t one;
                np_member_lb_state(b, m, now, &one);
                /* drain keeps its sticky clients, maint moves them; a
                 * member at its max= is full for them too */
                if (!tried[i] && np_lb_sticky_ok(&one)
                    && (!m->spec.max || apr_atomic_read32(&m->shm->pending)
                                        < (apr_uint32_t)m->spec.max)) {
                    *sticky_hit = 1;
                    return m;
                }
                break;   /* its member is out (or full): re-route, re-set */
            }
        }
    }
    for (i = 0; i < n; i++) {
        np_member_t *m = APR_ARRAY_IDX(b->members, i, np_member_t *);
        np_member_lb_state(b, m, now, &st[i]);
        lm[i].weight = np_member_effective_weight(b, m, now);
        lm[i].pending = apr_atomic_read32(&m->shm->pending);
        lm[i].current = &m->shm->rr_current;
        lm[i].id = m->route;
        lm[i].max = (apr_uint32_t)m->spec.max;
    }
    if (np_lb_mark_eligible(lm, st, tried, n) == 0) {
        return NULL;
    }
    if (b->has_max && np_lb_drop_full(lm, n) == 0) {
        *full = 1;    /* admission control: the request waits */
        return NULL;
    }
    ctx.m = lm;
    ctx.n = n;
    ctx.cursor = &b->shm->cursor;
    ctx.random = random32();
    ctx.client = r->useragent_ip;
    if (b->method->needs_lock) {
        lock(b);
        pick = b->method->pick(&ctx);
        unlock(b);
    }
    else {
        pick = b->method->pick(&ctx);
    }
    return pick < 0 ? NULL : APR_ARRAY_IDX(b->members, pick, np_member_t *);
}

void np_member_end(request_rec *r, np_member_t *m)
{
    apr_atomic_dec32(&m->shm->pending);
}

void np_member_connect_failed(request_rec *r, np_balancer_t *b,
                              np_member_t *m, apr_status_t rv,
                              const char *cause)
{
    apr_time_t now = apr_time_now();
    apr_uint64_t was = m->shm->failed_at;
    apr_atomic_inc64(&m->shm->failures);
    /* Log the transition once, not once per request that hits it. */
    if (apr_atomic_cas64(&m->shm->failed_at, (apr_uint64_t)now, was) == was
        && !np_member_failed_now((apr_time_t)was, b->fail_timeout, now)) {
        m->shm->reason = APR_STATUS_IS_TIMEUP(rv) ? NP_REASON_CONNECT_TIMEOUT
                                                  : NP_REASON_CONNECT_REFUSED;
        m->shm->state_since = (apr_uint64_t)now;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, NPLOGNO(00070)
                      "nodeproxy(balancer %s, member %s): %s, marked failed "
                      "for %" APR_TIME_T_FMT " ms", b->name,
                      m->spec.target.url, cause,
                      apr_time_as_msec(b->fail_timeout));
    }
}

void np_member_answered(np_member_t *m, apr_interval_time_t latency)
{
    apr_uint64_t old = apr_atomic_read64(&m->shm->ewma_us), val;
    apr_atomic_inc64(&m->shm->requests);
    if (latency < 0) {
        latency = 0;
    }
    /* EWMA with alpha 1/8; a lost update under a race is harmless. */
    val = old == 0 ? (apr_uint64_t)latency
        : old - old / 8 + (apr_uint64_t)latency / 8;
    apr_atomic_set64(&m->shm->ewma_us, val);
    apr_atomic_inc64(&m->shm->hist[np_hist_bucket(latency)]);
    apr_atomic_add64(&m->shm->hist_sum_us, (apr_uint64_t)latency);
    if (m->shm->failed_at) {
        /* It answered: it is back, whatever the timer says. */
        np_member_ramp_start(m, apr_time_now());
        apr_atomic_set64(&m->shm->failed_at, 0);
        m->shm->reason = NP_REASON_NONE;
        m->shm->state_since = (apr_uint64_t)apr_time_now();
    }
}

void np_member_request_failed(np_member_t *m)
{
    apr_atomic_inc64(&m->shm->failures);
}

/* ---- runtime admin state (issue 15) ------------------------------------------ */

int np_member_weight(const np_member_t *m)
{
    apr_uint32_t set = apr_atomic_read32(&m->shm->weight_set);
    return set ? (int)set - 1 : m->spec.weight;
}

void np_member_lb_state(const np_balancer_t *b, const np_member_t *m,
                        apr_time_t now, np_lb_state_t *st)
{
    memset(st, 0, sizeof(*st));
    st->failed = np_member_failed_now((apr_time_t)m->shm->failed_at,
                                      b->fail_timeout, now);
    st->unhealthy = m->shm->unhealthy != 0;
    st->standby = m->spec.standby;
    st->admin = (int)apr_atomic_read32(&m->shm->admin);
}

void np_member_ramp_start(np_member_t *m, apr_time_t now)
{
    apr_time_t failed = (apr_time_t)m->shm->failed_at;
    if (failed && m->balancer && failed + m->balancer->fail_timeout < now) {
        /* it has been taking requests since its failure timed out */
        now = failed + m->balancer->fail_timeout;
    }
    apr_atomic_set64(&m->shm->ramp_from, (apr_uint64_t)now);
}

int np_member_effective_weight(const np_balancer_t *b, const np_member_t *m,
                               apr_time_t now)
{
    apr_time_t since = 0;
    if (b->slow_start > 0) {
        apr_time_t failed = (apr_time_t)m->shm->failed_at;
        since = (apr_time_t)apr_atomic_read64(&m->shm->ramp_from);
        /* a passive failure that timed out: usable again since then */
        if (failed && !np_member_failed_now(failed, b->fail_timeout, now)
            && failed + b->fail_timeout > since) {
            since = failed + b->fail_timeout;
        }
    }
    return np_lb_effective_weight(np_member_weight(m), since, b->slow_start,
                                  now);
}

/* ---- providers ----------------------------------------------------------------- */

void np_balancer_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, "nodeproxy_lbmethod", np_lb_least_pending.name,
                         "0", &np_lb_least_pending);
    ap_register_provider(p, "nodeproxy_lbmethod", np_lb_round_robin.name,
                         "0", &np_lb_round_robin);
    ap_register_provider(p, "nodeproxy_lbmethod", np_lb_p2c.name, "0",
                         &np_lb_p2c);
    ap_register_provider(p, "nodeproxy_lbmethod", np_lb_ip_hash.name, "0",
                         &np_lb_ip_hash);
}
