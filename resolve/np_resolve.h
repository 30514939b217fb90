/* Pure: backend host names re-resolved in the background - address lists
 * as kept in shared memory, how they compare, the warn-once state, and
 * NodeResolveInterval's value. */
#ifndef NP_RESOLVE_H
#define NP_RESOLVE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

#define NP_RESOLVE_MAX 8             /* addresses kept per name          */
#define NP_RESOLVE_DEFAULT apr_time_from_sec(30)

/* One address: family 4 or 6, network byte order. */
typedef struct {
    apr_uint32_t family;
    unsigned char addr[16];
} np_addr_t;

typedef struct {
    apr_uint32_t n;
    np_addr_t a[NP_RESOLVE_MAX];
} np_addrs_t;

/* Do two lists hold the same addresses, whatever their order? (A name
 * whose answers rotate must not count as changed at every lookup.) */
int np_addrs_same(const np_addrs_t *x, const np_addrs_t *y);

/* "127.0.0.2, ::1" ("none" for an empty list). */
const char *np_addrs_format(apr_pool_t *p, const np_addrs_t *x);

/* The warn-once rule: given whether the name is failing now and the
 * result of a lookup, the new state and what to log. */
typedef enum {
    NP_RESOLVE_SAME,          /* nothing to log                     */
    NP_RESOLVE_NOW_FAILING,   /* first failure: warn once           */
    NP_RESOLVE_RECOVERED      /* resolves again                     */
} np_resolve_event_e;
np_resolve_event_e np_resolve_record(int *failing, int ok);

/* NodeResolveInterval: 0 (start only) or a duration of at least 1 s. */
apr_status_t np_resolve_interval_parse(apr_pool_t *p, const char *s,
                                       apr_interval_time_t *out,
                                       const char **err);

#endif
