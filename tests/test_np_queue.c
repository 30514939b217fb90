/* cmocka: the FIFO of requests waiting for a max= slot (admission/np_queue.c):
 * order, limit, leaving early, dead tickets of a child that died. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>

#include "np_queue.h"

#define SEC(n) apr_time_from_sec(n)

static np_queue_t *make(apr_pool_t *p, apr_uint32_t limit)
{
    np_queue_t *q = apr_palloc(p, np_queue_size(limit));
    np_queue_init(q, limit);
    return q;
}

static void test_fifo(void **state)
{
    np_queue_t *q = make(*state, 3);
    apr_uint64_t t[4];
    apr_time_t now = SEC(100);
    int i;
    assert_false(np_queue_busy(q, now));
    for (i = 0; i < 3; i++) {
        assert_int_equal(np_queue_enter(q, now + SEC(10), now, &t[i]), APR_SUCCESS);
    }
    assert_true(np_queue_busy(q, now));
    /* the limit: a fourth is refused */
    assert_int_equal(np_queue_enter(q, now + SEC(10), now, &t[3]), APR_EAGAIN);
    assert_int_equal(q->rejected, 1);
    assert_int_equal(q->waiting, 3);
    /* only the oldest may take a slot, then the next */
    assert_true(np_queue_is_head(q, t[0], now));
    assert_false(np_queue_is_head(q, t[1], now));
    assert_false(np_queue_is_head(q, t[2], now));
    np_queue_leave(q, t[0], NP_QUEUE_SERVED, SEC(2), now);
    assert_true(np_queue_is_head(q, t[1], now));
    assert_false(np_queue_is_head(q, t[0], now));
    np_queue_leave(q, t[1], NP_QUEUE_SERVED, SEC(1), now);
    np_queue_leave(q, t[2], NP_QUEUE_SERVED, 0, now);
    assert_int_equal(q->waiting, 0);
    assert_int_equal(q->served, 3);
    assert_true(q->wait_us == (apr_uint64_t)SEC(3));
    assert_false(np_queue_busy(q, now));
}

static void test_leave_early(void **state)
{
    /* a waiter in the middle gives up: its place is free at once, and the
     * head steps over its ticket */
    np_queue_t *q = make(*state, 2);
    apr_uint64_t a, b, c;
    apr_time_t now = SEC(100);
    assert_int_equal(np_queue_enter(q, now + SEC(10), now, &a), APR_SUCCESS);
    assert_int_equal(np_queue_enter(q, now + SEC(10), now, &b), APR_SUCCESS);
    assert_int_equal(np_queue_enter(q, now + SEC(10), now, &c), APR_EAGAIN);
    np_queue_leave(q, b, NP_QUEUE_ABANDONED, 0, now);
    assert_int_equal(q->abandoned, 1);
    assert_int_equal(np_queue_enter(q, now + SEC(10), now, &c), APR_SUCCESS);
    np_queue_leave(q, a, NP_QUEUE_TIMEOUT, 0, now);
    assert_int_equal(q->timeouts, 1);
    assert_true(np_queue_is_head(q, c, now));
    /* leaving twice changes nothing */
    np_queue_leave(q, a, NP_QUEUE_TIMEOUT, 0, now);
    np_queue_leave(q, b, NP_QUEUE_ABANDONED, 0, now);
    assert_int_equal(q->timeouts, 1);
    assert_int_equal(q->abandoned, 1);
    assert_int_equal(q->waiting, 1);
    np_queue_leave(q, c, NP_QUEUE_SERVED, 0, now);
    assert_int_equal(q->waiting, 0);
    assert_true(q->head == q->tail);
}

static void test_dead_ticket(void **state)
{
    /* a child died with a waiter at the head: once its time is over, the
     * next waiter is first in line and the count is right again */
    np_queue_t *q = make(*state, 4);
    apr_uint64_t a, b;
    apr_time_t now = SEC(100);
    assert_int_equal(np_queue_enter(q, now + SEC(1), now, &a), APR_SUCCESS);
    assert_int_equal(np_queue_enter(q, now + SEC(30), now, &b), APR_SUCCESS);
    assert_false(np_queue_is_head(q, b, now + SEC(1)));
    assert_true(np_queue_is_head(q, b, now + SEC(2)));
    assert_int_equal(q->waiting, 1);
    /* the late waiter leaving does not count twice */
    np_queue_leave(q, a, NP_QUEUE_TIMEOUT, 0, now + SEC(2));
    assert_int_equal(q->waiting, 1);
    assert_int_equal(q->timeouts, 0);
}

static void test_ring_wraps(void **state)
{
    /* many more tickets than ring entries, with some left mid-queue */
    np_queue_t *q = make(*state, 1);
    apr_time_t now = SEC(100);
    apr_uint64_t t, u;
    int i;
    for (i = 0; i < 1000; i++) {
        assert_int_equal(np_queue_enter(q, now + SEC(5), now, &t), APR_SUCCESS);
        assert_true(np_queue_is_head(q, t, now));
        np_queue_leave(q, t, i % 3 ? NP_QUEUE_SERVED : NP_QUEUE_ABANDONED, 1, now);
    }
    assert_int_equal(q->waiting, 0);
    assert_true(q->tail == 1000);
    assert_int_equal(np_queue_enter(q, now + SEC(5), now, &t), APR_SUCCESS);
    assert_int_equal(np_queue_enter(q, now + SEC(5), now, &u), APR_EAGAIN);
    assert_true(np_queue_is_head(q, t, now));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fifo, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_leave_early, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_dead_ticket, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_ring_wraps, np_test_pool_setup, np_test_pool_teardown),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
