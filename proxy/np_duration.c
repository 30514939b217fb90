/* np_duration.c — duration parsing. See np_duration.h. */
#include <apr_strings.h>
#include <apr_cstr.h>

#include "np_duration.h"

#define NP_DURATION_HINT "(use 500ms, 5s, 2m)"

typedef enum {
    DUR_OK,
    DUR_SYNTAX,
    DUR_TOO_LARGE
} dur_result_e;

/* Microseconds per unit for a suffix, 0 for an unknown one. */
static apr_int64_t unit_usec(const char *suffix)
{
    if (*suffix == '\0' || apr_cstr_casecmp(suffix, "s") == 0) {
        return APR_USEC_PER_SEC;
    }
    if (apr_cstr_casecmp(suffix, "ms") == 0) {
        return 1000;
    }
    if (apr_cstr_casecmp(suffix, "m") == 0) {
        return 60 * APR_USEC_PER_SEC;
    }
    return 0;
}

static dur_result_e parse(const char *s, apr_interval_time_t *out)
{
    apr_int64_t n = 0, unit;
    const char *c = s;

    if (s == NULL || *s < '0' || *s > '9') {
        return DUR_SYNTAX;      /* also catches "", "-5", "+5", " 5" */
    }
    for (; *c >= '0' && *c <= '9'; c++) {
        /* Saturate instead of overflowing: the syntax is still checked
         * below, so "99999999999999999999x" is a syntax error. */
        if (n <= NP_DURATION_MAX) {
            n = n * 10 + (*c - '0');
        }
    }
    unit = unit_usec(c);
    if (unit == 0) {
        return DUR_SYNTAX;
    }
    if (n > NP_DURATION_MAX / unit) {
        return DUR_TOO_LARGE;
    }
    *out = n * unit;
    return DUR_OK;
}

apr_status_t np_duration_parse(const char *s, apr_interval_time_t *out,
                               const char **err)
{
    switch (parse(s, out)) {
    case DUR_OK:
        return APR_SUCCESS;
    case DUR_TOO_LARGE:
        *err = "duration too large (at most 1 year)";
        return APR_EINVAL;
    default:
        *err = "not a duration " NP_DURATION_HINT;
        return APR_EINVAL;
    }
}

apr_status_t np_duration_parse_p(apr_pool_t *p, const char *s,
                                 apr_interval_time_t *out, const char **err)
{
    switch (parse(s, out)) {
    case DUR_OK:
        return APR_SUCCESS;
    case DUR_TOO_LARGE:
        *err = apr_psprintf(p, "\"%s\" is too large (at most 1 year)", s);
        return APR_EINVAL;
    default:
        *err = s ? apr_psprintf(p, "\"%s\" is not a duration "
                                NP_DURATION_HINT, s)
                 : "missing duration " NP_DURATION_HINT;
        return APR_EINVAL;
    }
}
