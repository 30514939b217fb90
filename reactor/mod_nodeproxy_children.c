/* Glue: per-child counts in shared memory (see mod_nodeproxy_children.h).
 *
 * One record per scoreboard slot (ServerLimit of them), in an anonymous
 * segment of the process pool: made once, inherited by every child, and
 * kept over graceful restarts, so the children of the old generation that
 * still hold tunnels keep counting where the status page finds them.
 *
 * A child finds its slot in the scoreboard by its pid when it starts, zeroes
 * the record (a dead predecessor may have left counts there) and then writes
 * its pid into it. A reader takes a record for the child that holds the
 * slot now only when the two pids agree, so records of children that died
 * (killed, crashed) are never shown nor summed. */
#include <unistd.h>
#include <string.h>
#include <apr_atomic.h>
#include <apr_shm.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_mpm.h>
#include <scoreboard.h>

#include "mod_nodeproxy_log.h"
#include "mod_nodeproxy_children.h"

APLOG_USE_MODULE(nodeproxy);

#define NP_CHILDREN_USERDATA "nodeproxy-children"
/* The parent writes a new child's pid into the scoreboard just after the
 * fork; the child normally sees it at once. Bounded: 2 ms steps, 5 s. */
#define NP_SLOT_WAIT_STEP apr_time_from_msec(2)
#define NP_SLOT_WAIT_STEPS 2500

static np_child_shm_t *records;   /* the segment, inherited at fork     */
static int nrecords;
static np_child_shm_t *mine;      /* this child's record; NULL: none    */

np_child_shm_t *np_children_records(int *n)
{
    *n = records ? nrecords : 0;
    return records;
}

void np_child_count(np_child_count_e which, int delta)
{
    if (!mine) {
        return;
    }
    if (delta > 0) {
        apr_atomic_add32(&mine->count[which], (apr_uint32_t)delta);
    }
    else if (delta < 0) {
        apr_atomic_sub32(&mine->count[which], (apr_uint32_t)-delta);
    }
}

static int children_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    apr_shm_t *shm = NULL;
    int limit = 0;
    apr_size_t size;
    apr_status_t rv;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS
        || limit <= 0) {
        limit = 1;
    }
    /* Made once: httpd ignores a ServerLimit changed by a restart, so the
     * first segment stays big enough (a new one is made if it is not). */
    apr_pool_userdata_get((void **)&shm, NP_CHILDREN_USERDATA, pproc);
    if (shm && apr_shm_size_get(shm) >= (apr_size_t)limit * sizeof(*records)) {
        records = apr_shm_baseaddr_get(shm);
        nrecords = (int)(apr_shm_size_get(shm) / sizeof(*records));
        return OK;
    }
    size = (apr_size_t)limit * sizeof(*records);
    rv = apr_shm_create(&shm, size, NULL, pproc);
    if (rv != APR_SUCCESS) {
        /* Not fatal: the counts are only for the status page. */
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, NPLOGNO(00600)
                     "nodeproxy: cannot create the shared memory for the "
                     "per-child counts (%" APR_SIZE_T_FMT " bytes); "
                     "server-status will show none", size);
        records = NULL;
        nrecords = 0;
        return OK;
    }
    memset(apr_shm_baseaddr_get(shm), 0, size);
    apr_pool_userdata_set(shm, NP_CHILDREN_USERDATA, apr_pool_cleanup_null,
                          pproc);
    records = apr_shm_baseaddr_get(shm);
    nrecords = limit;
    return OK;
}

static int my_slot(void)
{
    pid_t pid = getpid();
    int step, i;
    for (step = 0; step < NP_SLOT_WAIT_STEPS; step++) {
        for (i = 0; i < nrecords; i++) {
            process_score *ps = ap_get_scoreboard_process(i);
            if (ps && ps->pid == pid) {
                return i;
            }
        }
        apr_sleep(NP_SLOT_WAIT_STEP);
    }
    return -1;
}

static void children_child_init(apr_pool_t *pchild, server_rec *s)
{
    np_child_shm_t *rec;
    int slot, k;

    (void)pchild;
    if (!records || !ap_exists_scoreboard_image()) {
        return;
    }
    slot = my_slot();
    if (slot < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, NPLOGNO(00601)
                     "nodeproxy: this child (pid %" APR_PID_T_FMT ") is not "
                     "in the scoreboard; server-status will not show its "
                     "waiting requests and tunnels", getpid());
        return;
    }
    rec = &records[slot];
    apr_atomic_set32(&rec->pid, 0);
    for (k = 0; k < NP_CHILD_NCOUNTS; k++) {
        apr_atomic_set32(&rec->count[k], 0);
    }
    apr_atomic_set32(&rec->pid, (apr_uint32_t)getpid());
    mine = rec;
}

void np_children_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(children_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before the reactor starts (it may count as soon as it runs). */
    ap_hook_child_init(children_child_init, NULL, NULL, APR_HOOK_FIRST);
}
