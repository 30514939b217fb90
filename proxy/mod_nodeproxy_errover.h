/* Glue: NodeErrorOverride (mod_nodeproxy_errover.c). */
#ifndef MOD_NODEPROXY_ERROVER_H
#define MOD_NODEPROXY_ERROVER_H

#include <httpd.h>
#include <http_config.h>

struct np_request_t;
struct np_response_t;

/* The directive: NodeErrorOverride on|off [CODE...]. */
const char *np_errover_cmd(cmd_parms *cmd, void *dconf, int argc,
                           char *const argv[]);

/* For a response head: DECLINED (relay it), or the status Apache's own
 * error handling answers with (the backend body dropped, its connection
 * given back: pooled when the body was read whole, else closed). */
int np_errover_respond(request_rec *r, struct np_request_t *rq,
                       struct np_response_t *resp);

#endif
