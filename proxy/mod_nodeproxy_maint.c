/* Glue: the maintenance response (503 + Retry-After + no-store + page or
 * JSON) and the NodeMaintenanceFlag file check. */
#include <string.h>
#include <apr_strings.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_atomic.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_relay.h"
#include "np_maint.h"

APLOG_USE_MODULE(nodeproxy);

int np_maint_flag_on(request_rec *r)
{
    np_dir_conf_t *dc = np_dir_conf(r->per_dir_config);
    np_flag_t *f = dc->maint_flag;
    apr_time_t now;

    if (!f) {
        return 0;
    }
    now = r->request_time;
    /* Looked at no more than once a second per process, not per request. */
    if (np_maint_recheck_due(f->checked, now, apr_time_from_sec(1))) {
        apr_finfo_t fi;
        int exists = apr_stat(&fi, f->path, APR_FINFO_TYPE, r->pool)
                     == APR_SUCCESS;
        if (exists != f->exists) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00050)
                          "nodeproxy: maintenance flag %s %s", f->path,
                          exists ? "appeared: answering 503" : "is gone");
        }
        f->exists = exists;
        f->checked = now;
    }
    return f->exists;
}

np_page_version_t *np_page_load(apr_pool_t *p, const char *path,
                                const char **err)
{
    np_page_version_t *v;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t len;
    char *body;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE
                               | APR_FINFO_MTIME, f);
        if (rv != APR_SUCCESS) {
            apr_file_close(f);
        }
    }
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot read \"%s\": %pm", path, &rv);
        return NULL;
    }
    if (fi.filetype != APR_REG || fi.size > 1024 * 1024) {
        apr_file_close(f);
        *err = apr_psprintf(p, "\"%s\" must be a regular file of at most "
                            "1 MiB", path);
        return NULL;
    }
    len = (apr_size_t)fi.size;
    body = apr_palloc(p, len + 1);
    rv = apr_file_read_full(f, body, len, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv)) {
        *err = apr_psprintf(p, "cannot read \"%s\": %pm", path, &rv);
        return NULL;
    }
    body[len] = '\0';
    v = apr_palloc(p, sizeof(*v));
    v->body = body;
    v->len = len;
    v->mtime = fi.mtime;
    v->size = fi.size;
    return v;
}

/* Re-read page versions live here for the life of the child process. */
static apr_pool_t *versions;
static apr_thread_mutex_t *versions_lock;

void np_maint_child_init(apr_pool_t *pchild)
{
    if (apr_pool_create(&versions, pchild) != APR_SUCCESS
        || apr_thread_mutex_create(&versions_lock, APR_THREAD_MUTEX_DEFAULT,
                                   pchild) != APR_SUCCESS) {
        versions_lock = NULL;
    }
}

/* The page as it is now: re-read when the file changed. A page that
 * cannot be read any more keeps its last good version (and says so). */
static np_page_version_t *page_now(request_rec *r, np_page_t *page)
{
    np_page_version_t *cur = page->current;
    apr_finfo_t fi;

    if (!np_maint_recheck_due(page->checked, r->request_time,
                              apr_time_from_sec(1))) {
        return cur;
    }
    page->checked = r->request_time;
    if (apr_stat(&fi, page->path, APR_FINFO_MTIME | APR_FINFO_SIZE, r->pool)
        == APR_SUCCESS && (fi.mtime != cur->mtime || fi.size != cur->size)) {
        const char *err = NULL;
        np_page_version_t *next = NULL;
        int swapped = 0;
        if (versions_lock) {
            apr_thread_mutex_lock(versions_lock);
            next = np_page_load(versions, page->path, &err);
            swapped = next && apr_atomic_casptr(
                (volatile void **)&page->current, next, cur) == cur;
            apr_thread_mutex_unlock(versions_lock);
        }
        if (swapped) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00051)
                          "nodeproxy: maintenance page %s changed, re-read",
                          page->path);
            return next;
        }
        if (!next) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, NPLOGNO(00052)
                          "nodeproxy: maintenance page changed but cannot be "
                          "re-read (%s); serving the last good one",
                          err ? err : "out of memory");
        }
    }
    return page->current;
}

int np_maint_respond(request_rec *r)
{
    np_dir_conf_t *dc = np_dir_conf(r->per_dir_config);
    int retry = NP_PICK(dc->retry_after, NP_DEFAULT_RETRY_AFTER);
    apr_bucket_brigade *bb;
    const char *body;
    apr_size_t len;

    np_page_version_t *page;

    if (!dc->maint_page) {
        /* Apache's own 503: ErrorDocument 503 applies. */
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, retry));
        return HTTP_SERVICE_UNAVAILABLE;
    }
    r->status = HTTP_SERVICE_UNAVAILABLE;
    apr_table_setn(r->headers_out, "Retry-After", apr_itoa(r->pool, retry));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_mergen(r->headers_out, "Vary", "Accept");
    if (np_accept_prefers_json(apr_table_get(r->headers_in, "Accept"))) {
        ap_set_content_type(r, "application/json");
        body = np_maint_json(r->pool, retry);
        len = strlen(body);
    }
    else {
        page = page_now(r, dc->maint_page);
        ap_set_content_type(r, dc->maint_page->type);
        body = page->body;
        len = page->len;
    }
    /* The request body, if any, is not wanted: read it off the connection so
     * keep-alive stays usable. */
    if (ap_discard_request_body(r) != OK) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    ap_set_content_length(r, len);
    if (!r->header_only) {
        apr_brigade_write(bb, NULL, NULL, body, len);
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    return OK;
}
