/* Pure: NodeRateLimitStore redis://HOST:PORT[/DB] [key=value...] - the URL
 * and the options a Redis deployment needs (AUTH with a password or an ACL
 * user, TLS with server verification and client certificates). */
#ifndef NP_REDIS_H
#define NP_REDIS_H

#include <apr.h>
#include <apr_pools.h>
#include <apr_time.h>

typedef struct {
    const char *host;             /* without brackets for IPv6             */
    int port;                     /* default 6379                          */
    int db;                       /* /DB; default 0                        */
    const char *user;             /* AUTH user password (Redis 6 ACL);
                                   * NULL: AUTH password (default user)    */
    const char *password;         /* NULL: no AUTH                         */
    apr_interval_time_t timeout;  /* per step; default 50 ms               */
    int tls;                      /* rediss:// or tls=on                   */
    int verify;                   /* verify=on|off (default on)            */
    const char *ca;               /* ca=FILE|DIR; NULL: system store       */
    const char *cert;             /* cert=FILE: client certificate chain   */
    const char *key;              /* key=FILE; NULL: in the cert file      */
    const char *sni;              /* sni=NAME; NULL: HOST unless an IP     */
} np_rl_redis_t;

#define NP_RL_REDIS_TIMEOUT apr_time_from_msec(50)

/* argv[0] the URL, then key=value options; argv excludes the directive
 * name. File names are taken as given (the glue resolves and reads
 * them). */
apr_status_t np_rl_redis_parse(apr_pool_t *p, int argc,
                               const char *const *argv, np_rl_redis_t *out,
                               const char **err);

/* The store as logs name it: redis[s]://HOST:PORT/DB (never the
 * password). */
const char *np_rl_redis_url(apr_pool_t *p, const np_rl_redis_t *r);

/* What TLS sends and checks: *sni the server name sent (NULL: none), and
 * the certificate must carry *name (a DNS name) or else *ip. sni= names
 * both; otherwise HOST does (an IP literal: no SNI, the address is
 * checked). */
void np_rl_redis_peer(const np_rl_redis_t *r, const char **sni,
                      const char **name, const char **ip);

#endif
