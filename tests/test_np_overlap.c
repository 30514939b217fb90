/* cmocka: NodeProxyPass / ProxyPass path overlap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "np_overlap.h"

static void test_overlap(void **state)
{
    static const struct { const char *node, *proxy; int yes; } rows[] = {
        { "/api/", "/", 1 },          /* the case */
        { "/", "/api/", 1 },
        { "/api/", "/api/", 1 },
        { "/api", "/api/v1", 1 },
        { "/api/", "/api/v1", 1 },
        { "/api/v1/", "/api", 1 },    /* mod_proxy: plain prefix */
        { "/apiary", "/api", 1 },     /* mod_proxy's /api takes /apiary */
        { "/api", "/apiary", 0 },     /* ours does not */
        { "/api/", "/api", 1 },
        { "/api", "/api", 1 },
        { "/static/", "/api/", 0 },
        { "/app", "/application", 0 },
        { "/a/b/", "/a/c", 0 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu: %s vs %s\n", i, rows[i].node, rows[i].proxy);
        assert_int_equal(np_paths_overlap(rows[i].node, rows[i].proxy),
                         rows[i].yes);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
