/* Glue: mod_nodeproxy's section in Apache's own server-status page.
 *
 * On the event MPM a long-poll, an SSE stream, a WebSocket or a queued
 * request waits in the module's per-child reactor, not on a worker thread,
 * so mod_status' scoreboard shows none of them. mod_status offers modules
 * an optional hook, status_hook, to add to its page (mod_proxy adds its
 * balancers so, mod_ssl its session cache): this adds, per child, what the
 * module holds there, and per balancer member its state, pending and
 * requests. `server-status?auto` (AP_STATUS_SHORT) gets "Key: value" lines
 * of the same counts, `?notable` plain lines instead of tables.
 *
 * An optional hook: nothing links against mod_status, and without it the
 * hook is never run. It runs with ExtendedStatus on or off (the counts are
 * the module's own, not the scoreboard's extended fields). */
#include <apr_atomic.h>
#include <httpd.h>
#include <http_config.h>
#include <apr_optional_hooks.h>   /* after httpd.h: it needs apu.h first */
#include <http_protocol.h>
#include <ap_mpm.h>
#include <scoreboard.h>
#include <mod_status.h>

#include "mod_nodeproxy_status.h"
#include "mod_nodeproxy_children.h"
#include "np_modstatus.h"

/* The live children's records: a record counts only when its pid is the
 * one the scoreboard has for its slot now. */
static np_child_count_t *children(apr_pool_t *p, int *n)
{
    int nrec = 0, i, k = 0, generation = 0;
    np_child_shm_t *rec = np_children_records(&nrec);
    np_child_count_t *out = apr_pcalloc(p, (nrec + 1) * sizeof(*out));

    ap_mpm_query(AP_MPMQ_GENERATION, &generation);
    for (i = 0; rec && i < nrec; i++) {
        process_score *ps = ap_get_scoreboard_process(i);
        apr_uint32_t pid = apr_atomic_read32(&rec[i].pid);
        if (!ps || ps->pid <= 0 || pid != (apr_uint32_t)ps->pid) {
            continue;
        }
        out[k].slot = i;
        out[k].pid = pid;
        out[k].stopping = ps->quiescing || ps->generation != generation;
        out[k].waiting = apr_atomic_read32(&rec[i].count[NP_CHILD_WAITING]);
        out[k].tunnels = apr_atomic_read32(&rec[i].count[NP_CHILD_TUNNELS]);
        out[k].queued = apr_atomic_read32(&rec[i].count[NP_CHILD_QUEUED]);
        out[k].keepalive = apr_atomic_read32(&rec[i].count[NP_CHILD_KEEPALIVE]);
        k++;
    }
    *n = k;
    return out;
}

static int np_status_hook(request_rec *r, int flags)
{
    np_status_t *st = np_status_snapshot(r);
    np_child_count_t *c;
    int n = 0;

    c = children(r->pool, &n);
    if (flags & AP_STATUS_SHORT) {
        ap_rputs(np_modstatus_auto(r->pool, c, n, st), r);
    }
    else {
        ap_rputs(np_modstatus_html(r->pool, c, n, st,
                                   (flags & AP_STATUS_NOTABLE) != 0), r);
    }
    return OK;
}

void np_modstatus_register_hooks(apr_pool_t *p)
{
    (void)p;
    APR_OPTIONAL_HOOK(ap, status_hook, np_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
