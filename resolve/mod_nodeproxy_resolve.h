/* Glue: backend host names resolved at start, then again in the background
 * by mod_watchdog every NodeResolveInterval; the answer lives in shared
 * memory so every child uses a new address for new connections at once. */
#ifndef MOD_NODEPROXY_RESOLVE_H
#define MOD_NODEPROXY_RESOLVE_H

#include <httpd.h>
#include <http_config.h>

const char *np_resolve_cmd_interval(cmd_parms *cmd, void *dconf,
                                    const char *arg);

void np_resolve_register_hooks(apr_pool_t *p);

#endif
