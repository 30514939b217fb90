/* np_reverse.c — `reverse=on` response rewriting. See np_reverse.h. */
#include <string.h>

#include <apr_cstr.h>
#include <apr_strings.h>

#include "np_reverse.h"
#include "np_uri.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static apr_size_t len_without_trailing_slashes(const char *s)
{
    apr_size_t len = s != NULL ? strlen(s) : 0;

    while (len > 0 && s[len - 1] == '/') {
        len--;
    }
    return len;
}

/* Segment-aware: is path[0..plen) under prefix[0..xlen) (xlen excluding
 * trailing '/')? On success *rest points after the prefix. */
static int under(const char *path, apr_size_t plen,
                 const char *prefix, apr_size_t xlen, const char **rest)
{
    if (plen == 0 || path[0] != '/') {
        return 0;
    }
    if (xlen == 0) {
        *rest = path;
        return 1;
    }
    if (plen < xlen || memcmp(path, prefix, xlen) != 0
        || (plen > xlen && path[xlen] != '/')) {
        return 0;
    }
    *rest = path + xlen;
    return 1;
}

/* Browsers read a backslash as '/' and drop TAB CR LF inside URLs, so any
 * run of these right after a '/' still means "another '/'". */
static int slashlike(char c)
{
    return c == '/' || c == '\\' || c == '\t' || c == '\r' || c == '\n';
}

/* The path rule of np_reverse.h on path[0..plen). Returns the new path,
 * or NULL when the path stays as it is. */
static const char *map_path(apr_pool_t *p, const np_reverse_t *rv,
                            const char *path, apr_size_t plen)
{
    const char *tpath = rv->target_path != NULL ? rv->target_path : "/";
    const char *ppath = rv->mapped_path != NULL ? rv->mapped_path : "/";
    apr_size_t tlen = len_without_trailing_slashes(tpath);
    apr_size_t plen_p = len_without_trailing_slashes(ppath);
    const char *rest, *ignored, *end = path + plen;
    apr_size_t rlen;
    char *seam;

    if (!under(path, plen, tpath, tlen, &rest)) {
        return NULL;
    }
    if (tlen == plen_p && memcmp(tpath, ppath, tlen) == 0) {
        return NULL;
    }
    /* T is "/" when tlen is 0. */
    if (under(path, plen, ppath, plen_p, &ignored)
        && !under(tlen > 0 ? tpath : "/", tlen > 0 ? tlen : 1,
                  ppath, plen_p, &ignored)) {
        return NULL;
    }
    if (rest == end) {
        return np_uri_join(p, ppath, "");
    }
    /* With P "/", T "/app", the app's safe "/app/" + backslash + "evil.com"
     * must not become "/" + backslash + "evil.com", which a browser follows
     * to evil.com: the seam keeps a single '/' and nothing slash-like. */
    while (rest < end && slashlike(*rest)) {
        rest++;
    }
    rlen = (apr_size_t)(end - rest);
    seam = apr_palloc(p, rlen + 2);
    seam[0] = '/';
    memcpy(seam + 1, rest, rlen);
    seam[rlen + 1] = '\0';
    return np_uri_join(p, ppath, seam);
}

/* "http://" or "https://", case-insensitively; returns its length or 0. */
static apr_size_t scheme_len(const char *v)
{
    if (apr_cstr_casecmpn(v, "http://", 7) == 0) {
        return 7;
    }
    if (apr_cstr_casecmpn(v, "https://", 8) == 0) {
        return 8;
    }
    return 0;
}

static int authority_is(const char *auth, apr_size_t alen, const char *want)
{
    return want != NULL && *want != '\0' && strlen(want) == alen
           && apr_cstr_casecmpn(auth, want, alen) == 0;
}

const char *np_reverse_url(apr_pool_t *p, const np_reverse_t *rv,
                           const char *value)
{
    apr_size_t slen, alen, plen, uplen;
    const char *auth, *path, *tail, *upath, *mapped;

    if (value == NULL) {
        return value;
    }
    slen = scheme_len(value);
    if (slen == 0) {
        /* (c): "//host" is a network-path reference, never ours; so is
         * anything a browser reads as one ("/" + backslash, "/\t/"). */
        if (value[0] != '/') {
            return value;
        }
        tail = value + 1;
        while (*tail != '\0' && slashlike(*tail)) {
            if (*tail == '/' || *tail == '\\') {
                return value;
            }
            tail++;
        }
        plen = strcspn(value, "?#");
        mapped = map_path(p, rv, value, plen);
        return mapped != NULL ? apr_pstrcat(p, mapped, value + plen, NULL)
                              : value;
    }

    auth = value + slen;
    alen = strcspn(auth, "/?#");
    path = auth + alen;
    plen = strcspn(path, "?#");
    tail = path + plen;
    /* An empty path is "/" (RFC 3986 6.2.3) for the decision; it is only
     * written as "/" when it is rewritten. */
    upath = plen > 0 ? path : "/";
    uplen = plen > 0 ? plen : 1;

    if (authority_is(auth, alen, rv->backend_authority)
        && rv->client_host != NULL && *rv->client_host != '\0') {
        const char *tpath = rv->target_path != NULL ? rv->target_path : "/";
        const char *rest;

        /* (a) */
        if (!under(upath, uplen, tpath, len_without_trailing_slashes(tpath),
                   &rest)) {
            return value;
        }
        mapped = map_path(p, rv, upath, uplen);
        if (mapped == NULL) {
            mapped = apr_pstrmemdup(p, path, plen);
        }
        return apr_pstrcat(p, rv->client_scheme != NULL ? rv->client_scheme
                                                        : "http",
                           "://", rv->client_host, mapped, tail, NULL);
    }
    if (rv->preserve_host && authority_is(auth, alen, rv->client_host)) {
        /* (b): scheme and host stay as the app wrote them. */
        mapped = map_path(p, rv, upath, uplen);
        if (mapped == NULL) {
            return value;
        }
        return apr_pstrcat(p, apr_pstrmemdup(p, value,
                                             (apr_size_t)(path - value)),
                           mapped, tail, NULL);
    }
    return value;
}

/* A cookie path "/api/" would not match the request "/api"; "/api" matches
 * both "/api" and "/api/..." (RFC 6265 5.1.4). */
static const char *cookie_path(apr_pool_t *p, const np_reverse_t *rv,
                               const char *path, apr_size_t plen)
{
    const char *mapped = map_path(p, rv, path, plen);
    apr_size_t len;

    if (mapped == NULL) {
        return NULL;
    }
    len = len_without_trailing_slashes(mapped);
    if (len == 0) {
        return "/";
    }
    return mapped[len] == '\0' ? mapped : apr_pstrmemdup(p, mapped, len);
}

const char *np_reverse_cookie_path(apr_pool_t *p, const np_reverse_t *rv,
                                   const char *set_cookie)
{
    const char *out = set_cookie;
    apr_size_t pos;

    if (set_cookie == NULL) {
        return set_cookie;
    }
    /* Attributes start after the first ';' (the cookie value has none). */
    pos = strcspn(out, ";");
    while (out[pos] == ';') {
        const char *name, *mapped;
        apr_size_t nlen, vstart, vlen;

        pos++;
        while (is_ows(out[pos])) {
            pos++;
        }
        name = out + pos;
        nlen = strcspn(name, "=;");
        pos += nlen;
        while (nlen > 0 && is_ows(name[nlen - 1])) {
            nlen--;
        }
        if (out[pos] != '=') {
            continue;
        }
        pos++;
        while (is_ows(out[pos])) {
            pos++;
        }
        vstart = pos;
        vlen = strcspn(out + vstart, ";");
        pos += vlen;
        while (vlen > 0 && is_ows(out[vstart + vlen - 1])) {
            vlen--;
        }
        if (nlen != 4 || apr_cstr_casecmpn(name, "path", 4) != 0) {
            continue;
        }
        mapped = cookie_path(p, rv, out + vstart, vlen);
        if (mapped == NULL) {
            continue;
        }
        /* RFC 6265 lets the last Path win, so every one is rewritten. */
        out = apr_pstrcat(p, apr_pstrmemdup(p, out, vstart), mapped,
                          out + vstart + vlen, NULL);
        pos = vstart + strlen(mapped);
        pos += strcspn(out + pos, ";");
    }
    return out;
}
