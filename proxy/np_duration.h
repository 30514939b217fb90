/* np_duration.h — duration values of the Node* directives. */
#ifndef NP_DURATION_H
#define NP_DURATION_H

/* Duration values of the Node* directives (pure: C99 + APR only).
 *
 * Syntax: DIGITS [ "ms" | "s" | "m" ]; no suffix means seconds. Suffixes are
 * case-insensitive ("5S" is 5s). "0", "0s" and "0ms" are valid and give 0.
 * Rejected: NULL, "", signs, spaces anywhere, fractions ("1.5s"), any other
 * suffix ("5h", "5x"), and values above one year (365 days).
 */

#include <apr_pools.h>
#include <apr_time.h>

/* The largest accepted duration: 365 days, in microseconds. */
#define NP_DURATION_MAX (APR_INT64_C(365) * 24 * 3600 * APR_USEC_PER_SEC)

/* Parse s into *out (microseconds). APR_SUCCESS, or APR_EINVAL with *err a
 * static message to print after the directive name, without the value
 * ("not a duration (use 500ms, 5s, 2m)"). *out is untouched on error. */
apr_status_t np_duration_parse(const char *s, apr_interval_time_t *out,
                               const char **err);

/* Same, but *err (allocated in p) names the value:
 * "\"5x\" is not a duration (use 500ms, 5s, 2m)". */
apr_status_t np_duration_parse_p(apr_pool_t *p, const char *s,
                                 apr_interval_time_t *out, const char **err);

#endif /* NP_DURATION_H */
