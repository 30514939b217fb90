/* Pure: the WebSocket opening handshake as a proxy sees it (RFC 6455 4). */
#ifndef NP_WS_H
#define NP_WS_H

#include <apr_pools.h>

/* Is this request a WebSocket upgrade? GET, an Upgrade header whose tokens
 * include "websocket", and a Connection header that lists "upgrade"
 * (case-insensitive, comma lists). */
int np_ws_is_upgrade(const char *method, const char *upgrade,
                     const char *connection);

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key:
 * base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). */
const char *np_ws_accept(apr_pool_t *p, const char *key);

/* May the proxy open a tunnel on this answer? Only 101 with an Upgrade that
 * is "websocket" and a Sec-WebSocket-Accept matching the client's key.
 * *why says what is wrong otherwise. */
int np_ws_answer_ok(apr_pool_t *p, int status, const char *upgrade,
                    const char *accept, const char *client_key,
                    const char **why);

#endif
