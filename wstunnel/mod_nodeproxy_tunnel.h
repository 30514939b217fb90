/* Glue: WebSocket tunnels. After the backend's 101, both sockets are handed
 * to a per-child reactor thread and the worker thread goes back to the MPM
 * (SUSPENDED): an idle tunnel costs memory, not a thread. MPMs that cannot
 * suspend (prefork, worker) run the same tunnel in the request's thread. */
#ifndef MOD_NODEPROXY_TUNNEL_H
#define MOD_NODEPROXY_TUNNEL_H

#include <httpd.h>
#include "mod_nodeproxy_relay.h"

/* Answer the client's upgrade with the backend's 101 and start tunnelling.
 * Returns the handler's status: SUSPENDED (the reactor owns the request
 * now), DONE (tunnelled in this thread, finished) or an HTTP error. */
int np_tunnel_start(request_rec *r, np_request_t *rq, np_response_t *resp);


#endif
