/* Pure: maintenance-response decisions. */
#ifndef NP_MAINT_H
#define NP_MAINT_H

#include <apr_pools.h>
#include <apr_time.h>

/* Does an Accept header prefer application/json over text/html? By q-value
 * (RFC 9110 12.5.1); an exact type beats a wildcard at the same q; ties and
 * no Accept at all go to HTML, the page a browser shows. */
int np_accept_prefers_json(const char *accept);

/* The JSON body of the maintenance response. */
const char *np_maint_json(apr_pool_t *p, int retry_after);

/* A flag file is looked at no more than once per interval; this says
 * whether the cached answer (checked at `checked`) is still good at now. */
int np_maint_recheck_due(apr_time_t checked, apr_time_t now,
                         apr_interval_time_t interval);

#endif
