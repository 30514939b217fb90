/* cmocka: the maintenance response's content choice and flag-file cache. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <apr_general.h>

#include "np_maint.h"

static void test_accept(void **state)
{
    static const struct { const char *accept; int json; } rows[] = {
        { NULL, 0 },
        { "", 0 },
        { "*/*", 0 },
        { "application/json", 1 },
        { "application/json, text/plain, */*", 1 },            /* axios, fetch */
        { "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 0 }, /* browser */
        { "text/html;q=0.5, application/json", 1 },
        { "application/json;q=0.5, text/html", 0 },
        { "application/json, text/html", 0 },                   /* tie: HTML */
        { "application/*", 1 },                                 /* beats nothing for html */
        { "application/json;q=0", 0 },
        { "APPLICATION/JSON", 1 },
        { "text/*, application/json", 1 },   /* same q: the exact type wins over a wildcard */
        { "image/png", 0 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu: %s\n", i, rows[i].accept ? rows[i].accept : "(null)");
        assert_int_equal(np_accept_prefers_json(rows[i].accept), rows[i].json);
    }
}

static void test_json_body(void **state)
{
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    assert_string_equal(np_maint_json(p, 30),
        "{\"status\":503,\"error\":\"service unavailable\",\"retry_after\":30}");
    apr_pool_destroy(p);
}

static void test_recheck(void **state)
{
    apr_time_t s = apr_time_from_sec(1);
    assert_true(np_maint_recheck_due(0, 5 * s, s));          /* never checked */
    assert_false(np_maint_recheck_due(5 * s, 5 * s + s / 2, s));
    assert_true(np_maint_recheck_due(5 * s, 6 * s, s));
    assert_true(np_maint_recheck_due(5 * s, 4 * s, s));       /* clock stepped back */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_recheck),
    };
    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
