/* cmocka: WebSocket handshake checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>

#include "np_ws.h"

static void test_is_upgrade(void **state)
{
    static const struct { const char *m, *u, *c; int yes; } rows[] = {
        { "GET", "websocket", "Upgrade", 1 },
        { "GET", "WebSocket", "keep-alive, Upgrade", 1 },      /* Firefox */
        { "GET", "h2c, websocket", "upgrade", 1 },
        { "GET", "h2c", "Upgrade", 0 },                        /* never h2c */
        { "GET", "websocket", "keep-alive", 0 },
        { "GET", "websocket", NULL, 0 },
        { "GET", NULL, "Upgrade", 0 },
        { "POST", "websocket", "Upgrade", 0 },
        { "GET", "websocketx", "Upgrade", 0 },
        { "GET", "websocket", "Upgrades", 0 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu\n", i);
        assert_int_equal(np_ws_is_upgrade(rows[i].m, rows[i].u, rows[i].c),
                         rows[i].yes);
    }
}

static void test_accept(void **state)
{
    apr_pool_t *p;
    const char *why;
    apr_pool_create(&p, NULL);
    /* The example of RFC 6455 section 1.3. */
    assert_string_equal(np_ws_accept(p, "dGhlIHNhbXBsZSBub25jZQ=="),
                        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_true(np_ws_answer_ok(p, 101, "websocket",
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "dGhlIHNhbXBsZSBub25jZQ==", &why));
    assert_true(np_ws_answer_ok(p, 101, "WebSocket",
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "dGhlIHNhbXBsZSBub25jZQ==", &why));
    assert_false(np_ws_answer_ok(p, 101, "websocket", "AAAA",
                 "dGhlIHNhbXBsZSBub25jZQ==", &why));
    assert_non_null(strstr(why, "does not match"));
    assert_false(np_ws_answer_ok(p, 403, NULL, NULL, "x", &why));
    assert_non_null(strstr(why, "not 101"));
    assert_false(np_ws_answer_ok(p, 101, "h2c", "x", "x", &why));
    assert_false(np_ws_answer_ok(p, 101, "websocket", NULL, "x", &why));
    apr_pool_destroy(p);
}

static void test_h2(void **state)
{
    const char *why;
    np_ws_h2_in_t in = { 0 };
    assert_int_equal(np_ws_h2_refusal(1, 1, &why), 0);
    assert_null(why);
    assert_int_equal(np_ws_h2_refusal(0, 1, &why), 501);
    assert_non_null(strstr(why, "NodeWebSocket is off"));
    assert_int_equal(np_ws_h2_refusal(1, 0, &why), 501);
    assert_non_null(strstr(why, "pollable"));
    assert_int_equal(np_ws_h2_refusal(0, 0, &why), 501);
    /* the upgrade body's EOS, then the end of the stream */
    assert_int_equal(np_ws_h2_eos(&in), 0);
    assert_int_equal(np_ws_h2_eos(&in), 1);
    assert_int_equal(np_ws_h2_eos(&in), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_upgrade),
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_h2),
    };
    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
