/* cmocka: names for https:// backends (SNI, IP literals, settings keys),
 * and https:// targets with sni= in NodeProxyPass and NodeMember. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_tables.h>

#include "np_test.h"
#include "np_tls.h"
#include "np_map.h"
#include "np_member.h"

static void test_is_ip(void **state)
{
    static const struct { const char *h; int ip; } rows[] = {
        { "127.0.0.1", 1 }, { "10.1.2.3", 1 }, { "::1", 1 }, { "fe80::1", 1 },
        { "localhost", 0 }, { "app.internal", 0 }, { "1.2.3", 0 },
        { "1.2.3.4.example", 0 }, { "1234.1.1.1", 0 }, { "node-1", 0 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu: %s\n", i, rows[i].h);
        assert_int_equal(np_tls_host_is_ip(rows[i].h), rows[i].ip);
    }
}

static void test_check_sni(void **state)
{
    static const struct { const char *n; int ok; const char *why; } rows[] = {
        { "localhost", 1, NULL },
        { "api.example.com", 1, NULL },
        { "api.example.com.", 1, NULL },
        { "a-b.c-d.e", 1, NULL },
        { "xn--bcher-kva.example", 1, NULL },
        { "", 0, "1-253" },
        { ".", 0, "1-253" },
        { "127.0.0.1", 0, "IP address" },
        { "::1", 0, "IP address" },
        { "-a.example", 0, "not a valid DNS label" },
        { "a-.example", 0, "not a valid DNS label" },
        { "a..b", 0, "not a valid DNS label" },
        { "a_b.example", 0, "'_' is not allowed" },
        { "a b", 0, "' ' is not allowed" },
        { "a.0123456789012345678901234567890123456789012345678901234567890123.b",
          0, "not a valid DNS label" },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *err = NULL;
        apr_status_t rv = np_tls_check_sni(*state, rows[i].n, &err);
        print_message("row %zu: %s\n", i, rows[i].n);
        assert_int_equal(rv == APR_SUCCESS, rows[i].ok);
        if (!rows[i].ok) {
            assert_non_null(strstr(err, rows[i].why));
        }
    }
}

static void test_sni_for(void **state)
{
    assert_string_equal(np_tls_sni_for("localhost", NULL), "localhost");
    assert_null(np_tls_sni_for("127.0.0.1", NULL));
    assert_null(np_tls_sni_for("::1", NULL));
    assert_string_equal(np_tls_sni_for("127.0.0.1", "app.test"), "app.test");
    assert_string_equal(np_tls_sni_for("node1", "app.test"), "app.test");
}

static void test_settings_key(void **state)
{
    const char *a = np_tls_settings_key(*state, NULL, 1, NULL, NULL);
    const char *b = np_tls_settings_key(*state, "/ca.pem", 1, NULL, NULL);
    const char *c = np_tls_settings_key(*state, "/ca.pem", 0, NULL, NULL);
    const char *d = np_tls_settings_key(*state, "/ca.pem", 0, "/c.pem", NULL);
    const char *e = np_tls_settings_key(*state, "/ca.pem", 0, "/c.pem", "/k");
    assert_string_not_equal(a, b);
    assert_string_not_equal(b, c);
    assert_string_not_equal(c, d);
    assert_string_not_equal(d, e);
    assert_string_equal(b, np_tls_settings_key(*state, "/ca.pem", 1, NULL,
                                               NULL));
}

static void test_https_target(void **state)
{
    np_target_t t;
    const char *err = NULL;
    assert_int_equal(np_target_parse(*state, "https://localhost/", &t, &err),
                     APR_SUCCESS);
    assert_int_equal(t.kind, NP_TARGET_HTTP);
    assert_true(t.tls);
    assert_int_equal(t.port, 443);
    assert_string_equal(t.key, "https://localhost:443");
    assert_string_equal(t.authority, "localhost");
    assert_int_equal(np_target_parse(*state, "HTTPS://[::1]:8443/base", &t,
                                     &err), APR_SUCCESS);
    assert_int_equal(t.port, 8443);
    assert_string_equal(t.path, "/base");
    assert_string_equal(t.key, "https://::1:8443");
    assert_int_equal(np_target_parse(*state, "http://h", &t, &err),
                     APR_SUCCESS);
    assert_false(t.tls);
    assert_int_equal(t.port, 80);
}

static void test_sni_key(void **state)
{
    np_mapping_t m;
    const char *err = NULL;
    memset(&m, 0, sizeof(m));
    assert_int_equal(np_target_parse(*state, "https://127.0.0.1:9443/", &m.target,
                                     &err), APR_SUCCESS);
    assert_int_equal(np_mapping_set_key(*state, &m, "sni=app.test", &err),
                     APR_SUCCESS);
    assert_string_equal(m.target.sni, "app.test");
    assert_string_equal(m.target.key, "https://127.0.0.1:9443|sni=app.test");
    assert_int_not_equal(np_mapping_set_key(*state, &m, "sni=b.test", &err),
                         APR_SUCCESS);
    assert_non_null(strstr(err, "twice"));

    memset(&m, 0, sizeof(m));
    assert_int_equal(np_target_parse(*state, "http://127.0.0.1:9080/", &m.target,
                                     &err), APR_SUCCESS);
    assert_int_not_equal(np_mapping_set_key(*state, &m, "sni=app.test", &err),
                         APR_SUCCESS);
    assert_non_null(strstr(err, "only https://"));

    memset(&m, 0, sizeof(m));
    assert_int_equal(np_target_parse(*state, "https://h/", &m.target, &err),
                     APR_SUCCESS);
    assert_int_not_equal(np_mapping_set_key(*state, &m, "sni=10.0.0.1", &err),
                         APR_SUCCESS);
    assert_non_null(strstr(err, "IP address"));
}

static void test_member(void **state)
{
    apr_array_header_t *out = apr_array_make(*state, 4,
                                             sizeof(np_member_spec_t));
    const char *argv1[] = { "https://127.0.0.1:9443-9444", "sni=app.test",
                            "weight=2" };
    const char *argv2[] = { "http://127.0.0.1:9080", "sni=app.test" };
    const char *argv3[] = { "https://node.internal:9443", "sni=a",
                            "sni=b" };
    const char *err = NULL;
    np_member_spec_t *s;

    assert_int_equal(np_member_parse(*state, 3, argv1, out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 2);
    s = &APR_ARRAY_IDX(out, 1, np_member_spec_t);
    assert_true(s->target.tls);
    assert_int_equal(s->target.port, 9444);
    assert_string_equal(s->target.sni, "app.test");
    assert_string_equal(s->target.key, "https://127.0.0.1:9444|sni=app.test");
    assert_int_equal(s->weight, 2);
    assert_int_not_equal(np_member_parse(*state, 2, argv2, out, &err),
                         APR_SUCCESS);
    assert_non_null(strstr(err, "only https://"));
    assert_int_not_equal(np_member_parse(*state, 3, argv3, out, &err),
                         APR_SUCCESS);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(out->nelts, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_ip),
        cmocka_unit_test_setup_teardown(test_check_sni, np_test_pool_setup,
                                        np_test_pool_teardown),
        cmocka_unit_test(test_sni_for),
        cmocka_unit_test_setup_teardown(test_settings_key, np_test_pool_setup,
                                        np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_https_target, np_test_pool_setup,
                                        np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_sni_key, np_test_pool_setup,
                                        np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_member, np_test_pool_setup,
                                        np_test_pool_teardown),
    };
    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
