/* np_uri.h — backend paths and path escaping (pure: C99 + APR only). */
#ifndef NP_URI_H
#define NP_URI_H

#include <apr_pools.h>

/* Re-escape a decoded, normalised URL path for sending on the wire.
 * Kept as is: unreserved (ALPHA DIGIT - . _ ~), sub-delims
 * (! $ & ' ( ) * + , ; =), ':', '@' and '/'. Everything else is written
 * %XX with uppercase hex, including '%', '?', '#', space, controls and
 * bytes >= 0x80 (each byte of a UTF-8 sequence on its own).
 * Returns `decoded` itself when nothing needs escaping (no allocation on
 * the hot path); NULL in, NULL out. */
const char *np_uri_escape_path(apr_pool_t *p, const char *decoded);

/* Join two path parts with exactly one '/' at the seam: every '/' at the
 * end of `a` and at the start of `b` collapses into one.
 *   ("/app/", "/x") -> "/app/x"     ("/app", "x")  -> "/app/x"
 *   ("/app", "")    -> "/app"       ("/", "")      -> "/"
 *   ("/app/", "")   -> "/app/"      ("", "/x")     -> "/x"
 *   ("", "")        -> "/"          ("/app", "/")  -> "/app/"
 * An empty `b` returns `a` unchanged (the pointer itself when non-empty),
 * so a trailing '/' of `a` is kept. A NULL part counts as "". */
const char *np_uri_join(apr_pool_t *p, const char *a, const char *b);

/* Does a decoded, normalised URL path hold a segment that some backend
 * would take as a dot-segment, although Apache did not? Segments are split
 * at '/' and also at '\\' (Windows-style and some Node routers); a segment
 * is suspicious when it is "." or ".." (possible only next to a
 * backslash, Apache has resolved the others) or a dot-segment with path
 * parameters (".;x", "..;x": Tomcat/Java-style backends drop ";..." and see
 * ".."). "/app/..;/admin", "/app/..\\admin", "/a\\.\\b" -> 1;
 * "/a..b;c", "/x..\\y", "/.well-known/x" -> 0. NULL -> 0. */
int np_uri_has_dot_segment(const char *path);

#endif /* NP_URI_H */
