/* Glue: <NodeBalancer NAME> ... </NodeBalancer> and the directives inside. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_provider.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_balancer.h"
#include "np_duration.h"
#include "np_sticky.h"

APLOG_USE_MODULE(nodeproxy);

static const char *cmd_error(cmd_parms *cmd, const char *what)
{
    return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, what);
}

np_balancer_t *np_balancer_enclosing(cmd_parms *cmd, const char **err)
{
    const ap_directive_t *parent = cmd->directive ? cmd->directive->parent : NULL;
    if (!parent || strcasecmp(parent->directive, "<NodeBalancer") != 0
        || !parent->data) {
        *err = cmd_error(cmd, "must be inside <NodeBalancer NAME>");
        return NULL;
    }
    return parent->data;
}

static int good_name(const char *name)
{
    const char *c;
    if (!*name || strlen(name) > 64) {
        return 0;
    }
    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_' && *c != '.') {
            return 0;
        }
    }
    return 1;
}

const char *np_balancer_section(cmd_parms *cmd, void *dconf, const char *arg)
{
    np_server_conf_t *sc = np_server_conf(cmd->server);
    const char *endp = ap_strrchr_c(arg, '>');
    const char *err, *name, *args;
    np_balancer_t *b;
    int i, j;

    if ((err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) != NULL) {
        return err;
    }
    if (!endp) {
        return "<NodeBalancer> section is missing its closing '>'";
    }
    args = apr_pstrndup(cmd->temp_pool, arg, endp - arg);
    name = ap_getword_conf(cmd->pool, &args);
    if (*args) {
        return apr_psprintf(cmd->pool, "<NodeBalancer %s>: takes one NAME, "
                            "got \"%s\" too", name, args);
    }
    if (strncasecmp(name, "balancer://", 11) == 0) {
        name += 11;    /* accept the URL form too */
    }
    if (!good_name(name)) {
        return apr_psprintf(cmd->pool, "<NodeBalancer \"%s\">: a name is 1-64 "
                            "of A-Z a-z 0-9 . _ -", name);
    }
    if (apr_hash_get(sc->balancers, name, APR_HASH_KEY_STRING)) {
        return apr_psprintf(cmd->pool, "<NodeBalancer %s>: defined twice in "
                            "this server", name);
    }
    b = apr_pcalloc(cmd->pool, sizeof(*b));
    b->name = name;
    b->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                            cmd->directive->line_num);
    b->members = apr_array_make(cmd->pool, 4, sizeof(np_member_t *));
    b->method = &np_lb_least_pending;
    b->sticky_cookie = NULL;
    b->retry = NP_UNSET;
    b->fail_timeout = NP_DEFAULT_FAIL_TIMEOUT;
    b->queue_limit = NP_UNSET;       /* admission/: NodeQueueLimit   */
    b->queue_timeout = NP_UNSET;     /* admission/: NodeQueueTimeout */
    cmd->directive->data = b;
    if ((err = ap_walk_config(cmd->directive->first_child, cmd,
                              cmd->context)) != NULL) {
        return err;
    }
    if (b->members->nelts == 0) {
        return apr_psprintf(cmd->pool, "<NodeBalancer %s> has no NodeMember",
                            name);
    }
    for (i = 0; i < b->members->nelts; i++) {
        np_member_t *m = APR_ARRAY_IDX(b->members, i, np_member_t *);
        b->has_max |= m->spec.max > 0;
        for (j = 0; j < i; j++) {
            np_member_t *o = APR_ARRAY_IDX(b->members, j, np_member_t *);
            if (strcmp(o->spec.target.key, m->spec.target.key) == 0) {
                return apr_psprintf(cmd->pool, "<NodeBalancer %s>: member %s "
                                    "is listed twice", name, m->spec.target.url);
            }
            if (strcmp(o->route, m->route) == 0) {
                return apr_psprintf(cmd->pool, "<NodeBalancer %s>: route \"%s\" "
                                    "is used by two members", name, m->route);
            }
        }
    }
    apr_hash_set(sc->balancers, name, APR_HASH_KEY_STRING, b);
    return NULL;
}

const char *np_balancer_member(cmd_parms *cmd, void *dconf, int argc,
                               char *const argv[])
{
    const char *err;
    np_balancer_t *b = np_balancer_enclosing(cmd, &err);
    apr_array_header_t *specs;
    int i;

    if (!b) {
        return err;
    }
    specs = apr_array_make(cmd->temp_pool, 4, sizeof(np_member_spec_t));
    if (np_member_parse(cmd->pool, argc, (const char *const *)argv, specs,
                        &err) != APR_SUCCESS) {
        return cmd_error(cmd, err);
    }
    for (i = 0; i < specs->nelts; i++) {
        np_member_t *m = apr_pcalloc(cmd->pool, sizeof(*m));
        m->spec = APR_ARRAY_IDX(specs, i, np_member_spec_t);
        m->route = m->spec.route ? m->spec.route
                 : np_sticky_route_id(cmd->pool, m->spec.target.key);
        m->index = b->members->nelts;
        m->balancer = b;
        APR_ARRAY_PUSH(b->members, np_member_t *) = m;
    }
    return NULL;
}

const char *np_balancer_method(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err;
    np_balancer_t *b = np_balancer_enclosing(cmd, &err);
    const np_lbmethod_t *m;
    if (!b) {
        return err;
    }
    /* Methods are providers: one a third-party module adds works too. */
    m = ap_lookup_provider("nodeproxy_lbmethod", arg, "0");
    if (!m) {
        m = np_member_method(cmd->pool, arg, &err);
        if (!m) {
            return cmd_error(cmd, err);
        }
    }
    b->method = m;
    return NULL;
}

const char *np_balancer_sticky(cmd_parms *cmd, void *dconf, const char *a1,
                               const char *a2)
{
    const char *err;
    np_balancer_t *b = np_balancer_enclosing(cmd, &err);
    if (!b) {
        return err;
    }
    if (strcasecmp(a1, "off") == 0 && !a2) {
        b->sticky_cookie = NULL;
        return NULL;
    }
    if (strcasecmp(a1, "cookie") != 0 || !a2) {
        return cmd_error(cmd, apr_psprintf(cmd->pool, "\"%s%s%s\": use "
                         "\"cookie NAME\" or \"off\"", a1, a2 ? " " : "",
                         a2 ? a2 : ""));
    }
    if (np_sticky_check_name(cmd->pool, a2, &err) != APR_SUCCESS) {
        return cmd_error(cmd, err);
    }
    b->sticky_cookie = a2;
    return NULL;
}

const char *np_balancer_retry(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err;
    np_balancer_t *b = np_balancer_enclosing(cmd, &err);
    char *end;
    long n;
    if (!b) {
        return err;
    }
    n = strtol(arg, &end, 10);
    if (end == arg || *end || n < 0 || n > 100) {
        return cmd_error(cmd, apr_psprintf(cmd->pool, "\"%s\" is not a number "
                                           "of retries (0-100)", arg));
    }
    b->retry = (int)n;
    return NULL;
}

const char *np_balancer_fail_timeout(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    const char *err;
    np_balancer_t *b = np_balancer_enclosing(cmd, &err);
    if (!b) {
        return err;
    }
    if (np_duration_parse_p(cmd->pool, arg, &b->fail_timeout, &err)
        != APR_SUCCESS) {
        return cmd_error(cmd, err);
    }
    return NULL;
}

np_balancer_t *np_balancer_find(server_rec *s, const char *name)
{
    /* A virtual host's table holds the main server's balancers too. */
    return apr_hash_get(np_server_conf(s)->balancers, name,
                        APR_HASH_KEY_STRING);
}

/* NodeSlowStart DURATION (issue 15): a member that becomes usable again
 * ramps its weight up over DURATION; 0 = off. */
const char *np_balancer_slow_start(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    const char *err;
    np_balancer_t *b = np_balancer_enclosing(cmd, &err);
    apr_interval_time_t d;
    if (!b) {
        return err;
    }
    if (np_duration_parse_p(cmd->pool, arg, &d, &err) != APR_SUCCESS) {
        return cmd_error(cmd, err);
    }
    if (d > apr_time_from_sec(3600)) {
        return cmd_error(cmd, apr_psprintf(cmd->pool, "\"%s\" is too long "
                         "(at most 1h)", arg));
    }
    b->slow_start = d;
    return NULL;
}
