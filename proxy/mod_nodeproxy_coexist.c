/* Glue: mod_proxy beside mod_nodeproxy. The rule is fixed: mod_nodeproxy's
 * translate_name runs before mod_proxy's (both after mod_rewrite), so a
 * request matched by a NodeProxyPass mapping is served by mod_nodeproxy
 * whatever the LoadModule order; everything else is left to mod_proxy.
 * configtest warns about each NodeProxyPass / ProxyPass pair of one server
 * that claim a common path, naming both lines. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <util_cfgtree.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_relay.h"
#include "np_overlap.h"

APLOG_USE_MODULE(nodeproxy);

typedef struct {
    int node;                   /* NodeProxyPass (1) or ProxyPass (0)   */
    const char *path;
    const char *target;
    const char *file;
    int line;
    int scope;                  /* 0: main server, n: n-th VirtualHost  */
    const char *scope_name;
} np_pass_t;

/* PATH and TARGET of a NodeProxyPass/ProxyPass line; location: the
 * enclosing <Location> path (the one-argument form), or NULL. */
static void add_pass(apr_pool_t *p, apr_array_header_t *out,
                     const ap_directive_t *d, int node, const char *location,
                     int scope, const char *scope_name)
{
    const char *args = d->args;
    const char *first = ap_getword_conf(p, &args);
    const char *second = ap_getword_conf(p, &args);
    np_pass_t *e;
    const char *path, *target;

    if (location) {
        path = location;
        target = first;
    }
    else {
        path = first;
        target = second;
    }
    if (!path || !*path || !target || !*target || strcmp(target, "!") == 0
        || path[0] != '/') {
        return;   /* exclusions and forms that map nothing */
    }
    e = apr_array_push(out);
    e->node = node;
    e->path = path;
    e->target = target;
    e->file = d->filename;
    e->line = d->line_num;
    e->scope = scope;
    e->scope_name = scope_name;
}

static void walk(apr_pool_t *p, const ap_directive_t *d,
                 apr_array_header_t *out, const char *location, int *nscope,
                 int scope, const char *scope_name)
{
    for (; d; d = d->next) {
        if (strcasecmp(d->directive, "NodeProxyPass") == 0) {
            add_pass(p, out, d, 1, location, scope, scope_name);
        }
        else if (strcasecmp(d->directive, "ProxyPass") == 0) {
            add_pass(p, out, d, 0, location, scope, scope_name);
        }
        else if (d->first_child) {
            if (strcasecmp(d->directive, "<VirtualHost") == 0) {
                const char *a = d->args;
                char *name = apr_pstrcat(p, "<VirtualHost ",
                                         ap_getword_conf(p, &a), ">", NULL);
                size_t n = strlen(name);
                if (n > 1 && name[n - 2] == '>') {
                    name[n - 1] = '\0';
                }
                walk(p, d->first_child, out, NULL, nscope, ++*nscope, name);
            }
            else if (strcasecmp(d->directive, "<Location") == 0) {
                const char *a = d->args;
                char *path = ap_getword_conf(p, &a);
                size_t n = strlen(path);
                if (n > 0 && path[n - 1] == '>') {
                    path[n - 1] = '\0';
                }
                walk(p, d->first_child, out, path, nscope, scope, scope_name);
            }
            else if (strcasecmp(d->directive, "<IfModule") == 0
                     || strcasecmp(d->directive, "<IfDefine") == 0
                     || strcasecmp(d->directive, "<IfVersion") == 0
                     || strcasecmp(d->directive, "<IfFile") == 0
                     || strcasecmp(d->directive, "<IfDirective") == 0
                     || strcasecmp(d->directive, "<IfSection") == 0) {
                walk(p, d->first_child, out, location, nscope, scope,
                     scope_name);
            }
            /* <NodeBalancer>, <LocationMatch>, <Directory>...: no
             * prefix mappings of either module inside */
        }
    }
}

static int np_coexist_check(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *all;
    int nscope = 0, i, j;

    if (!ap_find_linked_module("mod_proxy.c") || !ap_conftree) {
        return OK;
    }
    all = apr_array_make(ptemp, 16, sizeof(np_pass_t));
    walk(ptemp, ap_conftree, all, NULL, &nscope, 0, "the main server");
    for (i = 0; i < all->nelts; i++) {
        const np_pass_t *n = &APR_ARRAY_IDX(all, i, np_pass_t);
        if (!n->node) {
            continue;
        }
        for (j = 0; j < all->nelts; j++) {
            const np_pass_t *x = &APR_ARRAY_IDX(all, j, np_pass_t);
            const char *where;
            /* One server: the same virtual host, or the main server's
             * lines, which every virtual host inherits from both
             * modules. Each pair is reported once. */
            if (x->node || (x->scope != n->scope && x->scope != 0
                            && n->scope != 0)
                || !np_paths_overlap(n->path, x->path)) {
                continue;
            }
            where = n->scope != 0 ? n->scope_name : x->scope_name;
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, NPLOGNO(00351)
                         "NodeProxyPass %s %s (%s:%d) and ProxyPass %s %s "
                         "(%s:%d) map overlapping paths in %s: requests "
                         "that NodeProxyPass %s matches are served by "
                         "mod_nodeproxy (its mappings are looked at before "
                         "mod_proxy's, whatever the LoadModule order), "
                         "the rest of ProxyPass %s by mod_proxy",
                         n->path, n->target, n->file, n->line, x->path,
                         x->target, x->file, x->line, where, n->path,
                         x->path);
        }
    }
    return OK;
}

void np_coexist_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(np_coexist_check, NULL, NULL, APR_HOOK_MIDDLE);
}
