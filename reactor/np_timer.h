/* Pure: the reactor's deadlines, a binary min-heap keyed on time.
 *
 * One reactor thread per child holds every tunnel, async response and
 * kept-alive connection of that child; scanning all of them per tick to
 * find the few whose deadline passed costs O(jobs) every 100 ms (100,000
 * tunnels: a million visits a second). The heap finds the earliest in
 * O(1) and adds, moves or removes one in O(log n).
 *
 * Each timer is embedded in its owner (no allocation per timer) and
 * remembers its place in the heap, so removal needs no search. The heap
 * array grows and shrinks with malloc/realloc: it outlives no job and is
 * used by one thread only (no locking here). */
#ifndef NP_TIMER_H
#define NP_TIMER_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_time.h>

typedef struct {
    apr_time_t when;     /* the key, while armed                        */
    apr_size_t pos;      /* 1 + index in the heap; 0: not armed         */
} np_timer_t;

typedef struct {
    np_timer_t **v;
    apr_size_t n, cap;
} np_timers_t;

void np_timers_init(np_timers_t *h);
/* Frees the array; the timers themselves belong to their owners. */
void np_timers_free(np_timers_t *h);

/* Arm t at when, or move it there if it is armed already. APR_ENOMEM
 * when the array cannot grow (t is then left as it was). */
apr_status_t np_timers_set(np_timers_t *h, np_timer_t *t, apr_time_t when);

/* Disarm t (nothing when it is not armed). */
void np_timers_remove(np_timers_t *h, np_timer_t *t);

/* The earliest armed timer, or NULL. */
np_timer_t *np_timers_first(const np_timers_t *h);

/* Disarm and return the earliest timer if its time is <= now, else NULL. */
np_timer_t *np_timers_pop_due(np_timers_t *h, apr_time_t now);

#define np_timer_armed(t) ((t)->pos != 0)

#endif
