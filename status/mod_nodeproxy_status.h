/* Glue: SetHandler nodeproxy-status. */
#ifndef MOD_NODEPROXY_STATUS_H
#define MOD_NODEPROXY_STATUS_H

#include <apr_pools.h>
#include "np_status.h"
#include "mod_nodeproxy_balancer.h"

void np_status_register_hooks(apr_pool_t *p);

/* Every balancer and member copied from shm (the status page and the
 * server-status section render it). */
np_status_t *np_status_snapshot(request_rec *r);

/* mod_nodeproxy_modstatus.c: the section in mod_status' server-status. */
void np_modstatus_register_hooks(apr_pool_t *p);

/* One member's state copied from shm for the renderers (the control API
 * answers with it too). */
void np_status_snapshot_member(np_status_member_t *sm, const np_balancer_t *b,
                               const np_member_t *m, apr_time_t now,
                               apr_pool_t *p);

#endif
