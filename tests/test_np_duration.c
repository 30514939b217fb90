/* Unit tests of proxy/np_duration.c: every accepted form and every
 * rejection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "np_duration.h"

#define SEC APR_INT64_C(1000000)
#define YEAR_SEC APR_INT64_C(31536000)

typedef struct {
    const char *in;
    apr_status_t rv;
    apr_interval_time_t usec;     /* when rv == APR_SUCCESS */
    const char *err;              /* static message, when rv != APR_SUCCESS */
    const char *err_p;            /* pool message, when rv != APR_SUCCESS */
} duration_case_t;

#define OK(in, usec) { in, APR_SUCCESS, usec, NULL, NULL }
#define NOT_DURATION(in) { in, APR_EINVAL, 0, \
    "not a duration (use 500ms, 5s, 2m)", \
    "\"" in "\" is not a duration (use 500ms, 5s, 2m)" }
#define TOO_LARGE(in) { in, APR_EINVAL, 0, \
    "duration too large (at most 1 year)", \
    "\"" in "\" is too large (at most 1 year)" }

static const duration_case_t cases[] = {
    OK("5", 5 * SEC),                     /* bare number = seconds */
    OK("5s", 5 * SEC),
    OK("500ms", 500000),
    OK("2m", 120 * SEC),
    OK("1ms", 1000),
    OK("0", 0),
    OK("0s", 0),
    OK("0ms", 0),
    OK("007s", 7 * SEC),                  /* leading zeros are just digits */
    OK("5S", 5 * SEC),                    /* suffixes are case-insensitive */
    OK("500MS", 500000),
    OK("2M", 120 * SEC),
    OK("31536000", YEAR_SEC * SEC),       /* exactly one year, each unit */
    OK("525600m", YEAR_SEC * SEC),
    OK("31536000000ms", YEAR_SEC * SEC),
    NOT_DURATION(""),
    NOT_DURATION("-5"),
    NOT_DURATION("+5"),
    NOT_DURATION(" 5"),
    NOT_DURATION("5 "),
    NOT_DURATION("5 s"),
    NOT_DURATION("1.5s"),
    NOT_DURATION(".5s"),
    NOT_DURATION("5x"),
    NOT_DURATION("5h"),                   /* not in the contract */
    NOT_DURATION("5sec"),
    NOT_DURATION("5mss"),
    NOT_DURATION("s"),
    NOT_DURATION("ms"),
    NOT_DURATION("0x10"),
    NOT_DURATION("5s5"),
    NOT_DURATION("99999999999999999999999x"),  /* syntax wins over size */
    TOO_LARGE("31536001"),
    TOO_LARGE("525601m"),
    TOO_LARGE("31536000001ms"),
    TOO_LARGE("99999999999999999999999"),      /* no overflow */
    TOO_LARGE("18446744073709551617m"),
};

static int setup(void **state)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return -1;
    }
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

static void check_case(apr_pool_t *p, const duration_case_t *c)
{
    apr_interval_time_t out = -1, out_p = -1;
    const char *err = NULL, *err_p = NULL;
    apr_status_t rv = np_duration_parse(c->in, &out, &err);
    apr_status_t rv_p = np_duration_parse_p(p, c->in, &out_p, &err_p);

    print_message("case \"%s\"\n", c->in);
    assert_int_equal(rv, c->rv);
    assert_int_equal(rv_p, c->rv);
    if (c->rv == APR_SUCCESS) {
        assert_int_equal(out, c->usec);
        assert_int_equal(out_p, c->usec);
        assert_null(err);
        assert_null(err_p);
    }
    else {
        assert_int_equal(out, -1);        /* untouched on error */
        assert_int_equal(out_p, -1);
        assert_string_equal(err, c->err);
        assert_string_equal(err_p, c->err_p);
    }
}

static void test_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case(*state, &cases[i]);
    }
}

static void test_null(void **state)
{
    apr_interval_time_t out = -1;
    const char *err = NULL;

    assert_int_equal(np_duration_parse(NULL, &out, &err), APR_EINVAL);
    assert_string_equal(err, "not a duration (use 500ms, 5s, 2m)");
    assert_int_equal(np_duration_parse_p(*state, NULL, &out, &err),
                     APR_EINVAL);
    assert_string_equal(err, "missing duration (use 500ms, 5s, 2m)");
    assert_int_equal(out, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null, setup, teardown),
    };
    int failed;

    apr_initialize();
    failed = cmocka_run_group_tests_name("np_duration", tests, NULL, NULL);
    apr_terminate();
    return failed;
}
