/* Glue: keep-alive for connections the event MPM has let go of (see
 * mod_nodeproxy_keepalive.c). */
#ifndef MOD_NODEPROXY_KEEPALIVE_H
#define MOD_NODEPROXY_KEEPALIVE_H

#include <httpd.h>

/* On an MPM worker, once a suspended request is logged (its EOR passed,
 * c->cs->state WRITE_COMPLETION or LINGER): finish writing the response,
 * then wait for the next request and serve it, or close the connection. */
void np_keepalive_continue(conn_rec *c);

#endif
