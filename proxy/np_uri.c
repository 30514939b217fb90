/* np_uri.c — backend paths and path escaping. See np_uri.h. */
#include <string.h>


#include "np_uri.h"

/* RFC 3986 pchar minus pct-encoded, plus '/': the bytes a path may carry
 * literally. Spelled out rather than using <ctype.h>, which is locale
 * dependent and would treat bytes >= 0x80 as letters in some locales. */
static int path_char_ok(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9')) {
        return 1;
    }
    return c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

const char *np_uri_escape_path(apr_pool_t *p, const char *decoded)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s;
    apr_size_t extra = 0;
    char *out, *d;

    if (decoded == NULL) {
        return NULL;
    }
    for (s = (const unsigned char *)decoded; *s != '\0'; s++) {
        if (!path_char_ok(*s)) {
            extra += 2;
        }
    }
    if (extra == 0) {
        return decoded;
    }
    out = apr_palloc(p, strlen(decoded) + extra + 1);
    for (s = (const unsigned char *)decoded, d = out; *s != '\0'; s++) {
        if (path_char_ok(*s)) {
            *d++ = (char)*s;
        }
        else {
            *d++ = '%';
            *d++ = hex[*s >> 4];
            *d++ = hex[*s & 0x0f];
        }
    }
    *d = '\0';
    return out;
}

const char *np_uri_join(apr_pool_t *p, const char *a, const char *b)
{
    apr_size_t alen, blen;
    char *out;

    if (a == NULL) {
        a = "";
    }
    if (b == NULL) {
        b = "";
    }
    if (*b == '\0') {
        return *a != '\0' ? a : "/";
    }
    alen = strlen(a);
    while (alen > 0 && a[alen - 1] == '/') {
        alen--;
    }
    while (*b == '/') {
        b++;
    }
    blen = strlen(b);
    out = apr_palloc(p, alen + 1 + blen + 1);
    memcpy(out, a, alen);
    out[alen] = '/';
    memcpy(out + alen + 1, b, blen + 1);
    return out;
}

static int dot_segment(const char *seg, apr_size_t n)
{
    apr_size_t dots = 0;
    while (dots < n && dots < 2 && seg[dots] == '.') {
        dots++;
    }
    /* ".", "..", ".;...", "..;..." */
    return dots > 0 && (dots == n || seg[dots] == ';');
}

int np_uri_has_dot_segment(const char *path)
{
    const char *seg = path;
    const char *p;

    if (!path) {
        return 0;
    }
    for (p = path;; p++) {
        if (*p == '/' || *p == '\\' || *p == '\0') {
            if (dot_segment(seg, (apr_size_t)(p - seg))) {
                return 1;
            }
            if (*p == '\0') {
                return 0;
            }
            seg = p + 1;
        }
    }
}
