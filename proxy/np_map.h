/* Pure: NodeProxyPass targets and the mapping table (longest prefix wins). */
#ifndef NP_MAP_H
#define NP_MAP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef enum {
    NP_TARGET_HTTP,      /* http://HOST[:PORT][/PATH], or https:// (tls) */
    NP_TARGET_UNIX,      /* unix:/path.sock|http://localhost[/PATH]   */
    NP_TARGET_BALANCER   /* balancer://NAME[/PATH]                    */
} np_target_kind_e;

typedef struct {
    np_target_kind_e kind;
    const char *url;        /* as written, for logs                              */
    const char *key;        /* identifies the backend: "http://h:p", "unix:/p", "balancer://n" */
    const char *host;       /* HOST ("localhost" for unix:), NAME for balancers  */
    unsigned int port;      /* 80 when not written                               */
    const char *authority;  /* HOST[:PORT] exactly as written: the Host header when not preserved */
    const char *sock_path;  /* unix: socket path                                 */
    const char *path;       /* target path, "/" when none was written            */
    int tls;                /* https:// (port 443 when not written)              */
    const char *sni;        /* sni= override of the TLS server name, or NULL     */
} np_target_t;

/* Parse a NodeProxyPass TARGET. *err names what is wrong with the value. */
apr_status_t np_target_parse(apr_pool_t *p, const char *s, np_target_t *t,
                             const char **err);

/* Tri-state for per-mapping keys: unset means "take the directive's value". */
#define NP_UNSET (-1)

typedef struct np_mapping_t {
    const char *path;            /* client URL-path prefix                 */
    apr_size_t path_len;
    int exclude;                 /* "NodeProxyPass PATH !"                 */
    np_target_t target;
    apr_interval_time_t timeout;         /* NP_UNSET or microseconds       */
    apr_interval_time_t connect_timeout;
    int websocket, preserve_host, reverse; /* NP_UNSET, 0 or 1             */
    const char *where;           /* config file:line, for messages         */
    void *backend;               /* glue: the backend or balancer it uses  */
} np_mapping_t;

/* Apply one "key=value" of NodeProxyPass to m. */
/* sni=NAME on an https:// target: the TLS server name sent and checked
 * instead of the target host; it becomes part of the target's key. */
apr_status_t np_target_set_sni(apr_pool_t *p, np_target_t *t, const char *name,
                               const char **err);

apr_status_t np_mapping_set_key(apr_pool_t *p, np_mapping_t *m,
                                const char *keyval, const char **err);

/* Check a NodeProxyPass PATH: absolute URL-path without query/fragment. */
apr_status_t np_mapping_check_path(apr_pool_t *p, const char *path,
                                   const char **err);

/* The compiled table: mappings sorted longest path first, so the first
 * match is the longest one whatever the order of the directives. */
typedef struct {
    np_mapping_t **sorted;
    int n;
} np_map_t;

/* Build a table from arrays of (np_mapping_t *): `own` first, then
 * `inherited` entries whose path `own` does not define already. */
np_map_t *np_map_compile(apr_pool_t *p, const apr_array_header_t *own,
                         const apr_array_header_t *inherited);

/* Does prefix match uri on a segment boundary? "/api" matches "/api" and
 * "/api/x" but not "/apiary"; "/api/" matches only "/api/..." */
int np_map_prefix_matches(const char *prefix, apr_size_t len, const char *uri);

/* Longest matching mapping for a decoded, normalised uri, or NULL. */
const np_mapping_t *np_map_match(const np_map_t *map, const char *uri);

/* The path to request from the backend: the target path joined with what
 * follows the prefix, re-escaped; args (may be NULL) appended unchanged. */
const char *np_map_backend_uri(apr_pool_t *p, const np_mapping_t *m,
                               const char *uri, const char *args);

#endif
