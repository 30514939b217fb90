/* Pure: NodeRateLimitStore redis://... - the URL and its options. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "np_redis.h"
#include "np_duration.h"
#include "np_tls.h"

static apr_status_t fail(const char **err, const char *msg)
{
    *err = msg;
    return APR_EINVAL;
}

/* 0..max from all of [s, e), or -1 */
static long number(const char *s, const char *e, long max)
{
    long v = 0;
    if (s == e) {
        return -1;
    }
    for (; s < e; s++) {
        if (!apr_isdigit(*s) || v > max) {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    return v > max ? -1 : v;
}

/* HOST[:PORT][/DB] after the scheme; HOST may be [IPv6]. */
static apr_status_t parse_url(apr_pool_t *p, const char *u, const char *hp,
                              np_rl_redis_t *out, const char **err)
{
    const char *hend, *rest;

    if (strchr(hp, '@')) {
        return fail(err, "put the user and password in user= and password=, "
                    "not in the URL");
    }
    if (*hp == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close == hp + 1) {
            return fail(err, apr_psprintf(p, "\"%s\" has a bad [IPv6] host",
                                          u));
        }
        out->host = apr_pstrmemdup(p, hp + 1, close - hp - 1);
        rest = close + 1;
        if (*rest && *rest != ':' && *rest != '/') {
            return fail(err, apr_psprintf(p, "\"%s\" has a bad [IPv6] host",
                                          u));
        }
    }
    else {
        hend = hp + strcspn(hp, ":/");
        if (hend == hp) {
            return fail(err, apr_psprintf(p, "\"%s\" has no host", u));
        }
        out->host = apr_pstrmemdup(p, hp, hend - hp);
        rest = hend;
    }
    if (*rest == ':') {
        const char *e = rest + 1 + strcspn(rest + 1, "/");
        long port = number(rest + 1, e, 65535);
        if (port <= 0) {
            return fail(err, apr_psprintf(p, "\"%s\" has a bad port", u));
        }
        out->port = (int)port;
        rest = e;
    }
    if (*rest == '/' && rest[1]) {
        long db = number(rest + 1, rest + strlen(rest), 1000000);
        if (db < 0) {
            return fail(err, apr_psprintf(p, "\"%s\" has a bad database "
                        "number (use /0, /1, ...)", u));
        }
        out->db = (int)db;
    }
    return APR_SUCCESS;
}

static apr_status_t on_off(apr_pool_t *p, const char *opt, const char *v,
                           int *out, const char **err)
{
    if (strcasecmp(v, "on") == 0) {
        *out = 1;
    }
    else if (strcasecmp(v, "off") == 0) {
        *out = 0;
    }
    else {
        return fail(err, apr_psprintf(p, "%s=\"%s\": use on or off", opt, v));
    }
    return APR_SUCCESS;
}

#define OPTS "user=, password=, timeout=, tls=on|off, ca=, cert=, key=, " \
             "verify=on|off, sni="

apr_status_t np_rl_redis_parse(apr_pool_t *p, int argc,
                               const char *const *argv, np_rl_redis_t *out,
                               const char **err)
{
    static const char *const names[] = {
        "user", "password", "timeout", "tls", "ca", "cert", "key", "verify",
        "sni", NULL
    };
    const char *u;
    int i, seen = 0, scheme_tls = 0;

    memset(out, 0, sizeof(*out));
    out->port = 6379;
    out->timeout = NP_RL_REDIS_TIMEOUT;
    out->verify = 1;
    if (argc < 1) {
        return fail(err, "missing redis://HOST:PORT[/DB]");
    }
    u = argv[0];
    if (strncasecmp(u, "redis://", 8) == 0) {
        if (parse_url(p, u, u + 8, out, err) != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    else if (strncasecmp(u, "rediss://", 9) == 0) {
        if (parse_url(p, u, u + 9, out, err) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        out->tls = scheme_tls = 1;
    }
    else {
        return fail(err, apr_psprintf(p, "\"%s\" is not a redis:// or "
                                      "rediss:// URL", u));
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '='), *v;
        int k;
        for (k = 0; names[k]; k++) {
            if (eq && (apr_size_t)(eq - a) == strlen(names[k])
                && strncasecmp(a, names[k], eq - a) == 0) {
                break;
            }
        }
        if (!names[k]) {
            return fail(err, apr_psprintf(p, "unknown option \"%s\" (use "
                                          OPTS ")", a));
        }
        if (seen & (1 << k)) {
            return fail(err, apr_psprintf(p, "%s= is given twice", names[k]));
        }
        seen |= 1 << k;
        v = eq + 1;
        if (!*v) {
            return fail(err, apr_psprintf(p, "%s= needs a value", names[k]));
        }
        switch (k) {
        case 0:
            out->user = apr_pstrdup(p, v);
            break;
        case 1:
            out->password = apr_pstrdup(p, v);
            break;
        case 2: {
            const char *derr = NULL;
            if (np_duration_parse(v, &out->timeout, &derr) != APR_SUCCESS
                || out->timeout <= 0 || out->timeout > apr_time_from_sec(5)) {
                return fail(err, apr_psprintf(p, "timeout \"%s\" is not valid "
                            "(use a duration from 1ms to 5s, e.g. 50ms)", v));
            }
            break;
        }
        case 3:
            if (on_off(p, "tls", v, &out->tls, err) != APR_SUCCESS) {
                return APR_EINVAL;
            }
            if (scheme_tls && !out->tls) {
                return fail(err, "tls=off contradicts rediss://");
            }
            break;
        case 4:
            out->ca = apr_pstrdup(p, v);
            break;
        case 5:
            out->cert = apr_pstrdup(p, v);
            break;
        case 6:
            out->key = apr_pstrdup(p, v);
            break;
        case 7:
            if (on_off(p, "verify", v, &out->verify, err) != APR_SUCCESS) {
                return APR_EINVAL;
            }
            break;
        case 8:
            if (np_tls_check_sni(p, v, err) != APR_SUCCESS) {
                return APR_EINVAL;
            }
            out->sni = apr_pstrdup(p, v);
            break;
        }
    }
    if (!out->tls && (out->ca || out->cert || out->key || out->sni
                      || (seen & (1 << 7)))) {
        const char *which = out->ca ? "ca=" : out->cert ? "cert="
                          : out->key ? "key=" : out->sni ? "sni=" : "verify=";
        return fail(err, apr_psprintf(p, "%s is a TLS option: use rediss:// "
                                      "(or tls=on)", which));
    }
    if (out->key && !out->cert) {
        return fail(err, "key= needs cert= (the client certificate)");
    }
    if (out->user && !out->password) {
        return fail(err, "user= needs password= (AUTH user password)");
    }
    return APR_SUCCESS;
}

const char *np_rl_redis_url(apr_pool_t *p, const np_rl_redis_t *r)
{
    int v6 = strchr(r->host, ':') != NULL;
    return apr_psprintf(p, "%s://%s%s%s:%d/%d", r->tls ? "rediss" : "redis",
                        v6 ? "[" : "", r->host, v6 ? "]" : "", r->port, r->db);
}

void np_rl_redis_peer(const np_rl_redis_t *r, const char **sni,
                      const char **name, const char **ip)
{
    *sni = np_tls_sni_for(r->host, r->sni);
    *name = *sni;
    *ip = *sni ? NULL : r->host;
}
