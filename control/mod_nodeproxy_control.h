/* Glue: runtime control of balancer members (issue 15): the POST side of
 * the nodeproxy-status handler (NodeStatusControl), NodeBalancerPersist. */
#ifndef MOD_NODEPROXY_CONTROL_H
#define MOD_NODEPROXY_CONTROL_H

#include <httpd.h>
#include <http_config.h>

/* Directive handlers, in np_cmds. */
const char *np_control_cmd_status_control(cmd_parms *cmd, void *dconf, int on);
const char *np_control_cmd_persist(cmd_parms *cmd, void *dconf,
                                   const char *arg);

/* The token the status page's forms carry, or NULL when the control API is
 * off for r's Location (the page is then read-only). */
const char *np_control_page_token(request_rec *r);

void np_control_register_hooks(apr_pool_t *p);

#endif
