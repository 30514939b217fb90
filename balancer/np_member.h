/* Pure: NodeMember arguments, NodeBalancerMethod names and member timing. */
#ifndef NP_MEMBER_H
#define NP_MEMBER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "../proxy/np_map.h"
#include "np_lb.h"

#define NP_MEMBER_MAX_RANGE 64   /* ports in one http://HOST:P1-P2 member */

typedef struct {
    np_target_t target;
    int weight;          /* 1..100, default 1                        */
    int standby;         /* used only while no other member is usable */
    const char *route;   /* route=ID, or NULL (derive with np_sticky_route_id) */
    int max;             /* max=N: requests in flight at the member, across
                          * all children (admission/); 0 = unlimited     */
} np_member_spec_t;

#define NP_MEMBER_MAX_MAX 100000   /* highest max=N */

/* Parse `NodeMember URL [weight=N] [standby] [route=ID] [max=N]` arguments (argv
 * excludes the directive name). URL is an http:// or
 * unix:/path|http://localhost/ target (np_target_parse; balancer:// is an
 * error here), and `http://HOST:P1-P2[/path]` expands to one member per
 * port P1..P2 (P1 <= P2, at most 64 ports). weight 1-100 (default 1); max 1-100000
 * (default 0: unlimited; a port range gives each port's member this max);
 * route= must pass np_sticky_check_route and cannot be combined with a port
 * range (routes must be unique); unknown options are errors naming the
 * option; an option given twice is an error. Option names are
 * case-insensitive. Appends np_member_spec_t elements to out (nothing is
 * appended on error). */
apr_status_t np_member_parse(apr_pool_t *p, int argc, const char *const *argv,
                             apr_array_header_t *out, const char **err);

/* Passive failure: a member marked failed at failed_at (0 = never) is
 * skipped until failed_at + fail_timeout, then tried again. Returns 1 while
 * it is still to be skipped at now. */
int np_member_failed_now(apr_time_t failed_at, apr_interval_time_t fail_timeout,
                         apr_time_t now);

/* NodeBalancerMethod name (case-insensitive) -> method (NULL if unknown),
 * using the four np_lb_* methods; *err lists the valid names. */
const np_lbmethod_t *np_member_method(apr_pool_t *p, const char *name,
                                      const char **err);

#endif
