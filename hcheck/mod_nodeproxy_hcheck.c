/* Glue: active health checks, run in the background by mod_watchdog.
 *
 * One singleton watchdog for the whole server (mod_watchdog runs it in one
 * child process only), so each member is checked once per interval however
 * many children there are. Its 100 ms tick hands due checks to a small
 * thread pool; each check has its own deadline, so a hung health endpoint
 * delays no other member's check. Results go to the members' shared state,
 * where every child's request path sees them. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_atomic.h>
#include <apr_thread_pool.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <http_core.h>
#include <mod_watchdog.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_balancer.h"
#include "mod_nodeproxy_hcheck.h"
#include "np_health.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_HC_WATCHDOG "_nodeproxy_hcheck_"
#define NP_HC_MAX_THREADS 16
#define NP_HC_BUFSIZE 1024   /* the check reads its status line on the stack */

typedef struct {
    np_balancer_t *b;
    np_member_t *m;
    apr_time_t next_due;
    volatile apr_uint32_t in_flight;
    server_rec *s;
} hc_task_t;

typedef struct {
    apr_array_header_t *tasks;     /* hc_task_t                              */
    apr_thread_pool_t *threads;
    server_rec *s;
    apr_pool_t *pool;
} hc_state_t;

static hc_state_t *hc_state;

const char *np_hcheck_directive(cmd_parms *cmd, void *dconf, int argc,
                                char *const argv[])
{
    const char *err;
    np_balancer_t *b = np_balancer_enclosing(cmd, &err);
    np_hc_conf_t *c;
    if (!b) {
        return err;
    }
    c = apr_palloc(cmd->pool, sizeof(*c));
    if (np_hc_conf_parse(cmd->pool, argc, (const char *const *)argv, c, &err)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    b->hcheck = c;
    return NULL;
}

/* Read the status code of the answer: "HTTP/1.x NNN". */
static int read_status(np_conn_t *conn, apr_time_t deadline,
                       const char **cause, apr_pool_t *p)
{
    char buf[512];
    apr_size_t have = 0;
    while (have < sizeof(buf) - 1) {
        apr_size_t len = sizeof(buf) - 1 - have;
        apr_interval_time_t left = deadline - apr_time_now();
        apr_status_t rv;
        if (left <= 0) {
            *cause = "timed out";
            return -1;
        }
        apr_socket_timeout_set(conn->sock, left);
        rv = np_conn_recv(conn, buf + have, &len);
        if (len == 0 || (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv))) {
            *cause = APR_STATUS_IS_TIMEUP(rv) ? "timed out"
                   : "closed without an answer";
            return -1;
        }
        have += len;
        buf[have] = '\0';
        if (strchr(buf, '\n')) {
            break;
        }
    }
    if (strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' '
        || !apr_isdigit(buf[9]) || !apr_isdigit(buf[10])
        || !apr_isdigit(buf[11])) {
        *cause = "answered with something that is not HTTP";
        return -1;
    }
    return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
}

/* One check: connect, ask, read the status, all within the timeout. */
static int check_once(hc_task_t *t, const np_hc_conf_t *c, int *status,
                      const char **cause, apr_pool_t *p)
{
    apr_time_t deadline = apr_time_now() + c->timeout;
    const np_target_t *tg = t->m->backend->target;
    np_conn_t *conn;
    const char *req;
    apr_size_t len;
    apr_status_t rv;

    *status = 0;
    /* The connect timeout covers a TLS handshake too. */
    rv = np_conn_open(t->m->backend, c->timeout, NP_HC_BUFSIZE, &conn, cause,
                      p);
    if (rv != APR_SUCCESS) {
        return 0;
    }
    req = apr_psprintf(p, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
                       "mod_nodeproxy-health-check\r\nConnection: close\r\n"
                       "\r\n", c->method, c->path, tg->authority);
    len = strlen(req);
    apr_socket_timeout_set(conn->sock, deadline - apr_time_now());
    rv = np_conn_send(conn, req, &len);
    if (rv != APR_SUCCESS) {
        *cause = "sending the check failed";
        np_conn_release(conn, 0);
        return 0;
    }
    *status = read_status(conn, deadline, cause, p);
    np_conn_release(conn, 0);
    if (*status < 0) {
        *status = 0;
        return 0;
    }
    if (!np_hc_status_ok(c, *status)) {
        *cause = apr_psprintf(p, "status %d is not expected", *status);
        return 0;
    }
    return 1;
}

static void *APR_THREAD_FUNC run_check(apr_thread_t *thd, void *data)
{
    hc_task_t *t = data;
    const np_hc_conf_t *c = t->b->hcheck;
    np_member_shm_t *sh = t->m->shm;
    apr_time_t started = apr_time_now();
    const char *cause = NULL;
    np_hc_state_t st;
    np_hc_change_e change;
    apr_pool_t *p;
    int status, ok;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        apr_atomic_set32(&t->in_flight, 0);
        return NULL;
    }
    ok = check_once(t, c, &status, &cause, p);
    /* Only this thread checks this member: the counters are its own. */
    st.unhealthy = sh->unhealthy != 0;
    st.passes = sh->hc_passes;
    st.fails = sh->hc_fails;
    change = np_hc_record(&st, ok, c);
    sh->hc_passes = st.passes;
    sh->hc_fails = st.fails;
    sh->hc_status = (apr_uint32_t)status;
    apr_atomic_set64(&sh->hc_last, (apr_uint64_t)apr_time_now());
    apr_atomic_inc64(&sh->hc_total);
    if (ok && sh->failed_at) {
        /* Passive failure lifted at once by a passing check. */
        np_member_ramp_start(t->m, apr_time_now());  /* NodeSlowStart */
        apr_atomic_set64(&sh->failed_at, 0);
        sh->reason = NP_REASON_NONE;
    }
    if (change == NP_HC_NOW_UNHEALTHY) {
        sh->reason = status ? NP_REASON_HEALTH_STATUS
                   : (cause && strstr(cause, "timed out"))
                     ? NP_REASON_HEALTH_TIMEOUT : NP_REASON_HEALTH_CONNECT;
        sh->state_since = (apr_uint64_t)apr_time_now();
        apr_atomic_set32(&sh->unhealthy, 1);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, t->s, NPLOGNO(00080)
                     "nodeproxy(balancer %s, member %s): unhealthy after %u "
                     "failed checks of %s (%s)", t->b->name,
                     t->m->spec.target.url, st.fails, c->path, cause);
    }
    else if (change == NP_HC_NOW_HEALTHY) {
        sh->reason = NP_REASON_NONE;
        sh->state_since = (apr_uint64_t)apr_time_now();
        np_member_ramp_start(t->m, (apr_time_t)sh->state_since);  /* NodeSlowStart */
        apr_atomic_set32(&sh->unhealthy, 0);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, t->s, NPLOGNO(00081)
                     "nodeproxy(balancer %s, member %s): healthy again after "
                     "%u passed checks of %s", t->b->name,
                     t->m->spec.target.url, st.passes, c->path);
    }
    else if (!ok) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, t->s, NPLOGNO(00082)
                     "nodeproxy(balancer %s, member %s): check of %s failed "
                     "(%s), %u in a row", t->b->name, t->m->spec.target.url,
                     c->path, cause, st.fails);
    }
    apr_pool_destroy(p);
    t->next_due = started + c->interval;
    apr_atomic_set32(&t->in_flight, 0);
    return NULL;
}

static apr_status_t hc_tick(int state, void *data, apr_pool_t *pool)
{
    server_rec *s = data;
    apr_array_header_t *all = np_balancers_all();
    int i, j;

    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        /* The pool mod_watchdog passes is cleared after each call: the
         * checks' state lives in a pool of its own until STOPPING. */
        if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS) {
            return APR_ENOMEM;
        }
        hc_state = apr_pcalloc(pool, sizeof(*hc_state));
        hc_state->pool = pool;
        hc_state->s = s;
        hc_state->tasks = apr_array_make(pool, 8, sizeof(hc_task_t));
        for (i = 0; all && i < all->nelts; i++) {
            np_balancer_t *b = APR_ARRAY_IDX(all, i, np_balancer_t *);
            for (j = 0; b->hcheck && j < b->members->nelts; j++) {
                hc_task_t *t = apr_array_push(hc_state->tasks);
                t->b = b;
                t->m = APR_ARRAY_IDX(b->members, j, np_member_t *);
                t->next_due = 0;
                t->in_flight = 0;
                t->s = s;
            }
        }
        if (apr_thread_pool_create(&hc_state->threads, 1, NP_HC_MAX_THREADS,
                                   pool) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, NPLOGNO(00083)
                         "nodeproxy: cannot start the health-check threads");
            hc_state->threads = NULL;
        }
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, NPLOGNO(00084)
                     "nodeproxy: health checks started for %d member(s)",
                     hc_state->tasks->nelts);
        break;
    case AP_WATCHDOG_STATE_RUNNING:
        if (!hc_state || !hc_state->threads) {
            break;
        }
        if (!np_backends_ready()) {
            /* mod_watchdog started this thread in its child_init, before
             * ours gave the backends their locks: a check now would use
             * them uninitialised (a child crashed so at start-up). The
             * next tick, a watchdog interval later, finds them ready. */
            break;
        }
        for (i = 0; i < hc_state->tasks->nelts; i++) {
            hc_task_t *t = &APR_ARRAY_IDX(hc_state->tasks, i, hc_task_t);
            apr_time_t now = apr_time_now();
            if (now < t->next_due
                || apr_atomic_cas32(&t->in_flight, 1, 0) != 0) {
                continue;
            }
            if (apr_thread_pool_push(hc_state->threads, run_check, t,
                                     APR_THREAD_TASK_PRIORITY_NORMAL, NULL)
                != APR_SUCCESS) {
                apr_atomic_set32(&t->in_flight, 0);
            }
        }
        break;
    case AP_WATCHDOG_STATE_STOPPING:
        if (hc_state) {
            if (hc_state->threads) {
                apr_thread_pool_destroy(hc_state->threads);
            }
            apr_pool_destroy(hc_state->pool);
        }
        hc_state = NULL;
        break;
    }
    return APR_SUCCESS;
}

static int hc_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_callback;
    apr_array_header_t *all = np_balancers_all();
    ap_watchdog_t *wd;
    apr_status_t rv;
    int i, any = 0;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    for (i = 0; all && i < all->nelts; i++) {
        any |= APR_ARRAY_IDX(all, i, np_balancer_t *)->hcheck != NULL;
    }
    if (!any) {
        return OK;
    }
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_instance || !register_callback) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, NPLOGNO(00085)
                     "nodeproxy: NodeHealthCheck needs mod_watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = get_instance(&wd, NP_HC_WATCHDOG, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = register_callback(wd, AP_WD_TM_SLICE, s, hc_tick);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NPLOGNO(00086)
                     "nodeproxy: cannot set up the health-check watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void np_hcheck_register_hooks(apr_pool_t *p)
{
    /* After the balancers exist (config post_config), before mod_watchdog
     * starts its watchdogs. */
    static const char *const after[] = { "mod_watchdog.c", NULL };
    ap_hook_post_config(hc_post_config, NULL, after, APR_HOOK_MIDDLE);
}
