/* obs-fold detection in a request head read line by line (RFC 9112 5.2):
 * a line that starts with SP or HTAB right after a header line with
 * content continues that header. Pure logic, fed with whatever bytes
 * httpd's line reads return (a line may arrive in pieces). */
#ifndef NP_FOLD_H
#define NP_FOLD_H

#include <stddef.h>

typedef struct {
    int line_start;     /* the next byte starts a line                */
    int prev_content;   /* the last complete line was not empty       */
    int cur_content;    /* the line being read has content so far     */
    int folded;         /* a fold was seen since the last reset       */
} np_fold_t;

/* Start of a head: nothing seen, the next byte starts a line. */
void np_fold_reset(np_fold_t *st);

/* Feed the next n bytes read; sets st->folded when a fold is seen. */
void np_fold_scan(np_fold_t *st, const char *d, size_t n);

#endif
