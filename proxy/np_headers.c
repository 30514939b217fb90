/* np_headers.c — which headers cross the proxy. See np_headers.h. */
#include <string.h>

#include <apr_cstr.h>

#include "np_headers.h"

/* apr_cstr_casecmp: ASCII-only, locale-independent, as header names need. */
static int ascii_ieq(const char *a, const char *b)
{
    return apr_cstr_casecmp(a, b) == 0;
}

static int ascii_ieqn(const char *a, apr_size_t alen, const char *b)
{
    return strlen(b) == alen && apr_cstr_casecmpn(a, b, alen) == 0;
}

static int name_in_list(const char *name, const char *const *list)
{
    if (name == NULL) {
        return 0;
    }
    for (; *list != NULL; list++) {
        if (ascii_ieq(name, *list)) {
            return 1;
        }
    }
    return 0;
}

static const char *const hop_by_hop[] = {
    "Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding",
    "Upgrade", "Proxy-Connection", "Proxy-Authorization",
    "Proxy-Authenticate", NULL
};

static const char *const forwarded[] = {
    "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
    "X-Forwarded-Port", "X-Forwarded-Prefix", "Forwarded", NULL
};

static const char *const framing[] = {
    "Content-Length", "Transfer-Encoding", NULL
};

static const char *const idempotent[] = {
    "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", NULL
};

int np_header_is_hop_by_hop(const char *name)
{
    return name_in_list(name, hop_by_hop);
}

int np_header_is_forwarded(const char *name)
{
    return name_in_list(name, forwarded);
}

int np_header_is_framing(const char *name)
{
    return name_in_list(name, framing);
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int np_header_in_connection(const char *connection_value, const char *name)
{
    const char *s = connection_value;

    if (s == NULL || name == NULL || *name == '\0') {
        return 0;
    }
    while (*s != '\0') {
        const char *start, *end;

        while (is_ows(*s) || *s == ',') {
            s++;
        }
        start = s;
        while (*s != '\0' && *s != ',') {
            s++;
        }
        end = s;
        while (end > start && is_ows(end[-1])) {
            end--;
        }
        if (end > start && ascii_ieqn(start, (apr_size_t)(end - start), name)) {
            return 1;
        }
    }
    return 0;
}

int np_request_header_dropped(const char *name, const char *conn, int trusted)
{
    if (name == NULL) {
        return 0;
    }
    if (np_header_is_hop_by_hop(name) || np_header_is_framing(name)
        || ascii_ieq(name, "Expect")) {
        return 1;
    }
    if (np_header_is_forwarded(name)) {
        /* Never via Connection: a client must not be able to remove a
         * trusted proxy's chain or force our own values out. */
        return !trusted;
    }
    if (ascii_ieq(name, "Host")) {
        return 0;
    }
    return np_header_in_connection(conn, name);
}

int np_response_header_dropped(const char *name, const char *conn)
{
    if (name == NULL) {
        return 0;
    }
    return np_header_is_hop_by_hop(name) || np_header_is_framing(name)
           || np_header_in_connection(conn, name);
}

int np_method_idempotent(const char *method)
{
    const char *const *m;

    if (method == NULL) {
        return 0;
    }
    for (m = idempotent; *m != NULL; m++) {
        if (strcmp(method, *m) == 0) {
            return 1;
        }
    }
    return 0;
}
