/* np_forwarded.c — X-Forwarded-* and RFC 7239 Forwarded. See np_forwarded.h. */
#include <string.h>

#include <apr_cstr.h>
#include <apr_strings.h>

#include "np_forwarded.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A peer's value without surrounding blanks; NULL when nothing is left, so
 * "X-Forwarded-For: " cannot turn into a leading ", ". */
static const char *peer_value(apr_pool_t *p, const char *v)
{
    apr_size_t len;

    if (v == NULL) {
        return NULL;
    }
    while (is_ows(*v)) {
        v++;
    }
    len = strlen(v);
    while (len > 0 && is_ows(v[len - 1])) {
        len--;
    }
    if (len == 0) {
        return NULL;
    }
    return v[len] == '\0' ? v : apr_pstrmemdup(p, v, len);
}

static int is_dotted_quad(const char *s)
{
    int dots = 0;

    if (*s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (*s == '.') {
            dots++;
        }
        else if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return dots == 3;
}

/* "::ffff:1.2.3.4" -> "1.2.3.4": a dual-stack listener reports IPv4
 * clients this way, and the app should see the address the client has. */
static const char *unmap_ipv4(const char *ip)
{
    static const char mapped[] = "::ffff:";
    apr_size_t n = sizeof(mapped) - 1;

    if (ip != NULL && apr_cstr_casecmpn(ip, mapped, n) == 0
        && is_dotted_quad(ip + n)) {
        return ip + n;
    }
    return ip;
}

/* RFC 7230 3.2.6 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (!is_tchar((unsigned char)*s)) {
            return 0;
        }
    }
    return 1;
}

/* RFC 7230 quoted-string with '"' and '\' escaped. */
static const char *quoted(apr_pool_t *p, const char *s)
{
    apr_size_t extra = 0;
    const char *c;
    char *out, *d;

    for (c = s; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            extra++;
        }
    }
    out = apr_palloc(p, strlen(s) + extra + 3);
    d = out;
    *d++ = '"';
    for (c = s; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            *d++ = '\\';
        }
        *d++ = *c;
    }
    *d++ = '"';
    *d = '\0';
    return out;
}

/* RFC 7239 6: IPv6 nodes are bracketed, and brackets and colons are not
 * token characters, so they must be quoted. */
static const char *forwarded_node(apr_pool_t *p, const char *ip)
{
    if (ip == NULL || *ip == '\0') {
        return "unknown";
    }
    if (strchr(ip, ':') != NULL) {
        return quoted(p, apr_pstrcat(p, "[", ip, "]", NULL));
    }
    return is_token(ip) ? ip : quoted(p, ip);
}

/* "/api/" -> "/api", "/" -> "": X-Forwarded-Prefix is a path prefix that
 * the app puts in front of its own paths, which start with '/'. */
static const char *without_trailing_slash(apr_pool_t *p, const char *s)
{
    apr_size_t len;

    if (s == NULL) {
        return "";
    }
    len = strlen(s);
    if (len == 0 || s[len - 1] != '/') {
        return s;
    }
    while (len > 0 && s[len - 1] == '/') {
        len--;
    }
    return apr_pstrmemdup(p, s, len);
}

/* The value of parameter `name` (proto, host) in the LAST element of a
 * Forwarded list, unquoted; NULL when that element has none. Quoted commas
 * and semicolons are skipped over. */
static const char *last_element_param(apr_pool_t *p, const char *fwd,
                                      const char *name)
{
    const char *s, *elem = fwd;
    apr_size_t nlen = strlen(name);
    int inq = 0;

    for (s = fwd; *s != '\0'; s++) {
        if (inq && *s == '\\' && s[1] != '\0') {
            s++;
        }
        else if (*s == '"') {
            inq = !inq;
        }
        else if (!inq && *s == ',') {
            elem = s + 1;
        }
    }
    s = elem;
    while (*s != '\0') {
        const char *pstart;
        while (is_ows(*s) || *s == ';') {
            s++;
        }
        pstart = s;
        while (*s != '\0' && *s != '=' && *s != ';') {
            s++;
        }
        if (*s != '=') {
            continue;
        }
        s++;
        if (*s == '"') {
            char *v = apr_palloc(p, strlen(s) + 1), *d = v;
            for (s++; *s != '\0' && *s != '"'; s++) {
                if (*s == '\\' && s[1] != '\0') {
                    s++;
                }
                *d++ = *s;
            }
            *d = '\0';
            if (*s == '"') {
                s++;
            }
            if ((apr_size_t)(strchr(pstart, '=') - pstart) == nlen
                && apr_cstr_casecmpn(pstart, name, nlen) == 0) {
                return *v != '\0' ? v : NULL;
            }
        }
        else {
            const char *vstart = s;
            while (*s != '\0' && *s != ';' && !is_ows(*s)) {
                s++;
            }
            if ((apr_size_t)(strchr(pstart, '=') - pstart) == nlen
                && apr_cstr_casecmpn(pstart, name, nlen) == 0) {
                return s > vstart ? apr_pstrmemdup(p, vstart, s - vstart)
                                  : NULL;
            }
        }
    }
    return NULL;
}

void np_forwarded_build(apr_pool_t *p, const np_forwarded_in_t *in,
                        np_forwarded_out_t *out)
{
    const char *ip = unmap_ipv4(in->client_ip);
    const char *proto = in->tls ? "https" : "http";
    const char *host = in->host != NULL ? in->host : in->server_name;
    const char *xff = NULL, *fproto = NULL, *fhost = NULL, *fport = NULL;
    const char *fprefix = NULL, *fwd = NULL;
    const char *prefix, *elem;

    if (in->trusted) {
        xff = peer_value(p, in->in_xff);
        fproto = peer_value(p, in->in_proto);
        fhost = peer_value(p, in->in_host);
        fport = peer_value(p, in->in_port);
        fprefix = peer_value(p, in->in_prefix);
        fwd = peer_value(p, in->in_forwarded);
        /* A peer that sent only Forwarded: its proto and host stand for
         * the X-Forwarded-* ones, so the two families agree. */
        if (fwd != NULL && fproto == NULL) {
            fproto = last_element_param(p, fwd, "proto");
        }
        if (fwd != NULL && fhost == NULL) {
            fhost = last_element_param(p, fwd, "host");
        }
    }
    if (ip != NULL && *ip == '\0') {
        ip = NULL;
    }
    if (host != NULL && *host == '\0') {
        host = NULL;
    }

    if (ip == NULL) {
        out->xff = xff;
    }
    else {
        out->xff = xff != NULL ? apr_pstrcat(p, xff, ", ", ip, NULL) : ip;
    }
    out->proto = fproto != NULL ? fproto : proto;
    out->host = fhost != NULL ? fhost : host;
    if (fport != NULL) {
        out->port = fport;
    }
    else {
        out->port = in->port != 0 ? apr_psprintf(p, "%u", in->port) : NULL;
    }

    prefix = apr_pstrcat(p, without_trailing_slash(p, fprefix),
                         without_trailing_slash(p, in->prefix), NULL);
    out->prefix = *prefix != '\0' ? prefix : NULL;

    /* Our element carries the same proto and host as X-Forwarded-Proto
     * and -Host: an app reading either family sees one answer. */
    proto = out->proto;
    host = out->host;
    elem = apr_pstrcat(p, "for=", forwarded_node(p, ip), ";proto=",
                       is_token(proto) ? proto : quoted(p, proto), NULL);
    if (host != NULL) {
        elem = apr_pstrcat(p, elem, ";host=",
                           is_token(host) ? host : quoted(p, host), NULL);
    }
    out->forwarded = fwd != NULL ? apr_pstrcat(p, fwd, ", ", elem, NULL)
                                 : elem;
}
