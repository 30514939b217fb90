/* Glue: the maintenance response (503 + Retry-After + no-store + page or
 * JSON) and the NodeMaintenanceFlag file check. */
#include <string.h>
#include <apr_strings.h>
#include <apr_file_info.h>
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

int np_maint_respond(request_rec *r)
{
    np_dir_conf_t *dc = np_dir_conf(r->per_dir_config);
    int retry = NP_PICK(dc->retry_after, NP_DEFAULT_RETRY_AFTER);
    apr_bucket_brigade *bb;
    const char *body;
    apr_size_t len;

    if (!dc->maint_page_body) {
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
        ap_set_content_type(r, dc->maint_page_type);
        body = dc->maint_page_body;
        len = dc->maint_page_len;
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
