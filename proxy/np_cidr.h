/* np_cidr.h — address ranges (NodeTrustedProxy). */
#ifndef NP_CIDR_H
#define NP_CIDR_H

/* Address ranges for NodeTrustedProxy (pure: C99 + APR only).
 *
 * Accepted: "10.0.0.0/8", "127.0.0.1" (= /32), "::1" (= /128), "fd00::/8".
 * - Host bits beyond the prefix are accepted and masked: "10.1.2.3/8" is
 *   stored as 10.0.0.0/8, the range the administrator wrote the prefix for.
 * - An IPv4-mapped IPv6 range with a prefix of 96 or more
 *   ("::ffff:10.0.0.0/104") is stored as the IPv4 range (10.0.0.0/8).
 * - Mapped clients ("::ffff:10.1.2.3") are matched as IPv4 only, so "::/0"
 *   does not cover them: trusting everyone needs 0.0.0.0/0 as well.
 * Rejected with APR_EINVAL: brackets ("[::1]"), zone ids ("fe80::1%eth0"),
 * a prefix length that is empty, not decimal digits, or above 32 (IPv4) /
 * 128 (IPv6), and anything inet_pton() does not take (this includes
 * shortened or zero-padded IPv4 such as "10.1" or "010.0.0.1").
 */

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];     /* network byte order; host bits are 0 */
    unsigned int bits;          /* prefix length */
} np_cidr_t;

/* Parse s into *out. On APR_EINVAL, *err (allocated in p) names the value:
 * "\"10.0.0.0/33\" is not an address or CIDR (use 10.0.0.0/8, 127.0.0.1,
 * ::1)". */
apr_status_t np_cidr_parse_p(apr_pool_t *p, const char *s, np_cidr_t *out,
                             const char **err);

/* 1 if ip lies in c, else 0. ip is a textual address as Apache gives it in
 * conn_rec->client_ip: an IPv4-mapped IPv6 address ("::ffff:10.1.2.3")
 * matches IPv4 ranges, and a zone id ("fe80::1%eth0") is ignored. An
 * unparsable ip (or NULL) matches nothing. */
int np_cidr_match(const np_cidr_t *c, const char *ip);

/* 1 if ip lies in any of cidrs (an array of np_cidr_t; NULL = empty). */
int np_cidr_match_any(const apr_array_header_t *cidrs, const char *ip);

#endif /* NP_CIDR_H */
