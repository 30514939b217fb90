/* cmocka: NodeErrorOverride arguments and which statuses it replaces. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "np_errover.h"

static int parse(apr_pool_t *p, const char *line, int *on,
                 apr_array_header_t **codes, const char **err)
{
    char *argv[16], *last, *w, *copy = apr_pstrdup(p, line);
    int argc = 0;
    for (w = apr_strtok(copy, " ", &last); w && argc < 16;
         w = apr_strtok(NULL, " ", &last)) {
        argv[argc++] = w;
    }
    *err = NULL;
    return np_errover_parse(p, argc, argv, on, codes, err) == APR_SUCCESS;
}

static void test_parse(void **state)
{
    apr_pool_t *p;
    apr_array_header_t *codes;
    const char *err;
    int on = -1;
    apr_pool_create(&p, NULL);

    assert_true(parse(p, "on", &on, &codes, &err));
    assert_int_equal(on, 1);
    assert_null(codes);
    assert_true(parse(p, "Off", &on, &codes, &err));
    assert_int_equal(on, 0);
    assert_true(parse(p, "on 500 502 404", &on, &codes, &err));
    assert_int_equal(codes->nelts, 3);
    assert_int_equal(APR_ARRAY_IDX(codes, 0, int), 500);
    assert_int_equal(APR_ARRAY_IDX(codes, 2, int), 404);

    static const struct { const char *line, *msg; } bad[] = {
        { "", "needs on or off" },
        { "yes", "\"yes\" is not on or off" },
        { "off 500", "off takes no status codes" },
        { "on 200", "\"200\" is not an error status" },
        { "on 600", "\"600\" is not an error status" },
        { "on 5xx", "\"5xx\" is not an error status" },
        { "on 5000", "\"5000\" is not an error status" },
        { "on 50", "\"50\" is not an error status" },
        { "on 101", "\"101\" is not an error status" },
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("bad %zu: %s\n", i, bad[i].line);
        assert_false(parse(p, bad[i].line, &on, &codes, &err));
        assert_non_null(err);
        assert_non_null(strstr(err, bad[i].msg));
    }
    apr_pool_destroy(p);
}

static void test_applies(void **state)
{
    apr_pool_t *p;
    apr_array_header_t *codes;
    apr_pool_create(&p, NULL);
    codes = apr_array_make(p, 2, sizeof(int));
    APR_ARRAY_PUSH(codes, int) = 500;
    APR_ARRAY_PUSH(codes, int) = 404;

    /* off: nothing */
    assert_false(np_errover_applies(0, NULL, 500));
    /* on, all codes: every 4xx/5xx, never 1xx/2xx/3xx */
    assert_true(np_errover_applies(1, NULL, 400));
    assert_true(np_errover_applies(1, NULL, 500));
    assert_true(np_errover_applies(1, NULL, 599));
    assert_false(np_errover_applies(1, NULL, 101));
    assert_false(np_errover_applies(1, NULL, 200));
    assert_false(np_errover_applies(1, NULL, 304));
    assert_false(np_errover_applies(1, NULL, 399));
    assert_false(np_errover_applies(1, NULL, 600));
    /* on with a list: only those */
    assert_true(np_errover_applies(1, codes, 500));
    assert_true(np_errover_applies(1, codes, 404));
    assert_false(np_errover_applies(1, codes, 502));
    assert_false(np_errover_applies(1, codes, 200));
    assert_false(np_errover_applies(0, codes, 500));
    apr_pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_applies),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
