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

/* A name with its length: most names are told apart by length alone. */
typedef struct {
    const char *s;
    apr_size_t n;
} np_name_t;

#define NP_NAME(lit) { lit, sizeof(lit) - 1 }

static int name_in_list(const char *name, const np_name_t *list)
{
    apr_size_t len;
    if (name == NULL) {
        return 0;
    }
    len = strlen(name);
    for (; list->s != NULL; list++) {
        if (list->n == len && apr_cstr_casecmpn(name, list->s, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static const np_name_t hop_by_hop[] = {
    NP_NAME("Connection"), NP_NAME("Keep-Alive"), NP_NAME("TE"),
    NP_NAME("Trailer"), NP_NAME("Transfer-Encoding"), NP_NAME("Upgrade"),
    NP_NAME("Proxy-Connection"), NP_NAME("Proxy-Authorization"),
    NP_NAME("Proxy-Authenticate"), { NULL, 0 }
};

static const np_name_t forwarded[] = {
    NP_NAME("X-Forwarded-For"), NP_NAME("X-Forwarded-Proto"),
    NP_NAME("X-Forwarded-Host"), NP_NAME("X-Forwarded-Port"),
    NP_NAME("X-Forwarded-Prefix"), NP_NAME("Forwarded"), { NULL, 0 }
};

/* Client-address headers some apps read (nginx's X-Real-IP convention, CDN
 * ones): trusted only from a NodeTrustedProxy, like X-Forwarded-For. */
static const np_name_t client_ip[] = {
    NP_NAME("X-Real-IP"), NP_NAME("X-Client-IP"), NP_NAME("True-Client-IP"),
    { NULL, 0 }
};

static const np_name_t framing[] = {
    NP_NAME("Content-Length"), NP_NAME("Transfer-Encoding"), { NULL, 0 }
};

static const np_name_t idempotent[] = {
    NP_NAME("GET"), NP_NAME("HEAD"), NP_NAME("OPTIONS"), NP_NAME("TRACE"),
    NP_NAME("PUT"), NP_NAME("DELETE"), { NULL, 0 }
};

int np_header_is_hop_by_hop(const char *name)
{
    return name_in_list(name, hop_by_hop);
}

int np_header_is_forwarded(const char *name)
{
    return name_in_list(name, forwarded);
}

int np_header_is_client_ip(const char *name)
{
    return name_in_list(name, client_ip);
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
    /* Proxy: no such header exists; CGI-style apps read it as
     * HTTP_PROXY and send their own requests through it (httpoxy,
     * CVE-2016-5387). */
    if (np_header_is_hop_by_hop(name) || np_header_is_framing(name)
        || ascii_ieq(name, "Expect") || ascii_ieq(name, "Proxy")) {
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
    const np_name_t *m;

    if (method == NULL) {
        return 0;
    }
    /* Method names are case-sensitive (RFC 9110 9.1). */
    for (m = idempotent; m->s != NULL; m++) {
        if (strcmp(method, m->s) == 0) {
            return 1;
        }
    }
    return 0;
}
