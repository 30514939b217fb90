/* Glue: NodeErrorOverride. A 4xx/5xx answer from the backend (all, or the
 * listed codes) is not relayed: its body is read and dropped, and the
 * handler returns the status so that Apache's own error handling answers
 * (ErrorDocument, local or remote, or the default page). The backend
 * connection goes back to the pool only when its body was read whole. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_relay.h"
#include "np_errover.h"
#include "mod_nodeproxy_errover.h"

APLOG_USE_MODULE(nodeproxy);

/* At most this much of an error body is read to keep the connection; a
 * longer (or close-delimited) one costs the connection instead. */
#define NP_ERROVER_DISCARD_MAX (256 * 1024)

const char *np_errover_cmd(cmd_parms *cmd, void *dconf, int argc,
                           char *const argv[])
{
    np_dir_conf_t *dc = dconf;
    const char *err = NULL;
    int on = 0;
    apr_array_header_t *codes = NULL;

    if (np_errover_parse(cmd->pool, argc, argv, &on, &codes, &err)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    dc->error_override = on;
    dc->error_codes = codes;
    return NULL;
}

/* Read the rest of the response body and drop it; 1 when it was read whole
 * (and nothing followed it), so the connection can be reused. */
static int discard_body(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    np_conn_t *c = rq->conn;
    apr_off_t budget = NP_ERROVER_DISCARD_MAX;
    const char *err = NULL;
    int done;

    if (np_http1_response_framing(&resp->head, r->header_only, &resp->kind,
                                  &resp->remaining, &resp->reusable, &err)
        != APR_SUCCESS || resp->kind == NP_BODY_UNTIL_CLOSE) {
        return 0;
    }
    if (resp->kind == NP_BODY_CHUNKED) {
        np_chunk_init(&resp->dec);
    }
    resp->data_off = resp->head.head_len;
    resp->avail = resp->buffered - resp->head.head_len;
    done = resp->kind == NP_BODY_NONE
           || (resp->kind == NP_BODY_LENGTH && resp->remaining == 0);
    apr_socket_timeout_set(c->sock, rq->timeout);
    for (;;) {
        while (resp->avail > 0 && !done) {
            apr_size_t used = resp->avail;
            if (resp->kind == NP_BODY_CHUNKED) {
                const char *span;
                apr_size_t span_len;
                if (np_chunk_next(&resp->dec, c->buf + resp->data_off,
                                  resp->avail, &used, &span, &span_len, &done,
                                  &err) != APR_SUCCESS) {
                    return 0;
                }
            }
            else if ((apr_off_t)used >= resp->remaining) {
                used = (apr_size_t)resp->remaining;
                done = 1;
            }
            if (resp->kind == NP_BODY_LENGTH) {
                resp->remaining -= used;
            }
            resp->data_off += used;
            resp->avail -= used;
        }
        if (done) {
            return resp->avail == 0 && resp->reusable;
        }
        if (budget <= 0) {
            return 0;
        }
        resp->avail = c->bufsize;
        if (np_conn_recv(c, c->buf, &resp->avail) != APR_SUCCESS
            || resp->avail == 0) {
            return 0;
        }
        budget -= resp->avail;
        resp->data_off = 0;
    }
}

int np_errover_respond(request_rec *r, np_request_t *rq, np_response_t *resp)
{
    np_dir_conf_t *dc = np_dir_conf(r->per_dir_config);
    int status = resp->head.status;
    int whole;

    if (!np_errover_applies(NP_PICK(dc->error_override, 0), dc->error_codes,
                            status)) {
        return DECLINED;
    }
    whole = discard_body(r, rq, resp);
    np_conn_release(rq->conn, whole);
    rq->conn = NULL;
    np_proxy_set_notes(r, rq);
    apr_table_setn(r->notes, "nodeproxy-error-override", "1");
    /* Apache's error response is built from err_headers_out: a sticky
     * cookie set for this answer must survive it. */
    if (rq->sticky_set) {
        const apr_array_header_t *arr = apr_table_elts(r->headers_out);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        int i;
        for (i = 0; i < arr->nelts; i++) {
            if (e[i].key && strcasecmp(e[i].key, "Set-Cookie") == 0) {
                apr_table_addn(r->err_headers_out, "Set-Cookie", e[i].val);
            }
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, NPLOGNO(00350)
                  "nodeproxy(%s): backend answered %d, replaced by Apache's "
                  "error handling (NodeErrorOverride; backend body %s)",
                  rq->backend->target->url, status,
                  whole ? "read whole, connection kept"
                        : "not read whole, connection closed");
    return status;
}
