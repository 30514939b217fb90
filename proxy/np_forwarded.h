/* np_forwarded.h — the proxy's X-Forwarded-* and RFC 7239 Forwarded values
 * (pure: C99 + APR only). */
#ifndef NP_FORWARDED_H
#define NP_FORWARDED_H

#include <apr_pools.h>

typedef struct {
    const char *client_ip;   /* the client's address as Apache established it
                              * (r->useragent_ip: mod_remoteip's answer, else
                              * the TCP peer), e.g. "203.0.113.7" or "2001:db8::1" */
    int tls;                 /* client connection is TLS */
    const char *host;        /* client's Host header value incl. any port, or NULL (HTTP/1.0) */
    const char *server_name; /* fallback when host is NULL */
    unsigned int port;       /* local port the client connected to */
    const char *prefix;      /* mapping prefix stripped (e.g. "/api"), or NULL when nothing is stripped */
    int trusted;             /* the peer is a NodeTrustedProxy: what it sent is kept and extended */
    /* The peer's header values (NULL if absent); ignored unless trusted.
     * Several fields of one name must be joined with ", " first (as
     * apr_table_merge does); an empty or all-blank value counts as absent. */
    const char *in_xff, *in_proto, *in_host, *in_port, *in_prefix,
               *in_forwarded;
} np_forwarded_in_t;

/* Header values to send to the backend; NULL = do not send. */
typedef struct {
    const char *xff, *proto, *host, *port, *prefix, *forwarded;
} np_forwarded_out_t;

/* Build the values; all strings are allocated from p or point into `in`.
 *
 * An IPv4-mapped IPv6 client_ip ("::ffff:1.2.3.4") is written as the plain
 * IPv4 "1.2.3.4" everywhere, as Express shows it in req.ip.
 *
 * X-Forwarded-For    [in_xff ", "] client_ip (client_ip NULL: in_xff alone)
 * X-Forwarded-Proto  in_proto, else proto= of the last element of
 *                    in_forwarded, else "https" / "http"
 * X-Forwarded-Host   in_host, else host= of the last element of
 *                    in_forwarded, else host, else server_name (NULL if none)
 * X-Forwarded-Port   in_port, else port in decimal (not sent when 0)
 * X-Forwarded-Prefix [in_prefix] prefix, each without trailing '/'; not
 *                    sent when that is empty (prefix NULL or "/" and no
 *                    trusted in_prefix). A trusted in_prefix is passed on
 *                    even when we strip nothing, like the other in_* values.
 * Forwarded          [in_forwarded ", "] for=ADDR;proto=P;host=HOST
 *                    ADDR: IPv4 as is, IPv6 as "[addr]" (quoted), NULL
 *                    client_ip as "unknown"; P and HOST: exactly the
 *                    X-Forwarded-Proto and -Host values above, so the two
 *                    header families never contradict each other (a
 *                    trusted peer's https stays https in both), quoted
 *                    when not an RFC 7230 token, e.g.
 *                    host="example.com:8080"; host omitted when there is none.
 * The in_* values count only when in->trusted. */
void np_forwarded_build(apr_pool_t *p, const np_forwarded_in_t *in,
                        np_forwarded_out_t *out);

#endif /* NP_FORWARDED_H */
