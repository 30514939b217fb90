/* Pure: the admin control API of the nodeproxy-status handler: parsing and
 * checking POSTed changes, the page token, the same-origin check and the
 * NodeBalancerPersist file format. See np_control.h. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_sha1.h>
#include <apr_hash.h>

#include "np_control.h"
#include "np_lb.h"

static apr_status_t fail(const char **err, const char *msg)
{
    *err = msg;
    return APR_EINVAL;
}

apr_status_t np_ctl_parse_weight(apr_pool_t *p, const char *s, int *weight,
                                 const char **err)
{
    const char *d = s;
    long w = 0;
    for (; d && apr_isdigit(*d) && w <= 100; d++) {
        w = w * 10 + (*d - '0');
    }
    if (!s || d == s || *d || w > 100) {
        return fail(err, apr_psprintf(p, "bad weight \"%s\" (use a whole "
                    "number 0-100; 0 = no new requests)", s ? s : ""));
    }
    *weight = (int)w;
    return APR_SUCCESS;
}

static apr_status_t set_action(apr_pool_t *p, np_ctl_req_t *req,
                               const char *action, const char **err)
{
    int a = np_admin_parse(action);
    if (a < 0) {
        return fail(err, apr_psprintf(p, "unknown action \"%s\" (use drain, "
                    "maint or ready; or give a weight)", action));
    }
    req->kind = NP_CTL_ADMIN;
    req->admin = a;
    return APR_SUCCESS;
}

static apr_status_t check_names(np_ctl_req_t *req, const char **err)
{
    if (!req->balancer || !*req->balancer) {
        return fail(err, "missing \"balancer\" (the NodeBalancer NAME)");
    }
    if (!req->member || !*req->member) {
        return fail(err, "missing \"member\" (the member URL, as on the status page)");
    }
    if (!req->kind) {
        return fail(err, "missing \"action\" (drain, maint or ready) or \"weight\"");
    }
    return APR_SUCCESS;
}

/* ---- JSON: one flat object ------------------------------------------------- */

typedef struct {
    const char *s, *e;
} cur_t;

static void ws(cur_t *c)
{
    while (c->s < c->e && (*c->s == ' ' || *c->s == '\t' || *c->s == '\r'
                           || *c->s == '\n')) {
        c->s++;
    }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* A JSON string at c->s (on the opening quote); NULL when malformed. */
static const char *json_string(apr_pool_t *p, cur_t *c)
{
    char *out, *o;
    if (c->s >= c->e || *c->s != '"') {
        return NULL;
    }
    c->s++;
    out = o = apr_palloc(p, (apr_size_t)(c->e - c->s) * 3 + 1);
    while (c->s < c->e && *c->s != '"') {
        unsigned char ch = (unsigned char)*c->s++;
        if (ch < 0x20) {
            return NULL;
        }
        if (ch != '\\') {
            *o++ = (char)ch;
            continue;
        }
        if (c->s >= c->e) {
            return NULL;
        }
        ch = (unsigned char)*c->s++;
        switch (ch) {
        case '"': case '\\': case '/': *o++ = (char)ch; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned v = 0;
            int k;
            if (c->e - c->s < 4) {
                return NULL;
            }
            for (k = 0; k < 4; k++) {
                int h = hexval(c->s[k]);
                if (h < 0) {
                    return NULL;
                }
                v = v * 16 + (unsigned)h;
            }
            c->s += 4;
            if (v == 0 || (v >= 0xd800 && v <= 0xdfff)) {
                return NULL;   /* no NUL, no surrogates: names are plain */
            }
            if (v < 0x80) {
                *o++ = (char)v;
            }
            else if (v < 0x800) {
                *o++ = (char)(0xc0 | (v >> 6));
                *o++ = (char)(0x80 | (v & 0x3f));
            }
            else {
                *o++ = (char)(0xe0 | (v >> 12));
                *o++ = (char)(0x80 | ((v >> 6) & 0x3f));
                *o++ = (char)(0x80 | (v & 0x3f));
            }
            break;
        }
        default:
            return NULL;
        }
    }
    if (c->s >= c->e) {
        return NULL;
    }
    c->s++;
    *o = '\0';
    return out;
}

apr_status_t np_ctl_parse_json(apr_pool_t *p, const char *body, apr_size_t len,
                               np_ctl_req_t *req, const char **err)
{
    cur_t c;
    const char *action = NULL, *weight = NULL;
    int first = 1;

    memset(req, 0, sizeof(*req));
    c.s = body;
    c.e = body + len;
    ws(&c);
    if (c.s >= c.e || *c.s != '{') {
        return fail(err, "the body is not a JSON object (send {\"balancer\":"
                    "\"NAME\",\"member\":\"URL\",\"action\":\"drain\"})");
    }
    c.s++;
    for (;;) {
        const char *key, *val;
        ws(&c);
        if (first && c.s < c.e && *c.s == '}') {
            c.s++;
            break;
        }
        first = 0;
        if (!(key = json_string(p, &c))) {
            return fail(err, "malformed JSON: a key string was expected");
        }
        ws(&c);
        if (c.s >= c.e || *c.s != ':') {
            return fail(err, "malformed JSON: ':' was expected");
        }
        c.s++;
        ws(&c);
        if (c.s < c.e && *c.s == '"') {
            if (!(val = json_string(p, &c))) {
                return fail(err, apr_psprintf(p, "malformed JSON string for "
                            "\"%s\"", key));
            }
        }
        else {
            const char *v0 = c.s;
            while (c.s < c.e && (apr_isalnum(*c.s) || *c.s == '-'
                                 || *c.s == '+' || *c.s == '.')) {
                c.s++;
            }
            if (c.s == v0) {
                return fail(err, apr_psprintf(p, "malformed JSON value for "
                            "\"%s\"", key));
            }
            val = apr_pstrmemdup(p, v0, (apr_size_t)(c.s - v0));
            if (strcmp(key, "weight") != 0) {
                return fail(err, apr_psprintf(p, "\"%s\" must be a string",
                            key));
            }
        }
        if (strcmp(key, "balancer") == 0) {
            req->balancer = val;
        }
        else if (strcmp(key, "member") == 0) {
            req->member = val;
        }
        else if (strcmp(key, "action") == 0) {
            action = val;
        }
        else if (strcmp(key, "weight") == 0) {
            weight = val;
        }
        else {
            return fail(err, apr_psprintf(p, "unknown key \"%s\" (use balancer, "
                        "member and action or weight)", key));
        }
        ws(&c);
        if (c.s < c.e && *c.s == ',') {
            c.s++;
            continue;
        }
        if (c.s < c.e && *c.s == '}') {
            c.s++;
            break;
        }
        return fail(err, "malformed JSON: ',' or '}' was expected");
    }
    ws(&c);
    if (c.s != c.e) {
        return fail(err, "malformed JSON: text after the object");
    }
    if (action && weight) {
        return fail(err, "give either \"action\" or \"weight\", not both");
    }
    if (action && set_action(p, req, action, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (weight) {
        if (np_ctl_parse_weight(p, weight, &req->weight, err) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        req->kind = NP_CTL_WEIGHT;
    }
    return check_names(req, err);
}

/* ---- form-encoded ----------------------------------------------------------- */

/* Percent-decode (and '+' as space) [s, e); NULL on a bad escape or NUL. */
static const char *form_decode(apr_pool_t *p, const char *s, const char *e)
{
    char *out = apr_palloc(p, (apr_size_t)(e - s) + 1), *o = out;
    while (s < e) {
        if (*s == '+') {
            *o++ = ' ';
            s++;
        }
        else if (*s == '%') {
            int h, l;
            if (e - s < 3 || (h = hexval(s[1])) < 0 || (l = hexval(s[2])) < 0
                || (h == 0 && l == 0)) {
                return NULL;
            }
            *o++ = (char)(h * 16 + l);
            s += 3;
        }
        else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

apr_status_t np_ctl_parse_form(apr_pool_t *p, const char *body, apr_size_t len,
                               np_ctl_req_t *req, const char **err)
{
    const char *s = body, *end = body + len;
    const char *action = NULL, *weight = NULL;

    memset(req, 0, sizeof(*req));
    while (s < end) {
        const char *amp = memchr(s, '&', (apr_size_t)(end - s));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(s, '=', (apr_size_t)(pe - s));
        const char *key, *val;
        if (eq) {
            key = form_decode(p, s, eq);
            val = form_decode(p, eq + 1, pe);
            if (!key || !val) {
                return fail(err, "malformed form data (a bad %-escape)");
            }
            if (strcmp(key, "balancer") == 0) {
                req->balancer = val;
            }
            else if (strcmp(key, "member") == 0) {
                req->member = val;
            }
            else if (strcmp(key, "action") == 0) {
                action = val;
            }
            else if (strcmp(key, "weight") == 0) {
                weight = val;
            }
            else if (strcmp(key, "token") == 0) {
                req->token = val;
            }
        }
        s = amp ? amp + 1 : end;
    }
    if (action && strcmp(action, "weight") == 0) {
        if (!weight) {
            return fail(err, "action=weight needs a weight (0-100)");
        }
        if (np_ctl_parse_weight(p, weight, &req->weight, err) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        req->kind = NP_CTL_WEIGHT;
    }
    else if (action && set_action(p, req, action, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    return check_names(req, err);
}

/* ---- token ---------------------------------------------------------------------- */

static void hmac_sha1(const unsigned char *key, apr_size_t klen,
                      const char *msg, apr_size_t mlen,
                      unsigned char out[APR_SHA1_DIGESTSIZE])
{
    unsigned char k[64], pad[64], inner[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    int i;
    memset(k, 0, sizeof(k));
    if (klen > sizeof(k)) {
        apr_sha1_init(&ctx);
        apr_sha1_update_binary(&ctx, key, (unsigned int)klen);
        apr_sha1_final(k, &ctx);
    }
    else {
        memcpy(k, key, klen);
    }
    for (i = 0; i < 64; i++) {
        pad[i] = k[i] ^ 0x36;
    }
    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, pad, 64);
    apr_sha1_update_binary(&ctx, (const unsigned char *)msg, (unsigned int)mlen);
    apr_sha1_final(inner, &ctx);
    for (i = 0; i < 64; i++) {
        pad[i] = k[i] ^ 0x5c;
    }
    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, pad, 64);
    apr_sha1_update_binary(&ctx, inner, APR_SHA1_DIGESTSIZE);
    apr_sha1_final(out, &ctx);
}

static const char *token_for(apr_pool_t *p, const unsigned char *secret,
                             apr_size_t n, const char *stamp)
{
    unsigned char mac[APR_SHA1_DIGESTSIZE];
    char hex[2 * APR_SHA1_DIGESTSIZE + 1];
    const char *msg = apr_pstrcat(p, "nodeproxy-control|", stamp, NULL);
    int i;
    hmac_sha1(secret, n, msg, strlen(msg), mac);
    for (i = 0; i < APR_SHA1_DIGESTSIZE; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    }
    return apr_pstrcat(p, stamp, ".", hex, NULL);
}

const char *np_ctl_token_make(apr_pool_t *p, const unsigned char *secret,
                              apr_size_t secret_len, apr_time_t now)
{
    return token_for(p, secret, secret_len,
                     apr_psprintf(p, "%" APR_UINT64_T_HEX_FMT,
                                  (apr_uint64_t)apr_time_sec(now)));
}

int np_ctl_token_ok(const unsigned char *secret, apr_size_t secret_len,
                    const char *token, apr_time_t now,
                    apr_interval_time_t max_age)
{
    apr_pool_t *p;
    const char *dot, *want, *d;
    apr_uint64_t stamp = 0;
    int ok = 0, diff = 0;
    size_t i, n;

    if (!token || !(dot = strchr(token, '.')) || dot == token
        || dot - token > 16) {
        return 0;
    }
    for (d = token; d < dot; d++) {
        int h = hexval(*d);
        if (h < 0 || (*d >= 'A' && *d <= 'F')) {
            return 0;
        }
        stamp = stamp * 16 + (apr_uint64_t)h;
    }
    if ((apr_int64_t)stamp > apr_time_sec(now) + 60
        || apr_time_from_sec((apr_int64_t)stamp) + max_age < now) {
        return 0;
    }
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return 0;
    }
    want = token_for(p, secret, secret_len,
                     apr_pstrmemdup(p, token, (apr_size_t)(dot - token)));
    n = strlen(want);
    if (strlen(token) == n) {
        /* compare in constant time */
        for (i = 0; i < n; i++) {
            diff |= want[i] ^ token[i];
        }
        ok = diff == 0;
    }
    apr_pool_destroy(p);
    return ok;
}

int np_ctl_same_origin(const char *origin, int is_referer, const char *scheme,
                       const char *host)
{
    size_t sl, hl;
    const char *rest;
    if (!origin || !scheme || !host || !*host || strcmp(origin, "null") == 0) {
        return 0;
    }
    sl = strlen(scheme);
    hl = strlen(host);
    if (strncasecmp(origin, scheme, sl) != 0 || strncmp(origin + sl, "://", 3)
        != 0 || strncasecmp(origin + sl + 3, host, hl) != 0) {
        return 0;
    }
    rest = origin + sl + 3 + hl;
    if (!is_referer) {
        return *rest == '\0';
    }
    return *rest == '\0' || *rest == '/' || *rest == '?' || *rest == '#';
}

/* ---- NodeBalancerPersist ------------------------------------------------------------ */

const char *np_persist_line(apr_pool_t *p, const np_persist_entry_t *e)
{
    const char *name = np_admin_name(e->admin);
    if (!name || !e->balancer || !e->member || !*e->balancer || !*e->member
        || strpbrk(e->balancer, "\t\r\n") || strpbrk(e->member, "\t\r\n")) {
        return NULL;
    }
    return apr_psprintf(p, "%s\t%s\t%s\t%s\n", e->balancer, e->member, name,
                        e->weight < 0 ? "-" : apr_itoa(p, e->weight));
}

apr_status_t np_persist_parse(apr_pool_t *p, const char *text, apr_size_t len,
                              apr_array_header_t *out, const char **err)
{
    const char *s = text, *end = text + len;
    apr_array_header_t *got = apr_array_make(p, 8, sizeof(np_persist_entry_t));
    apr_hash_t *seen = apr_hash_make(p);
    int line = 0, header = 0, i;

    if (memchr(text, '\0', len)) {
        return fail(err, "the file holds a NUL byte (not a text file)");
    }
    while (s < end) {
        const char *nl = memchr(s, '\n', (apr_size_t)(end - s));
        const char *le = nl ? nl : end;
        char *l = apr_pstrmemdup(p, s, (apr_size_t)(le - s));
        char *f[5], *last;
        int nf = 0;
        np_persist_entry_t e;
        line++;
        s = nl ? nl + 1 : end;
        if (*l && l[strlen(l) - 1] == '\r') {
            l[strlen(l) - 1] = '\0';
        }
        if (!*l || *l == '#') {
            continue;
        }
        if (!header) {
            if (strcmp(l, "np-admin-states 1") != 0) {
                return fail(err, apr_psprintf(p, "line %d: \"np-admin-states "
                            "1\" was expected", line));
            }
            header = 1;
            continue;
        }
        for (f[nf] = apr_strtok(l, "\t", &last); f[nf] && nf < 4;
             f[++nf] = apr_strtok(NULL, "\t", &last)) {
        }
        if (nf != 4 || f[4]) {
            return fail(err, apr_psprintf(p, "line %d: 4 tab-separated fields "
                        "were expected (BALANCER MEMBER STATE WEIGHT)", line));
        }
        e.balancer = f[0];
        e.member = f[1];
        if ((e.admin = np_admin_parse(f[2])) < 0) {
            return fail(err, apr_psprintf(p, "line %d: unknown state \"%s\"",
                        line, f[2]));
        }
        if (strcmp(f[3], "-") == 0) {
            e.weight = -1;
        }
        else if (np_ctl_parse_weight(p, f[3], &e.weight, err) != APR_SUCCESS) {
            *err = apr_psprintf(p, "line %d: %s", line, *err);
            return APR_EINVAL;
        }
        {
            const char *k = apr_pstrcat(p, e.balancer, "\t", e.member, NULL);
            if (apr_hash_get(seen, k, APR_HASH_KEY_STRING)) {
                return fail(err, apr_psprintf(p, "line %d: member %s of %s is "
                            "listed twice", line, e.member, e.balancer));
            }
            apr_hash_set(seen, k, APR_HASH_KEY_STRING, k);
        }
        *(np_persist_entry_t *)apr_array_push(got) = e;
    }
    if (!header) {
        return fail(err, "empty file (no \"np-admin-states 1\" line)");
    }
    for (i = 0; i < got->nelts; i++) {
        *(np_persist_entry_t *)apr_array_push(out) =
            APR_ARRAY_IDX(got, i, np_persist_entry_t);
    }
    return APR_SUCCESS;
}
