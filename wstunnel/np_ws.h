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

/* RFC 8441 (WebSocket over an HTTP/2 stream): mod_http2 hands the handler
 * a GET + Upgrade: websocket on the stream's secondary connection. Can the
 * proxy tunnel it? Not when WebSockets are off for the path, nor when the
 * stream's input cannot be polled (no ap_get_pollfd_from_conn() pipe).
 * 0 when it can; else the status to answer (501) and *why, for the log. */
int np_ws_h2_refusal(int websocket_on, int pollable, const char **why);

/* The stream's input as the tunnel reads it: mod_http2 ends the upgrade
 * request's (empty) body with an EOS before the first tunnel byte, and
 * ends the stream with another EOS or APR_EOF. Whoever read that first EOS
 * (nobody, the body reader, another module), the stream is over at the
 * second EOS at the latest, and at APR_EOF: feed every EOS here; 1 means
 * the client ended the stream. */
typedef struct np_ws_h2_in_t {
    int eos_seen;
} np_ws_h2_in_t;
int np_ws_h2_eos(np_ws_h2_in_t *in);

#endif
