/* Pure: per-client request-rate limits (np_ratelimit.h). */
#include <string.h>
#include <apr_atomic.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <sched.h>

#include "np_ratelimit.h"

static apr_status_t fail(const char **err, const char *msg)
{
    *err = msg;
    return APR_EINVAL;
}

/* 1..max from the digits of [s, e), or 0 */
static long number(const char *s, const char *e, long max)
{
    long v = 0;
    if (s == e) {
        return 0;
    }
    for (; s < e; s++) {
        if (!apr_isdigit(*s) || v > max) {
            return 0;
        }
        v = v * 10 + (*s - '0');
    }
    return v <= max ? v : 0;
}

static int token_ok(const char *s)
{
    /* an HTTP field name / cookie name: tchar */
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s)) {
            return 0;
        }
    }
    return 1;
}

apr_status_t np_rl_parse(apr_pool_t *p, int argc, const char *const *argv,
                         np_rl_policy_t *out, const char **err)
{
    int i, have_rate = 0, have_burst = 0, have_key = 0;
    memset(out, 0, sizeof(*out));
    if (argc == 1 && strcasecmp(argv[0], "off") == 0) {
        out->off = 1;
        out->text = "off";
        return APR_SUCCESS;
    }
    if (argc < 1) {
        return fail(err, "missing rate=N/s or rate=N/m (or off)");
    }
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncasecmp(a, "rate=", 5) == 0) {
            const char *slash = strchr(a + 5, '/');
            long n = slash ? number(a + 5, slash, NP_RL_RATE_MAX) : 0;
            if (have_rate) {
                return fail(err, "rate= is given twice");
            }
            if (!n || (strcasecmp(slash + 1, "s") != 0
                       && strcasecmp(slash + 1, "m") != 0)) {
                return fail(err, apr_psprintf(p, "rate \"%s\" is not valid: "
                            "use N/s or N/m with N 1-%d", a + 5,
                            NP_RL_RATE_MAX));
            }
            out->rate = (apr_uint32_t)n;
            out->period = apr_time_from_sec(
                    apr_tolower(slash[1]) == 'm' ? 60 : 1);
            have_rate = 1;
        }
        else if (strncasecmp(a, "burst=", 6) == 0) {
            long n = number(a + 6, a + strlen(a), NP_RL_BURST_MAX);
            if (have_burst) {
                return fail(err, "burst= is given twice");
            }
            if (!n) {
                return fail(err, apr_psprintf(p, "burst \"%s\" is not valid: "
                            "use a whole number 1-%d", a + 6,
                            NP_RL_BURST_MAX));
            }
            out->burst = (apr_uint32_t)n;
            have_burst = 1;
        }
        else if (strncasecmp(a, "key=", 4) == 0) {
            const char *k = a + 4;
            if (have_key) {
                return fail(err, "key= is given twice");
            }
            if (strcasecmp(k, "ip") == 0) {
                out->key = NP_RL_KEY_IP;
            }
            else if (strncasecmp(k, "header:", 7) == 0 && token_ok(k + 7)) {
                out->key = NP_RL_KEY_HEADER;
                out->key_name = apr_pstrdup(p, k + 7);
            }
            else if (strncasecmp(k, "cookie:", 7) == 0 && token_ok(k + 7)) {
                out->key = NP_RL_KEY_COOKIE;
                out->key_name = apr_pstrdup(p, k + 7);
            }
            else {
                return fail(err, apr_psprintf(p, "key \"%s\" is not valid: "
                            "use ip, header:NAME or cookie:NAME", k));
            }
            have_key = 1;
        }
        else if (strcasecmp(a, "off") == 0) {
            return fail(err, "off takes no other arguments");
        }
        else {
            return fail(err, apr_psprintf(p, "unknown argument \"%s\" (use "
                        "rate=N/s|N/m, burst=N, key=ip|header:NAME|"
                        "cookie:NAME, or off)", a));
        }
    }
    if (!have_rate) {
        return fail(err, "missing rate=N/s or rate=N/m");
    }
    if (!have_burst) {
        out->burst = out->rate;
    }
    out->interval = out->period / out->rate;
    if (out->interval < 1) {
        out->interval = 1;
    }
    out->text = apr_psprintf(p, "rate=%u/%c burst=%u key=%s%s%s",
                             (unsigned)out->rate,
                             out->period == apr_time_from_sec(60) ? 'm' : 's',
                             (unsigned)out->burst,
                             out->key == NP_RL_KEY_IP ? "ip"
                             : out->key == NP_RL_KEY_HEADER ? "header"
                             : "cookie",
                             out->key_name ? ":" : "",
                             out->key_name ? out->key_name : "");
    return APR_SUCCESS;
}

void np_rl_result_from(const np_rl_policy_t *pol, int allowed,
                       apr_interval_time_t ahead, np_rl_result_t *res)
{
    apr_interval_time_t cap = (apr_interval_time_t)pol->burst * pol->interval;
    if (ahead < 0) {
        ahead = 0;
    }
    res->allowed = allowed;
    if (allowed) {
        res->remaining = (apr_uint32_t)((cap - ahead) / pol->interval);
        res->retry_after = 0;
        res->reset = ahead;
    }
    else {
        /* ahead: how far tat is beyond now; one more token at
         * tat + T - cap */
        res->remaining = 0;
        res->retry_after = ahead + pol->interval - cap;
        if (res->retry_after < 1) {
            res->retry_after = 1;
        }
        res->reset = ahead;
    }
}

int np_rl_gcra(apr_int64_t *tat, apr_time_t now, const np_rl_policy_t *pol,
               np_rl_result_t *res)
{
    apr_int64_t base = *tat > now ? *tat : now;
    apr_int64_t next = base + pol->interval;
    apr_interval_time_t cap = (apr_interval_time_t)pol->burst * pol->interval;
    if (next - now > cap) {
        np_rl_result_from(pol, 0, base - now, res);
        return 0;
    }
    *tat = next;
    np_rl_result_from(pol, 1, next - now, res);
    return 1;
}

/* ---- the shared-memory table --------------------------------------------------- */

#define LOCKS(t)   ((volatile apr_uint32_t *)((char *)(t) + sizeof(np_rl_table_t)))
#define ENTRIES(t) ((np_rl_entry_t *)((char *)(t) + sizeof(np_rl_table_t) \
                                      + (apr_size_t)(t)->ngroups * 8))

static apr_uint32_t groups_for(apr_uint32_t entries)
{
    apr_uint32_t g = (entries + NP_RL_GROUP - 1) / NP_RL_GROUP;
    return g ? g : 1;
}

apr_size_t np_rl_table_size(apr_uint32_t entries)
{
    apr_size_t g = groups_for(entries);
    return sizeof(np_rl_table_t) + g * 8 + g * NP_RL_GROUP * sizeof(np_rl_entry_t);
}

void np_rl_table_init(np_rl_table_t *t, apr_uint32_t entries)
{
    memset(t, 0, sizeof(*t));
    t->ngroups = groups_for(entries);
    memset((char *)t + sizeof(*t), 0, np_rl_table_size(entries) - sizeof(*t));
}

apr_uint32_t np_rl_table_entries(const np_rl_table_t *t)
{
    return t->ngroups * NP_RL_GROUP;
}

int np_rl_table_take(np_rl_table_t *t, apr_uint64_t key, apr_time_t now,
                     const np_rl_policy_t *pol, np_rl_result_t *res)
{
    apr_uint32_t g;
    volatile apr_uint32_t *lock;
    np_rl_entry_t *e, *use = NULL, *oldest = NULL;
    int i, spins = 0, ok;

    if (key == 0) {
        key = 1;    /* 0 marks an unused entry */
    }
    g = (apr_uint32_t)((key >> 17) % t->ngroups);
    lock = &LOCKS(t)[g * 2];
    e = ENTRIES(t) + (apr_size_t)g * NP_RL_GROUP;
    while (apr_atomic_cas32(lock, 1, 0) != 0) {
        if (++spins > 64) {
            sched_yield();
            spins = 0;
        }
    }
    for (i = 0; i < NP_RL_GROUP; i++) {
        if (e[i].key == key) {
            use = &e[i];
            break;
        }
        if (!oldest || e[i].tat < oldest->tat) {
            oldest = &e[i];
        }
    }
    if (!use) {
        /* a new client: an expired or unused entry if there is one, else
         * the one nearest to expiry (it loses some of its history) */
        use = oldest;
        if (use->key && use->tat > now) {
            apr_atomic_inc64(&t->evictions);
        }
        use->key = key;
        use->tat = 0;
    }
    ok = np_rl_gcra(&use->tat, now, pol, res);
    apr_atomic_set32(lock, 0);
    return ok;
}

/* ---- the answer ------------------------------------------------------------------ */

long np_rl_retry_secs(apr_interval_time_t us)
{
    long s = (long)((us + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
    return s < 1 ? 1 : s;
}

static long ceil_secs0(apr_interval_time_t us)
{
    return us <= 0 ? 0 : (long)((us + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
}

const char *np_rl_policy_header(apr_pool_t *p, const np_rl_policy_t *pol)
{
    apr_interval_time_t fill = (apr_interval_time_t)pol->burst * pol->interval;
    return apr_psprintf(p, "\"nodeproxy\";q=%u;w=%ld", (unsigned)pol->burst,
                        np_rl_retry_secs(fill));
}

const char *np_rl_header(apr_pool_t *p, const np_rl_result_t *res)
{
    return apr_psprintf(p, "\"nodeproxy\";r=%u;t=%ld", (unsigned)res->remaining,
                        ceil_secs0(res->reset));
}

const char *np_rl_json(apr_pool_t *p, long retry_after)
{
    return apr_psprintf(p, "{\"status\":429,\"error\":\"too many requests\","
                        "\"retry_after\":%ld}\n", retry_after);
}

/* ---- Redis ------------------------------------------------------------------------ */

const char np_rl_redis_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local T = tonumber(ARGV[1])\n"
    "local cap = tonumber(ARGV[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "if tat < now then tat = now end\n"
    "local nxt = tat + T\n"
    "if nxt - now > cap then return {0, tat - now} end\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX',"
    " math.floor((nxt - now) / 1000) + 1)\n"
    "return {1, nxt - now}\n";
