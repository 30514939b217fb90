/* cmocka: NodeHealthCheck settings (parse, expect= statuses) and the
 * health state machine (consecutive passes/fails, counter resets). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>
#include <apr_strings.h>

#include "np_health.h"

#define MAX_ARGS 6


static int count_args(const char *const *argv)
{
    int n = 0;
    while (n < MAX_ARGS && argv[n]) {
        n++;
    }
    return n;
}

/* The ranges as "lo-hi,lo-hi" so a row can state them exactly. */
static const char *ranges_str(apr_pool_t *p, const np_hc_conf_t *c)
{
    const char *s = "";
    int i;
    for (i = 0; i < c->nranges; i++) {
        s = apr_psprintf(p, "%s%s%d-%d", s, i ? "," : "", c->lo[i], c->hi[i]);
    }
    return s;
}

static const struct {
    const char *argv[MAX_ARGS];
    const char *method;
    apr_interval_time_t interval, timeout;
    unsigned int passes, fails;
    const char *ranges;
} good[] = {
    { { "/healthz" }, "GET", 5000000, 2000000, 2, 3, "200-399" },
    { { "/" }, "GET", 5000000, 2000000, 2, 3, "200-399" },
    { { "/healthz", "interval=500ms", "timeout=500ms" }, "GET", 500000, 500000, 2, 3, "200-399" },
    { { "/healthz", "interval=100ms", "timeout=100ms" }, "GET", 100000, 100000, 2, 3, "200-399" },
    { { "/healthz", "interval=2m" }, "GET", 120000000, 2000000, 2, 3, "200-399" },
    { { "/healthz", "timeout=1s" }, "GET", 5000000, 1000000, 2, 3, "200-399" },
    { { "/healthz", "timeout=5s" }, "GET", 5000000, 5000000, 2, 3, "200-399" },
    { { "/healthz", "passes=1" }, "GET", 5000000, 2000000, 1, 3, "200-399" },
    { { "/healthz", "passes=100" }, "GET", 5000000, 2000000, 100, 3, "200-399" },
    { { "/healthz", "fails=5" }, "GET", 5000000, 2000000, 2, 5, "200-399" },
    { { "/healthz", "fails=1" }, "GET", 5000000, 2000000, 2, 1, "200-399" },
    { { "/healthz", "expect=200" }, "GET", 5000000, 2000000, 2, 3, "200-200" },
    { { "/healthz", "expect=200,204,300-399" }, "GET", 5000000, 2000000, 2, 3, "200-200,204-204,300-399" },
    { { "/healthz", "expect=100-599" }, "GET", 5000000, 2000000, 2, 3, "100-599" },
    { { "/healthz", "expect=204-204" }, "GET", 5000000, 2000000, 2, 3, "204-204" },
    { { "/healthz", "expect=200,201,202,203,204,205,206,207" }, "GET", 5000000, 2000000, 2, 3,
      "200-200,201-201,202-202,203-203,204-204,205-205,206-206,207-207" },
    { { "/healthz", "method=HEAD" }, "HEAD", 5000000, 2000000, 2, 3, "200-399" },
    { { "/healthz", "method=M-SEARCH" }, "M-SEARCH", 5000000, 2000000, 2, 3, "200-399" },
    /* Keys are case-insensitive; the last expect= wins; timeout is checked
     * against the final interval whatever the order. */
    { { "/healthz", "Interval=10s", "TIMEOUT=3s" }, "GET", 10000000, 3000000, 2, 3, "200-399" },
    { { "/healthz", "expect=500", "expect=200-299" }, "GET", 5000000, 2000000, 2, 3, "200-299" },
    { { "/healthz", "timeout=8s", "interval=10s" }, "GET", 10000000, 8000000, 2, 3, "200-399" },
    /* Without timeout=, a short interval shortens the default 2s timeout. */
    { { "/healthz", "interval=1s" }, "GET", 1000000, 1000000, 2, 3, "200-399" },
    { { "/healthz", "interval=500ms" }, "GET", 500000, 500000, 2, 3, "200-399" },
    { { "/api/health?full=1", "interval=1s", "timeout=1s", "passes=3", "fails=4", "method=HEAD" },
      "HEAD", 1000000, 1000000, 3, 4, "200-399" },
};

static void test_conf_parse(void **state)
{
    size_t i;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        np_hc_conf_t c;
        const char *err = NULL;
        int argc = count_args(good[i].argv);
        apr_status_t rv;
        print_message("row %zu: %s %s\n", i, good[i].argv[0],
                      argc > 1 ? good[i].argv[1] : "");
        rv = np_hc_conf_parse(*state, argc, good[i].argv, &c, &err);
        assert_int_equal(rv, APR_SUCCESS);
        assert_null(err);
        assert_string_equal(c.path, good[i].argv[0]);
        assert_string_equal(c.method, good[i].method);
        assert_int_equal(c.interval, good[i].interval);
        assert_int_equal(c.timeout, good[i].timeout);
        assert_int_equal(c.passes, good[i].passes);
        assert_int_equal(c.fails, good[i].fails);
        assert_string_equal(ranges_str(*state, &c), good[i].ranges);
    }
}

static const struct {
    const char *argv[MAX_ARGS];
    const char *err_part;
} bad[] = {
    { { NULL }, "needs a PATH" },
    { { "healthz" }, "path \"healthz\" must start with '/'" },
    { { "http://h/healthz" }, "must start with '/'" },
    { { "" }, "must start with '/'" },
    { { "interval=5s" }, "path \"interval=5s\" must start with '/'" },
    { { "/a b" }, "hold no spaces" },
    { { "/a#b" }, "hold no spaces" },
    { { "/healthz", "color=red" }, "unknown key \"color\"" },
    { { "/healthz", "interval" }, "\"interval\" is not key=value" },
    { { "/healthz", "=5s" }, "\"=5s\" is not key=value" },
    { { "/healthz", "interval=5x" }, "interval: \"5x\" is not a duration" },
    { { "/healthz", "interval=" }, "interval: \"\" is not a duration" },
    { { "/healthz", "timeout=-1s" }, "timeout: \"-1s\" is not a duration" },
    { { "/healthz", "interval=99ms", "timeout=99ms" }, "interval=\"99ms\" is too short (at least 100ms)" },
    { { "/healthz", "interval=0" }, "interval=\"0\" is too short" },
    { { "/healthz", "timeout=50ms" }, "timeout=\"50ms\" is too short" },
    { { "/healthz", "interval=2s", "timeout=3s" }, "timeout must not be longer than interval" },
    { { "/healthz", "timeout=3s", "interval=2s" }, "timeout must not be longer than interval" },
    { { "/healthz", "passes=0" }, "passes=\"0\" must be 1-100" },
    { { "/healthz", "passes=101" }, "passes=\"101\" must be 1-100" },
    { { "/healthz", "passes=+2" }, "passes=\"+2\" must be 1-100" },
    { { "/healthz", "passes=2x" }, "passes=\"2x\" must be 1-100" },
    { { "/healthz", "fails=101" }, "fails=\"101\" must be 1-100" },
    { { "/healthz", "fails=0" }, "fails=\"0\" must be 1-100" },
    { { "/healthz", "fails=" }, "fails=\"\" must be 1-100" },
    { { "/healthz", "fails=99999999999999999999" }, "must be 1-100" },
    { { "/healthz", "expect=600" }, "expect=\"600\" is not a status or range list" },
    { { "/healthz", "expect=99" }, "expect=\"99\" is not a status" },
    { { "/healthz", "expect=300-200" }, "expect=\"300-200\" is not a status" },
    { { "/healthz", "expect=abc" }, "expect=\"abc\" is not a status" },
    { { "/healthz", "expect=200-" }, "expect=\"200-\" is not a status" },
    { { "/healthz", "expect=-200" }, "expect=\"-200\" is not a status" },
    { { "/healthz", "expect=200-300-400" }, "is not a status" },
    { { "/healthz", "expect=200,600" }, "expect=\"200,600\" is not a status" },
    { { "/healthz", "expect=200,201,202,203,204,205,206,207,208" },
      "expect=\"200,201,202,203,204,205,206,207,208\" is not a status" },
    { { "/healthz", "expect=" }, "expect=\"\" is empty" },
    { { "/healthz", "expect=," }, "expect=\",\" is empty" },
    { { "/healthz", "method=get" }, "method=\"get\" must be an upper-case method name" },
    { { "/healthz", "method=" }, "method=\"\" must be an upper-case" },
    { { "/healthz", "method=GET /x" }, "method=\"GET /x\" must be an upper-case" },
};

static void test_conf_errors(void **state)
{
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        np_hc_conf_t c;
        const char *err = NULL;
        int argc = count_args(bad[i].argv);
        apr_status_t rv;
        print_message("row %zu: %s %s\n", i,
                      argc > 0 ? bad[i].argv[0] : "(none)",
                      argc > 1 ? bad[i].argv[1] : "");
        rv = np_hc_conf_parse(*state, argc, bad[i].argv, &c, &err);
        assert_int_equal(rv, APR_EINVAL);
        assert_non_null(err);
        if (!strstr(err, bad[i].err_part)) {
            print_message("got: %s\n", err);
        }
        assert_non_null(strstr(err, bad[i].err_part));
    }
}

static void test_status_ok(void **state)
{
    static const struct { const char *expect; int status, ok; } rows[] = {
        { NULL, 199, 0 }, { NULL, 200, 1 }, { NULL, 204, 1 }, { NULL, 301, 1 },
        { NULL, 399, 1 }, { NULL, 400, 0 }, { NULL, 500, 0 }, { NULL, 0, 0 },
        { NULL, -1, 0 },
        { "expect=200", 199, 0 }, { "expect=200", 200, 1 }, { "expect=200", 201, 0 },
        { "expect=200,204,300-399", 200, 1 }, { "expect=200,204,300-399", 201, 0 },
        { "expect=200,204,300-399", 203, 0 }, { "expect=200,204,300-399", 204, 1 },
        { "expect=200,204,300-399", 205, 0 }, { "expect=200,204,300-399", 299, 0 },
        { "expect=200,204,300-399", 300, 1 }, { "expect=200,204,300-399", 399, 1 },
        { "expect=200,204,300-399", 400, 0 },
        { "expect=500-599", 499, 0 }, { "expect=500-599", 500, 1 },
        { "expect=500-599", 599, 1 }, { "expect=500-599", 600, 0 },
        { "expect=100-599", 99, 0 }, { "expect=100-599", 100, 1 },
        { "expect=100-599", 599, 1 }, { "expect=100-599", 600, 0 },
    };
    np_hc_conf_t none;
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *argv[2] = { "/healthz", rows[i].expect };
        np_hc_conf_t c;
        const char *err = NULL;
        print_message("row %zu: %s %d\n", i,
                      rows[i].expect ? rows[i].expect : "(default)",
                      rows[i].status);
        assert_int_equal(np_hc_conf_parse(*state, rows[i].expect ? 2 : 1,
                                          argv, &c, &err), APR_SUCCESS);
        assert_int_equal(np_hc_status_ok(&c, rows[i].status), rows[i].ok);
    }
    /* No ranges at all: nothing passes. */
    memset(&none, 0, sizeof(none));
    assert_int_equal(np_hc_status_ok(&none, 200), 0);
}

/* seq: P = passed, F = failed. changes: . = NP_HC_SAME, U = NOW_UNHEALTHY,
 * H = NOW_HEALTHY. states: h = healthy, u = unhealthy (after each step). */
static const struct {
    unsigned int passes, fails;
    int start_unhealthy;
    const char *seq, *changes, *states;
} machine[] = {
    { 2, 3, 0, "FFF", "..U", "hhu" },
    { 2, 3, 0, "FFPFF", ".....", "hhhhh" },
    { 2, 3, 1, "PFPP", "...H", "uuuh" },
    { 2, 3, 0, "PPPP", "....", "hhhh" },
    { 2, 3, 1, "FFFF", "....", "uuuu" },
    { 2, 3, 1, "P", ".", "u" },
    { 2, 3, 0, "FFFFPPFFF", "..U..H..U", "hhuuuhhhu" },
    { 2, 3, 0, "FFFPFFPP", "..U....H", "hhuuuuuh" },
    { 1, 1, 0, "FPPFFP", "UH.U.H", "uhhuuh" },
    { 1, 1, 1, "PFP", "HUH", "huh" },
    { 1, 1, 0, "PPP", "...", "hhh" },
    { 3, 2, 1, "PPFPPP", ".....H", "uuuuuh" },
    /* Passes counted while healthy do not delay going unhealthy. */
    { 2, 2, 0, "PPPFF", "....U", "hhhhu" },
    /* Failures counted while unhealthy do not delay coming back. */
    { 1, 3, 1, "FFFFFP", ".....H", "uuuuuh" },
    { 2, 5, 0, "FFFFPFFFFF", ".........U", "hhhhhhhhhu" },
};

static void test_record_machine(void **state)
{
    size_t i, j;
    (void)state;
    for (i = 0; i < sizeof(machine) / sizeof(machine[0]); i++) {
        np_hc_conf_t c;
        np_hc_state_t st;
        unsigned int run_p = 0, run_f = 0;
        assert_int_equal(strlen(machine[i].changes), strlen(machine[i].seq));
        assert_int_equal(strlen(machine[i].states), strlen(machine[i].seq));
        memset(&c, 0, sizeof(c));
        c.passes = machine[i].passes;
        c.fails = machine[i].fails;
        memset(&st, 0, sizeof(st));
        st.unhealthy = machine[i].start_unhealthy;
        for (j = 0; machine[i].seq[j]; j++) {
            int passed = machine[i].seq[j] == 'P';
            np_hc_change_e want, got;
            print_message("row %zu step %zu: passes=%u fails=%u %s\n", i, j,
                          machine[i].passes, machine[i].fails, machine[i].seq);
            switch (machine[i].changes[j]) {
            case 'U': want = NP_HC_NOW_UNHEALTHY; break;
            case 'H': want = NP_HC_NOW_HEALTHY; break;
            default: want = NP_HC_SAME; break;
            }
            got = np_hc_record(&st, passed, &c);
            assert_int_equal(got, want);
            assert_int_equal(st.unhealthy, machine[i].states[j] == 'u');
            /* Only the current run counts: the opposite counter is zero. */
            if (passed) {
                run_p++;
                run_f = 0;
            }
            else {
                run_f++;
                run_p = 0;
            }
            assert_int_equal(st.passes, run_p);
            assert_int_equal(st.fails, run_f);
        }
    }
}

static void test_record_counters_reset(void **state)
{
    np_hc_conf_t c;
    np_hc_state_t st;
    (void)state;
    memset(&c, 0, sizeof(c));
    c.passes = 2;
    c.fails = 3;
    memset(&st, 0, sizeof(st));

    assert_int_equal(np_hc_record(&st, 0, &c), NP_HC_SAME);
    assert_int_equal(np_hc_record(&st, 0, &c), NP_HC_SAME);
    assert_int_equal(st.fails, 2);
    assert_int_equal(st.passes, 0);
    assert_int_equal(np_hc_record(&st, 1, &c), NP_HC_SAME);
    assert_int_equal(st.fails, 0);
    assert_int_equal(st.passes, 1);
    assert_int_equal(st.unhealthy, 0);
    assert_int_equal(np_hc_record(&st, 0, &c), NP_HC_SAME);
    assert_int_equal(st.fails, 1);
    assert_int_equal(st.passes, 0);
    assert_int_equal(np_hc_record(&st, 0, &c), NP_HC_SAME);
    assert_int_equal(np_hc_record(&st, 0, &c), NP_HC_NOW_UNHEALTHY);
    assert_int_equal(st.fails, 3);
    assert_int_equal(st.unhealthy, 1);
    /* Staying unhealthy: reports no further change. */
    assert_int_equal(np_hc_record(&st, 0, &c), NP_HC_SAME);
    assert_int_equal(st.fails, 4);
    assert_int_equal(np_hc_record(&st, 1, &c), NP_HC_SAME);
    assert_int_equal(st.fails, 0);
    assert_int_equal(st.passes, 1);
    assert_int_equal(st.unhealthy, 1);
    assert_int_equal(np_hc_record(&st, 1, &c), NP_HC_NOW_HEALTHY);
    assert_int_equal(st.passes, 2);
    assert_int_equal(st.fails, 0);
    assert_int_equal(st.unhealthy, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conf_parse, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_conf_errors, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_status_ok, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_record_machine, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_record_counters_reset, np_test_pool_setup, np_test_pool_teardown),
    };
    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
