/* Pure: sticky-session cookies and route ids. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_cstr.h>

#include "np_sticky.h"
#include "np_lb.h"

#define NP_STICKY_MAX 64

const char *np_sticky_route_id(apr_pool_t *p, const char *member_key)
{
    static const char hex[] = "0123456789abcdef";
    const char *k = member_key ? member_key : "";
    apr_uint64_t h = np_lb_hash(k, strlen(k), 0) >> 16;   /* top 48 bits */
    char *id = apr_palloc(p, 14);
    int i;
    id[0] = 'r';
    for (i = 12; i >= 1; i--) {
        id[i] = hex[h & 0xf];
        h >>= 4;
    }
    id[13] = '\0';
    return id;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

const char *np_sticky_cookie_get(apr_pool_t *p, const char *cookie_header,
                                 const char *name)
{
    const char *s = cookie_header;
    apr_size_t nlen;
    if (!s || !name || !*name) {
        return NULL;
    }
    nlen = strlen(name);
    while (*s) {
        const char *end = strchr(s, ';'), *eq, *ne, *v, *ve;
        if (!end) {
            end = s + strlen(s);
        }
        while (s < end && is_ows(*s)) {
            s++;
        }
        eq = memchr(s, '=', end - s);
        if (eq) {
            ne = eq;
            while (ne > s && is_ows(ne[-1])) {
                ne--;
            }
            if ((apr_size_t)(ne - s) == nlen && memcmp(s, name, nlen) == 0) {
                v = eq + 1;
                ve = end;
                while (v < ve && is_ows(*v)) {
                    v++;
                }
                while (ve > v && is_ows(ve[-1])) {
                    ve--;
                }
                if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                    v++;
                    ve--;
                }
                return apr_pstrmemdup(p, v, ve - v);
            }
        }
        s = *end ? end + 1 : end;
    }
    return NULL;
}

const char *np_sticky_set_cookie(apr_pool_t *p, const char *name,
                                 const char *route, int secure)
{
    return apr_pstrcat(p, name, "=", route, "; Path=/; HttpOnly; SameSite=Lax",
                       secure ? "; Secure" : "", NULL);
}

/* RFC 6265 token (RFC 2616 2.2): CHARs except CTLs and separators. */
static int is_token_char(unsigned char c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static int is_route_char(unsigned char c)
{
    return apr_isalnum(c) || c == '.' || c == '_' || c == '~' || c == '-';
}

static apr_status_t check(apr_pool_t *p, const char *what, const char *s,
                          int (*ok)(unsigned char), const char *rule,
                          const char **err)
{
    apr_size_t n;
    const char *c;
    if (!s || !*s) {
        *err = apr_psprintf(p, "%s is empty: %s", what, rule);
        return APR_EINVAL;
    }
    n = strlen(s);
    for (c = s; *c; c++) {
        if (!ok((unsigned char)*c)) {
            break;
        }
    }
    if (*c || n > NP_STICKY_MAX) {
        *err = apr_psprintf(p, "%s \"%s\" is not valid: %s", what, s, rule);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t np_sticky_check_name(apr_pool_t *p, const char *name,
                                  const char **err)
{
    return check(p, "cookie name", name, is_token_char,
                 "use 1-64 token characters (letters, digits and "
                 "!#$%&'*+-.^_`|~, no spaces or ()<>@,;:\\\"/[]?={})", err);
}

apr_status_t np_sticky_check_route(apr_pool_t *p, const char *route,
                                   const char **err)
{
    return check(p, "route", route, is_route_char,
                 "use 1-64 characters of A-Z a-z 0-9 . _ ~ -", err);
}

/* Does the Cache-Control list cc hold the unqualified directive `name`?
 * Commas inside quoted strings do not separate directives. */
static int cc_has(const char *cc, const char *name)
{
    apr_size_t n = strlen(name);
    const char *s = cc;

    while (*s) {
        const char *start;
        int inq = 0;
        while (*s == ' ' || *s == '\t' || *s == ',') {
            s++;
        }
        start = s;
        while (*s && (inq || *s != ',')) {
            if (inq && *s == '\\' && s[1]) {
                s++;
            }
            else if (*s == '"') {
                inq = !inq;
            }
            s++;
        }
        if ((apr_size_t)(s - start) >= n && apr_cstr_casecmpn(start, name, n) == 0) {
            const char *after = start + n;
            while (after < s && (*after == ' ' || *after == '\t')) {
                after++;
            }
            if (after == s) {
                return 1;
            }
        }
    }
    return 0;
}

const char *np_sticky_cache_control(apr_pool_t *p, const char *cc)
{
    if (cc == NULL || *cc == '\0') {
        return "private";
    }
    if (cc_has(cc, "private") || cc_has(cc, "no-store")) {
        return cc;
    }
    return apr_pstrcat(p, cc, ", private", NULL);
}
