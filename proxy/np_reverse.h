/* np_reverse.h — `reverse=on` response rewriting (pure: C99 + APR only):
 * mod_proxy's ProxyPassReverse and ProxyPassReverseCookiePath, done
 * automatically from the mapping.
 *
 * A mapping sends client path prefix P ("/api/", "/api", "/") to backend
 * target "http://AUTH" + T ("/", "/app/", "/app"); forward, the backend path
 * is np_uri_join(T, uri-after-P). The functions here undo that for URLs the
 * backend hands out.
 *
 * Path rule, shared by every case below. With T' and P' being T and P
 * without trailing '/':
 *   - "under X" is segment-aware: a path is under "/app" (or "/app/") when
 *     it is "/app" or starts with "/app/"; "/apple" is not. X = "/" covers
 *     every path.
 *   - a path under T becomes np_uri_join(P, path-after-T'), so slashes at
 *     the seam stay single. Backslash, TAB, CR and LF at the seam go too
 *     (browsers read them as '/' or drop them), so a path can never turn
 *     into "//host" or anything a browser follows to another host.
 *   - it is left alone when P' == T' (identity mapping), and when it is
 *     already under P while T is not under P: the app knows its prefix (it
 *     got X-Forwarded-Prefix) and must not get it twice. When T is under P
 *     (P "/" with any T, or P "/api" with T "/api/v1") every path under T
 *     is under P too, so that test says nothing and is skipped.
 *
 * Examples, P="/api/", T="/":      "/login" -> "/api/login", "/" -> "/api/",
 *                                  "/api/x" -> "/api/x" (already under P)
 *           P="/api/", T="/app/":  "/app" -> "/api/", "/app/x" -> "/api/x",
 *                                  "/apple" -> unchanged
 *           P="/",     T="/app/":  "/app/x" -> "/x", "/app" -> "/"
 *           P="/api",  T="/api/":  identity, nothing changes
 * test_np_reverse.c holds the full table.
 *
 * P and T are compared as written in the configuration, with the
 * backend's (still %-encoded) URL bytes.
 */
#ifndef NP_REVERSE_H
#define NP_REVERSE_H

#include <apr_pools.h>

typedef struct {
    const char *backend_authority;   /* "127.0.0.1:3000" exactly as written in the target ("localhost" for unix: targets) */
    const char *target_path;         /* T */
    const char *mapped_path;         /* P */
    const char *client_scheme;       /* "http" or "https" */
    const char *client_host;         /* Host the client used (with port if it sent one) */
    int preserve_host;               /* the backend saw the client's Host, so its absolute URLs may use it */
} np_reverse_t;

/* Rewrite a Location / Content-Location / URI header value.
 * (a) "http://" or "https://" + backend_authority (case-insensitive) + a
 *     path under T -> client_scheme "://" client_host + mapped path. The
 *     host is swapped even when the path rule leaves the path alone; a path
 *     not under T leaves the whole URL alone (it is not ours to guess).
 *     An empty path counts as "/". Skipped when client_host is NULL.
 * (b) preserve_host and "http(s)://" + client_host (case-insensitive) + a
 *     path under T -> same scheme and host, mapped path.
 * (c) a path-absolute value ("/..." but not "//...", "/" + backslash, or
 *     "/" TAB "/") -> mapped path.
 * ?query and #fragment are kept byte for byte. Anything else (other hosts,
 * relative "x", "//evil.com/", "") is unchanged.
 * Returns `value` itself when unchanged (also for NULL). */
const char *np_reverse_url(apr_pool_t *p, const np_reverse_t *rv,
                           const char *value);

/* Rewrite the Path attribute(s) of one Set-Cookie header value with the
 * path rule; a rewritten path loses its trailing '/' unless it is "/"
 * itself ("Path=/" with P="/api/" -> "Path=/api", which matches /api and
 * /api/...). The attribute is found case-insensitively after a ';', with
 * optional whitespace around '='. Cookies without Path, and Path values not
 * starting with '/', are left alone; every other byte is kept.
 * Returns `set_cookie` itself when unchanged (also for NULL). */
const char *np_reverse_cookie_path(apr_pool_t *p, const np_reverse_t *rv,
                                   const char *set_cookie);

#endif /* NP_REVERSE_H */
