/* Glue: a connection to Redis, plain or TLS, bounded per step.
 *
 * Why not hiredis' own connection: Debian 12's hiredis 0.14 has no TLS
 * (hiredis_ssl came with 1.0), and a TLS-only Redis with client
 * certificates (`tls-auth-clients yes`, Redis' default) is what managed
 * and hardened deployments run. The protocol part of hiredis is all we
 * keep: redisFormatCommandArgv builds a command, a redisReader parses
 * replies; the bytes travel over our own non-blocking socket, through
 * OpenSSL when TLS is on, with the SSL_CTX made by tls/ (the same
 * verification rules as https:// backends).
 *
 * Bounds: connect, the handshake and each command (write + whole reply)
 * each get `timeout` from the moment they start; a step that runs out is
 * a failure (the caller then fails open). The server's name is looked up
 * apart (np_rconn_resolve), where a slow DNS answer stalls no request.
 * Nothing here logs: the caller logs the reason once per outage. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <apr_strings.h>

#include "mod_nodeproxy_redis_conn.h"
#include "mod_nodeproxy_tls.h"

struct np_rconn_t {
    int fd;
    SSL *ssl;                      /* NULL: plain TCP                     */
    redisReader *reader;
    apr_interval_time_t timeout;
};

static void why_set(char *why, apr_size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void why_set(char *why, apr_size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* Wait until fd is ready for events or the deadline passes: 1 ready,
 * 0 timed out, -1 error (errno). */
static int wait_fd(int fd, short events, apr_time_t deadline)
{
    for (;;) {
        struct pollfd pfd;
        apr_interval_time_t left = deadline - apr_time_now();
        int n, ms;
        if (left <= 0) {
            return 0;
        }
        ms = (int)((left + 999) / 1000);
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        n = poll(&pfd, 1, ms);
        if (n > 0) {
            return 1;   /* errors and hang-ups show in the next call */
        }
        if (n < 0 && errno != EINTR) {
            return -1;
        }
    }
}

int np_rconn_resolve(const char *host, int port, np_raddr_t *out, int max,
                     char *why, apr_size_t whylen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char sport[16];
    int rc, n = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(sport, sizeof(sport), "%d", port);
    rc = getaddrinfo(host, sport, &hints, &res);
    if (rc != 0) {
        why_set(why, whylen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return 0;
    }
    for (ai = res; ai && n < max; ai = ai->ai_next) {
        if (ai->ai_addrlen <= sizeof(out[n].sa)) {
            memcpy(&out[n].sa, ai->ai_addr, ai->ai_addrlen);
            out[n].len = ai->ai_addrlen;
            n++;
        }
    }
    freeaddrinfo(res);
    if (!n) {
        why_set(why, whylen, "cannot resolve %s: no address", host);
    }
    return n;
}

static int connect_addr(const np_raddr_t *a, apr_time_t deadline,
                        char *why, apr_size_t whylen)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK
                                     | SOCK_CLOEXEC, 0);
    int one = 1, err = 0, w;
    socklen_t elen = sizeof(err);

    if (fd < 0) {
        why_set(why, whylen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0) {
        return fd;
    }
    if (errno != EINPROGRESS) {
        why_set(why, whylen, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    w = wait_fd(fd, POLLOUT, deadline);
    if (w == 0) {
        why_set(why, whylen, "connect: timed out");
    }
    else if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) {
        why_set(why, whylen, "connect: %s", strerror(errno));
    }
    else if (err) {
        why_set(why, whylen, "connect: %s", strerror(err));
    }
    else {
        return fd;
    }
    close(fd);
    return -1;
}

/* After an SSL call returned n <= 0 at a step that has a deadline: 1 to
 * call again (it waited for the socket), 0 failed (why[] set). */
static int ssl_again(np_rconn_t *c, int n, apr_time_t deadline,
                     const char *step, char *why, apr_size_t whylen)
{
    int e = SSL_get_error(c->ssl, n), w;
    unsigned long oe;
    const char *r;

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                    deadline);
        if (w > 0) {
            return 1;
        }
        why_set(why, whylen, "%s: %s", step,
                w == 0 ? "timed out" : strerror(errno));
        return 0;
    }
    if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
        why_set(why, whylen, "%s: certificate verify failed: %s", step,
                X509_verify_cert_error_string(
                    SSL_get_verify_result(c->ssl)));
    }
    else if ((oe = ERR_peek_last_error()) != 0
             && (r = ERR_reason_error_string(oe)) != NULL) {
        why_set(why, whylen, "%s: %s", step, r);
    }
    else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL
                                            && errno == 0)) {
        why_set(why, whylen, "%s: closed by the server%s", step,
                SSL_is_init_finished(c->ssl) ? "" : " (not a TLS port?)");
    }
    else {
        why_set(why, whylen, "%s: %s", step, strerror(errno));
    }
    ERR_clear_error();
    return 0;
}

static int handshake(np_rconn_t *c, const np_rconn_opts_t *o, char *why,
                     apr_size_t whylen)
{
    apr_time_t deadline = apr_time_now() + o->timeout;
    int n;

    ERR_clear_error();
    c->ssl = SSL_new(o->ssl_ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
        why_set(why, whylen, "TLS: out of memory");
        ERR_clear_error();
        return 0;
    }
    if (o->sni) {
        SSL_set_tlsext_host_name(c->ssl, o->sni);
    }
    np_tls_expect_peer(c->ssl, o->verify, o->check_name, o->check_ip);
    for (;;) {
        errno = 0;
        n = SSL_connect(c->ssl);
        if (n == 1) {
            return 1;
        }
        if (!ssl_again(c, n, deadline, "TLS handshake failed", why,
                       whylen)) {
            return 0;
        }
    }
}

np_rconn_t *np_rconn_open(const np_rconn_opts_t *o, const np_raddr_t *addrs,
                          int naddrs, char *why, apr_size_t whylen)
{
    apr_time_t deadline = apr_time_now() + o->timeout;
    np_rconn_t *c;
    int i;

    c = calloc(1, sizeof(*c));
    if (!c) {
        why_set(why, whylen, "out of memory");
        return NULL;
    }
    c->fd = -1;
    c->timeout = o->timeout;
    why[0] = '\0';
    if (naddrs <= 0) {
        why_set(why, whylen, "no address to connect to");
    }
    for (i = 0; i < naddrs && c->fd < 0; i++) {
        c->fd = connect_addr(&addrs[i], deadline, why, whylen);
    }
    if (c->fd < 0
        || (o->ssl_ctx && !handshake(c, o, why, whylen))
        || !(c->reader = redisReaderCreate())) {
        if (c->fd >= 0 && !c->reader && !why[0]) {
            why_set(why, whylen, "out of memory");
        }
        np_rconn_close(c);
        return NULL;
    }
    return c;
}

/* Write all of buf before the deadline: 1, or 0 with why[]. */
static int send_all(np_rconn_t *c, const char *buf, size_t len,
                    apr_time_t deadline, char *why, apr_size_t whylen)
{
    while (len > 0) {
        ssize_t n;
        if (c->ssl) {
            int k;
            ERR_clear_error();
            errno = 0;
            k = SSL_write(c->ssl, buf, len > 65536 ? 65536 : (int)len);
            if (k <= 0) {
                if (!ssl_again(c, k, deadline, "write", why, whylen)) {
                    return 0;
                }
                continue;
            }
            n = k;
        }
        else {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n < 0) {
                int w;
                if (errno == EINTR) {
                    continue;
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                    why_set(why, whylen, "write: %s", strerror(errno));
                    return 0;
                }
                w = wait_fd(c->fd, POLLOUT, deadline);
                if (w <= 0) {
                    why_set(why, whylen, "write: %s",
                            w == 0 ? "timed out" : strerror(errno));
                    return 0;
                }
                continue;
            }
        }
        buf += n;
        len -= (size_t)n;
    }
    return 1;
}

/* Some bytes into buf before the deadline: their count, or 0 with why[]. */
static size_t recv_some(np_rconn_t *c, char *buf, size_t len,
                        apr_time_t deadline, char *why, apr_size_t whylen)
{
    for (;;) {
        ssize_t n;
        int w;
        if (c->ssl) {
            ERR_clear_error();
            errno = 0;
            n = SSL_read(c->ssl, buf, (int)len);
            if (n > 0) {
                return (size_t)n;
            }
            if (!ssl_again(c, (int)n, deadline, "read", why, whylen)) {
                return 0;
            }
            continue;
        }
        n = recv(c->fd, buf, len, 0);
        if (n > 0) {
            return (size_t)n;
        }
        if (n == 0) {
            why_set(why, whylen, "read: closed by the server");
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            why_set(why, whylen, "read: %s", strerror(errno));
            return 0;
        }
        w = wait_fd(c->fd, POLLIN, deadline);
        if (w <= 0) {
            why_set(why, whylen, "read: %s",
                    w == 0 ? "timed out" : strerror(errno));
            return 0;
        }
    }
}

redisReply *np_rconn_call(np_rconn_t *c, int argc, const char **argv,
                          const size_t *lens, char *why, apr_size_t whylen)
{
    apr_time_t deadline = apr_time_now() + c->timeout;
    char *cmd = NULL, buf[16384];
    void *reply = NULL;
    int len;

    why[0] = '\0';
    len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0) {
        why_set(why, whylen, "out of memory");
        return NULL;
    }
    if (!send_all(c, cmd, (size_t)len, deadline, why, whylen)) {
        redisFreeCommand(cmd);
        return NULL;
    }
    redisFreeCommand(cmd);
    for (;;) {
        size_t n;
        if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
            why_set(why, whylen, "bad reply: %s", c->reader->errstr);
            return NULL;
        }
        if (reply) {
            return reply;
        }
        n = recv_some(c, buf, sizeof(buf), deadline, why, whylen);
        if (n == 0) {
            return NULL;
        }
        if (redisReaderFeed(c->reader, buf, n) != REDIS_OK) {
            why_set(why, whylen, "bad reply: %s", c->reader->errstr);
            return NULL;
        }
    }
}

void np_rconn_close(np_rconn_t *c)
{
    if (!c) {
        return;
    }
    if (c->ssl) {
        if (SSL_is_init_finished(c->ssl)) {
            ERR_clear_error();
            SSL_shutdown(c->ssl);   /* close_notify; no answer waited for */
        }
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    if (c->reader) {
        redisReaderFree(c->reader);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c);
}
