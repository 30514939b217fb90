/* Pure: the reactor's deadline heap (see np_timer.h). */
#include <stdlib.h>

#include "np_timer.h"

#define MIN_CAP 64

void np_timers_init(np_timers_t *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
}

void np_timers_free(np_timers_t *h)
{
    apr_size_t i;
    for (i = 0; i < h->n; i++) {
        h->v[i]->pos = 0;
    }
    free(h->v);
    np_timers_init(h);
}

static void place(np_timers_t *h, apr_size_t i, np_timer_t *t)
{
    h->v[i] = t;
    t->pos = i + 1;
}

static void sift_up(np_timers_t *h, apr_size_t i)
{
    np_timer_t *t = h->v[i];
    while (i > 0) {
        apr_size_t parent = (i - 1) / 2;
        if (h->v[parent]->when <= t->when) {
            break;
        }
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(np_timers_t *h, apr_size_t i)
{
    np_timer_t *t = h->v[i];
    for (;;) {
        apr_size_t child = 2 * i + 1;
        if (child >= h->n) {
            break;
        }
        if (child + 1 < h->n && h->v[child + 1]->when < h->v[child]->when) {
            child++;
        }
        if (t->when <= h->v[child]->when) {
            break;
        }
        place(h, i, h->v[child]);
        i = child;
    }
    place(h, i, t);
}

/* After a burst (a mass disconnect) the array shrinks again, so the
 * memory of a child that once held many jobs follows what it holds now. */
static void maybe_shrink(np_timers_t *h)
{
    if (h->cap > MIN_CAP && h->n < h->cap / 4) {
        apr_size_t cap = h->cap / 2;
        np_timer_t **v = realloc(h->v, cap * sizeof(*v));
        if (v) {
            h->v = v;
            h->cap = cap;
        }
    }
}

apr_status_t np_timers_set(np_timers_t *h, np_timer_t *t, apr_time_t when)
{
    if (t->pos) {
        apr_time_t old = t->when;
        t->when = when;
        if (when < old) {
            sift_up(h, t->pos - 1);
        }
        else if (when > old) {
            sift_down(h, t->pos - 1);
        }
        return APR_SUCCESS;
    }
    if (h->n == h->cap) {
        apr_size_t cap = h->cap ? h->cap * 2 : MIN_CAP;
        np_timer_t **v = realloc(h->v, cap * sizeof(*v));
        if (!v) {
            return APR_ENOMEM;
        }
        h->v = v;
        h->cap = cap;
    }
    t->when = when;
    place(h, h->n++, t);
    sift_up(h, h->n - 1);
    return APR_SUCCESS;
}

void np_timers_remove(np_timers_t *h, np_timer_t *t)
{
    apr_size_t i;
    np_timer_t *last;

    if (!t->pos) {
        return;
    }
    i = t->pos - 1;
    t->pos = 0;
    last = h->v[--h->n];
    if (i < h->n) {
        /* The last leaf takes the hole; it may belong above or below. */
        place(h, i, last);
        if (i > 0 && last->when < h->v[(i - 1) / 2]->when) {
            sift_up(h, i);
        }
        else {
            sift_down(h, i);
        }
    }
    maybe_shrink(h);
}

np_timer_t *np_timers_first(const np_timers_t *h)
{
    return h->n ? h->v[0] : NULL;
}

np_timer_t *np_timers_pop_due(np_timers_t *h, apr_time_t now)
{
    np_timer_t *t = np_timers_first(h);
    if (!t || t->when > now) {
        return NULL;
    }
    np_timers_remove(h, t);
    return t;
}
