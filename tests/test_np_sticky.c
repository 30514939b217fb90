/* cmocka: sticky-session cookies: route ids, Cookie header parsing, the
 * Set-Cookie value and the config checks for names and routes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "np_sticky.h"


static void test_route_id(void **state)
{
    /* Fixed forever: a change would break every client's sticky cookie. */
    static const struct { const char *key, *id; } rows[] = {
        { "http://127.0.0.1:3000", "ra781b03c3f87" },
        { "http://127.0.0.1:3001", "r10ba58b87892" },
        { "unix:/run/a.sock", "r25ff3a14b22a" },
    };
    size_t i, j;
    const char *err;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *id = np_sticky_route_id(*state, rows[i].key);
        print_message("row %zu: %s\n", i, rows[i].key);
        assert_string_equal(id, rows[i].id);
        assert_int_equal(strlen(id), 13);
        assert_int_equal(id[0], 'r');
        for (j = 1; j < 13; j++) {
            assert_non_null(strchr("0123456789abcdef", id[j]));
        }
        /* a derived id is itself a valid route= value */
        assert_int_equal(np_sticky_check_route(*state, id, &err), APR_SUCCESS);
        /* same key, same id (a fresh copy, another pool) */
        assert_string_equal(np_sticky_route_id(*state,
                            apr_pstrdup(*state, rows[i].key)), id);
    }
    /* 64 ports of one host: 64 different ids */
    {
        apr_hash_t *seen = apr_hash_make(*state);
        int port;
        for (port = 3000; port < 3064; port++) {
            const char *id = np_sticky_route_id(*state,
                apr_psprintf(*state, "http://127.0.0.1:%d", port));
            assert_null(apr_hash_get(seen, id, APR_HASH_KEY_STRING));
            apr_hash_set(seen, id, APR_HASH_KEY_STRING, id);
        }
    }
}

static void test_cookie_get(void **state)
{
    static const struct { const char *header, *name, *value; } rows[] = {
        { "NPROUTE=r1", "NPROUTE", "r1" },
        { "a=1; b=2", "a", "1" },
        { "a=1; b=2", "b", "2" },
        { "a=1;b=2", "b", "2" },
        { "a=1 ;  b=2  ", "b", "2" },
        { "\ta=1\t;\tb=2", "a", "1" },
        { " a = 1 ", "a", "1" },
        { "a=1; b=2", "c", NULL },
        { "a=1; b=2", "A", NULL },              /* case-sensitive */
        { "ab=1; b=2", "b", "2" },              /* no prefix match */
        { "xb=1", "b", NULL },
        { "b=1; b=2", "b", "1" },               /* first wins */
        { "b=\"r12\"", "b", "r12" },            /* quotes removed */
        { "b=\"\"", "b", "" },
        { "b=\"", "b", "\"" },                  /* a lone quote stays */
        { "b=", "b", "" },
        { "b", "b", NULL },                     /* no '=' */
        { "b; b=3", "b", "3" },
        { "c=x=y; b=2", "c", "x=y" },           /* '=' inside a value */
        { ";;; b=2 ;;", "b", "2" },
        { "", "b", NULL },
        { NULL, "b", NULL },
        { "b=1", "", NULL },
        { "b=1", NULL, NULL },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *v = np_sticky_cookie_get(*state, rows[i].header,
                                             rows[i].name);
        print_message("row %zu: [%s] %s\n", i,
                      rows[i].header ? rows[i].header : "(null)",
                      rows[i].name ? rows[i].name : "(null)");
        if (rows[i].value) {
            assert_non_null(v);
            assert_string_equal(v, rows[i].value);
        }
        else {
            assert_null(v);
        }
    }
}

static void test_set_cookie(void **state)
{
    assert_string_equal(np_sticky_set_cookie(*state, "NPROUTE", "r0123456789ab", 0),
                        "NPROUTE=r0123456789ab; Path=/; HttpOnly; SameSite=Lax");
    assert_string_equal(np_sticky_set_cookie(*state, "s", "app-1", 1),
                        "s=app-1; Path=/; HttpOnly; SameSite=Lax; Secure");
    /* round trip through a Cookie header */
    assert_string_equal(np_sticky_cookie_get(*state, "x=1; s=app-1", "s"), "app-1");
}

static const char long65[] =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static void test_cache_control(void **state)
{
    apr_pool_t *p = *state;
    static const struct { const char *in, *out; } cases[] = {
        { NULL, "private" },
        { "", "private" },
        { "public, max-age=300", "public, max-age=300, private" },
        { "max-age=60, s-maxage=600", "max-age=60, s-maxage=600, private" },
        { "private", "private" },
        { "Private, max-age=5", "Private, max-age=5" },
        { "max-age=5 ,  private ", "max-age=5 ,  private " },
        { "no-store", "no-store" },
        { "no-cache", "no-cache, private" },
        /* qualified private: only the named fields are private */
        { "private=\"Set-Cookie\"", "private=\"Set-Cookie\", private" },
        /* a quoted comma does not start a directive */
        { "no-cache=\"a, private\"", "no-cache=\"a, private\", private" },
        /* a directive that merely starts with the name */
        { "privateer, no-storex", "privateer, no-storex, private" },
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(np_sticky_cache_control(p, cases[i].in),
                            cases[i].out);
    }
}

static void test_check_name(void **state)
{
    static const struct { const char *name; int ok; } rows[] = {
        { "NPROUTE", 1 }, { "s", 1 }, { "my_route-1.x", 1 },
        { "!#$%&'*+-.^_`|~", 1 }, { long65 + 1, 1 },
        { "", 0 }, { NULL, 0 }, { long65, 0 },
        { "a b", 0 }, { "a=b", 0 }, { "a;b", 0 }, { "a,b", 0 },
        { "a\"b", 0 }, { "a(b)", 0 }, { "a/b", 0 }, { "a:b", 0 },
        { "a\tb", 0 }, { "a\x7f", 0 }, { "caf\xc3\xa9", 0 }, { "[a]", 0 },
        { "a?", 0 }, { "{a}", 0 }, { "a@b", 0 }, { "a\\b", 0 }, { "<a>", 0 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *err = NULL;
        apr_status_t rv = np_sticky_check_name(*state, rows[i].name, &err);
        print_message("row %zu\n", i);
        if (rows[i].ok) {
            assert_int_equal(rv, APR_SUCCESS);
            continue;
        }
        assert_int_not_equal(rv, APR_SUCCESS);
        assert_non_null(err);
        assert_non_null(strstr(err, "cookie name"));
        assert_non_null(strstr(err, "1-64"));
        if (rows[i].name && *rows[i].name) {
            assert_non_null(strstr(err, rows[i].name));
        }
    }
}

static void test_check_route(void **state)
{
    static const struct { const char *route; int ok; } rows[] = {
        { "r0123456789ab", 1 }, { "app1", 1 }, { "A.b_c~d-e", 1 }, { "1", 1 },
        { long65 + 1, 1 },
        { "", 0 }, { NULL, 0 }, { long65, 0 }, { "a b", 0 }, { "a;b", 0 },
        { "a=b", 0 }, { "a/b", 0 }, { "a+b", 0 }, { "a\"", 0 }, { "a,b", 0 },
        { "caf\xc3\xa9", 0 }, { "a%20", 0 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *err = NULL;
        apr_status_t rv = np_sticky_check_route(*state, rows[i].route, &err);
        print_message("row %zu\n", i);
        if (rows[i].ok) {
            assert_int_equal(rv, APR_SUCCESS);
            continue;
        }
        assert_int_not_equal(rv, APR_SUCCESS);
        assert_non_null(err);
        assert_non_null(strstr(err, "route"));
        assert_non_null(strstr(err, "1-64"));
        if (rows[i].route && *rows[i].route) {
            assert_non_null(strstr(err, rows[i].route));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_id, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_cookie_get, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_set_cookie, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_cache_control, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_check_name, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_check_route, np_test_pool_setup, np_test_pool_teardown),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
