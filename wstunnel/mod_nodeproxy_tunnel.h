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

/* mod_nodeproxy_h2tunnel.c: WebSockets over HTTP/2 streams (RFC 8441),
 * tunnelled on the stream's h2 worker thread.
 * check: before anything is sent to a backend, can this upgrade on an h2
 * stream be tunnelled? OK, or the status to answer (logged, with why).
 * run: after the 101 went out; relays until a side closes or the idle
 * timeout, releases b, and returns DONE (which ends the stream). early:
 * what the backend sent after its 101. */
int np_h2tunnel_check(request_rec *r, int websocket_on);
int np_h2tunnel_run(request_rec *r, np_conn_t *b, const char *early,
                    apr_size_t early_len);


#endif
