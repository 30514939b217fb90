/* np_headers.h — which headers cross the proxy (pure: C99 + APR only).
 *
 * The glue walks the client's (or backend's) header table and asks these
 * predicates per header name; the answers follow DESIGN.md "Forwarding".
 * All name comparisons are ASCII case-insensitive; a NULL name is never
 * matched (returns 0).
 */
#ifndef NP_HEADERS_H
#define NP_HEADERS_H

/* Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-Connection, Proxy-Authorization, Proxy-Authenticate. */
int np_header_is_hop_by_hop(const char *name);

/* X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Port,
 * X-Forwarded-Prefix, Forwarded. */
int np_header_is_forwarded(const char *name);

/* X-Real-IP, X-Client-IP, True-Client-IP: client addresses that only a
 * NodeTrustedProxy may state (the glue drops them from anyone else). */
int np_header_is_client_ip(const char *name);

/* Content-Length, Transfer-Encoding: the proxy re-does framing per hop. */
int np_header_is_framing(const char *name);

/* Is `name` a token of the Connection header value `connection_value`
 * (comma-separated list, optional whitespace around elements, empty elements
 * allowed)? 0 when either argument is NULL. */
int np_header_in_connection(const char *connection_value, const char *name);

/* Should a client->backend request header be dropped?
 * conn: the client's Connection header value, or NULL.
 * trusted: the peer is a NodeTrustedProxy.
 * Dropped: hop-by-hop, framing, Expect (the proxy answers 100-continue
 * itself), Proxy (httpoxy, CVE-2016-5387), headers named in Connection (except Host and the forwarded
 * headers, which the proxy handles itself), and forwarded headers when the
 * peer is not trusted. */
int np_request_header_dropped(const char *name, const char *conn, int trusted);

/* Should a backend->client response header be dropped?
 * conn: the backend's Connection header value, or NULL.
 * Dropped: hop-by-hop, framing, and headers named in Connection. */
int np_response_header_dropped(const char *name, const char *conn);

/* RFC 9110 9.2.2 idempotent methods: GET HEAD OPTIONS TRACE PUT DELETE.
 * Method names are case-sensitive (RFC 9110 9.1), so "get" is not GET. */
int np_method_idempotent(const char *method);

#endif /* NP_HEADERS_H */
