/* Pure: NodeProxyPass targets and the longest-prefix mapping table. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "np_map.h"
#include "np_duration.h"
#include "np_uri.h"
#include "np_tls.h"

static apr_status_t fail(const char **err, const char *msg)
{
    *err = msg;
    return APR_EINVAL;
}

/* HOST[:PORT] followed by an optional path: fills host, port, authority, path. */
static apr_status_t parse_authority_path(apr_pool_t *p, const char *s,
                                         np_target_t *t, unsigned int port80,
                                         const char **err)
{
    const char *slash = strchr(s, '/');
    const char *auth = slash ? apr_pstrmemdup(p, s, slash - s) : s;
    const char *colon, *host_end;

    if (strpbrk(s, "?#")) {
        return fail(err, apr_psprintf(p, "target \"%s\" must not have a query "
                                      "or fragment", t->url));
    }
    if (*auth == '\0') {
        return fail(err, apr_psprintf(p, "target \"%s\" has no host", t->url));
    }
    if (strchr(auth, '@')) {
        return fail(err, apr_psprintf(p, "target \"%s\": user info is not "
                                      "supported", t->url));
    }
    if (*auth == '[') {                      /* [v6]:port */
        host_end = strchr(auth, ']');
        if (!host_end || host_end == auth + 1) {
            return fail(err, apr_psprintf(p, "target \"%s\" has a bad IPv6 "
                                          "address", t->url));
        }
        t->host = apr_pstrmemdup(p, auth + 1, host_end - auth - 1);
        colon = host_end[1] == ':' ? host_end + 1 : NULL;
        if (!colon && host_end[1] != '\0') {
            return fail(err, apr_psprintf(p, "target \"%s\" has a bad host",
                                          t->url));
        }
    }
    else {
        colon = strchr(auth, ':');
        t->host = colon ? apr_pstrmemdup(p, auth, colon - auth) : auth;
        if (*t->host == '\0') {
            return fail(err, apr_psprintf(p, "target \"%s\" has no host", t->url));
        }
    }
    t->port = port80;
    if (colon) {
        const char *d = colon + 1;
        long port = 0;
        if (*d == '\0') {
            return fail(err, apr_psprintf(p, "target \"%s\" has an empty port",
                                          t->url));
        }
        for (; *d; d++) {
            if (!apr_isdigit(*d) || port > 65535) {
                break;
            }
            port = port * 10 + (*d - '0');
        }
        if (*d || port < 1 || port > 65535) {
            return fail(err, apr_psprintf(p, "target \"%s\" has a bad port "
                                          "(use 1-65535)", t->url));
        }
        t->port = (unsigned int)port;
    }
    t->authority = auth;
    t->path = slash ? slash : "/";
    return APR_SUCCESS;
}

apr_status_t np_target_parse(apr_pool_t *p, const char *s, np_target_t *t,
                             const char **err)
{
    memset(t, 0, sizeof(*t));
    t->url = s;
    if (s == NULL || *s == '\0') {
        return fail(err, "missing target (use http://HOST:PORT/, "
                    "unix:/path.sock|http://localhost/ or balancer://NAME/)");
    }
    if (strncasecmp(s, "http://", 7) == 0) {
        t->kind = NP_TARGET_HTTP;
        if (parse_authority_path(p, s + 7, t, 80, err) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        t->key = apr_psprintf(p, "http://%s:%u", t->host, t->port);
        return APR_SUCCESS;
    }
    if (strncasecmp(s, "https://", 8) == 0) {
        t->kind = NP_TARGET_HTTP;
        t->tls = 1;
        if (parse_authority_path(p, s + 8, t, 443, err) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        t->key = apr_psprintf(p, "https://%s:%u", t->host, t->port);
        return APR_SUCCESS;
    }
    if (strncasecmp(s, "unix:", 5) == 0) {
        const char *bar = strchr(s, '|');
        t->kind = NP_TARGET_UNIX;
        if (!bar || s[5] != '/' || bar == s + 6) {
            return fail(err, apr_psprintf(p, "target \"%s\": use "
                        "unix:/path/app.sock|http://localhost/", s));
        }
        t->sock_path = apr_pstrmemdup(p, s + 5, bar - (s + 5));
        if (strncasecmp(bar + 1, "http://", 7) != 0) {
            return fail(err, apr_psprintf(p, "target \"%s\": after '|' only "
                        "http://HOST[/PATH] is supported", s));
        }
        if (parse_authority_path(p, bar + 8, t, 80, err) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        t->key = apr_pstrcat(p, "unix:", t->sock_path, NULL);
        return APR_SUCCESS;
    }
    if (strncasecmp(s, "balancer://", 11) == 0) {
        const char *name = s + 11, *slash = strchr(name, '/');
        t->kind = NP_TARGET_BALANCER;
        t->host = slash ? apr_pstrmemdup(p, name, slash - name) : name;
        if (*t->host == '\0' || strpbrk(t->host, ":?#@")) {
            return fail(err, apr_psprintf(p, "target \"%s\" has a bad "
                                          "balancer name", s));
        }
        t->authority = t->host;
        t->path = slash ? slash : "/";
        t->key = apr_pstrcat(p, "balancer://", t->host, NULL);
        return APR_SUCCESS;
    }
    return fail(err, apr_psprintf(p, "target \"%s\" has an unknown scheme "
                "(use http://, https://, unix:/...|http:// or balancer://)", s));
}

apr_status_t np_target_set_sni(apr_pool_t *p, np_target_t *t, const char *name,
                               const char **err)
{
    if (!t->tls) {
        return fail(err, apr_psprintf(p, "sni=%s: only https:// targets use "
                                      "a TLS server name", name));
    }
    if (t->sni) {
        return fail(err, "sni= is given twice");
    }
    if (np_tls_check_sni(p, name, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    t->sni = name;
    t->key = apr_pstrcat(p, t->key, "|sni=", name, NULL);
    return APR_SUCCESS;
}

static apr_status_t set_flag(apr_pool_t *p, const char *key, const char *val,
                             int *out, const char **err)
{
    if (strcasecmp(val, "on") == 0) {
        *out = 1;
    }
    else if (strcasecmp(val, "off") == 0) {
        *out = 0;
    }
    else {
        return fail(err, apr_psprintf(p, "%s=\"%s\" must be on or off",
                                      key, val));
    }
    return APR_SUCCESS;
}

static apr_status_t set_duration(apr_pool_t *p, const char *key,
                                 const char *val, apr_interval_time_t *out,
                                 const char **err)
{
    const char *why;
    if (np_duration_parse_p(p, val, out, &why) != APR_SUCCESS) {
        return fail(err, apr_psprintf(p, "%s: %s", key, why));
    }
    if (*out <= 0) {
        return fail(err, apr_psprintf(p, "%s=\"%s\" must be more than 0",
                                      key, val));
    }
    return APR_SUCCESS;
}

apr_status_t np_mapping_set_key(apr_pool_t *p, np_mapping_t *m,
                                const char *keyval, const char **err)
{
    const char *eq = strchr(keyval, '=');
    const char *key, *val;

    if (!eq || eq == keyval) {
        return fail(err, apr_psprintf(p, "\"%s\" is not key=value (keys: "
                    "timeout, connecttimeout, websocket, preservehost, "
                    "reverse, sni)", keyval));
    }
    key = apr_pstrmemdup(p, keyval, eq - keyval);
    val = eq + 1;
    if (strcasecmp(key, "timeout") == 0) {
        return set_duration(p, key, val, &m->timeout, err);
    }
    if (strcasecmp(key, "connecttimeout") == 0) {
        return set_duration(p, key, val, &m->connect_timeout, err);
    }
    if (strcasecmp(key, "websocket") == 0) {
        return set_flag(p, key, val, &m->websocket, err);
    }
    if (strcasecmp(key, "preservehost") == 0) {
        return set_flag(p, key, val, &m->preserve_host, err);
    }
    if (strcasecmp(key, "reverse") == 0) {
        return set_flag(p, key, val, &m->reverse, err);
    }
    if (strcasecmp(key, "sni") == 0) {
        return np_target_set_sni(p, &m->target, val, err);
    }
    return fail(err, apr_psprintf(p, "unknown key \"%s\" (keys: timeout, "
                "connecttimeout, websocket, preservehost, reverse, sni)", key));
}

apr_status_t np_mapping_check_path(apr_pool_t *p, const char *path,
                                   const char **err)
{
    if (path == NULL || *path != '/') {
        return fail(err, apr_psprintf(p, "path \"%s\" must start with '/'",
                                      path ? path : ""));
    }
    if (strpbrk(path, "?#")) {
        return fail(err, apr_psprintf(p, "path \"%s\" must not contain "
                                      "'?' or '#'", path));
    }
    return APR_SUCCESS;
}

static int longest_first(const void *a, const void *b)
{
    const np_mapping_t *ma = *(np_mapping_t *const *)a;
    const np_mapping_t *mb = *(np_mapping_t *const *)b;
    if (ma->path_len != mb->path_len) {
        return ma->path_len > mb->path_len ? -1 : 1;
    }
    return strcmp(ma->path, mb->path);
}

static int defines_path(const apr_array_header_t *arr, const char *path)
{
    int i;
    for (i = 0; arr && i < arr->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(arr, i, np_mapping_t *)->path, path) == 0) {
            return 1;
        }
    }
    return 0;
}

np_map_t *np_map_compile(apr_pool_t *p, const apr_array_header_t *own,
                         const apr_array_header_t *inherited)
{
    np_map_t *map = apr_pcalloc(p, sizeof(*map));
    int cap = (own ? own->nelts : 0) + (inherited ? inherited->nelts : 0);
    int i;

    map->sorted = apr_pcalloc(p, sizeof(np_mapping_t *) * (cap + 1));
    for (i = 0; own && i < own->nelts; i++) {
        map->sorted[map->n++] = APR_ARRAY_IDX(own, i, np_mapping_t *);
    }
    for (i = 0; inherited && i < inherited->nelts; i++) {
        np_mapping_t *m = APR_ARRAY_IDX(inherited, i, np_mapping_t *);
        if (!defines_path(own, m->path)) {
            map->sorted[map->n++] = m;
        }
    }
    qsort(map->sorted, map->n, sizeof(np_mapping_t *), longest_first);
    return map;
}

int np_map_prefix_matches(const char *prefix, apr_size_t len, const char *uri)
{
    if (strncmp(uri, prefix, len) != 0) {
        return 0;
    }
    /* A prefix ending in '/' already sits on a boundary; otherwise the next
     * character must end the path or start a new segment. */
    return prefix[len - 1] == '/' || uri[len] == '\0' || uri[len] == '/';
}

const np_mapping_t *np_map_match(const np_map_t *map, const char *uri)
{
    int i;
    if (!map || !uri) {
        return NULL;
    }
    for (i = 0; i < map->n; i++) {
        const np_mapping_t *m = map->sorted[i];
        if (np_map_prefix_matches(m->path, m->path_len, uri)) {
            return m;
        }
    }
    return NULL;
}

const char *np_map_backend_uri(apr_pool_t *p, const np_mapping_t *m,
                               const char *uri, const char *args)
{
    /* The remainder comes from the normalised path: it has no dot-segments,
     * so the joined path cannot climb out of the target prefix. */
    const char *rest = np_uri_escape_path(p, uri + m->path_len);
    const char *path = np_uri_join(p, m->target.path, rest);
    if (args && *args) {
        return apr_pstrcat(p, path, "?", args, NULL);
    }
    return path;
}
