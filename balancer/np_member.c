/* Pure: NodeMember arguments, NodeBalancerMethod names and member timing. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "np_member.h"
#include "np_sticky.h"

static apr_status_t fail(const char **err, const char *msg)
{
    *err = msg;
    return APR_EINVAL;
}

/* 1..65535 from exactly the digits in [s, e), or 0. */
static long parse_port(const char *s, const char *e)
{
    long v = 0;
    if (s == e) {
        return 0;
    }
    for (; s < e; s++) {
        if (!apr_isdigit(*s) || v > 65535) {
            return 0;
        }
        v = v * 10 + (*s - '0');
    }
    return v <= 65535 ? v : 0;
}

/* Is url an http:// target with a port range? Then *lo..*hi and the parts
 * before and after the range ("http://HOST:" and "[/path]"). Returns -1 when
 * a range is written but bad. */
static int port_range(apr_pool_t *p, const char *url, long *lo, long *hi,
                      const char **head, const char **tail)
{
    const char *auth, *end, *colon, *dash;
    if (strncasecmp(url, "http://", 7) == 0) {
        auth = url + 7;
    }
    else if (strncasecmp(url, "https://", 8) == 0) {
        auth = url + 8;
    }
    else {
        return 0;
    }
    end = auth + strcspn(auth, "/?#");
    if (*auth == '[') {
        const char *rb = memchr(auth, ']', end - auth);
        colon = rb && rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    }
    else {
        colon = memchr(auth, ':', end - auth);
    }
    if (!colon || !(dash = memchr(colon, '-', end - colon))) {
        return 0;
    }
    *lo = parse_port(colon + 1, dash);
    *hi = parse_port(dash + 1, end);
    *head = apr_pstrmemdup(p, url, colon + 1 - url);
    *tail = end;
    return (*lo && *hi && *lo <= *hi) ? 1 : -1;
}

static apr_status_t parse_target(apr_pool_t *p, const char *url,
                                 np_target_t *t, const char **err)
{
    if (np_target_parse(p, url, t, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (t->kind == NP_TARGET_BALANCER) {
        return fail(err, apr_psprintf(p, "member \"%s\" cannot be a balancer: "
                    "use http://HOST:PORT, https://HOST:PORT or "
                    "unix:/path.sock|http://localhost/",
                    url));
    }
    return APR_SUCCESS;
}

apr_status_t np_member_parse(apr_pool_t *p, int argc, const char *const *argv,
                             apr_array_header_t *out, const char **err)
{
    const char *url, *route = NULL, *head = NULL, *tail = NULL, *sni = NULL;
    int weight = 0, standby = 0, i, range;
    long lo = 0, hi = 0, port, max = -1;

    if (argc < 1 || !argv[0] || !*argv[0]) {
        return fail(err, "missing member URL (use http://HOST:PORT, "
                    "http://HOST:P1-P2 or unix:/path.sock|http://localhost/)");
    }
    url = argv[0];
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncasecmp(a, "weight=", 7) == 0) {
            const char *d = a + 7;
            long w = 0;
            if (weight) {
                return fail(err, "weight= is given twice");
            }
            for (; apr_isdigit(*d) && w <= 100; d++) {
                w = w * 10 + (*d - '0');
            }
            if (d == a + 7 || *d || w < 1 || w > 100) {
                return fail(err, apr_psprintf(p, "weight \"%s\" is not valid: "
                            "use a whole number 1-100", a + 7));
            }
            weight = (int)w;
        }
        else if (strncasecmp(a, "max=", 4) == 0) {
            /* admission control: requests in flight at the member */
            const char *d = a + 4;
            long v = 0;
            if (max >= 0) {
                return fail(err, "max= is given twice");
            }
            for (; apr_isdigit(*d) && v <= NP_MEMBER_MAX_MAX; d++) {
                v = v * 10 + (*d - '0');
            }
            if (d == a + 4 || *d || v < 1 || v > NP_MEMBER_MAX_MAX) {
                return fail(err, apr_psprintf(p, "max \"%s\" is not valid: "
                            "use a whole number 1-%d", a + 4,
                            NP_MEMBER_MAX_MAX));
            }
            max = v;
        }
        else if (strcasecmp(a, "standby") == 0) {
            if (standby) {
                return fail(err, "standby is given twice");
            }
            standby = 1;
        }
        else if (strncasecmp(a, "route=", 6) == 0) {
            if (route) {
                return fail(err, "route= is given twice");
            }
            route = a + 6;
            if (np_sticky_check_route(p, route, err) != APR_SUCCESS) {
                return APR_EINVAL;
            }
        }
        else if (strncasecmp(a, "sni=", 4) == 0) {
            if (sni) {
                return fail(err, "sni= is given twice");
            }
            sni = a + 4;
        }
        else {
            return fail(err, apr_psprintf(p, "unknown option \"%s\" (use "
                        "weight=N, standby, route=ID, max=N or sni=NAME)", a));
        }
    }
    if (!weight) {
        weight = 1;
    }

    range = port_range(p, url, &lo, &hi, &head, &tail);
    if (range < 0) {
        return fail(err, apr_psprintf(p, "member \"%s\" has a bad port range "
                    "(use P1-P2 with 1 <= P1 <= P2 <= 65535)", url));
    }
    if (range && hi - lo + 1 > NP_MEMBER_MAX_RANGE) {
        return fail(err, apr_psprintf(p, "member \"%s\": a port range may "
                    "have at most %d ports", url, NP_MEMBER_MAX_RANGE));
    }
    if (range && route) {
        return fail(err, apr_psprintf(p, "member \"%s\": route= cannot be "
                    "used with a port range (routes must be unique)", url));
    }
    if (!range) {
        np_member_spec_t spec;
        if (parse_target(p, url, &spec.target, err) != APR_SUCCESS
            || (sni && np_target_set_sni(p, &spec.target, sni, err)
                       != APR_SUCCESS)) {
            return APR_EINVAL;
        }
        spec.weight = weight;
        spec.standby = standby;
        spec.route = route;
        spec.max = max < 0 ? 0 : (int)max;
        *(np_member_spec_t *)apr_array_push(out) = spec;
        return APR_SUCCESS;
    }
    {
        /* Parse every port first, so nothing is appended on error. */
        np_member_spec_t *specs = apr_pcalloc(p, sizeof(*specs) * (hi - lo + 1));
        for (port = lo; port <= hi; port++) {
            np_member_spec_t *s = &specs[port - lo];
            const char *one = apr_psprintf(p, "%s%ld%s", head, port, tail);
            if (parse_target(p, one, &s->target, err) != APR_SUCCESS
                || (sni && np_target_set_sni(p, &s->target, sni, err)
                           != APR_SUCCESS)) {
                *err = apr_psprintf(p, "member \"%s\": %s", url, *err);
                return APR_EINVAL;
            }
            s->weight = weight;
            s->standby = standby;
            s->route = NULL;
            s->max = max < 0 ? 0 : (int)max;
        }
        for (port = lo; port <= hi; port++) {
            *(np_member_spec_t *)apr_array_push(out) = specs[port - lo];
        }
    }
    return APR_SUCCESS;
}

int np_member_failed_now(apr_time_t failed_at, apr_interval_time_t fail_timeout,
                         apr_time_t now)
{
    return failed_at != 0 && now < failed_at + fail_timeout;
}

const np_lbmethod_t *np_member_method(apr_pool_t *p, const char *name,
                                      const char **err)
{
    static const np_lbmethod_t *const methods[] = {
        &np_lb_least_pending, &np_lb_round_robin, &np_lb_p2c, &np_lb_ip_hash
    };
    size_t i;
    for (i = 0; name && i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcasecmp(name, methods[i]->name) == 0) {
            return methods[i];
        }
    }
    *err = apr_psprintf(p, "unknown balancer method \"%s\" (use "
                        "least-pending, round-robin, p2c or ip-hash)",
                        name ? name : "");
    return NULL;
}
