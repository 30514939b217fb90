/* Glue: find the mapping for a request (translate_name) and keep the
 * filesystem out of proxied requests (map_to_storage). */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_request.h>
#include <http_log.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_relay.h"
#include "np_uri.h"

APLOG_USE_MODULE(nodeproxy);

static int np_translate(request_rec *r)
{
    np_server_conf_t *sc = np_server_conf(r->server);
    const np_mapping_t *m;
    np_request_t *rq;

    if (!sc->map || sc->map->n == 0 || r->proxyreq || !r->uri
        || r->uri[0] != '/') {
        return DECLINED;
    }
    /* r->uri is decoded and normalised by now: no dot-segments are left,
     * so the longest prefix seen here is the one the request really has. */
    m = np_map_match(sc->map, r->uri);
    if (!m || m->exclude) {
        return DECLINED;
    }
    /* "..;" and "..\\" are not dot-segments to Apache, but are to some
     * backends (Java path parameters, Windows-style routers): refused, so
     * that no request reaches a path outside the mapped prefix. */
    if (np_uri_has_dot_segment(r->uri)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, NPLOGNO(00301)
                      "nodeproxy(%s): refused path with a dot-segment in "
                      "disguise (\"..;\", \"..\\\"): %s", m->target.url,
                      r->uri);
        return HTTP_BAD_REQUEST;
    }
    rq = apr_pcalloc(r->pool, sizeof(*rq));
    rq->mapping = m;
    ap_set_module_config(r->request_config, &nodeproxy_module, rq);
    r->filename = apr_pstrcat(r->pool, "nodeproxy:", m->target.url, NULL);
    /* A <Location> with its own SetHandler (nodeproxy-status, server-status)
     * replaces this in the type_checker phase, so it is never proxied. */
    r->handler = NP_HANDLER;
    return OK;
}

static int np_map_to_storage(request_rec *r)
{
    if (ap_get_module_config(r->request_config, &nodeproxy_module)) {
        /* No directory or file walk: nothing on disk backs this URL. */
        return OK;
    }
    return DECLINED;
}

void np_map_register_hooks(apr_pool_t *p)
{
    static const char *const before_us[] = { "mod_rewrite.c", NULL };
    /* Before mod_proxy's proxy_trans (same APR_HOOK_FIRST), so which
     * module serves a path both map never depends on the LoadModule order
     * (mod_nodeproxy_coexist.c). */
    static const char *const after_us[] = { "mod_proxy.c", NULL };
    ap_hook_translate_name(np_translate, before_us, after_us, APR_HOOK_FIRST);
    np_coexist_register_hooks(p);
    ap_hook_map_to_storage(np_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
}
