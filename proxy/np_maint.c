/* Pure: maintenance-response decisions. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "np_maint.h"

/* q of one media range's parameters ("; q=0.5"), 1000ths; 1000 when absent. */
static int qvalue(const char *params, const char *end)
{
    const char *q = params;
    while (q && q < end) {
        while (q < end && (*q == ';' || *q == ' ' || *q == '\t')) {
            q++;
        }
        if (end - q >= 2 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
            double v = strtod(q + 2, NULL);
            if (v < 0) v = 0;
            if (v > 1) v = 1;
            return (int)(v * 1000 + 0.5);
        }
        q = memchr(q, ';', end - q);
    }
    return 1000;
}

/* Best q the Accept value gives to type/subtype, with its specificity
 * (2 exact, 1 type/star, 0 star/star) as the tie-break. */
static void best_for(const char *accept, const char *type, int *q, int *spec)
{
    const char *p = accept;
    size_t tlen = strchr(type, '/') - type;
    *q = -1;
    *spec = -1;
    while (*p) {
        const char *end = strchr(p, ','), *semi;
        size_t len;
        int s = -1, v;
        if (!end) {
            end = p + strlen(p);
        }
        while (p < end && apr_isspace(*p)) {
            p++;
        }
        semi = memchr(p, ';', end - p);
        len = (semi ? semi : end) - p;
        while (len && apr_isspace(p[len - 1])) {
            len--;
        }
        if (len == strlen(type) && strncasecmp(p, type, len) == 0) {
            s = 2;
        }
        else if (len == tlen + 2 && strncasecmp(p, type, tlen + 1) == 0
                 && p[tlen + 1] == '*') {
            s = 1;
        }
        else if (len == 3 && strncmp(p, "*/*", 3) == 0) {
            s = 0;
        }
        if (s > *spec) {   /* the most specific range decides (RFC 9110) */
            v = semi ? qvalue(semi, end) : 1000;
            *spec = s;
            *q = v;
        }
        p = *end ? end + 1 : end;
    }
}

int np_accept_prefers_json(const char *accept)
{
    int qj, sj, qh, sh;
    if (!accept || !*accept) {
        return 0;
    }
    best_for(accept, "application/json", &qj, &sj);
    best_for(accept, "text/html", &qh, &sh);
    if (qj <= 0) {
        return 0;
    }
    if (qj != qh) {
        return qj > qh;
    }
    return sj > sh;
}

const char *np_maint_json(apr_pool_t *p, int retry_after)
{
    return apr_psprintf(p, "{\"status\":503,\"error\":\"service unavailable\","
                        "\"retry_after\":%d}", retry_after);
}

int np_maint_recheck_due(apr_time_t checked, apr_time_t now,
                         apr_interval_time_t interval)
{
    return checked == 0 || now - checked >= interval || now < checked;
}
