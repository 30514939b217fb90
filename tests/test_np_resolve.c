/* cmocka: re-resolved backend names - address lists, the warn-once state,
 * NodeResolveInterval values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <apr_general.h>

#include "np_test.h"
#include "np_resolve.h"

static np_addrs_t list(const char *a, const char *b, const char *c)
{
    const char *in[3] = { a, b, c };
    np_addrs_t x;
    int i;
    memset(&x, 0, sizeof(x));
    for (i = 0; i < 3 && in[i]; i++) {
        np_addr_t *e = &x.a[x.n++];
        if (strchr(in[i], ':')) {
            e->family = 6;
            assert_int_equal(inet_pton(AF_INET6, in[i], e->addr), 1);
        }
        else {
            e->family = 4;
            assert_int_equal(inet_pton(AF_INET, in[i], e->addr), 1);
        }
    }
    return x;
}

static void test_same(void **state)
{
    np_addrs_t a = list("10.0.0.1", "10.0.0.2", NULL);
    np_addrs_t b = list("10.0.0.2", "10.0.0.1", NULL);   /* rotated */
    np_addrs_t c = list("10.0.0.1", "10.0.0.3", NULL);
    np_addrs_t d = list("10.0.0.1", NULL, NULL);
    np_addrs_t e = list("10.0.0.1", "10.0.0.1", NULL);
    np_addrs_t f = list("::1", "127.0.0.1", NULL);
    np_addrs_t g = list("127.0.0.1", "::1", NULL);
    np_addrs_t none;
    memset(&none, 0, sizeof(none));
    assert_true(np_addrs_same(&a, &a));
    assert_true(np_addrs_same(&a, &b));
    assert_false(np_addrs_same(&a, &c));
    assert_false(np_addrs_same(&a, &d));
    assert_false(np_addrs_same(&d, &a));
    assert_false(np_addrs_same(&a, &e));
    assert_false(np_addrs_same(&e, &a));
    assert_true(np_addrs_same(&f, &g));
    assert_true(np_addrs_same(&none, &none));
    assert_false(np_addrs_same(&none, &d));
}

static void test_format(void **state)
{
    np_addrs_t a = list("127.0.0.2", "::1", "fe80::1:2");
    np_addrs_t none;
    memset(&none, 0, sizeof(none));
    assert_string_equal(np_addrs_format(*state, &a), "127.0.0.2, ::1, fe80::1:2");
    assert_string_equal(np_addrs_format(*state, &none), "none");
}

static void test_record(void **state)
{
    /* ok ok fail fail fail ok ok fail: warn once per change of state */
    static const struct { int ok; np_resolve_event_e ev; } rows[] = {
        { 1, NP_RESOLVE_SAME }, { 1, NP_RESOLVE_SAME },
        { 0, NP_RESOLVE_NOW_FAILING }, { 0, NP_RESOLVE_SAME },
        { 0, NP_RESOLVE_SAME }, { 1, NP_RESOLVE_RECOVERED },
        { 1, NP_RESOLVE_SAME }, { 0, NP_RESOLVE_NOW_FAILING },
    };
    int failing = 0;
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu\n", i);
        assert_int_equal(np_resolve_record(&failing, rows[i].ok), rows[i].ev);
        assert_int_equal(failing, !rows[i].ok);
    }
}

static void test_interval(void **state)
{
    static const struct { const char *s; int ok; apr_interval_time_t v;
                          const char *why; } rows[] = {
        { "0", 1, 0, NULL },
        { "30s", 1, APR_USEC_PER_SEC * 30, NULL },
        { "1s", 1, APR_USEC_PER_SEC, NULL },
        { "2m", 1, APR_USEC_PER_SEC * 120, NULL },
        { "1500ms", 1, 1500000, NULL },
        { "500ms", 0, 0, "too short" },
        { "soon", 0, 0, "soon" },
        { "-5s", 0, 0, "-5s" },
        { "", 0, 0, NULL },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        apr_interval_time_t v = -1;
        const char *err = NULL;
        apr_status_t rv = np_resolve_interval_parse(*state, rows[i].s, &v, &err);
        print_message("row %zu: %s\n", i, rows[i].s);
        assert_int_equal(rv == APR_SUCCESS, rows[i].ok);
        if (rows[i].ok) {
            assert_int_equal(v, rows[i].v);
        }
        else if (rows[i].why) {
            assert_non_null(strstr(err, rows[i].why));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same),
        cmocka_unit_test_setup_teardown(test_format, np_test_pool_setup,
                                        np_test_pool_teardown),
        cmocka_unit_test(test_record),
        cmocka_unit_test_setup_teardown(test_interval, np_test_pool_setup,
                                        np_test_pool_teardown),
    };
    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
