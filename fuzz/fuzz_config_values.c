/* fuzz_config_values.c — directive values: durations and CIDRs (and the
 * match of an address against a parsed CIDR): "VALUE\nADDRESS"; VALUE,
 * split at spaces, is also NodeRateLimitStore's redis:// URL and options. */
#include <string.h>
#include <apr_strings.h>
#include "np_fuzz.h"
#include "np_duration.h"
#include "np_cidr.h"
#include "np_redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = np_fuzz_pool();
    const char *f[2], *err = NULL;
    apr_interval_time_t t;
    np_cidr_t c;
    np_rl_redis_t r;
    const char *argv[16];
    char *copy, *tok, *last;
    int argc = 0;

    np_fuzz_split(p, data, size, '\n', f, 2);
    if (np_duration_parse(f[0], &t, &err) == APR_SUCCESS && t < 0) {
        abort();
    }
    if (np_cidr_parse_p(p, f[0], &c, &err) == APR_SUCCESS) {
        np_cidr_match(&c, f[1]);
        np_cidr_match(&c, f[0]);
    }
    copy = apr_pstrdup(p, f[0]);
    for (tok = apr_strtok(copy, " ", &last); tok && argc < 16;
         tok = apr_strtok(NULL, " ", &last)) {
        argv[argc++] = tok;
    }
    if (np_rl_redis_parse(p, argc, argv, &r, &err) == APR_SUCCESS) {
        const char *sni, *name, *ip;
        if (!r.host || !*r.host || r.port < 1 || r.port > 65535 || r.db < 0
            || (r.user && !r.password) || (r.key && !r.cert)
            || (!r.tls && (r.ca || r.cert || r.sni))) {
            abort();
        }
        np_rl_redis_peer(&r, &sni, &name, &ip);
        if (strlen(np_rl_redis_url(p, &r)) < 8 || (!name && !ip)) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
