/* Pure: address lists of re-resolved backend names. */
#include <string.h>
#include <arpa/inet.h>
#include <apr_strings.h>

#include "np_resolve.h"
#include "np_duration.h"

static int addr_eq(const np_addr_t *a, const np_addr_t *b)
{
    return a->family == b->family
        && memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

static int contains(const np_addrs_t *x, const np_addr_t *a)
{
    apr_uint32_t i;
    for (i = 0; i < x->n; i++) {
        if (addr_eq(&x->a[i], a)) {
            return 1;
        }
    }
    return 0;
}

int np_addrs_same(const np_addrs_t *x, const np_addrs_t *y)
{
    apr_uint32_t i;
    if (x->n != y->n) {
        return 0;
    }
    for (i = 0; i < x->n; i++) {
        if (!contains(y, &x->a[i]) || !contains(x, &y->a[i])) {
            return 0;
        }
    }
    return 1;
}

const char *np_addrs_format(apr_pool_t *p, const np_addrs_t *x)
{
    const char *out = NULL;
    apr_uint32_t i;
    for (i = 0; i < x->n && i < NP_RESOLVE_MAX; i++) {
        char buf[64];
        if (!inet_ntop(x->a[i].family == 4 ? AF_INET : AF_INET6, x->a[i].addr,
                       buf, sizeof(buf))) {
            apr_cpystrn(buf, "?", sizeof(buf));
        }
        out = out ? apr_pstrcat(p, out, ", ", buf, NULL) : apr_pstrdup(p, buf);
    }
    return out ? out : "none";
}

np_resolve_event_e np_resolve_record(int *failing, int ok)
{
    if (ok && *failing) {
        *failing = 0;
        return NP_RESOLVE_RECOVERED;
    }
    if (!ok && !*failing) {
        *failing = 1;
        return NP_RESOLVE_NOW_FAILING;
    }
    return NP_RESOLVE_SAME;
}

apr_status_t np_resolve_interval_parse(apr_pool_t *p, const char *s,
                                       apr_interval_time_t *out,
                                       const char **err)
{
    const char *why;
    if (np_duration_parse_p(p, s, out, &why) != APR_SUCCESS) {
        *err = why;
        return APR_EINVAL;
    }
    if (*out != 0 && *out < apr_time_from_sec(1)) {
        *err = apr_psprintf(p, "\"%s\" is too short: use 0 (resolve at start "
                            "only) or at least 1s", s);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
