/* Glue: https:// backends with OpenSSL - their directives, one SSL_CTX per
 * distinct settings, the handshake, and the TLS transport of the pool's
 * connections (proxy/mod_nodeproxy_pool.h). */
#ifndef MOD_NODEPROXY_TLS_H
#define MOD_NODEPROXY_TLS_H

#include <httpd.h>
#include <http_config.h>
#include <openssl/ssl.h>

/* NodeBackendCA / NodeBackendVerify / NodeBackendClientCert, per server;
 * NULL / NP_UNSET mean "not set here". */
typedef struct np_tls_conf_t {
    const char *ca;          /* file or directory; NULL: system store only  */
    int verify;              /* NP_UNSET: on                                */
    const char *cert;        /* client certificate (chain) file             */
    const char *key;         /* its key (NULL: in the certificate file)     */
} np_tls_conf_t;

np_tls_conf_t *np_tls_conf_create(apr_pool_t *p);
np_tls_conf_t *np_tls_conf_merge(apr_pool_t *p, const np_tls_conf_t *base,
                                 const np_tls_conf_t *add);

const char *np_tls_cmd_ca(cmd_parms *cmd, void *dconf, const char *arg);
const char *np_tls_cmd_verify(cmd_parms *cmd, void *dconf, int on);
const char *np_tls_cmd_client_cert(cmd_parms *cmd, void *dconf,
                                   const char *cert, const char *key);

void np_tls_register_hooks(apr_pool_t *p);

/* ---- for other TLS clients of the module (the Redis store) ----------------
 * The same settings as https:// backends: TLS 1.2 at least, the peer
 * verified against the system store (plus what np_tls_load_ca adds) when
 * verify is on. The context is freed with p. NULL with *err. */
SSL_CTX *np_tls_client_ctx(apr_pool_t *p, int verify, const char **err);
/* Trust anchors (a PEM file or a hashed directory) / a client certificate
 * chain and its key (NULL: in the certificate file) into ctx: NULL, or
 * what is wrong with which file (without a directive name). */
const char *np_tls_load_ca(apr_pool_t *p, SSL_CTX *ctx, const char *ca);
const char *np_tls_load_client_cert(apr_pool_t *p, SSL_CTX *ctx,
                                    const char *cert, const char *key);
/* With verify on, the peer's certificate must carry name (a DNS name) or
 * else ip (an address literal). */
void np_tls_expect_peer(SSL *ssl, int verify, const char *name,
                        const char *ip);

#endif
