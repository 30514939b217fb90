/* cmocka: NodeRateLimit parsing, the GCRA token bucket (the worked example
 * of np_ratelimit.h, burst then rate), the shared-memory table (separate
 * keys, fixed size, expiry, eviction) and the RateLimit headers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>
#include <apr_strings.h>

#include "np_ratelimit.h"

#define MS(n) apr_time_from_msec(n)

static np_rl_policy_t parse_ok(apr_pool_t *p, const char *line)
{
    char *args[8];
    char *last, *tok, *copy = apr_pstrdup(p, line);
    int argc = 0;
    np_rl_policy_t pol;
    const char *err = NULL;
    for (tok = apr_strtok(copy, " ", &last); tok && argc < 8;
         tok = apr_strtok(NULL, " ", &last)) {
        args[argc++] = tok;
    }
    if (np_rl_parse(p, argc, (const char *const *)args, &pol, &err) != APR_SUCCESS) {
        print_message("%s: %s\n", line, err);
        fail();
    }
    return pol;
}

static void test_parse(void **state)
{
    apr_pool_t *p = *state;
    static const struct { const char *line, *text; apr_int64_t interval; } ok[] = {
        { "rate=10/s", "rate=10/s burst=10 key=ip", 100000 },
        { "rate=2/s burst=3", "rate=2/s burst=3 key=ip", 500000 },
        { "RATE=60/M key=header:X-Api-Key", "rate=60/m burst=60 key=header:X-Api-Key", 1000000 },
        { "key=cookie:sid rate=1/m burst=5", "rate=1/m burst=5 key=cookie:sid", 60000000 },
        { "rate=1000000/s", "rate=1000000/s burst=1000000 key=ip", 1 },
        { "off", "off", 0 },
    };
    static const struct { const char *line, *part; } bad[] = {
        { "", "missing rate" },
        { "burst=5", "missing rate" },
        { "rate=0/s", "rate \"0/s\"" },
        { "rate=10", "rate \"10\"" },
        { "rate=10/h", "rate \"10/h\"" },
        { "rate=x/s", "rate \"x/s\"" },
        { "rate=1000001/s", "1-1000000" },
        { "rate=1/s rate=2/s", "rate= is given twice" },
        { "rate=1/s burst=0", "burst \"0\"" },
        { "rate=1/s burst=", "burst \"\"" },
        { "rate=1/s burst=1 burst=2", "burst= is given twice" },
        { "rate=1/s key=host", "key \"host\"" },
        { "rate=1/s key=header:", "key \"header:\"" },
        { "rate=1/s key=header:a b", "unknown argument \"b\"" },
        { "rate=1/s key=cookie:a;b", "key \"cookie:a;b\"" },
        { "rate=1/s key=ip key=ip", "key= is given twice" },
        { "rate=1/s off", "off takes no other" },
        { "rate=1/s foo=1", "unknown argument \"foo=1\"" },
    };
    size_t i;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        np_rl_policy_t pol;
        print_message("ok %zu: %s\n", i, ok[i].line);
        pol = parse_ok(p, ok[i].line);
        assert_string_equal(pol.text, ok[i].text);
        assert_true(pol.interval == ok[i].interval);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *args[8], *last, *tok, *copy = apr_pstrdup(p, bad[i].line);
        int argc = 0;
        np_rl_policy_t pol;
        const char *err = NULL;
        for (tok = apr_strtok(copy, " ", &last); tok && argc < 8;
             tok = apr_strtok(NULL, " ", &last)) {
            args[argc++] = tok;
        }
        print_message("bad %zu: %s\n", i, bad[i].line);
        assert_int_not_equal(np_rl_parse(p, argc, (const char *const *)args, &pol, &err),
                             APR_SUCCESS);
        assert_non_null(err);
        print_message("  err: %s\n", err);
        assert_non_null(strstr(err, bad[i].part));
    }
}

static void test_worked_example(void **state)
{
    /* np_ratelimit.h: rate=2/s burst=3, requests at 0, 0, 0, 0, 0.6 s */
    np_rl_policy_t pol = parse_ok(*state, "rate=2/s burst=3");
    apr_time_t t0 = apr_time_from_sec(1000);
    apr_int64_t tat = 0;
    np_rl_result_t r;
    assert_true(np_rl_gcra(&tat, t0, &pol, &r));
    assert_int_equal(r.remaining, 2);
    assert_true(np_rl_gcra(&tat, t0, &pol, &r));
    assert_int_equal(r.remaining, 1);
    assert_true(np_rl_gcra(&tat, t0, &pol, &r));
    assert_int_equal(r.remaining, 0);
    assert_true(r.reset == MS(1500));
    assert_false(np_rl_gcra(&tat, t0, &pol, &r));
    assert_true(r.retry_after == MS(500));
    assert_int_equal(r.remaining, 0);
    assert_true(tat == t0 + MS(1500));           /* a refusal costs nothing */
    assert_true(np_rl_gcra(&tat, t0 + MS(600), &pol, &r));
    assert_int_equal(r.remaining, 0);
    /* idle for the whole bucket: full again */
    assert_true(np_rl_gcra(&tat, t0 + apr_time_from_sec(10), &pol, &r));
    assert_int_equal(r.remaining, 2);
}

static void test_burst_then_rate(void **state)
{
    /* rate=5/s burst=10: 10 at once, then 5 per second, over 4 s of
     * requests every 10 ms: 10 + 5 * 4 = 30 allowed (+1 at the edge) */
    np_rl_policy_t pol = parse_ok(*state, "rate=5/s burst=10");
    apr_time_t t0 = apr_time_from_sec(5000), t;
    apr_int64_t tat = 0;
    np_rl_result_t r;
    int allowed = 0, first = 0, k;
    for (k = 0; k < 50; k++) {
        first += np_rl_gcra(&tat, t0, &pol, &r);
    }
    assert_int_equal(first, 10);
    allowed = first;
    for (t = t0 + MS(10); t <= t0 + apr_time_from_sec(4); t += MS(10)) {
        allowed += np_rl_gcra(&tat, t, &pol, &r);
    }
    assert_int_equal(allowed, 30);
}

static void test_result_from(void **state)
{
    /* what a Redis store reports, turned into the same result */
    np_rl_policy_t pol = parse_ok(*state, "rate=2/s burst=3");
    np_rl_result_t a, b;
    apr_int64_t tat = 0;
    apr_time_t now = apr_time_from_sec(77);
    np_rl_gcra(&tat, now, &pol, &a);
    np_rl_result_from(&pol, 1, tat - now, &b);
    assert_memory_equal(&a, &b, sizeof(a));
    tat = now + MS(1500);
    np_rl_gcra(&tat, now, &pol, &a);
    np_rl_result_from(&pol, 0, MS(1500), &b);
    assert_memory_equal(&a, &b, sizeof(a));
}

static void test_table(void **state)
{
    apr_pool_t *p = *state;
    np_rl_policy_t pol = parse_ok(p, "rate=1/s burst=2");
    np_rl_table_t *t = apr_palloc(p, np_rl_table_size(64));
    apr_time_t now = apr_time_from_sec(100);
    np_rl_result_t r;
    apr_uint64_t k;
    np_rl_table_init(t, 64);
    assert_int_equal(np_rl_table_entries(t), 64);
    /* two keys: separate buckets */
    assert_true(np_rl_table_take(t, 11, now, &pol, &r));
    assert_true(np_rl_table_take(t, 11, now, &pol, &r));
    assert_false(np_rl_table_take(t, 11, now, &pol, &r));
    assert_true(np_rl_table_take(t, 22, now, &pol, &r));
    assert_true(np_rl_table_take(t, 22, now, &pol, &r));
    assert_false(np_rl_table_take(t, 22, now, &pol, &r));
    /* a second later, one more each */
    assert_true(np_rl_table_take(t, 11, now + apr_time_from_sec(1), &pol, &r));
    assert_false(np_rl_table_take(t, 11, now + apr_time_from_sec(1), &pol, &r));
    /* 10,000 other clients at once: the table does not grow (fixed size);
     * live entries get pushed out, counted */
    for (k = 1000; k < 11000; k++) {
        np_rl_table_take(t, k * 2654435761u, now + apr_time_from_sec(2), &pol, &r);
    }
    assert_int_equal(np_rl_table_entries(t), 64);
    assert_true(t->evictions > 0);
    /* entries of idle clients expire: 10,000 more later push nothing out */
    {
        apr_uint64_t ev = t->evictions;
        for (k = 20000; k < 20064; k++) {
            np_rl_table_take(t, k, now + apr_time_from_sec(100), &pol, &r);
        }
        assert_true(t->evictions - ev <= 64);
    }
    /* key 0 is a key like any other */
    assert_true(np_rl_table_take(t, 0, now, &pol, &r));
}

static void test_headers(void **state)
{
    apr_pool_t *p = *state;
    np_rl_policy_t pol = parse_ok(p, "rate=2/s burst=3");
    np_rl_result_t r;
    apr_int64_t tat = 0;
    apr_time_t now = apr_time_from_sec(9);
    assert_string_equal(np_rl_policy_header(p, &pol), "\"nodeproxy\";q=3;w=2");
    np_rl_gcra(&tat, now, &pol, &r);
    assert_string_equal(np_rl_header(p, &r), "\"nodeproxy\";r=2;t=1");
    np_rl_gcra(&tat, now, &pol, &r);
    np_rl_gcra(&tat, now, &pol, &r);
    np_rl_gcra(&tat, now, &pol, &r);
    assert_false(r.allowed);
    assert_string_equal(np_rl_header(p, &r), "\"nodeproxy\";r=0;t=2");
    assert_int_equal(np_rl_retry_secs(r.retry_after), 1);
    assert_int_equal(np_rl_retry_secs(0), 1);
    assert_int_equal(np_rl_retry_secs(apr_time_from_sec(59) + 1), 60);
    assert_string_equal(np_rl_json(p, 7),
                        "{\"status\":429,\"error\":\"too many requests\",\"retry_after\":7}\n");
    pol = parse_ok(p, "rate=60/m burst=10");
    assert_string_equal(np_rl_policy_header(p, &pol), "\"nodeproxy\";q=10;w=10");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_worked_example, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_burst_then_rate, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_result_from, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_table, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_headers, np_test_pool_setup, np_test_pool_teardown),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
