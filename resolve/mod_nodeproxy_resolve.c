/* Glue: backend host names re-resolved in the background.
 *
 * At start (post_config, in the parent) every backend named by a host name
 * (not an IP address, not a unix: socket) is looked up and gets a slot in
 * an anonymous shared-memory segment that every child inherits. A
 * singleton mod_watchdog callback (one child) looks the names up again
 * every NodeResolveInterval - never a request thread - and, when the set
 * of addresses changed, writes the new list and bumps the slot's
 * generation. The request path (proxy/mod_nodeproxy_pool.c) compares
 * generations on each connection it takes: a new list is used for new
 * connections at once in every child, and pooled connections made to the
 * old one are closed instead of reused. A failed lookup keeps the last good
 * list; it is logged once when it starts failing and once when it
 * resolves again. Several addresses are tried in order on connect failure
 * (the pool does that for any list). */
#include <string.h>
#include <apr_strings.h>
#include <apr_atomic.h>
#include <apr_shm.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <http_core.h>
#include <mod_watchdog.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_pool.h"
#include "mod_nodeproxy_resolve.h"
#include "np_resolve.h"
#include "np_tls.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_RESOLVE_WATCHDOG "_nodeproxy_resolve_"

/* In shared memory: written by the watchdog child only, read by all. */
typedef struct {
    volatile apr_uint32_t seq;     /* odd while the list is being written */
    volatile apr_uint32_t gen;     /* 0: no answer yet                     */
    np_addrs_t addrs;
} dns_slot_t;

/* Per name, in pconf. */
typedef struct {
    np_backend_t *b;
    dns_slot_t *slot;
    int failing;                   /* the watchdog's warn-once state       */
} dns_name_t;

static apr_interval_time_t resolve_interval = NP_UNSET;
static apr_array_header_t *names;  /* dns_name_t *, this generation        */

const char *np_resolve_cmd_interval(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    const char *err;
    if (cmd->server->is_virtual) {
        return apr_psprintf(cmd->pool, "%s: only in the main server "
                            "configuration (one interval for the whole server)",
                            cmd->cmd->name);
    }
    if (np_resolve_interval_parse(cmd->pool, arg, &resolve_interval, &err)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    return NULL;
}

/* ---- the slot: a sequence lock around the list ------------------------------ */

static void slot_read(dns_slot_t *slot, np_addrs_t *out, apr_uint32_t *gen)
{
    for (;;) {
        apr_uint32_t s1 = apr_atomic_read32(&slot->seq);
        if (s1 & 1) {
            continue;
        }
        memcpy(out, (const void *)&slot->addrs, sizeof(*out));
        *gen = apr_atomic_read32(&slot->gen);
        if (apr_atomic_read32(&slot->seq) == s1) {
            return;
        }
    }
}

static void slot_write(dns_slot_t *slot, const np_addrs_t *in)
{
    apr_atomic_inc32(&slot->seq);
    memcpy((void *)&slot->addrs, in, sizeof(*in));
    apr_atomic_inc32(&slot->seq);
    apr_atomic_inc32(&slot->gen);
}

/* ---- the pool's view ----------------------------------------------------------- */

static apr_uint32_t generation(np_backend_t *b)
{
    return apr_atomic_read32(&((dns_name_t *)b->dns)->slot->gen);
}

static apr_status_t addresses(np_backend_t *b, apr_pool_t *p,
                              apr_sockaddr_t **out)
{
    dns_name_t *n = b->dns;
    apr_sockaddr_t *first = NULL, **link = &first;
    np_addrs_t addrs;
    apr_uint32_t gen, i;

    slot_read(n->slot, &addrs, &gen);
    for (i = 0; i < addrs.n && i < NP_RESOLVE_MAX; i++) {
        np_addrs_t one;
        apr_sockaddr_t *sa;
        one.n = 1;
        one.a[0] = addrs.a[i];
        /* A numeric address: no lookup. */
        if (apr_sockaddr_info_get(&sa, np_addrs_format(p, &one),
                                  addrs.a[i].family == 4 ? APR_INET : APR_INET6,
                                  b->target->port, 0, p) == APR_SUCCESS) {
            *link = sa;
            link = &sa->next;
        }
    }
    *out = first;
    return first ? APR_SUCCESS : APR_ENOENT;
}

static const np_dns_provider_t provider = { generation, addresses };

/* ---- lookups ----------------------------------------------------------------------- */

static apr_status_t lookup(np_backend_t *b, np_addrs_t *out, apr_pool_t *p)
{
    apr_sockaddr_t *sa, *it;
    apr_status_t rv = apr_sockaddr_info_get(&sa, b->target->host, APR_UNSPEC,
                                            b->target->port, 0, p);
    memset(out, 0, sizeof(*out));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (it = sa; it && out->n < NP_RESOLVE_MAX; it = it->next) {
        np_addr_t *a = &out->a[out->n];
        if (it->family == APR_INET && it->ipaddr_len == 4) {
            a->family = 4;
        }
        else if (it->family == APR_INET6 && it->ipaddr_len == 16) {
            a->family = 6;
        }
        else {
            continue;
        }
        memcpy(a->addr, it->ipaddr_ptr, it->ipaddr_len);
        out->n++;
    }
    return out->n ? APR_SUCCESS : APR_ENOENT;
}

/* One lookup of one name, in the watchdog. */
static void refresh(dns_name_t *n, server_rec *s, apr_pool_t *p)
{
    np_addrs_t now, was;
    apr_uint32_t gen;
    apr_status_t rv = lookup(n->b, &now, p);

    slot_read(n->slot, &was, &gen);
    switch (np_resolve_record(&n->failing, rv == APR_SUCCESS)) {
    case NP_RESOLVE_NOW_FAILING:
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, NPLOGNO(00461)
                     "nodeproxy(%s): cannot resolve %s; keeping %s until it "
                     "resolves again", n->b->target->url, n->b->target->host,
                     np_addrs_format(p, &was));
        break;
    case NP_RESOLVE_RECOVERED:
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, NPLOGNO(00462)
                     "nodeproxy(%s): %s resolves again (%s)", n->b->target->url,
                     n->b->target->host, np_addrs_format(p, &now));
        break;
    default:
        break;
    }
    if (rv != APR_SUCCESS || (gen != 0 && np_addrs_same(&now, &was))) {
        return;
    }
    slot_write(n->slot, &now);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, NPLOGNO(00460)
                 "nodeproxy(%s): %s now resolves to %s (was %s): new "
                 "connections go there, pooled ones to the old address are "
                 "closed", n->b->target->url, n->b->target->host,
                 np_addrs_format(p, &now), np_addrs_format(p, &was));
}

static apr_status_t resolve_tick(int state, void *data, apr_pool_t *pool)
{
    server_rec *s = data;
    int i;
    if (state != AP_WATCHDOG_STATE_RUNNING || !names) {
        return APR_SUCCESS;
    }
    for (i = 0; i < names->nelts; i++) {
        refresh(APR_ARRAY_IDX(names, i, dns_name_t *), s, pool);
    }
    return APR_SUCCESS;
}

/* ---- start-up ---------------------------------------------------------------------- */

static int resolve_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp)
{
    resolve_interval = NP_UNSET;
    names = NULL;
    return OK;
}

static int resolve_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_callback;
    apr_interval_time_t interval = NP_PICK(resolve_interval,
                                           NP_RESOLVE_DEFAULT);
    apr_hash_t *all = np_backends_all();
    apr_hash_index_t *hi;
    dns_slot_t *slots;
    apr_shm_t *shm;
    apr_status_t rv;
    ap_watchdog_t *wd;
    int i;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    names = apr_array_make(pconf, 4, sizeof(dns_name_t *));
    for (hi = all ? apr_hash_first(ptemp, all) : NULL; hi;
         hi = apr_hash_next(hi)) {
        np_backend_t *b = apr_hash_this_val(hi);
        dns_name_t *n;
        if (b->target->kind != NP_TARGET_HTTP
            || np_tls_host_is_ip(b->target->host)) {
            continue;
        }
        n = apr_pcalloc(pconf, sizeof(*n));
        n->b = b;
        APR_ARRAY_PUSH(names, dns_name_t *) = n;
    }
    if (names->nelts == 0) {
        return OK;
    }
    /* Anonymous: made before the children are forked, so they share it;
     * a restart makes a new one (and looks every name up again). */
    rv = apr_shm_create(&shm, names->nelts * sizeof(dns_slot_t), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NPLOGNO(00463)
                     "nodeproxy: cannot create the shared memory for backend "
                     "addresses");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    slots = apr_shm_baseaddr_get(shm);
    memset(slots, 0, names->nelts * sizeof(dns_slot_t));
    for (i = 0; i < names->nelts; i++) {
        dns_name_t *n = APR_ARRAY_IDX(names, i, dns_name_t *);
        np_addrs_t now;
        n->slot = &slots[i];
        rv = lookup(n->b, &now, ptemp);
        if (rv == APR_SUCCESS) {
            slot_write(n->slot, &now);
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, NPLOGNO(00464)
                         "nodeproxy(%s): %s resolves to %s", n->b->target->url,
                         n->b->target->host, np_addrs_format(ptemp, &now));
        }
        else {
            n->failing = 1;
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, NPLOGNO(00465)
                         "nodeproxy(%s): cannot resolve %s at start; it is "
                         "looked up again %s", n->b->target->url,
                         n->b->target->host, interval > 0
                         ? "in the background" : "at each new connection");
        }
        n->b->dns = n;
    }
    if (interval <= 0) {
        return OK;
    }
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_instance || !register_callback) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, NPLOGNO(00466)
                     "nodeproxy: NodeResolveInterval needs mod_watchdog; "
                     "backend names are resolved at start only");
        return OK;
    }
    rv = get_instance(&wd, NP_RESOLVE_WATCHDOG, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = register_callback(wd, interval, s, resolve_tick);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, NPLOGNO(00467)
                     "nodeproxy: cannot set up the watchdog that re-resolves "
                     "backend names");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void np_resolve_register_hooks(apr_pool_t *p)
{
    /* After the backends exist (config post_config, registered first),
     * before mod_watchdog starts its watchdogs. */
    static const char *const before[] = { "mod_watchdog.c", NULL };
    np_backend_dns_provider(&provider);
    ap_hook_pre_config(resolve_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(resolve_post_config, NULL, before, APR_HOOK_MIDDLE);
}
