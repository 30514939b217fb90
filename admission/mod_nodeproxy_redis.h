/* Glue: the Redis store of NodeRateLimit (NodeRateLimitStore redis://...):
 * every Apache server of a fleet counts against the same limit. */
#ifndef MOD_NODEPROXY_REDIS_H
#define MOD_NODEPROXY_REDIS_H

#include <httpd.h>
#include <http_config.h>
#include "np_ratelimit.h"
#include "np_redis.h"

typedef struct np_redis_conf_t np_redis_conf_t;

/* NodeRateLimitStore's arguments (argv[0] the URL): NULL or a message
 * (without the directive's name). With TLS, the files are read now. */
const char *np_redis_parse(cmd_parms *cmd, int argc, const char *const *argv,
                           np_redis_conf_t **out);
/* post_config: outage_flag is a word in shared memory, so that an outage
 * is logged once for all children. */
void np_redis_post_config(apr_pool_t *pconf, server_rec *s,
                          np_redis_conf_t *c,
                          volatile apr_uint32_t *outage_flag);
/* child_init: the background reconnect thread. */
void np_redis_child_init(apr_pool_t *pchild, server_rec *s,
                         np_redis_conf_t *c);
/* One GCRA step in Redis. APR_SUCCESS with *res; anything else: Redis is
 * unreachable or slow (fail open: the caller counts locally). Never waits
 * longer than the store's timeout= per call. */
apr_status_t np_redis_take(request_rec *r, np_redis_conf_t *c,
                           const char *key, const np_rl_policy_t *pol,
                           np_rl_result_t *res);

#endif
