/* cmocka: NodeRateLimitStore redis:// - the URL (host, [IPv6], port, /DB),
 * the options (AUTH with a password or an ACL user, TLS: rediss:// or
 * tls=on, ca=/cert=/key=/verify=/sni=), what is refused and why, the name
 * logs use and what TLS sends as SNI and checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>
#include <apr_strings.h>

#include "np_redis.h"

static apr_status_t parse(apr_pool_t *p, const char *line, np_rl_redis_t *r,
                          const char **err)
{
    char *args[16];
    char *last, *tok, *copy = apr_pstrdup(p, line);
    int argc = 0;
    for (tok = apr_strtok(copy, " ", &last); tok && argc < 16;
         tok = apr_strtok(NULL, " ", &last)) {
        args[argc++] = tok;
    }
    *err = NULL;
    return np_rl_redis_parse(p, argc, (const char *const *)args, r, err);
}

static np_rl_redis_t parse_ok(apr_pool_t *p, const char *line)
{
    np_rl_redis_t r;
    const char *err;
    if (parse(p, line, &r, &err) != APR_SUCCESS) {
        print_message("%s: %s\n", line, err);
        fail();
    }
    return r;
}

static void test_url(void **state)
{
    apr_pool_t *p = *state;
    static const struct { const char *line, *host, *url; int port, db, tls; } ok[] = {
        { "redis://127.0.0.1", "127.0.0.1", "redis://127.0.0.1:6379/0", 6379, 0, 0 },
        { "redis://10.0.0.5:6380/2", "10.0.0.5", "redis://10.0.0.5:6380/2", 6380, 2, 0 },
        { "REDIS://cache.example:7000/", "cache.example", "redis://cache.example:7000/0", 7000, 0, 0 },
        { "rediss://cache.example", "cache.example", "rediss://cache.example:6379/0", 6379, 0, 1 },
        { "redis://[::1]:6390/3", "::1", "redis://[::1]:6390/3", 6390, 3, 0 },
        { "rediss://[2001:db8::5]", "2001:db8::5", "rediss://[2001:db8::5]:6379/0", 6379, 0, 1 },
        { "redis://h:1/0 tls=on", "h", "rediss://h:1/0", 1, 0, 1 },
    };
    size_t i;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        np_rl_redis_t r;
        print_message("ok %zu: %s\n", i, ok[i].line);
        r = parse_ok(p, ok[i].line);
        assert_string_equal(r.host, ok[i].host);
        assert_int_equal(r.port, ok[i].port);
        assert_int_equal(r.db, ok[i].db);
        assert_int_equal(r.tls, ok[i].tls);
        assert_int_equal(r.verify, 1);
        assert_true(r.timeout == NP_RL_REDIS_TIMEOUT);
        assert_null(r.password);
        assert_null(r.user);
        assert_string_equal(np_rl_redis_url(p, &r), ok[i].url);
    }
}

static void test_options(void **state)
{
    apr_pool_t *p = *state;
    np_rl_redis_t r;

    r = parse_ok(p, "redis://h password=s3cret timeout=30ms");
    assert_string_equal(r.password, "s3cret");
    assert_null(r.user);
    assert_true(r.timeout == apr_time_from_msec(30));

    r = parse_ok(p, "redis://h user=np password=pw");
    assert_string_equal(r.user, "np");
    assert_string_equal(r.password, "pw");

    r = parse_ok(p, "rediss://redis.internal:6380/1 user=np password=pw "
                    "ca=/etc/np/ca.pem cert=client.crt key=client.key sni=redis.example");
    assert_int_equal(r.tls, 1);
    assert_int_equal(r.verify, 1);
    assert_string_equal(r.ca, "/etc/np/ca.pem");
    assert_string_equal(r.cert, "client.crt");
    assert_string_equal(r.key, "client.key");
    assert_string_equal(r.sni, "redis.example");

    r = parse_ok(p, "redis://h TLS=ON Verify=Off cert=both.pem");
    assert_int_equal(r.tls, 1);
    assert_int_equal(r.verify, 0);
    assert_string_equal(r.cert, "both.pem");
    assert_null(r.key);
}

static void test_bad(void **state)
{
    apr_pool_t *p = *state;
    static const struct { const char *line, *part; } bad[] = {
        { "http://h", "is not a redis:// or rediss:// URL" },
        { "redis://", "has no host" },
        { "redis://:6379", "has no host" },
        { "redis://h:0", "bad port" },
        { "redis://h:65536", "bad port" },
        { "redis://h:x", "bad port" },
        { "redis://h/x", "bad database" },
        { "redis://[::1", "bad [IPv6] host" },
        { "redis://[::1]x", "bad [IPv6] host" },
        { "redis://u:pw@h", "not in the URL" },
        { "redis://h foo=1", "unknown option \"foo=1\"" },
        { "redis://h password", "unknown option \"password\"" },
        { "redis://h password=", "password= needs a value" },
        { "redis://h password=a password=b", "password= is given twice" },
        { "redis://h timeout=0", "timeout \"0\"" },
        { "redis://h timeout=6s", "timeout \"6s\"" },
        { "redis://h tls=yes", "tls=\"yes\": use on or off" },
        { "rediss://h tls=off", "tls=off contradicts rediss://" },
        { "redis://h ca=/x.pem", "ca= is a TLS option" },
        { "redis://h tls=off cert=/x.pem", "cert= is a TLS option" },
        { "redis://h verify=off", "verify= is a TLS option" },
        { "redis://h sni=a.b", "sni= is a TLS option" },
        { "rediss://h verify=maybe", "verify=\"maybe\"" },
        { "rediss://h key=/k.pem", "key= needs cert=" },
        { "rediss://h sni=10.0.0.1", "cannot be an IP address" },
        { "rediss://h sni=a_b", "'_' is not allowed" },
        { "redis://h user=np", "user= needs password=" },
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        np_rl_redis_t r;
        const char *err;
        print_message("bad %zu: %s\n", i, bad[i].line);
        assert_int_not_equal(parse(p, bad[i].line, &r, &err), APR_SUCCESS);
        assert_non_null(err);
        if (!strstr(err, bad[i].part)) {
            print_message("  got: %s\n", err);
            fail();
        }
    }
}

static void test_peer(void **state)
{
    apr_pool_t *p = *state;
    np_rl_redis_t r;
    const char *sni, *name, *ip;

    r = parse_ok(p, "rediss://redis.internal:6380");
    np_rl_redis_peer(&r, &sni, &name, &ip);
    assert_string_equal(sni, "redis.internal");
    assert_string_equal(name, "redis.internal");
    assert_null(ip);

    r = parse_ok(p, "rediss://127.0.0.1:6380");     /* no SNI to an address */
    np_rl_redis_peer(&r, &sni, &name, &ip);
    assert_null(sni);
    assert_null(name);
    assert_string_equal(ip, "127.0.0.1");

    r = parse_ok(p, "rediss://[::1]:6380");
    np_rl_redis_peer(&r, &sni, &name, &ip);
    assert_null(sni);
    assert_string_equal(ip, "::1");

    r = parse_ok(p, "rediss://10.1.2.3 sni=redis.example");  /* checked too */
    np_rl_redis_peer(&r, &sni, &name, &ip);
    assert_string_equal(sni, "redis.example");
    assert_string_equal(name, "redis.example");
    assert_null(ip);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_url, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_options, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_bad, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer, np_test_pool_setup, np_test_pool_teardown),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
