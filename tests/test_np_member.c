/* cmocka: NodeMember arguments (options, port ranges, errors), member
 * failure expiry and NodeBalancerMethod names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>
#include <apr_strings.h>

#include "np_member.h"


#define MAXARGS 6

static const struct {
    const char *argv[MAXARGS];   /* NULL-terminated */
    int ok;
    int n;                       /* members appended                  */
    const char *key;             /* first member's key                */
    int weight, standby;
    const char *route;
    const char *err_part;        /* error: a part of the message      */
    const char *err_part2;
} lines[] = {
    { { "http://127.0.0.1:3000" }, 1, 1, "http://127.0.0.1:3000", 1, 0, NULL, NULL, NULL },
    { { "http://127.0.0.1:3000/" }, 1, 1, "http://127.0.0.1:3000", 1, 0, NULL, NULL, NULL },
    { { "http://app" }, 1, 1, "http://app:80", 1, 0, NULL, NULL, NULL },
    { { "http://127.0.0.1:3000", "weight=5" }, 1, 1, "http://127.0.0.1:3000", 5, 0, NULL, NULL, NULL },
    { { "http://127.0.0.1:3000", "WEIGHT=100", "standby" }, 1, 1, "http://127.0.0.1:3000", 100, 1, NULL, NULL, NULL },
    { { "http://127.0.0.1:3000", "Standby", "route=app1", "weight=1" }, 1, 1, "http://127.0.0.1:3000", 1, 1, "app1", NULL, NULL },
    { { "unix:/run/app.sock|http://localhost/" }, 1, 1, "unix:/run/app.sock", 1, 0, NULL, NULL, NULL },
    { { "unix:/run/a.sock|http://localhost/", "route=a.1_x~-" }, 1, 1, "unix:/run/a.sock", 1, 0, "a.1_x~-", NULL, NULL },
    { { "http://[::1]:3000" }, 1, 1, "http://::1:3000", 1, 0, NULL, NULL, NULL },
    { { "http://127.0.0.1:3000-3003" }, 1, 4, "http://127.0.0.1:3000", 1, 0, NULL, NULL, NULL },
    { { "http://127.0.0.1:3000-3000", "weight=3" }, 1, 1, "http://127.0.0.1:3000", 3, 0, NULL, NULL, NULL },
    { { "http://[::1]:4000-4001/app", "standby" }, 1, 2, "http://::1:4000", 1, 1, NULL, NULL, NULL },
    { { "http://h:1-64" }, 1, 64, "http://h:1", 1, 0, NULL, NULL, NULL },
    { { "http://h:65472-65535" }, 1, 64, "http://h:65472", 1, 0, NULL, NULL, NULL },
    /* errors */
    { { NULL }, 0, 0, NULL, 0, 0, NULL, "missing member URL", NULL },
    { { "" }, 0, 0, NULL, 0, 0, NULL, "missing member URL", NULL },
    { { "balancer://app" }, 0, 0, NULL, 0, 0, NULL, "balancer://app", "cannot be a balancer" },
    { { "ftp://h/" }, 0, 0, NULL, 0, 0, NULL, "unknown scheme", NULL },
    { { "127.0.0.1:3000" }, 0, 0, NULL, 0, 0, NULL, "unknown scheme", NULL },
    { { "http://h:70000" }, 0, 0, NULL, 0, 0, NULL, "bad port", NULL },
    { { "http://h:3000", "weight=0" }, 0, 0, NULL, 0, 0, NULL, "weight \"0\"", "1-100" },
    { { "http://h:3000", "weight=101" }, 0, 0, NULL, 0, 0, NULL, "weight \"101\"", "1-100" },
    { { "http://h:3000", "weight=" }, 0, 0, NULL, 0, 0, NULL, "weight \"\"", "1-100" },
    { { "http://h:3000", "weight=2x" }, 0, 0, NULL, 0, 0, NULL, "weight \"2x\"", "1-100" },
    { { "http://h:3000", "weight=-1" }, 0, 0, NULL, 0, 0, NULL, "weight \"-1\"", "1-100" },
    { { "http://h:3000", "weight=99999999999999999999" }, 0, 0, NULL, 0, 0, NULL, "1-100", NULL },
    { { "http://h:3000", "weight=2", "weight=3" }, 0, 0, NULL, 0, 0, NULL, "weight= is given twice", NULL },
    { { "http://h:3000", "standby", "standby" }, 0, 0, NULL, 0, 0, NULL, "standby is given twice", NULL },
    { { "http://h:3000", "route=a", "route=b" }, 0, 0, NULL, 0, 0, NULL, "route= is given twice", NULL },
    { { "http://h:3000", "route=" }, 0, 0, NULL, 0, 0, NULL, "route is empty", NULL },
    { { "http://h:3000", "route=a/b" }, 0, 0, NULL, 0, 0, NULL, "route \"a/b\"", "A-Z a-z 0-9" },
    { { "http://h:3000", "max=0" }, 0, 0, NULL, 0, 0, NULL, "max \"0\"", "1-100000" },
    { { "http://h:3000", "max=" }, 0, 0, NULL, 0, 0, NULL, "max \"\"", "1-100000" },
    { { "http://h:3000", "max=2x" }, 0, 0, NULL, 0, 0, NULL, "max \"2x\"", NULL },
    { { "http://h:3000", "max=100001" }, 0, 0, NULL, 0, 0, NULL, "max \"100001\"", NULL },
    { { "http://h:3000", "max=99999999999999999999" }, 0, 0, NULL, 0, 0, NULL, "1-100000", NULL },
    { { "http://h:3000", "max=2", "max=3" }, 0, 0, NULL, 0, 0, NULL, "max= is given twice", NULL },
    { { "http://h:3000", "maxconn=5" }, 0, 0, NULL, 0, 0, NULL, "unknown option \"maxconn=5\"", "max=N" },
    { { "http://h:3000", "backup" }, 0, 0, NULL, 0, 0, NULL, "unknown option \"backup\"", NULL },
    { { "http://h:3000-3001", "route=x" }, 0, 0, NULL, 0, 0, NULL, "route= cannot be used with a port range", NULL },
    { { "http://h:3001-3000" }, 0, 0, NULL, 0, 0, NULL, "bad port range", "P1 <= P2" },
    { { "http://h:3000-" }, 0, 0, NULL, 0, 0, NULL, "bad port range", NULL },
    { { "http://h:-3000" }, 0, 0, NULL, 0, 0, NULL, "bad port range", NULL },
    { { "http://h:0-3" }, 0, 0, NULL, 0, 0, NULL, "bad port range", NULL },
    { { "http://h:65535-65536" }, 0, 0, NULL, 0, 0, NULL, "bad port range", NULL },
    { { "http://h:3000-3001-3002" }, 0, 0, NULL, 0, 0, NULL, "bad port range", NULL },
    { { "http://h:3x-4" }, 0, 0, NULL, 0, 0, NULL, "bad port range", NULL },
    { { "http://h:3000-3064" }, 0, 0, NULL, 0, 0, NULL, "at most 64 ports", NULL },
    { { "http://h:3000-3003/?q" }, 0, 0, NULL, 0, 0, NULL, "query", NULL },
    { { "http://u@h:3000-3003" }, 0, 0, NULL, 0, 0, NULL, "member \"http://u@h:3000-3003\"", "user info" },
    { { "unix:/s.sock" }, 0, 0, NULL, 0, 0, NULL, "unix:/path", NULL },
};

static void test_lines(void **state)
{
    size_t i;
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        apr_array_header_t *out = apr_array_make(*state, 1, sizeof(np_member_spec_t));
        const char *err = NULL;
        int argc = 0, j;
        apr_status_t rv;
        while (argc < MAXARGS && lines[i].argv[argc]) {
            argc++;
        }
        print_message("row %zu: %s\n", i, argc ? lines[i].argv[0] : "(none)");
        /* something there already stays, and stays first */
        ((np_member_spec_t *)apr_array_push(out))->weight = 42;
        rv = np_member_parse(*state, argc, lines[i].argv, out, &err);
        assert_int_equal(((np_member_spec_t *)out->elts)[0].weight, 42);
        if (!lines[i].ok) {
            assert_int_not_equal(rv, APR_SUCCESS);
            assert_non_null(err);
            print_message("  err: %s\n", err);
            assert_non_null(strstr(err, lines[i].err_part));
            if (lines[i].err_part2) {
                assert_non_null(strstr(err, lines[i].err_part2));
            }
            assert_int_equal(out->nelts, 1);     /* nothing appended */
            continue;
        }
        assert_int_equal(rv, APR_SUCCESS);
        assert_int_equal(out->nelts, 1 + lines[i].n);
        for (j = 1; j < out->nelts; j++) {
            const np_member_spec_t *s = &((np_member_spec_t *)out->elts)[j];
            assert_int_not_equal(s->target.kind, NP_TARGET_BALANCER);
            assert_int_equal(s->weight, lines[i].weight);
            assert_int_equal(s->standby, lines[i].standby);
            if (lines[i].route) {
                assert_string_equal(s->route, lines[i].route);
            }
            else {
                assert_null(s->route);
            }
        }
        assert_string_equal(((np_member_spec_t *)out->elts)[1].target.key,
                            lines[i].key);
    }
}

static void test_max(void **state)
{
    static const char *const one[] = { "http://127.0.0.1:3000", "MAX=2" };
    static const char *const none[] = { "http://127.0.0.1:3000" };
    static const char *const range[] = { "http://127.0.0.1:3000-3002", "max=100000", "weight=2" };
    apr_array_header_t *out = apr_array_make(*state, 1, sizeof(np_member_spec_t));
    const char *err = NULL;
    int j;
    assert_int_equal(np_member_parse(*state, 2, one, out, &err), APR_SUCCESS);
    assert_int_equal(((np_member_spec_t *)out->elts)[0].max, 2);
    assert_int_equal(np_member_parse(*state, 1, none, out, &err), APR_SUCCESS);
    assert_int_equal(((np_member_spec_t *)out->elts)[1].max, 0);
    assert_int_equal(np_member_parse(*state, 3, range, out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 5);
    for (j = 2; j < 5; j++) {
        assert_int_equal(((np_member_spec_t *)out->elts)[j].max, 100000);
        assert_int_equal(((np_member_spec_t *)out->elts)[j].weight, 2);
    }
}

static void test_port_range(void **state)
{
    static const char *const argv[] = { "http://127.0.0.1:3000-3003/app", "weight=2" };
    apr_array_header_t *out = apr_array_make(*state, 1, sizeof(np_member_spec_t));
    const char *err = NULL;
    int j;
    assert_int_equal(np_member_parse(*state, 2, argv, out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 4);
    for (j = 0; j < 4; j++) {
        const np_member_spec_t *s = &((np_member_spec_t *)out->elts)[j];
        print_message("member %d\n", j);
        assert_int_equal(s->target.kind, NP_TARGET_HTTP);
        assert_int_equal(s->target.port, 3000 + j);
        assert_string_equal(s->target.key,
                            apr_psprintf(*state, "http://127.0.0.1:%d", 3000 + j));
        assert_string_equal(s->target.url,
                            apr_psprintf(*state, "http://127.0.0.1:%d/app", 3000 + j));
        assert_string_equal(s->target.authority,
                            apr_psprintf(*state, "127.0.0.1:%d", 3000 + j));
        assert_string_equal(s->target.host, "127.0.0.1");
        assert_string_equal(s->target.path, "/app");
        assert_int_equal(s->weight, 2);
        assert_int_equal(s->standby, 0);
        assert_null(s->route);
    }
    /* a second line appends after the first */
    {
        static const char *const argv2[] = { "HTTP://[::1]:5000-5001" };
        const np_member_spec_t *s;
        assert_int_equal(np_member_parse(*state, 1, argv2, out, &err), APR_SUCCESS);
        assert_int_equal(out->nelts, 6);
        s = &((np_member_spec_t *)out->elts)[4];
        assert_string_equal(s->target.key, "http://::1:5000");
        assert_string_equal(s->target.authority, "[::1]:5000");
        s = &((np_member_spec_t *)out->elts)[5];
        assert_string_equal(s->target.key, "http://::1:5001");
        assert_string_equal(s->target.path, "/");
    }
}

static void test_failed_now(void **state)
{
    static const struct {
        apr_time_t failed_at;
        apr_interval_time_t timeout;
        apr_time_t now;
        int skipped;
    } rows[] = {
        { 0, 5000000, 1, 0 },                     /* never failed */
        { 0, 5000000, 0, 0 },
        { 1000000, 5000000, 1000000, 1 },         /* just failed */
        { 1000000, 5000000, 5999999, 1 },         /* one microsecond before */
        { 1000000, 5000000, 6000000, 0 },         /* exactly at expiry: usable */
        { 1000000, 5000000, 6000001, 0 },
        { 1000000, 5000000, 999999, 1 },          /* clock behind failed_at */
        { APR_INT64_C(1700000000000000), APR_INT64_C(5000000),
          APR_INT64_C(1700000004999999), 1 },
        { APR_INT64_C(1700000000000000), APR_INT64_C(5000000),
          APR_INT64_C(1700000005000000), 0 },
        { 1000000, 0, 1000000, 0 },               /* no timeout: retried at once */
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu\n", i);
        assert_int_equal(np_member_failed_now(rows[i].failed_at, rows[i].timeout,
                                              rows[i].now), rows[i].skipped);
    }
}

static void test_method(void **state)
{
    static const struct { const char *name; const np_lbmethod_t *m; } rows[] = {
        { "least-pending", &np_lb_least_pending },
        { "round-robin", &np_lb_round_robin },
        { "p2c", &np_lb_p2c },
        { "ip-hash", &np_lb_ip_hash },
        { "Round-Robin", &np_lb_round_robin },
        { "IP-HASH", &np_lb_ip_hash },
        { "byrequests", NULL },
        { "roundrobin", NULL },
        { "", NULL },
        { NULL, NULL },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *err = NULL;
        const np_lbmethod_t *m = np_member_method(*state, rows[i].name, &err);
        print_message("row %zu\n", i);
        assert_ptr_equal(m, rows[i].m);
        if (!rows[i].m) {
            assert_non_null(err);
            assert_non_null(strstr(err, "least-pending, round-robin, p2c or ip-hash"));
            if (rows[i].name) {
                assert_non_null(strstr(err, apr_psprintf(*state, "\"%s\"",
                                                         rows[i].name)));
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_max, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_port_range, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_failed_now, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_method, np_test_pool_setup, np_test_pool_teardown),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
