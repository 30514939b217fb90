/* Glue: NodeHealthCheck and the background checks. */
#ifndef MOD_NODEPROXY_HCHECK_H
#define MOD_NODEPROXY_HCHECK_H

#include <httpd.h>
#include <http_config.h>

const char *np_hcheck_directive(cmd_parms *cmd, void *dconf, int argc,
                                char *const argv[]);
void np_hcheck_register_hooks(apr_pool_t *p);

#endif
