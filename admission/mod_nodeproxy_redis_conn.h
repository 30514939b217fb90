/* Glue: one connection to Redis - a plain TCP socket or TLS (OpenSSL) -
 * with hiredis only for the protocol (commands formatted by
 * redisFormatCommandArgv, replies parsed by a redisReader). Every step
 * (connecting, the TLS handshake, each command) is bounded by a timeout:
 * the socket is non-blocking and waited on with poll(). */
#ifndef MOD_NODEPROXY_REDIS_CONN_H
#define MOD_NODEPROXY_REDIS_CONN_H

#include <apr_time.h>
#include <openssl/ssl.h>
#include <hiredis/hiredis.h>

#include <sys/socket.h>

typedef struct np_rconn_t np_rconn_t;

/* One address of the server, looked up beforehand (never by a request). */
typedef struct {
    struct sockaddr_storage sa;
    socklen_t len;
} np_raddr_t;

#define NP_RADDR_MAX 8

/* HOST:PORT's addresses (at most max): their count, or 0 with why[]. May
 * wait for DNS: call it where waiting is harmless. */
int np_rconn_resolve(const char *host, int port, np_raddr_t *out, int max,
                     char *why, apr_size_t whylen);

typedef struct {
    apr_interval_time_t timeout;  /* per step                             */
    SSL_CTX *ssl_ctx;             /* NULL: plain TCP                      */
    int verify;                   /* check the name below (ssl_ctx set)   */
    const char *sni;              /* NULL: none                           */
    const char *check_name;       /* the certificate must carry this name */
    const char *check_ip;         /* or this address                      */
} np_rconn_opts_t;

/* Connected to the first of addrs that answers (and the TLS handshake
 * done), or NULL with why[] set. Safe
 * to call from any thread; the connection is used by one thread. */
np_rconn_t *np_rconn_open(const np_rconn_opts_t *o, const np_raddr_t *addrs,
                          int naddrs, char *why, apr_size_t whylen);
/* Send one command and read its reply (freeReplyObject it), or NULL with
 * why[] set: the connection is unusable then (close it). An error reply
 * is a reply. */
redisReply *np_rconn_call(np_rconn_t *c, int argc, const char **argv,
                          const size_t *lens, char *why, apr_size_t whylen);
void np_rconn_close(np_rconn_t *c);

#endif
