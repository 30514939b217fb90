/* Glue: obs-fold in a request head. httpd's core accepts a folded header
 * line (a line starting with SP or HTAB continues the previous one) and
 * replaces the fold with a space before any module sees the request, which
 * RFC 9112 5.2 allows; a proxy may instead refuse it with 400, which is the
 * strict answer this module gives for what it forwards. The fold is gone by
 * the time a module sees the headers, so a small connection filter notes it
 * while httpd reads the head: it looks only at line reads (AP_MODE_GETLINE,
 * which is how httpd reads request and header lines) and passes everything
 * through untouched. The note is read in post_read_request and cleared when
 * the request is logged (a trailer fold belongs to the request it ended). */
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_relay.h"
#include "np_fold.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_FOLD_FILTER "NODEPROXY_FOLD"
static ap_filter_rec_t *fold_filter;

static apr_status_t fold_in(ap_filter_t *f, apr_bucket_brigade *bb,
                            ap_input_mode_t mode, apr_read_type_e block,
                            apr_off_t readbytes)
{
    np_fold_t *st = f->ctx;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    apr_bucket *b;

    if (rv != APR_SUCCESS || mode != AP_MODE_GETLINE) {
        return rv;
    }
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        const char *d;
        apr_size_t n;
        if (APR_BUCKET_IS_METADATA(b)
            || apr_bucket_read(b, &d, &n, APR_BLOCK_READ) != APR_SUCCESS) {
            continue;
        }
        np_fold_scan(st, d, n);
    }
    return rv;
}

static np_fold_t *fold_state(conn_rec *c)
{
    ap_filter_t *f;
    for (f = c->input_filters; f; f = f->next) {
        if (f->frec == fold_filter) {
            return f->ctx;
        }
    }
    return NULL;
}

static int fold_pre_connection(conn_rec *c, void *csd)
{
    np_fold_t *st;
    (void)csd;
    /* HTTP/2 streams (secondary connections) have no text head. */
    if (c->master) {
        return DECLINED;
    }
    st = apr_palloc(c->pool, sizeof(*st));
    np_fold_reset(st);
    ap_add_input_filter_handle(fold_filter, st, NULL, c);
    return DECLINED;
}

static int fold_post_read_request(request_rec *r)
{
    np_fold_t *st = r->connection->master ? NULL : fold_state(r->connection);
    if (st && st->folded) {
        apr_table_setn(r->notes, "nodeproxy-obs-fold", "1");
    }
    return DECLINED;
}

static int fold_log_transaction(request_rec *r)
{
    np_fold_t *st = r->main || r->connection->master ? NULL
                    : fold_state(r->connection);
    if (st) {
        np_fold_reset(st);
    }
    return DECLINED;
}

void np_fold_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Above mod_ssl's filter (AP_FTYPE_CONNECTION + 5): the plain text. */
    fold_filter = ap_register_input_filter(NP_FOLD_FILTER, fold_in, NULL,
                                           AP_FTYPE_CONNECTION);
    ap_hook_pre_connection(fold_pre_connection, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(fold_post_read_request, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(fold_log_transaction, NULL, NULL,
                            APR_HOOK_REALLY_LAST);
}
