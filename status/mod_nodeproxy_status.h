/* Glue: SetHandler nodeproxy-status. */
#ifndef MOD_NODEPROXY_STATUS_H
#define MOD_NODEPROXY_STATUS_H

#include <apr_pools.h>

void np_status_register_hooks(apr_pool_t *p);

#endif
