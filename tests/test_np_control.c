/* cmocka: the control API's pure part (control/np_control.c): JSON and form
 * bodies, weights, the page token, the same-origin check and the
 * NodeBalancerPersist file format. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>
#include <apr_strings.h>

#include "np_control.h"
#include "np_lb.h"

static void test_json_ok(void **state)
{
    apr_pool_t *p = *state;
    np_ctl_req_t q;
    const char *err = NULL;
    const char *b1 = " {\"balancer\":\"app\", \"member\":\"http://127.0.0.1:3001\","
                     "\"action\":\"drain\"}\n";
    const char *b2 = "{\"member\":\"r1\",\"weight\":0,\"balancer\":\"a\\u0062c\"}";
    const char *b3 = "{\"balancer\":\"app\",\"member\":\"m\",\"weight\":\"100\"}";
    assert_int_equal(np_ctl_parse_json(p, b1, strlen(b1), &q, &err), APR_SUCCESS);
    assert_string_equal(q.balancer, "app");
    assert_string_equal(q.member, "http://127.0.0.1:3001");
    assert_int_equal(q.kind, NP_CTL_ADMIN);
    assert_int_equal(q.admin, NP_ADMIN_DRAIN);
    assert_null(q.token);
    assert_int_equal(np_ctl_parse_json(p, b2, strlen(b2), &q, &err), APR_SUCCESS);
    assert_string_equal(q.balancer, "abc");
    assert_int_equal(q.kind, NP_CTL_WEIGHT);
    assert_int_equal(q.weight, 0);
    assert_int_equal(np_ctl_parse_json(p, b3, strlen(b3), &q, &err), APR_SUCCESS);
    assert_int_equal(q.weight, 100);
}

static void test_json_errors(void **state)
{
    apr_pool_t *p = *state;
    static const struct { const char *body, *err; } rows[] = {
        { "", "not a JSON object" },
        { "[1]", "not a JSON object" },
        { "{\"balancer\":\"a\",\"member\":\"m\",\"action\":\"stop\"}",
          "unknown action \"stop\"" },
        { "{\"balancer\":\"a\",\"member\":\"m\",\"weight\":101}", "bad weight \"101\"" },
        { "{\"balancer\":\"a\",\"member\":\"m\",\"weight\":-1}", "bad weight \"-1\"" },
        { "{\"balancer\":\"a\",\"member\":\"m\",\"weight\":1.5}", "bad weight \"1.5\"" },
        { "{\"balancer\":\"a\",\"member\":\"m\",\"weight\":\"x\"}", "bad weight \"x\"" },
        { "{\"balancer\":\"a\",\"member\":\"m\"}", "missing \"action\"" },
        { "{\"member\":\"m\",\"action\":\"drain\"}", "missing \"balancer\"" },
        { "{\"balancer\":\"a\",\"action\":\"drain\"}", "missing \"member\"" },
        { "{\"balancer\":\"a\",\"member\":\"m\",\"action\":\"drain\",\"weight\":2}",
          "either \"action\" or \"weight\"" },
        { "{\"balancer\":\"a\",\"member\":\"m\",\"state\":\"drain\"}", "unknown key \"state\"" },
        { "{\"balancer\":1,\"member\":\"m\",\"action\":\"drain\"}", "\"balancer\" must be a string" },
        { "{\"balancer\":\"a\" \"member\":\"m\"}", "',' or '}'" },
        { "{\"balancer\":\"a\",\"member\":\"m\",\"action\":\"drain\"} x", "text after" },
        { "{\"balancer\":\"a\\u0000\",\"member\":\"m\",\"action\":\"drain\"}", "malformed JSON string" },
        { "{\"balancer\":\"a", "malformed JSON string" },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        np_ctl_req_t q;
        const char *err = NULL;
        print_message("row %zu: %s\n", i, rows[i].body);
        assert_int_equal(np_ctl_parse_json(p, rows[i].body, strlen(rows[i].body),
                                           &q, &err), APR_EINVAL);
        assert_non_null(err);
        assert_non_null(strstr(err, rows[i].err));
    }
}

static void test_form(void **state)
{
    apr_pool_t *p = *state;
    np_ctl_req_t q;
    const char *err = NULL;
    const char *f1 = "token=abc.def&balancer=app&member=http%3A%2F%2F127.0.0.1%3A3001"
                     "&weight=7&action=drain";
    const char *f2 = "balancer=app&member=m+1&action=weight&weight=42&x=y";
    const char *f3 = "balancer=app&member=m&action=weight&weight=400";
    const char *f4 = "balancer=app&member=m&action=weight";
    const char *f5 = "balancer=app&member=m%zz&action=ready";
    assert_int_equal(np_ctl_parse_form(p, f1, strlen(f1), &q, &err), APR_SUCCESS);
    assert_string_equal(q.member, "http://127.0.0.1:3001");
    assert_string_equal(q.token, "abc.def");
    assert_int_equal(q.kind, NP_CTL_ADMIN);   /* weight= ignored with drain */
    assert_int_equal(q.admin, NP_ADMIN_DRAIN);
    assert_int_equal(np_ctl_parse_form(p, f2, strlen(f2), &q, &err), APR_SUCCESS);
    assert_string_equal(q.member, "m 1");
    assert_int_equal(q.kind, NP_CTL_WEIGHT);
    assert_int_equal(q.weight, 42);
    assert_null(q.token);
    assert_int_equal(np_ctl_parse_form(p, f3, strlen(f3), &q, &err), APR_EINVAL);
    assert_non_null(strstr(err, "bad weight \"400\""));
    assert_int_equal(np_ctl_parse_form(p, f4, strlen(f4), &q, &err), APR_EINVAL);
    assert_non_null(strstr(err, "needs a weight"));
    assert_int_equal(np_ctl_parse_form(p, f5, strlen(f5), &q, &err), APR_EINVAL);
    assert_int_equal(np_ctl_parse_form(p, "", 0, &q, &err), APR_EINVAL);
    assert_non_null(strstr(err, "missing \"balancer\""));
}

static void test_weight(void **state)
{
    apr_pool_t *p = *state;
    int w = -1;
    const char *err = NULL;
    assert_int_equal(np_ctl_parse_weight(p, "0", &w, &err), APR_SUCCESS);
    assert_int_equal(w, 0);
    assert_int_equal(np_ctl_parse_weight(p, "100", &w, &err), APR_SUCCESS);
    assert_int_equal(w, 100);
    assert_int_equal(np_ctl_parse_weight(p, "007", &w, &err), APR_SUCCESS);
    assert_int_equal(w, 7);
    assert_int_equal(np_ctl_parse_weight(p, "101", &w, &err), APR_EINVAL);
    assert_int_equal(np_ctl_parse_weight(p, "99999999999", &w, &err), APR_EINVAL);
    assert_int_equal(np_ctl_parse_weight(p, "", &w, &err), APR_EINVAL);
    assert_int_equal(np_ctl_parse_weight(p, " 1", &w, &err), APR_EINVAL);
    assert_int_equal(np_ctl_parse_weight(p, NULL, &w, &err), APR_EINVAL);
}

static void test_token(void **state)
{
    apr_pool_t *p = *state;
    const unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
    const unsigned char other[32] = "x123456789abcdef0123456789abcdef";
    apr_time_t now = apr_time_from_sec(1700000000);
    apr_interval_time_t age = apr_time_from_sec(3600);
    const char *t = np_ctl_token_make(p, secret, 32, now);
    char *bad;
    assert_non_null(strchr(t, '.'));
    assert_true(np_ctl_token_ok(secret, 32, t, now, age));
    assert_true(np_ctl_token_ok(secret, 32, t, now + apr_time_from_sec(3599), age));
    assert_false(np_ctl_token_ok(secret, 32, t, now + apr_time_from_sec(3601), age));
    assert_false(np_ctl_token_ok(secret, 32, t, now - apr_time_from_sec(120), age));
    assert_false(np_ctl_token_ok(other, 32, t, now, age));
    bad = apr_pstrdup(p, t);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    assert_false(np_ctl_token_ok(secret, 32, bad, now, age));
    /* a later time stamp with the old MAC */
    bad = apr_pstrdup(p, t);
    bad[0] = bad[0] == '6' ? '7' : '6';
    assert_false(np_ctl_token_ok(secret, 32, bad, now, age));
    assert_false(np_ctl_token_ok(secret, 32, NULL, now, age));
    assert_false(np_ctl_token_ok(secret, 32, "", now, age));
    assert_false(np_ctl_token_ok(secret, 32, ".", now, age));
    assert_false(np_ctl_token_ok(secret, 32, "zz.00", now, age));
}

static void test_same_origin(void **state)
{
    static const struct { const char *o; int ref; const char *scheme, *host; int ok; } rows[] = {
        { "http://localhost:8080", 0, "http", "localhost:8080", 1 },
        { "HTTP://LocalHost:8080", 0, "http", "localhost:8080", 1 },
        { "http://localhost:8080/", 0, "http", "localhost:8080", 0 },
        { "https://localhost:8080", 0, "http", "localhost:8080", 0 },
        { "http://evil.example", 0, "http", "localhost:8080", 0 },
        { "http://localhost:80800", 0, "http", "localhost:8080", 0 },
        { "http://localhost:8080.evil.example", 0, "http", "localhost:8080", 0 },
        { "null", 0, "http", "localhost", 0 },
        { NULL, 0, "http", "localhost", 0 },
        { "http://localhost", 0, "http", NULL, 0 },
        { "http://localhost:8080/np-status?refresh=5", 1, "http", "localhost:8080", 1 },
        { "http://localhost:8080", 1, "http", "localhost:8080", 1 },
        { "http://localhost:8080.evil/np-status", 1, "http", "localhost:8080", 0 },
        { "http://localhost:8080@evil/", 1, "http", "localhost:8080", 0 },
        { "https://[::1]:8443/s", 1, "https", "[::1]:8443", 1 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu\n", i);
        assert_int_equal(np_ctl_same_origin(rows[i].o, rows[i].ref, rows[i].scheme,
                                            rows[i].host), rows[i].ok);
    }
}

static void test_persist_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    np_persist_entry_t in[3] = {
        { "app", "http://127.0.0.1:3001", NP_ADMIN_DRAIN, -1 },
        { "app", "http://127.0.0.1:3002", NP_ADMIN_READY, 0 },
        { "b2", "unix:/run/a.sock", NP_ADMIN_MAINT, 100 },
    };
    const char *text = NP_PERSIST_HEADER;
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(np_persist_entry_t));
    const char *err = NULL;
    int i;
    for (i = 0; i < 3; i++) {
        text = apr_pstrcat(p, text, np_persist_line(p, &in[i]), NULL);
    }
    assert_string_equal(np_persist_line(p, &in[0]), "app\thttp://127.0.0.1:3001\tdrain\t-\n");
    assert_int_equal(np_persist_parse(p, text, strlen(text), out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 3);
    for (i = 0; i < 3; i++) {
        np_persist_entry_t *e = &APR_ARRAY_IDX(out, i, np_persist_entry_t);
        assert_string_equal(e->balancer, in[i].balancer);
        assert_string_equal(e->member, in[i].member);
        assert_int_equal(e->admin, in[i].admin);
        assert_int_equal(e->weight, in[i].weight);
    }
    {
        np_persist_entry_t bad = { "a\tb", "m", NP_ADMIN_READY, -1 };
        assert_null(np_persist_line(p, &bad));
    }
    /* CRLF and comments are fine */
    text = "# x\r\nnp-admin-states 1\r\n\r\napp\tm\tmaint\t3\r\n";
    apr_array_clear(out);
    assert_int_equal(np_persist_parse(p, text, strlen(text), out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 1);
}

static void test_persist_corrupt(void **state)
{
    apr_pool_t *p = *state;
    static const struct { const char *text, *err; } rows[] = {
        { "", "empty file" },
        { "# only a comment\n", "empty file" },
        { "garbage\x01\x02\n", "line 1: \"np-admin-states 1\"" },
        { "np-admin-states 2\n", "line 1" },
        { "np-admin-states 1\napp\tm\tdrain\n", "line 2: 4 tab-separated" },
        { "np-admin-states 1\napp\tm\tdrain\t1\tx\n", "line 2: 4 tab-separated" },
        { "np-admin-states 1\napp\tm\tstopped\t1\n", "line 2: unknown state \"stopped\"" },
        { "np-admin-states 1\napp\tm\tdrain\t500\n", "line 2: bad weight \"500\"" },
        { "np-admin-states 1\napp\tm\tdrain\t1\napp\tm\tready\t-\n", "line 3: member m of app is listed twice" },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        apr_array_header_t *out = apr_array_make(p, 4, sizeof(np_persist_entry_t));
        const char *err = NULL;
        print_message("row %zu\n", i);
        assert_int_equal(np_persist_parse(p, rows[i].text, strlen(rows[i].text),
                                          out, &err), APR_EINVAL);
        assert_non_null(strstr(err, rows[i].err));
        assert_int_equal(out->nelts, 0);   /* all or nothing */
    }
    {
        /* a NUL byte */
        apr_array_header_t *out = apr_array_make(p, 4, sizeof(np_persist_entry_t));
        const char *err = NULL;
        assert_int_equal(np_persist_parse(p, "np-admin-states 1\n\0x", 20, out, &err),
                         APR_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_ok, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_json_errors, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_form, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_weight, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_token, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_same_origin, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_persist_roundtrip, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_persist_corrupt, np_test_pool_setup, np_test_pool_teardown),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
