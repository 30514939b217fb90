/* np_overlap.h — does a NodeProxyPass path and a mod_proxy ProxyPass path
 * claim a common URL? (pure: C99 + APR only) */
#ifndef NP_OVERLAP_H
#define NP_OVERLAP_H

/* node: a NodeProxyPass PATH (matches PATH itself and PATH/...; a PATH
 * ending in '/' only PATH...). proxy: a ProxyPass path, which mod_proxy
 * matches as a plain string prefix ("/api" also matches "/apiary").
 * 1 when some URL-path is matched by both. */
int np_paths_overlap(const char *node, const char *proxy);

#endif /* NP_OVERLAP_H */
