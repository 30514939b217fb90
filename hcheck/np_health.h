/* Pure: NodeHealthCheck settings and the health state machine. */
#ifndef NP_HEALTH_H
#define NP_HEALTH_H

#include <apr_pools.h>
#include <apr_time.h>

#define NP_HC_MAX_RANGES 8

typedef struct {
    const char *path;                 /* what is requested, e.g. /healthz   */
    const char *method;               /* GET (default), HEAD, ...           */
    apr_interval_time_t interval;     /* 5s                                 */
    apr_interval_time_t timeout;      /* 2s (or interval, if shorter): connect + answer */
    unsigned int passes;              /* 2: good checks to become healthy   */
    unsigned int fails;               /* 3: failed checks to become unhealthy */
    int nranges;                      /* expect=200-399 (or 200,204,300-399) */
    int lo[NP_HC_MAX_RANGES], hi[NP_HC_MAX_RANGES];
} np_hc_conf_t;

/* Parse `NodeHealthCheck PATH [interval=5s] [timeout=2s] [passes=2]
 * [fails=3] [expect=200-399] [method=GET]` (argv without the directive). */
apr_status_t np_hc_conf_parse(apr_pool_t *p, int argc, const char *const *argv,
                              np_hc_conf_t *c, const char **err);

/* Is an HTTP status a passed check under expect=? */
int np_hc_status_ok(const np_hc_conf_t *c, int status);

typedef enum {
    NP_HC_SAME = 0,          /* no change of state                          */
    NP_HC_NOW_UNHEALTHY,     /* `fails` consecutive failures reached        */
    NP_HC_NOW_HEALTHY        /* `passes` consecutive passes reached         */
} np_hc_change_e;

/* A member's health as the checks see it. Members start healthy: a check
 * that has not run yet must not keep traffic away. */
typedef struct {
    int unhealthy;
    unsigned int passes;     /* consecutive passed checks                   */
    unsigned int fails;      /* consecutive failed checks                   */
} np_hc_state_t;

/* Count one check result and say whether the state changed. A pass resets
 * the failure run and a failure the pass run, so only consecutive results
 * count; an unhealthy member needs `passes` passes in a row to come back,
 * a healthy one `fails` failures in a row to go. */
np_hc_change_e np_hc_record(np_hc_state_t *st, int passed,
                            const np_hc_conf_t *c);

#endif
