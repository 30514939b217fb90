/* Pure: NodeHealthCheck settings and the health state machine. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "np_health.h"
#include "np_duration.h"

static apr_status_t fail(const char **err, const char *msg)
{
    *err = msg;
    return APR_EINVAL;
}

static int parse_uint(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;
    if (!apr_isdigit(*s)) {
        return 0;
    }
    v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) {
        return 0;
    }
    *out = v;
    return 1;
}

/* "200-399", "200", "200,204,300-399" */
static apr_status_t parse_expect(apr_pool_t *p, const char *v, np_hc_conf_t *c,
                                 const char **err)
{
    char *list = apr_pstrdup(p, v), *last, *item;
    c->nranges = 0;
    for (item = apr_strtok(list, ",", &last); item;
         item = apr_strtok(NULL, ",", &last)) {
        char *dash = strchr(item, '-');
        long lo, hi;
        if (dash) {
            *dash = '\0';
        }
        if (c->nranges == NP_HC_MAX_RANGES
            || !parse_uint(item, 100, 599, &lo)
            || !parse_uint(dash ? dash + 1 : item, 100, 599, &hi) || hi < lo) {
            return fail(err, apr_psprintf(p, "expect=\"%s\" is not a status "
                        "or range list (use 200-399, 200,204)", v));
        }
        c->lo[c->nranges] = (int)lo;
        c->hi[c->nranges] = (int)hi;
        c->nranges++;
    }
    if (c->nranges == 0) {
        return fail(err, apr_psprintf(p, "expect=\"%s\" is empty", v));
    }
    return APR_SUCCESS;
}

static apr_status_t parse_duration(apr_pool_t *p, const char *key,
                                   const char *v, apr_interval_time_t *out,
                                   const char **err)
{
    const char *why;
    if (np_duration_parse_p(p, v, out, &why) != APR_SUCCESS) {
        return fail(err, apr_psprintf(p, "%s: %s", key, why));
    }
    if (*out < apr_time_from_msec(100)) {
        return fail(err, apr_psprintf(p, "%s=\"%s\" is too short (at least "
                                      "100ms)", key, v));
    }
    return APR_SUCCESS;
}

static int token_only(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isupper(*s) && *s != '-' && *s != '_') {
            return 0;
        }
    }
    return 1;
}

apr_status_t np_hc_conf_parse(apr_pool_t *p, int argc, const char *const *argv,
                              np_hc_conf_t *c, const char **err)
{
    int i, timeout_set = 0;
    memset(c, 0, sizeof(*c));
    c->method = "GET";
    c->interval = apr_time_from_sec(5);
    c->timeout = apr_time_from_sec(2);
    c->passes = 2;
    c->fails = 3;
    c->nranges = 1;
    c->lo[0] = 200;
    c->hi[0] = 399;
    if (argc < 1) {
        return fail(err, "needs a PATH to request, e.g. /healthz");
    }
    c->path = argv[0];
    if (c->path[0] != '/' || strpbrk(c->path, " \t\r\n#")) {
        return fail(err, apr_psprintf(p, "path \"%s\" must start with '/' and "
                                      "hold no spaces", c->path));
    }
    for (i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const char *key, *v;
        long n;
        if (!eq || eq == argv[i]) {
            return fail(err, apr_psprintf(p, "\"%s\" is not key=value (keys: "
                        "interval, timeout, passes, fails, expect, method)",
                        argv[i]));
        }
        key = apr_pstrmemdup(p, argv[i], eq - argv[i]);
        v = eq + 1;
        if (!strcasecmp(key, "interval")) {
            if (parse_duration(p, key, v, &c->interval, err) != APR_SUCCESS) {
                return APR_EINVAL;
            }
        }
        else if (!strcasecmp(key, "timeout")) {
            if (parse_duration(p, key, v, &c->timeout, err) != APR_SUCCESS) {
                return APR_EINVAL;
            }
            timeout_set = 1;
        }
        else if (!strcasecmp(key, "passes") || !strcasecmp(key, "fails")) {
            if (!parse_uint(v, 1, 100, &n)) {
                return fail(err, apr_psprintf(p, "%s=\"%s\" must be 1-100",
                                              key, v));
            }
            if (!strcasecmp(key, "passes")) {
                c->passes = (unsigned int)n;
            }
            else {
                c->fails = (unsigned int)n;
            }
        }
        else if (!strcasecmp(key, "expect")) {
            if (parse_expect(p, v, c, err) != APR_SUCCESS) {
                return APR_EINVAL;
            }
        }
        else if (!strcasecmp(key, "method")) {
            if (!token_only(v)) {
                return fail(err, apr_psprintf(p, "method=\"%s\" must be an "
                            "upper-case method name such as GET or HEAD", v));
            }
            c->method = v;
        }
        else {
            return fail(err, apr_psprintf(p, "unknown key \"%s\" (keys: "
                        "interval, timeout, passes, fails, expect, method)",
                        key));
        }
    }
    if (c->timeout > c->interval) {
        if (timeout_set) {
            return fail(err, "timeout must not be longer than interval");
        }
        c->timeout = c->interval;   /* the default 2s, shortened */
    }
    return APR_SUCCESS;
}

int np_hc_status_ok(const np_hc_conf_t *c, int status)
{
    int i;
    for (i = 0; i < c->nranges; i++) {
        if (status >= c->lo[i] && status <= c->hi[i]) {
            return 1;
        }
    }
    return 0;
}

np_hc_change_e np_hc_record(np_hc_state_t *st, int passed,
                            const np_hc_conf_t *c)
{
    if (passed) {
        st->fails = 0;
        if (st->passes < 1000000) {
            st->passes++;
        }
        if (st->unhealthy && st->passes >= c->passes) {
            st->unhealthy = 0;
            return NP_HC_NOW_HEALTHY;
        }
        return NP_HC_SAME;
    }
    st->passes = 0;
    if (st->fails < 1000000) {
        st->fails++;
    }
    if (!st->unhealthy && st->fails >= c->fails) {
        st->unhealthy = 1;
        return NP_HC_NOW_UNHEALTHY;
    }
    return NP_HC_SAME;
}
