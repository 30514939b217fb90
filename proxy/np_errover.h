/* np_errover.h — NodeErrorOverride: which backend answers Apache's own
 * error handling replaces (pure: C99 + APR only). */
#ifndef NP_ERROVER_H
#define NP_ERROVER_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Parse "on|off [CODE...]". *on = 1/0; *codes = NULL (every 4xx/5xx) or an
 * array of int, each 400-599. Errors (*err, from p): no argument, first
 * argument not on/off, codes after off, a code that is not a three-digit
 * 4xx/5xx status. */
apr_status_t np_errover_parse(apr_pool_t *p, int argc, char *const argv[],
                              int *on, apr_array_header_t **codes,
                              const char **err);

/* Is a backend answer with this status replaced? Only when on, only a
 * 4xx/5xx, and (codes given) only a listed one: a 101 or any other
 * non-error answer never is. */
int np_errover_applies(int on, const apr_array_header_t *codes, int status);

#endif /* NP_ERROVER_H */
