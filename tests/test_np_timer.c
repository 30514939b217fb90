/* Unit tests of reactor/np_timer.c: the reactor's deadline heap. Order of
 * expiry, moves both ways, removal from anywhere, and a long random run
 * checked against a plain array. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include <apr_general.h>

#include "np_timer.h"

/* The heap property and every timer's back-index. */
static void check_heap(const np_timers_t *h)
{
    apr_size_t i;
    assert_true(h->n <= h->cap);
    for (i = 0; i < h->n; i++) {
        assert_int_equal(h->v[i]->pos, i + 1);
        if (i > 0) {
            assert_true(h->v[(i - 1) / 2]->when <= h->v[i]->when);
        }
    }
}

static void test_empty(void **state)
{
    np_timers_t h;
    (void)state;
    np_timers_init(&h);
    assert_null(np_timers_first(&h));
    assert_null(np_timers_pop_due(&h, 1000));
    np_timers_free(&h);
}

static void test_order(void **state)
{
    static const apr_time_t whens[] = { 50, 10, 40, 10, 30, 20, 60, 0 };
    static const apr_time_t sorted[] = { 0, 10, 10, 20, 30, 40, 50, 60 };
    np_timer_t t[8] = { { 0, 0 } };
    np_timers_t h;
    apr_size_t i;
    (void)state;

    np_timers_init(&h);
    for (i = 0; i < 8; i++) {
        assert_int_equal(np_timers_set(&h, &t[i], whens[i]), APR_SUCCESS);
        assert_true(np_timer_armed(&t[i]));
        check_heap(&h);
    }
    /* Nothing before its time. */
    assert_null(np_timers_pop_due(&h, -1));
    for (i = 0; i < 8; i++) {
        np_timer_t *x = np_timers_pop_due(&h, 1000);
        assert_non_null(x);
        assert_int_equal(x->when, sorted[i]);
        assert_false(np_timer_armed(x));
        check_heap(&h);
    }
    assert_null(np_timers_pop_due(&h, 1000));
    np_timers_free(&h);
}

static void test_due_only(void **state)
{
    np_timer_t a = { 0, 0 }, b = { 0, 0 };
    np_timers_t h;
    (void)state;
    np_timers_init(&h);
    np_timers_set(&h, &a, 100);
    np_timers_set(&h, &b, 200);
    assert_null(np_timers_pop_due(&h, 99));
    assert_ptr_equal(np_timers_pop_due(&h, 100), &a);   /* <= now is due */
    assert_null(np_timers_pop_due(&h, 199));
    assert_ptr_equal(np_timers_pop_due(&h, 500), &b);
    np_timers_free(&h);
}

static void test_move_and_remove(void **state)
{
    np_timer_t t[5] = { { 0, 0 } };
    np_timers_t h;
    apr_size_t i;
    (void)state;

    np_timers_init(&h);
    for (i = 0; i < 5; i++) {
        np_timers_set(&h, &t[i], (apr_time_t)(i + 1) * 10);  /* 10..50 */
    }
    np_timers_set(&h, &t[4], 5);           /* earlier: to the front */
    check_heap(&h);
    assert_ptr_equal(np_timers_first(&h), &t[4]);
    np_timers_set(&h, &t[4], 100);         /* later: to the back */
    check_heap(&h);
    assert_ptr_equal(np_timers_first(&h), &t[0]);
    np_timers_remove(&h, &t[2]);           /* from the middle */
    assert_false(np_timer_armed(&t[2]));
    check_heap(&h);
    np_timers_remove(&h, &t[2]);           /* twice: nothing */
    assert_int_equal(h.n, 4);
    np_timers_remove(&h, &t[0]);           /* the first */
    check_heap(&h);
    assert_ptr_equal(np_timers_pop_due(&h, 1000), &t[1]);
    assert_ptr_equal(np_timers_pop_due(&h, 1000), &t[3]);
    assert_ptr_equal(np_timers_pop_due(&h, 1000), &t[4]);
    assert_int_equal(h.n, 0);
    /* A removed timer can be armed again. */
    np_timers_set(&h, &t[2], 7);
    assert_ptr_equal(np_timers_first(&h), &t[2]);
    np_timers_free(&h);
    assert_false(np_timer_armed(&t[2]));
}

/* Many timers, random set / move / remove / pop, checked against the
 * minimum of a plain array; the array grows past its first size and
 * shrinks again when emptied. */
#define MANY 5000
static void test_random_against_scan(void **state)
{
    np_timer_t *t = calloc(MANY, sizeof(*t));
    np_timers_t h;
    apr_size_t i, round, peak = 0;
    (void)state;

    assert_non_null(t);
    srand(19);
    np_timers_init(&h);
    for (round = 0; round < 60000; round++) {
        np_timer_t *x = &t[(apr_size_t)rand() % MANY];
        int op = rand() % 10;
        if (op < 6) {
            np_timers_set(&h, x, (apr_time_t)(rand() % 100000));
        }
        else if (op < 8) {
            np_timers_remove(&h, x);
        }
        else {
            /* The earliest of all armed ones, by scanning. */
            apr_time_t min = -1, now = (apr_time_t)(rand() % 100000);
            np_timer_t *got;
            for (i = 0; i < MANY; i++) {
                if (np_timer_armed(&t[i]) && (min < 0 || t[i].when < min)) {
                    min = t[i].when;
                }
            }
            got = np_timers_pop_due(&h, now);
            if (min >= 0 && min <= now) {
                assert_non_null(got);
                assert_int_equal(got->when, min);
            }
            else {
                assert_null(got);
            }
        }
        if (h.n > peak) {
            peak = h.n;
        }
        if (round % 997 == 0) {
            check_heap(&h);
        }
    }
    check_heap(&h);
    assert_true(peak > 64);
    while (np_timers_pop_due(&h, APR_INT64_MAX)) {
    }
    for (i = 0; i < MANY; i++) {
        assert_false(np_timer_armed(&t[i]));
    }
    assert_true(h.cap <= 128);   /* shrunk back near its first size */
    np_timers_free(&h);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_due_only),
        cmocka_unit_test(test_move_and_remove),
        cmocka_unit_test(test_random_against_scan),
    };
    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
