/* Pure: sticky-session cookies. The proxy inserts NAME=ROUTE on responses;
 * ROUTE names the member (its route= or an id derived from its URL). */
#ifndef NP_STICKY_H
#define NP_STICKY_H

#include <apr_pools.h>

/* Stable route id for a member: the same on every Apache with the same
 * config, across restarts. Derived from the member URL (np_target_t key,
 * e.g. "http://127.0.0.1:3001" or "unix:/run/a.sock") with np_lb_hash
 * (seed 0): "r" + the hash's top 48 bits as 12 lowercase hex digits. */
const char *np_sticky_route_id(apr_pool_t *p, const char *member_key);

/* Value of cookie `name` in a Cookie request header value ("a=1; b=2"), or
 * NULL; exact, case-sensitive name match; OWS around ';' and '=' is
 * ignored; a quoted value has its quotes removed; the first occurrence
 * wins. A pair without '=' is skipped. */
const char *np_sticky_cookie_get(apr_pool_t *p, const char *cookie_header,
                                 const char *name);

/* "NAME=ROUTE; Path=/; HttpOnly; SameSite=Lax" plus "; Secure" when secure. */
const char *np_sticky_set_cookie(apr_pool_t *p, const char *name,
                                 const char *route, int secure);

/* Cache-Control for a response on which the proxy sets the sticky cookie,
 * so that no shared cache (mod_cache, a CDN) stores that Set-Cookie and
 * hands it to other clients: RFC 9111 5.2.2.7 "private" is added (the
 * browser may still cache it). `cc` is the response's Cache-Control (all
 * field lines joined with ", ") or NULL. Returned unchanged when it already
 * has an unqualified "private" or "no-store"; otherwise cc + ", private"
 * (or "private"). A qualified private="..." does not count. The app's other
 * directives are kept: "private" is the more restrictive of a conflicting
 * pair (RFC 9111 4.2.1), so it wins over "public" and "s-maxage". */
const char *np_sticky_cache_control(apr_pool_t *p, const char *cc);

/* Config checks: a cookie name is an RFC 6265 token (1-64 chars); a route=
 * value is 1-64 chars of [A-Za-z0-9._~-]. *err names the value and the
 * rule. */
apr_status_t np_sticky_check_name(apr_pool_t *p, const char *name,
                                  const char **err);
apr_status_t np_sticky_check_route(apr_pool_t *p, const char *route,
                                   const char **err);

#endif
