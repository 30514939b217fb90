/* np_overlap.c — see np_overlap.h. */
#include <string.h>

#include "np_overlap.h"

/* The NodeProxyPass rule: does PATH match the URL-path u? */
static int node_matches(const char *path, const char *u)
{
    size_t n = strlen(path);

    if (strncmp(u, path, n) != 0) {
        return 0;
    }
    if (n > 0 && path[n - 1] == '/') {
        return 1;
    }
    return u[n] == '\0' || u[n] == '/';
}

int np_paths_overlap(const char *node, const char *proxy)
{
    /* Either the ProxyPass prefix covers the NodeProxyPass path (then the
     * path itself is claimed by both), or the NodeProxyPass path covers
     * the ProxyPass path (then that one is). */
    return strncmp(node, proxy, strlen(proxy)) == 0
           || node_matches(node, proxy);
}
