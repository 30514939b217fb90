/* Glue: the shared-memory segment that holds every balancer's and member's
 * state, seen by all child processes.
 *
 * The segment is anonymous (children inherit it at fork) and belongs to the
 * process pool, not the configuration pool, so it outlives a graceful
 * restart: the new generation's segment is filled from the old one by
 * member key, and the old one is then unmapped in the parent only (children
 * of the old generation keep their mapping until they exit). */
#include <string.h>
#include <apr_strings.h>
#include <apr_shm.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_nodeproxy_config.h"
#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_balancer.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_SHM_USERDATA "nodeproxy-shm"
#define NP_SHM_MAGIC 0x4e505348u   /* "NPSH" */
#define NP_SHM_LAYOUT ((apr_uint32_t)(sizeof(np_member_shm_t) << 16 \
                       | sizeof(np_balancer_shm_t) << 8 \
                       | sizeof(np_shm_global_t)))

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t nbalancers;
    apr_uint32_t nmembers;
    apr_uint32_t layout;       /* sizes of the records: a segment made by
                                * another build of the module is not reused */
    np_shm_global_t global;
} np_shm_header_t;

/* This generation's segment (inherited by the children). */
static np_shm_header_t *current;

np_shm_global_t *np_shm_global(void)
{
    return current ? &current->global : NULL;
}

static np_balancer_shm_t *balancers_of(np_shm_header_t *h)
{
    return (np_balancer_shm_t *)(h + 1);
}

static np_member_shm_t *members_of(np_shm_header_t *h)
{
    return (np_member_shm_t *)(balancers_of(h) + h->nbalancers);
}

static int reusable(const np_shm_header_t *old)
{
    return old && old->magic == NP_SHM_MAGIC && old->layout == NP_SHM_LAYOUT;
}

static np_member_shm_t *find_old(np_shm_header_t *old, const char *key)
{
    np_member_shm_t *m;
    apr_uint32_t i;
    if (!reusable(old)) {
        return NULL;
    }
    m = members_of(old);
    for (i = 0; i < old->nmembers; i++) {
        if (strcmp(m[i].key, key) == 0) {
            return &m[i];
        }
    }
    return NULL;
}

apr_status_t np_shm_attach(apr_array_header_t *all, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    apr_shm_t *old_shm = NULL, *shm;
    np_shm_header_t *h, *old = NULL;
    np_balancer_shm_t *bs;
    np_member_shm_t *ms;
    apr_size_t size;
    apr_uint32_t nm = 0, k = 0;
    apr_status_t rv;
    int i, j;

    for (i = 0; i < all->nelts; i++) {
        nm += APR_ARRAY_IDX(all, i, np_balancer_t *)->members->nelts;
    }
    apr_pool_userdata_get((void **)&old_shm, NP_SHM_USERDATA, pproc);
    if (old_shm) {
        old = apr_shm_baseaddr_get(old_shm);
    }
    size = sizeof(*h) + all->nelts * sizeof(np_balancer_shm_t)
           + nm * sizeof(np_member_shm_t);
    rv = apr_shm_create(&shm, size, NULL, pproc);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, NPLOGNO(00060)
                     "nodeproxy: cannot create the shared memory for %d "
                     "balancers (%" APR_SIZE_T_FMT " bytes)", all->nelts, size);
        return rv;
    }
    h = apr_shm_baseaddr_get(shm);
    memset(h, 0, size);
    h->magic = NP_SHM_MAGIC;
    h->nbalancers = (apr_uint32_t)all->nelts;
    h->nmembers = nm;
    h->layout = NP_SHM_LAYOUT;
    if (reusable(old)) {
        /* Open tunnels stay with the old children; totals carry on. */
        h->global.tunnels_total = old->global.tunnels_total;
        h->global.started = old->global.started;
    }
    else {
        h->global.started = (apr_uint64_t)apr_time_now();
    }
    bs = balancers_of(h);
    ms = members_of(h);
    for (i = 0; i < all->nelts; i++) {
        np_balancer_t *b = APR_ARRAY_IDX(all, i, np_balancer_t *);
        b->shm = &bs[i];
        apr_cpystrn(bs[i].name, b->name, sizeof(bs[i].name));
        for (j = 0; j < b->members->nelts; j++, k++) {
            np_member_t *m = APR_ARRAY_IDX(b->members, j, np_member_t *);
            np_member_shm_t *prev;
            m->shm = &ms[k];
            apr_snprintf(ms[k].key, sizeof(ms[k].key), "%s|%s", b->name,
                         m->spec.target.key);
            prev = find_old(old, ms[k].key);
            if (prev) {
                /* Same member, new generation: keep what it has learnt;
                 * in-flight counts belong to the old children. */
                memcpy((void *)&ms[k], (const void *)prev, sizeof(ms[k]));
                ms[k].pending = 0;
                ms[k].rr_current = 0;
            }
            else {
                ms[k].state_since = (apr_uint64_t)apr_time_now();
            }
        }
    }
    if (old_shm) {
        apr_shm_destroy(old_shm);
    }
    apr_pool_userdata_set(shm, NP_SHM_USERDATA, apr_pool_cleanup_null, pproc);
    current = h;
    return APR_SUCCESS;
}
