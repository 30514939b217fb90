/* Glue: runtime control of balancer members (issue 15).
 *
 * - NodeStatusControl on: a POST to the nodeproxy-status Location changes a
 *   member's admin state (ready / drain / maint) or weight in the shared
 *   state, so every child sees it at once. JSON for scripts (nodeproxyctl);
 *   form-encoded for the HTML page, whose forms carry a token (HMAC of a
 *   per-server secret and the time) and must come from the same origin
 *   (Origin or Referer), so a cross-site form post fails. A browser cannot
 *   send application/json across sites without a CORS preflight, which
 *   this handler never grants; a JSON request that names another Origin is
 *   refused too. Access control stays Apache's (Require).
 * - NodeBalancerPersist FILE: the states are written on every change
 *   (temp file + rename, under a global mutex) and read at start-up. */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_atomic.h>
#include <apr_file_io.h>
#include <apr_global_mutex.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_mutex.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_balancer.h"
#include "mod_nodeproxy_status.h"
#include "mod_nodeproxy_control.h"
#include "np_control.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_STATUS_HANDLER "nodeproxy-status"
#define NP_SECRET_KEY "nodeproxy-control-secret"
#define NP_PERSIST_LOADED_KEY "nodeproxy-persist-loaded"
#define NP_SECRET_LEN 32
#define NP_TOKEN_MAX_AGE apr_time_from_sec(12 * 3600)
#define NP_PERSIST_MUTEX "nodeproxy-persist"

static unsigned char *secret;            /* kept over graceful restarts     */
static const char *persist_file;         /* NodeBalancerPersist, or NULL     */
static apr_global_mutex_t *persist_mutex;
static pid_t parent_pid;

/* ---- directives -------------------------------------------------------------- */

const char *np_control_cmd_status_control(cmd_parms *cmd, void *dconf, int on)
{
    ((np_dir_conf_t *)dconf)->status_control = on;
    return NULL;
}

const char *np_control_cmd_persist(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *path;
    if (cmd->server->is_virtual) {
        return "NodeBalancerPersist: only in the main server configuration "
               "(the states of every balancer go to one file)";
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || !*arg) {
        return apr_psprintf(cmd->pool, "NodeBalancerPersist: \"%s\" is not a "
                            "valid file name", arg);
    }
    if (ap_is_directory(cmd->temp_pool, path)) {
        return apr_psprintf(cmd->pool, "NodeBalancerPersist: \"%s\" is a "
                            "directory (name a file in it)", path);
    }
    {
        char *dir = ap_make_dirstr_parent(cmd->temp_pool, path);
        if (!ap_is_directory(cmd->temp_pool, dir)) {
            return apr_psprintf(cmd->pool, "NodeBalancerPersist: the directory "
                                "%s of \"%s\" does not exist", dir, path);
        }
    }
    persist_file = path;
    return NULL;
}

/* ---- finding members ------------------------------------------------------------ */

static np_balancer_t *find_balancer(const char *name)
{
    apr_array_header_t *all = np_balancers_all();
    int i;
    for (i = 0; all && i < all->nelts; i++) {
        np_balancer_t *b = APR_ARRAY_IDX(all, i, np_balancer_t *);
        if (strcmp(b->name, name) == 0) {
            return b;
        }
    }
    return NULL;
}

/* by URL as configured, by its key (normalised URL) or by its route id */
static np_member_t *find_member(np_balancer_t *b, const char *name)
{
    int i;
    for (i = 0; i < b->members->nelts; i++) {
        np_member_t *m = APR_ARRAY_IDX(b->members, i, np_member_t *);
        if (strcmp(m->spec.target.url, name) == 0
            || strcmp(m->spec.target.key, name) == 0
            || (m->route && strcmp(m->route, name) == 0)) {
            return m;
        }
    }
    return NULL;
}

/* ---- persistence --------------------------------------------------------------- */

static const char *persist_text(apr_pool_t *p)
{
    apr_array_header_t *all = np_balancers_all();
    apr_array_header_t *parts = apr_array_make(p, 16, sizeof(const char *));
    int i, j;
    APR_ARRAY_PUSH(parts, const char *) = NP_PERSIST_HEADER;
    for (i = 0; all && i < all->nelts; i++) {
        np_balancer_t *b = APR_ARRAY_IDX(all, i, np_balancer_t *);
        for (j = 0; j < b->members->nelts; j++) {
            np_member_t *m = APR_ARRAY_IDX(b->members, j, np_member_t *);
            apr_uint32_t set;
            np_persist_entry_t e;
            const char *line;
            if (!m->shm) {
                continue;
            }
            set = apr_atomic_read32(&m->shm->weight_set);
            e.balancer = b->name;
            e.member = m->spec.target.key;
            e.admin = (int)apr_atomic_read32(&m->shm->admin);
            e.weight = set ? (int)set - 1 : -1;
            if ((line = np_persist_line(p, &e)) != NULL) {
                APR_ARRAY_PUSH(parts, const char *) = line;
            }
        }
    }
    return apr_array_pstrcat(p, parts, 0);
}

/* Write the file: a temp file in the same directory, then rename. */
static apr_status_t persist_save(apr_pool_t *p, server_rec *s, int locked)
{
    const char *tmp, *text;
    apr_file_t *f;
    apr_size_t len;
    apr_status_t rv;

    if (!persist_file) {
        return APR_SUCCESS;
    }
    if (locked && persist_mutex) {
        apr_global_mutex_lock(persist_mutex);
    }
    text = persist_text(p);
    len = strlen(text);
    tmp = apr_psprintf(p, "%s.tmp.%" APR_PID_T_FMT, persist_file, getpid());
    rv = apr_file_open(&f, tmp, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                       | APR_FOPEN_TRUNCATE, APR_FPROT_UREAD | APR_FPROT_UWRITE
                       | APR_FPROT_GREAD | APR_FPROT_WREAD, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(f, text, len, NULL);
        if (rv == APR_SUCCESS) {
            rv = apr_file_flush(f);
        }
        if (rv == APR_SUCCESS) {
            rv = apr_file_sync(f);
        }
        apr_file_close(f);
        if (rv == APR_SUCCESS) {
            rv = apr_file_rename(tmp, persist_file, p);
        }
        if (rv != APR_SUCCESS) {
            apr_file_remove(tmp, p);
        }
    }
    if (locked && persist_mutex) {
        apr_global_mutex_unlock(persist_mutex);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, NPLOGNO(00401)
                     "NodeBalancerPersist %s: cannot write the admin states "
                     "(through %s); the directory must be writable by the "
                     "user httpd's children run as", persist_file, tmp);
    }
    return rv;
}

/* Read the file into the members' shared state; never fails the start. */
static void persist_load(apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *entries;
    apr_file_t *f;
    apr_finfo_t fi;
    char *text;
    apr_size_t len;
    const char *err;
    apr_status_t rv;
    int i, applied = 0;

    rv = apr_file_open(&f, persist_file, APR_FOPEN_READ, APR_OS_DEFAULT, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, NPLOGNO(00402)
                     "NodeBalancerPersist %s: no file yet, members start "
                     "with their configured states", persist_file);
        return;
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
        if (rv == APR_SUCCESS && fi.size > 4 * 1024 * 1024) {
            rv = APR_EINVAL;
        }
    }
    if (rv != APR_SUCCESS) {
        if (f) {
            apr_file_close(f);
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, NPLOGNO(00403)
                     "NodeBalancerPersist %s: cannot read the file; members "
                     "start with their configured states", persist_file);
        return;
    }
    len = (apr_size_t)fi.size;
    text = apr_palloc(p, len + 1);
    rv = apr_file_read_full(f, text, len, &len);
    apr_file_close(f);
    text[len] = '\0';
    entries = apr_array_make(p, 16, sizeof(np_persist_entry_t));
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        err = "read error";
    }
    else if (np_persist_parse(p, text, len, entries, &err) == APR_SUCCESS) {
        err = NULL;
    }
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, NPLOGNO(00404)
                     "NodeBalancerPersist %s: ignored, the file is not "
                     "valid (%s); members start with their configured states",
                     persist_file, err);
        return;
    }
    for (i = 0; i < entries->nelts; i++) {
        np_persist_entry_t *e = &APR_ARRAY_IDX(entries, i, np_persist_entry_t);
        np_balancer_t *b = find_balancer(e->balancer);
        np_member_t *m = b ? find_member(b, e->member) : NULL;
        if (!m || !m->shm) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, NPLOGNO(00405)
                         "NodeBalancerPersist %s: member %s of balancer %s is "
                         "no longer configured; its saved state is dropped",
                         persist_file, e->member, e->balancer);
            continue;
        }
        apr_atomic_set32(&m->shm->admin, (apr_uint32_t)e->admin);
        apr_atomic_set32(&m->shm->weight_set,
                         e->weight < 0 ? 0 : (apr_uint32_t)e->weight + 1);
        if (e->admin != 0 || e->weight >= 0) {
            applied++;
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, NPLOGNO(00406)
                         "nodeproxy(balancer %s, member %s): admin state %s, "
                         "weight %d restored from %s", b->name,
                         m->spec.target.url, np_admin_name(e->admin),
                         np_member_weight(m), persist_file);
        }
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, NPLOGNO(00407)
                 "NodeBalancerPersist %s: %d saved member states read, %d "
                 "differ from the configuration", persist_file, entries->nelts,
                 applied);
}

/* pconf cleanup in the parent (graceful restart, stop): a last save, in
 * case the children could not write the file. */
static apr_status_t persist_at_exit(void *data)
{
    server_rec *s = data;
    apr_pool_t *p;
    if (getpid() != parent_pid || !persist_file) {
        return APR_SUCCESS;
    }
    if (apr_pool_create(&p, NULL) == APR_SUCCESS) {
        persist_save(p, s, 0);
        apr_pool_destroy(p);
    }
    return APR_SUCCESS;
}

/* ---- the API -------------------------------------------------------------------- */

const char *np_control_page_token(request_rec *r)
{
    np_dir_conf_t *dc = np_dir_conf(r->per_dir_config);
    if (dc->status_control != 1 || !secret) {
        return NULL;
    }
    return np_ctl_token_make(r->pool, secret, NP_SECRET_LEN, apr_time_now());
}

static int answer(request_rec *r, int status, const char *json)
{
    r->status = status;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, strlen(json));
    if (!r->header_only) {
        ap_rputs(json, r);
    }
    return OK;
}

static int refuse(request_rec *r, int status, const char *msg)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00408)
                  "nodeproxy-status control: refused (%d) from %s: %s",
                  status, r->useragent_ip, msg);
    return answer(r, status, apr_psprintf(r->pool, "{\"error\":%s}\n",
                  np_status_json_string(r->pool, msg)));
}

/* The body, at most NP_CTL_BODY_MAX bytes; NULL + *status on error. */
static const char *read_body(request_rec *r, apr_size_t *len, int *status)
{
    char *buf = apr_palloc(r->pool, NP_CTL_BODY_MAX + 1);
    apr_size_t n = 0;
    long got;
    if ((*status = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return NULL;
    }
    if (ap_should_client_block(r)) {
        while ((got = ap_get_client_block(r, buf + n, NP_CTL_BODY_MAX + 1 - n)) > 0) {
            n += (apr_size_t)got;
            if (n > NP_CTL_BODY_MAX) {
                *status = HTTP_REQUEST_ENTITY_TOO_LARGE;
                return NULL;
            }
        }
        if (got < 0) {
            *status = HTTP_BAD_REQUEST;
            return NULL;
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const char *media_type(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    if (!ct) {
        return "";
    }
    return apr_pstrmemdup(r->pool, ct, strcspn(ct, "; \t"));
}

static void apply(request_rec *r, np_balancer_t *b, np_member_t *m,
                  const np_ctl_req_t *q)
{
    apr_time_t now = apr_time_now();
    const char *who = r->user ? apr_psprintf(r->pool, " (user %s)", r->user)
                              : "";
    if (q->kind == NP_CTL_ADMIN) {
        apr_uint32_t old = apr_atomic_xchg32(&m->shm->admin,
                                             (apr_uint32_t)q->admin);
        if (old == NP_ADMIN_MAINT && q->admin != NP_ADMIN_MAINT) {
            np_member_ramp_start(m, now);   /* NodeSlowStart */
        }
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NPLOGNO(00400)
                      "nodeproxy(balancer %s, member %s): admin state %s -> %s, "
                      "set by %s%s through the control API", b->name,
                      m->spec.target.url, np_admin_name((int)old),
                      np_admin_name(q->admin), r->useragent_ip, who);
    }
    else {
        int old = np_member_weight(m);
        apr_atomic_set32(&m->shm->weight_set, (apr_uint32_t)q->weight + 1);
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, NPLOGNO(00409)
                      "nodeproxy(balancer %s, member %s): weight %d -> %d, "
                      "set by %s%s through the control API", b->name,
                      m->spec.target.url, old, q->weight, r->useragent_ip,
                      who);
    }
    persist_save(r->pool, r->server, 1);
}

static int control_handler(request_rec *r)
{
    np_dir_conf_t *dc;
    const char *type, *body, *err = NULL, *origin, *referer;
    const char *scheme, *host;
    apr_size_t len = 0;
    int status = OK, form;
    np_ctl_req_t q;
    np_balancer_t *b;
    np_member_t *m;
    np_status_member_t sm;

    if (!r->handler || strcmp(r->handler, NP_STATUS_HANDLER) != 0
        || r->method_number != M_POST) {
        return DECLINED;
    }
    dc = np_dir_conf(r->per_dir_config);
    if (dc->status_control != 1) {
        return refuse(r, HTTP_FORBIDDEN, "the control API is off on this "
                      "status page: add \"NodeStatusControl on\" to its "
                      "<Location> (and restrict it with Require) to change "
                      "members at runtime");
    }
    type = media_type(r);
    form = strcasecmp(type, "application/x-www-form-urlencoded") == 0;
    if (!form && strcasecmp(type, "application/json") != 0) {
        return refuse(r, HTTP_UNSUPPORTED_MEDIA_TYPE, apr_psprintf(r->pool,
                      "Content-Type \"%s\" is not accepted (use "
                      "application/json, or the status page's forms)", type));
    }
    scheme = ap_run_http_scheme(r);
    host = apr_table_get(r->headers_in, "Host");
    origin = apr_table_get(r->headers_in, "Origin");
    referer = apr_table_get(r->headers_in, "Referer");
    if (origin && !np_ctl_same_origin(origin, 0, scheme, host)) {
        return refuse(r, HTTP_FORBIDDEN, apr_psprintf(r->pool, "cross-site "
                      "request refused (Origin %s is not this server)", origin));
    }
    if (form && !origin
        && (!referer || !np_ctl_same_origin(referer, 1, scheme, host))) {
        return refuse(r, HTTP_FORBIDDEN, "cross-site request refused (a form "
                      "post needs an Origin or Referer of this server)");
    }
    if (!(body = read_body(r, &len, &status))) {
        return refuse(r, status == HTTP_REQUEST_ENTITY_TOO_LARGE
                      ? HTTP_REQUEST_ENTITY_TOO_LARGE : HTTP_BAD_REQUEST,
                      "cannot read the request body (at most 8 KiB)");
    }
    if ((form ? np_ctl_parse_form(r->pool, body, len, &q, &err)
              : np_ctl_parse_json(r->pool, body, len, &q, &err))
        != APR_SUCCESS) {
        return refuse(r, HTTP_BAD_REQUEST, err);
    }
    if (form && !np_ctl_token_ok(secret, NP_SECRET_LEN, q.token, apr_time_now(),
                                 NP_TOKEN_MAX_AGE)) {
        return refuse(r, HTTP_FORBIDDEN, q.token ? "the page token is not "
                      "valid or too old: reload the status page"
                      : "missing the page token: post from the status page");
    }
    if (!(b = find_balancer(q.balancer))) {
        return refuse(r, HTTP_NOT_FOUND, apr_psprintf(r->pool, "unknown "
                      "balancer \"%s\"", q.balancer));
    }
    if (!(m = find_member(b, q.member))) {
        return refuse(r, HTTP_NOT_FOUND, apr_psprintf(r->pool, "unknown member "
                      "\"%s\" in balancer \"%s\"", q.member, q.balancer));
    }
    apply(r, b, m, &q);
    if (form) {
        /* back to the page, which shows the new state */
        apr_table_setn(r->headers_out, "Location", ap_construct_url(r->pool,
                       r->unparsed_uri, r));
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
        return HTTP_SEE_OTHER;
    }
    np_status_snapshot_member(&sm, b, m, apr_time_now(), r->pool);
    return answer(r, HTTP_OK, apr_psprintf(r->pool, "{\"balancer\":%s,"
                  "\"member\":%s}\n", np_status_json_string(r->pool, b->name),
                  np_status_member_json(r->pool, &sm)));
}

/* ---- hooks -------------------------------------------------------------------- */

static int control_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp)
{
    persist_file = NULL;
    persist_mutex = NULL;
    return ap_mutex_register(pconf, NP_PERSIST_MUTEX, NULL, APR_LOCK_DEFAULT, 0)
           == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static int control_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    void *loaded = NULL;
    apr_status_t rv;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    /* the page token's secret: one per server life, kept over graceful
     * restarts so that an open page still works */
    apr_pool_userdata_get((void **)&secret, NP_SECRET_KEY, pproc);
    if (!secret) {
        secret = apr_palloc(pproc, NP_SECRET_LEN);
        if ((rv = apr_generate_random_bytes(secret, NP_SECRET_LEN))
            != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NPLOGNO(00410)
                         "nodeproxy: no random bytes for the control API's "
                         "page token");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_pool_userdata_set(secret, NP_SECRET_KEY, apr_pool_cleanup_null,
                              pproc);
    }
    parent_pid = getpid();
    if (!persist_file) {
        return OK;
    }
    rv = ap_global_mutex_create(&persist_mutex, NULL, NP_PERSIST_MUTEX, NULL,
                                s, pconf, 0);
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;   /* logged by httpd */
    }
    /* at the first start only: over a graceful restart the shared state
     * carries the states, and it is newer than the file */
    apr_pool_userdata_get(&loaded, NP_PERSIST_LOADED_KEY, pproc);
    if (!loaded) {
        persist_load(ptemp, s);
        apr_pool_userdata_set((void *)1, NP_PERSIST_LOADED_KEY,
                              apr_pool_cleanup_null, pproc);
    }
    apr_pool_cleanup_register(pconf, s, persist_at_exit, apr_pool_cleanup_null);
    return OK;
}

static void control_child_init(apr_pool_t *p, server_rec *s)
{
    if (persist_mutex) {
        apr_global_mutex_child_init(&persist_mutex,
                                    apr_global_mutex_lockfile(persist_mutex), p);
    }
}

void np_control_register_hooks(apr_pool_t *p)
{
    /* before the status handler: POSTs to it are ours */
    ap_hook_handler(control_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_pre_config(control_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* after the balancers' shared state exists (config's post_config) */
    ap_hook_post_config(control_post_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_child_init(control_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
