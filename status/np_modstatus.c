/* Pure: mod_nodeproxy's section of server-status (see np_modstatus.h).
 *
 * The `?auto` keys follow mod_proxy's own ("ProxyBalancer[0]Worker[1]Name"):
 * CamelCase, the index in brackets, one "Key: value" per line, so scripts
 * that already split mod_status' machine-readable output on ": " read these
 * too. A child's index is its scoreboard slot, stable while it lives and the
 * same number as mod_status' own per-process table. */
#include <apr_strings.h>
#include <apr_tables.h>

#include "np_modstatus.h"

void np_modstatus_sum(const np_child_count_t *c, int n, np_child_total_t *t)
{
    int i;
    t->children = n;
    t->waiting = t->tunnels = t->queued = t->keepalive = 0;
    for (i = 0; i < n; i++) {
        t->waiting += c[i].waiting;
        t->tunnels += c[i].tunnels;
        t->queued += c[i].queued;
        t->keepalive += c[i].keepalive;
    }
}

static void put(apr_array_header_t *out, const char *s)
{
    APR_ARRAY_PUSH(out, const char *) = s;
}

/* Member names and balancer names are configuration text: a newline in
 * one would forge a line of its own, so control bytes become '?'. */
static const char *one_line(apr_pool_t *p, const char *s)
{
    char *copy, *q;
    if (!s) {
        return "";
    }
    for (q = (char *)s; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            break;
        }
    }
    if (!*q) {
        return s;
    }
    copy = apr_pstrdup(p, s);
    for (q = copy; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            *q = '?';
        }
    }
    return copy;
}

const char *np_modstatus_auto(apr_pool_t *p, const np_child_count_t *c, int n,
                              const np_status_t *st)
{
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
    np_child_total_t t;
    int i, j;

    np_modstatus_sum(c, n, &t);
    put(out, apr_psprintf(p, "NodeProxyWaiting: %" APR_UINT64_T_FMT "\n"
                          "NodeProxyTunnels: %" APR_UINT64_T_FMT "\n"
                          "NodeProxyQueued: %" APR_UINT64_T_FMT "\n"
                          "NodeProxyKeepAlive: %" APR_UINT64_T_FMT "\n"
                          "NodeProxyChildren: %d\n",
                          t.waiting, t.tunnels, t.queued, t.keepalive,
                          t.children));
    for (i = 0; i < n; i++) {
        const np_child_count_t *k = &c[i];
        put(out, apr_psprintf(p, "NodeProxyChild[%d]Pid: %u\n"
                              "NodeProxyChild[%d]Stopping: %d\n"
                              "NodeProxyChild[%d]Waiting: %u\n"
                              "NodeProxyChild[%d]Tunnels: %u\n"
                              "NodeProxyChild[%d]Queued: %u\n"
                              "NodeProxyChild[%d]KeepAlive: %u\n",
                              k->slot, (unsigned)k->pid,
                              k->slot, k->stopping ? 1 : 0,
                              k->slot, (unsigned)k->waiting,
                              k->slot, (unsigned)k->tunnels,
                              k->slot, (unsigned)k->queued,
                              k->slot, (unsigned)k->keepalive));
    }
    for (i = 0; st && i < st->nbalancers; i++) {
        const np_status_balancer_t *b = &st->balancers[i];
        put(out, apr_psprintf(p, "NodeProxyBalancer[%d]Name: %s\n", i,
                              one_line(p, b->name)));
        if (b->queue) {
            put(out, apr_psprintf(p, "NodeProxyBalancer[%d]Queued: %u\n", i,
                                  (unsigned)b->queue->length));
        }
        for (j = 0; j < b->nmembers; j++) {
            const np_status_member_t *m = &b->members[j];
            put(out, apr_psprintf(p,
                    "NodeProxyBalancer[%d]Member[%d]Name: %s\n"
                    "NodeProxyBalancer[%d]Member[%d]State: %s\n"
                    "NodeProxyBalancer[%d]Member[%d]Admin: %s\n"
                    "NodeProxyBalancer[%d]Member[%d]Pending: %u\n"
                    "NodeProxyBalancer[%d]Member[%d]Requests: %" APR_UINT64_T_FMT "\n"
                    "NodeProxyBalancer[%d]Member[%d]Failures: %" APR_UINT64_T_FMT "\n",
                    i, j, one_line(p, m->url),
                    i, j, np_status_state_name(m->state),
                    i, j, m->admin ? m->admin : "ready",
                    i, j, (unsigned)m->pending,
                    i, j, m->requests,
                    i, j, m->failures));
        }
    }
    return apr_array_pstrcat(p, out, 0);
}

static void html_children(apr_array_header_t *out, apr_pool_t *p,
                          const np_child_count_t *c, int n,
                          const np_child_total_t *t, int notable)
{
    int i;
    if (notable) {
        for (i = 0; i < n; i++) {
            put(out, apr_psprintf(p, "Slot %d (pid %u%s): %u waiting for Node, "
                                  "%u WebSocket tunnels, %u queued, %u idle "
                                  "keep-alive<br />\n", c[i].slot,
                                  (unsigned)c[i].pid,
                                  c[i].stopping ? ", stopping" : "",
                                  (unsigned)c[i].waiting, (unsigned)c[i].tunnels,
                                  (unsigned)c[i].queued, (unsigned)c[i].keepalive));
        }
        return;
    }
    put(out, "<table rules=\"all\" cellpadding=\"1%\">\n"
             "<tr><th>Slot</th><th>PID</th><th>Stopping</th>"
             "<th>Waiting for Node</th><th>WebSocket tunnels</th>"
             "<th>Queued</th><th>Keep-alive (idle)</th></tr>\n");
    for (i = 0; i < n; i++) {
        put(out, apr_psprintf(p, "<tr><td>%d</td><td>%u</td><td>%s</td>"
                              "<td>%u</td><td>%u</td><td>%u</td><td>%u</td>"
                              "</tr>\n", c[i].slot, (unsigned)c[i].pid,
                              c[i].stopping ? "yes" : "no",
                              (unsigned)c[i].waiting, (unsigned)c[i].tunnels,
                              (unsigned)c[i].queued, (unsigned)c[i].keepalive));
    }
    put(out, apr_psprintf(p, "<tr><td>Sum</td><td>%d</td><td>&nbsp;</td>"
                          "<td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
                          "</td><td>%" APR_UINT64_T_FMT "</td><td>%"
                          APR_UINT64_T_FMT "</td></tr>\n</table>\n",
                          t->children, t->waiting, t->tunnels, t->queued,
                          t->keepalive));
}

static void html_balancer(apr_array_header_t *out, apr_pool_t *p,
                          const np_status_balancer_t *b, int notable)
{
    int j;
    put(out, apr_psprintf(p, "<h2>NodeBalancer %s</h2>\n",
                          np_status_html_escape(p, b->name)));
    if (b->queue) {
        put(out, apr_psprintf(p, "<p>%u queued for a free max= slot</p>\n",
                              (unsigned)b->queue->length));
    }
    if (!notable) {
        put(out, "<table rules=\"all\" cellpadding=\"1%\">\n"
                 "<tr><th>Member</th><th>State</th><th>Admin</th>"
                 "<th>Pending</th><th>Requests</th><th>Failures</th></tr>\n");
    }
    for (j = 0; j < b->nmembers; j++) {
        const np_status_member_t *m = &b->members[j];
        const char *url = np_status_html_escape(p, m->url);
        const char *admin = m->admin ? m->admin : "ready";
        if (notable) {
            put(out, apr_psprintf(p, "%s: %s, %s, %u pending, %"
                                  APR_UINT64_T_FMT " requests, %"
                                  APR_UINT64_T_FMT " failures<br />\n", url,
                                  np_status_state_name(m->state), admin,
                                  (unsigned)m->pending, m->requests,
                                  m->failures));
        }
        else {
            put(out, apr_psprintf(p, "<tr><td>%s</td><td>%s</td><td>%s</td>"
                                  "<td>%u</td><td>%" APR_UINT64_T_FMT "</td><td>%"
                                  APR_UINT64_T_FMT "</td></tr>\n", url,
                                  np_status_state_name(m->state), admin,
                                  (unsigned)m->pending, m->requests,
                                  m->failures));
        }
    }
    if (!notable) {
        put(out, "</table>\n");
    }
}

const char *np_modstatus_html(apr_pool_t *p, const np_child_count_t *c, int n,
                              const np_status_t *st, int notable)
{
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
    np_child_total_t t;
    int i;

    np_modstatus_sum(c, n, &t);
    put(out, "<hr />\n<h1>mod_nodeproxy</h1>\n");
    put(out, apr_psprintf(p, "<p>%" APR_UINT64_T_FMT " requests waiting for "
                          "Node, %" APR_UINT64_T_FMT " WebSocket tunnels, %"
                          APR_UINT64_T_FMT " queued, %" APR_UINT64_T_FMT
                          " idle keep-alive connections in %d children (on the "
                          "event MPM none of them holds a worker thread: the "
                          "scoreboard above does not show them)</p>\n", t.waiting,
                          t.tunnels, t.queued, t.keepalive, t.children));
    html_children(out, p, c, n, &t, notable);
    for (i = 0; st && i < st->nbalancers; i++) {
        html_balancer(out, p, &st->balancers[i], notable);
    }
    return apr_array_pstrcat(p, out, 0);
}
