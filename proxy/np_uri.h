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

#endif /* NP_URI_H */
