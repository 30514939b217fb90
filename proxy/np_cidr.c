/* np_cidr.c — address range parsing and matching. See np_cidr.h. */
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <apr_strings.h>

#include "np_cidr.h"

/* Longest textual address we pass to inet_pton (INET6_ADDRSTRLEN is 46). */
#define NP_ADDR_MAX 64

#define NP_CIDR_HINT "(use 10.0.0.0/8, 127.0.0.1, ::1)"

static const unsigned char v4mapped_prefix[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Parse a textual address of at most n bytes into family/addr; 0 if bad. */
static int parse_addr(const char *s, size_t n, int *family,
                      unsigned char *addr)
{
    char buf[NP_ADDR_MAX];

    if (n == 0 || n >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        *family = AF_INET6;
        return 1;
    }
    return 0;
}

/* "::ffff:a.b.c.d" -> a.b.c.d, so that IPv4 ranges match mapped clients. */
static void unmap_v4(int *family, unsigned char *addr, unsigned int *bits)
{
    if (*family == AF_INET6 && memcmp(addr, v4mapped_prefix, 12) == 0
        && (bits == NULL || *bits >= 96)) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *family = AF_INET;
        if (bits) {
            *bits -= 96;
        }
    }
}

/* Decimal prefix length: 1 to 3 digits, at most max; -1 if bad. */
static int parse_bits(const char *s, unsigned int max)
{
    unsigned int v = 0;
    size_t i;

    for (i = 0; i < 3 && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (unsigned int)(s[i] - '0');
    }
    if (i == 0 || s[i] != '\0' || v > max) {
        return -1;
    }
    return (int)v;
}

static void mask_host_bits(np_cidr_t *c)
{
    unsigned int i;

    for (i = 0; i < 16; i++) {
        if (i * 8 >= c->bits) {
            c->addr[i] = 0;
        }
        else if (i * 8 + 8 > c->bits) {
            c->addr[i] &= (unsigned char)(0xff << (8 - (c->bits - i * 8)));
        }
    }
}

static apr_status_t bad_cidr(apr_pool_t *p, const char *s, const char **err)
{
    if (s == NULL) {
        *err = "missing address or CIDR " NP_CIDR_HINT;
    }
    else if (strchr(s, '[') || strchr(s, ']')) {
        *err = apr_psprintf(p, "\"%s\" is not an address or CIDR (write IPv6 "
                            "without brackets: ::1, fd00::/8)", s);
    }
    else {
        *err = apr_psprintf(p, "\"%s\" is not an address or CIDR "
                            NP_CIDR_HINT, s);
    }
    return APR_EINVAL;
}

apr_status_t np_cidr_parse_p(apr_pool_t *p, const char *s, np_cidr_t *out,
                             const char **err)
{
    np_cidr_t c;
    const char *slash;
    int bits;

    memset(&c, 0, sizeof(c));
    if (s == NULL) {
        return bad_cidr(p, s, err);
    }
    slash = strchr(s, '/');
    if (!parse_addr(s, slash ? (size_t)(slash - s) : strlen(s),
                    &c.family, c.addr)) {
        return bad_cidr(p, s, err);
    }
    c.bits = (c.family == AF_INET) ? 32 : 128;
    if (slash) {
        if ((bits = parse_bits(slash + 1, c.bits)) < 0) {
            return bad_cidr(p, s, err);
        }
        c.bits = (unsigned int)bits;
    }
    unmap_v4(&c.family, c.addr, &c.bits);
    mask_host_bits(&c);
    *out = c;
    return APR_SUCCESS;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b,
                        unsigned int bits)
{
    unsigned int whole = bits / 8, rest = bits % 8;
    unsigned char m;

    if (memcmp(a, b, whole) != 0) {
        return 0;
    }
    if (rest == 0) {
        return 1;
    }
    m = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & m) == (b[whole] & m);
}

int np_cidr_match(const np_cidr_t *c, const char *ip)
{
    unsigned char addr[16];
    const char *zone;
    int family;

    if (c == NULL || ip == NULL) {
        return 0;
    }
    /* APR appends "%zone" to link-local IPv6 addresses; ranges have none. */
    zone = strchr(ip, '%');
    if (!parse_addr(ip, zone ? (size_t)(zone - ip) : strlen(ip),
                    &family, addr)) {
        return 0;
    }
    unmap_v4(&family, addr, NULL);
    return family == c->family && prefix_equal(addr, c->addr, c->bits);
}

int np_cidr_match_any(const apr_array_header_t *cidrs, const char *ip)
{
    const np_cidr_t *c;
    int i;

    if (cidrs == NULL) {
        return 0;
    }
    c = (const np_cidr_t *)cidrs->elts;
    for (i = 0; i < cidrs->nelts; i++) {
        if (np_cidr_match(&c[i], ip)) {
            return 1;
        }
    }
    return 0;
}
