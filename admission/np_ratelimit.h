/* Pure: per-client request-rate limits (NodeRateLimit).
 *
 * The token bucket is kept as GCRA (the generic cell rate algorithm):
 * one number per client, the "theoretical arrival time" tat. With an
 * emission interval T = period / rate and a bucket of `burst` tokens, a
 * request at `now` is allowed when max(tat, now) + T - now <= burst * T,
 * and then tat becomes max(tat, now) + T. A client idle long enough has
 * tat <= now: a full bucket, the same as no entry at all, so entries
 * expire by themselves and one 64-bit value per client is all a store
 * (shared memory, Redis) keeps. Worked example, rate=2/s (T = 500 ms),
 * burst=3, requests at t = 0, 0, 0, 0, 0.6 s:
 *
 *   t     tat before  new tat  new - t  <= 1.5 s?  remaining
 *   0     0           0.5      0.5      yes        2
 *   0     0.5         1.0      1.0      yes        1
 *   0     1.0         1.5      1.5      yes        0
 *   0     1.5         2.0      2.0      no: 429, Retry-After 0.5 s
 *   0.6   1.5         2.0      1.4      yes        0
 */
#ifndef NP_RATELIMIT_H
#define NP_RATELIMIT_H

#include <apr.h>
#include <apr_pools.h>
#include <apr_time.h>

typedef enum { NP_RL_KEY_IP = 0, NP_RL_KEY_HEADER, NP_RL_KEY_COOKIE } np_rl_key_e;

typedef struct {
    int off;                      /* NodeRateLimit off                     */
    apr_uint32_t rate;            /* requests per period                   */
    apr_interval_time_t period;   /* 1 s (N/s) or 60 s (N/m)               */
    apr_uint32_t burst;           /* bucket size (default: rate)           */
    apr_interval_time_t interval; /* T = period / rate, microseconds       */
    np_rl_key_e key;
    const char *key_name;         /* header or cookie name                 */
    const char *text;             /* "rate=10/s burst=20 key=ip" (for ids) */
} np_rl_policy_t;

typedef struct {
    int allowed;
    apr_uint32_t remaining;       /* tokens left after this request        */
    apr_interval_time_t retry_after; /* rejected: until one token is back  */
    apr_interval_time_t reset;    /* until the bucket is full again        */
} np_rl_result_t;

#define NP_RL_RATE_MAX  1000000
#define NP_RL_BURST_MAX 1000000

/* Parse `NodeRateLimit rate=N/s|N/m [burst=N] [key=ip|header:NAME|
 * cookie:NAME]` or `off` (argv excludes the directive name). */
apr_status_t np_rl_parse(apr_pool_t *p, int argc, const char *const *argv,
                         np_rl_policy_t *out, const char **err);

/* One GCRA step on *tat (in/out) at now. Returns res->allowed. */
int np_rl_gcra(apr_int64_t *tat, apr_time_t now, const np_rl_policy_t *pol,
               np_rl_result_t *res);

/* From a store that did the step itself (Redis): the result, given
 * whether it was allowed and new_tat - now (allowed) or tat - now. */
void np_rl_result_from(const np_rl_policy_t *pol, int allowed,
                       apr_interval_time_t ahead, np_rl_result_t *res);

/* ---- the shared-memory table ------------------------------------------------
 * A fixed number of entries in groups of NP_RL_GROUP, each group with its
 * own spin lock; a key lives in the group its hash picks. A full group
 * reuses an expired entry (tat <= now), else the one closest to expiry:
 * the table never grows and needs no sweeping. */
#define NP_RL_GROUP 8

typedef struct {
    apr_uint64_t key;             /* 0: never used                         */
    apr_int64_t tat;
} np_rl_entry_t;

typedef struct {
    apr_uint32_t ngroups;
    volatile apr_uint32_t flags;  /* for the glue: a Redis outage is being
                                   * logged (once for all children)      */
    volatile apr_uint64_t evictions;  /* live entries pushed out (full)   */
    /* then ngroups lock words (apr_uint32_t, padded to 8 bytes) and
     * ngroups * NP_RL_GROUP entries */
} np_rl_table_t;

/* Bytes for a table of at least `entries` entries (rounded up to a
 * whole number of groups). */
apr_size_t np_rl_table_size(apr_uint32_t entries);
void np_rl_table_init(np_rl_table_t *t, apr_uint32_t entries);
apr_uint32_t np_rl_table_entries(const np_rl_table_t *t);
/* The GCRA step for key (a 64-bit hash of policy and client) under its
 * group's lock. */
int np_rl_table_take(np_rl_table_t *t, apr_uint64_t key, apr_time_t now,
                     const np_rl_policy_t *pol, np_rl_result_t *res);

/* ---- the answer ---------------------------------------------------------------
 * IETF draft-ietf-httpapi-ratelimit-headers (structured fields):
 *   RateLimit-Policy: "nodeproxy";q=BURST;w=SECONDS
 *   RateLimit: "nodeproxy";r=REMAINING;t=SECONDS
 * w: time the bucket takes to fill from empty; t: until it is full. */
const char *np_rl_policy_header(apr_pool_t *p, const np_rl_policy_t *pol);
const char *np_rl_header(apr_pool_t *p, const np_rl_result_t *res);
/* Whole seconds for Retry-After: rounded up, at least 1. */
long np_rl_retry_secs(apr_interval_time_t us);
const char *np_rl_json(apr_pool_t *p, long retry_after);

/* The Lua script that runs the GCRA step inside Redis (atomic; Redis'
 * own clock, so every Apache of a fleet agrees): KEYS[1] the client's key,
 * ARGV[1] T and ARGV[2] burst * T in microseconds. Returns {allowed,
 * ahead}: as np_rl_result_from takes them. The key expires when the
 * bucket is full again. */
extern const char np_rl_redis_script[];

#endif
