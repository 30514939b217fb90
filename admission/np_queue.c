/* Pure: the FIFO of requests waiting for a free max= slot (np_queue.h). */
#include <string.h>

#include "np_queue.h"

apr_size_t np_queue_size(apr_uint32_t limit)
{
    apr_uint32_t cap = limit * 2 + 16;
    return sizeof(np_queue_t) + (apr_size_t)(cap - 1) * sizeof(apr_uint64_t);
}

void np_queue_init(np_queue_t *q, apr_uint32_t limit)
{
    memset(q, 0, np_queue_size(limit));
    q->limit = limit;
    q->cap = limit * 2 + 16;
}

/* The ring entry of a ticket still in [head, tail). */
static apr_uint64_t *entry(np_queue_t *q, apr_uint64_t ticket)
{
    return &q->ring[ticket % q->cap];
}

/* Step the head over tickets that left, or whose waiter must be gone
 * (its child died): those are counted out of `waiting` here. */
static void advance(np_queue_t *q, apr_time_t now)
{
    while (q->head < q->tail) {
        apr_uint64_t *e = entry(q, q->head);
        if (*e != 0 && (apr_time_t)*e >= now) {
            break;
        }
        if (*e != 0) {
            *e = 0;
            if (q->waiting) {
                q->waiting--;
            }
            q->abandoned++;
        }
        q->head++;
    }
}

apr_status_t np_queue_enter(np_queue_t *q, apr_time_t dead_at, apr_time_t now,
                            apr_uint64_t *ticket)
{
    advance(q, now);
    if (q->waiting >= q->limit || q->tail - q->head >= q->cap) {
        q->rejected++;
        return APR_EAGAIN;
    }
    *ticket = q->tail++;
    *entry(q, *ticket) = (apr_uint64_t)(dead_at > 0 ? dead_at : 1);
    q->waiting++;
    return APR_SUCCESS;
}

int np_queue_is_head(np_queue_t *q, apr_uint64_t ticket, apr_time_t now)
{
    advance(q, now);
    return q->head == ticket && q->head < q->tail && *entry(q, ticket) != 0;
}

void np_queue_leave(np_queue_t *q, apr_uint64_t ticket, np_queue_exit_e how,
                    apr_interval_time_t waited, apr_time_t now)
{
    if (ticket >= q->head && ticket < q->tail && *entry(q, ticket) != 0) {
        *entry(q, ticket) = 0;
        if (q->waiting) {
            q->waiting--;
        }
        switch (how) {
        case NP_QUEUE_SERVED:
            q->served++;
            q->wait_us += (apr_uint64_t)(waited > 0 ? waited : 0);
            break;
        case NP_QUEUE_TIMEOUT:
            q->timeouts++;
            break;
        default:
            q->abandoned++;
            break;
        }
    }
    advance(q, now);
}

int np_queue_busy(np_queue_t *q, apr_time_t now)
{
    advance(q, now);
    return q->waiting > 0;
}
