/* Pure: the FIFO of requests waiting for a free max= slot of a balancer.
 *
 * The queue lives in shared memory, one per balancer, seen by every child:
 * a ticket counter (tail), the ticket now first in line (head) and a ring
 * with one entry per ticket holding the time after which the ticket is
 * dead (its waiter's NodeQueueTimeout plus a grace; 0 once it has left).
 * A waiter may take a freed slot only while its ticket is the head, so a
 * slot goes to the oldest waiter whichever child it lives in. Tickets whose
 * waiter left (served, timed out, client gone) or died with its child are
 * stepped over when they reach the head.
 *
 * No locking here: the caller holds the queue's lock around every call
 * (np_queue_lock in the glue). */
#ifndef NP_QUEUE_H
#define NP_QUEUE_H

#include <apr.h>
#include <apr_time.h>

typedef struct {
    volatile apr_uint32_t lock;   /* spin lock, taken by the glue          */
    apr_uint32_t cap;             /* ring entries                          */
    apr_uint32_t limit;           /* NodeQueueLimit                        */
    apr_uint32_t waiting;         /* waiters now                           */
    apr_uint64_t head, tail;      /* tickets: first in line, next to give  */
    /* counters since start (status) */
    apr_uint64_t served;          /* left the queue with a slot            */
    apr_uint64_t timeouts;        /* left after NodeQueueTimeout: 503      */
    apr_uint64_t rejected;        /* queue full on arrival: 503            */
    apr_uint64_t abandoned;       /* the client went away while waiting    */
    apr_uint64_t wait_us;         /* total time waited by those served     */
    apr_uint64_t ring[1];         /* cap entries (allocated with the rest) */
} np_queue_t;

typedef enum {
    NP_QUEUE_SERVED = 0,
    NP_QUEUE_TIMEOUT,
    NP_QUEUE_ABANDONED
} np_queue_exit_e;

/* Bytes for a queue of NodeQueueLimit `limit` (the ring holds twice as
 * many tickets plus 16: tickets of waiters who left but are not yet
 * stepped over still occupy entries). */
apr_size_t np_queue_size(apr_uint32_t limit);
void np_queue_init(np_queue_t *q, apr_uint32_t limit);

/* Join the queue: *ticket, or APR_EAGAIN when `limit` are waiting already
 * (counted as rejected). dead_at: when the ticket may be taken for dead
 * (after the waiter's own deadline). */
apr_status_t np_queue_enter(np_queue_t *q, apr_time_t dead_at, apr_time_t now,
                            apr_uint64_t *ticket);

/* Is ticket first in line? Steps the head over tickets that left or died
 * (dead_at < now) first. */
int np_queue_is_head(np_queue_t *q, apr_uint64_t ticket, apr_time_t now);

/* Leave the queue (how, and after waiting `waited`). Leaving twice, or
 * after the ticket was taken for dead, changes nothing. */
void np_queue_leave(np_queue_t *q, apr_uint64_t ticket, np_queue_exit_e how,
                    apr_interval_time_t waited, apr_time_t now);

/* Anyone waiting (after stepping over dead tickets)? */
int np_queue_busy(np_queue_t *q, apr_time_t now);

#endif
