/* obs-fold detection (np_fold.h). A line at a time, memchr finding its
 * end, not a byte at a time: the connection filter that feeds this sees
 * every request head on the server, so its cost is paid by every request
 * (docs/benchmarks.md: obs-fold filter). */
#include <string.h>

#include "np_fold.h"

void np_fold_reset(np_fold_t *st)
{
    st->line_start = 1;
    st->prev_content = 0;
    st->cur_content = 0;
    st->folded = 0;
}

void np_fold_scan(np_fold_t *st, const char *d, size_t n)
{
    size_t i = 0;

    while (i < n) {
        const char *lf;
        size_t end, j;
        if (st->line_start) {
            st->line_start = 0;
            st->cur_content = 0;
            if ((d[i] == ' ' || d[i] == '\t') && st->prev_content) {
                st->folded = 1;
            }
        }
        lf = memchr(d + i, '\n', n - i);
        end = lf ? (size_t)(lf - d) : n;
        /* A line of bare CRs has no content (it is the empty line). */
        for (j = i; j < end && d[j] == '\r'; j++) {
        }
        if (j < end) {
            st->cur_content = 1;
        }
        if (!lf) {
            return;
        }
        st->prev_content = st->cur_content;
        st->line_start = 1;
        i = end + 1;
    }
}
