/* Pure: the checks behind https:// backends' settings (names, what is sent
 * as SNI and checked in the certificate). */
#ifndef NP_TLS_H
#define NP_TLS_H

#include <apr_pools.h>
#include <apr_errno.h>

/* Is host an IP address literal (IPv4 dotted quad, or IPv6 - it has a
 * colon)? Such a target sends no SNI (RFC 6066) and its certificate is
 * checked for the IP address instead of a DNS name. */
int np_tls_host_is_ip(const char *host);

/* A name for sni=: a DNS host name (labels of A-Z a-z 0-9 - of 1-63
 * characters, not starting or ending with '-', at most 253 in all, an
 * optional trailing dot), not an IP address. */
apr_status_t np_tls_check_sni(apr_pool_t *p, const char *name,
                              const char **err);

/* The name sent as SNI for a target host with an optional sni= override:
 * the override, else the host unless it is an IP literal (NULL: none). */
const char *np_tls_sni_for(const char *host, const char *sni);

/* Settings that need an SSL_CTX of their own, as one key string: trust
 * anchors (NULL = system store), verification, client certificate/key. */
const char *np_tls_settings_key(apr_pool_t *p, const char *ca, int verify,
                                const char *cert, const char *key);

#endif
