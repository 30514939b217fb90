/* mod_nodeproxy: Apache httpd 2.4 in front of Node.js apps.
 * The module record; each feature registers its own hooks. */
#include <httpd.h>
#include <http_config.h>

#include "proxy/mod_nodeproxy_config.h"
#include "proxy/mod_nodeproxy_relay.h"
#include "balancer/mod_nodeproxy_balancer.h"
#include "hcheck/mod_nodeproxy_hcheck.h"
#include "status/mod_nodeproxy_status.h"
#include "wstunnel/mod_nodeproxy_tunnel.h"
#include "reactor/mod_nodeproxy_reactor.h"
#include "admission/mod_nodeproxy_admission.h"
#include "control/mod_nodeproxy_control.h"
#include "tls/mod_nodeproxy_tls.h"
#include "resolve/mod_nodeproxy_resolve.h"

static void register_hooks(apr_pool_t *p)
{
    np_config_register_hooks(p);
    np_map_register_hooks(p);
    np_handler_register_hooks(p);
    np_balancer_register_hooks(p);
    np_hcheck_register_hooks(p);
    np_status_register_hooks(p);
    np_reactor_register_hooks(p);
    np_admission_register_hooks(p);
    np_control_register_hooks(p);
    np_tls_register_hooks(p);
    np_resolve_register_hooks(p);
}

AP_DECLARE_MODULE(nodeproxy) = {
    STANDARD20_MODULE_STUFF,
    np_create_dir_conf,
    np_merge_dir_conf,
    np_create_server_conf,
    np_merge_server_conf,
    np_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
