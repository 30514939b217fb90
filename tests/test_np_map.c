/* cmocka: NodeProxyPass targets, keys, longest-prefix matching and the
 * backend URI (prefix replacement, no escape from the target prefix). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>
#include <apr_strings.h>

#include "np_map.h"


static const struct {
    const char *in;
    int ok;
    np_target_kind_e kind;
    const char *host, *authority, *path, *key, *sock;
    unsigned int port;
    const char *err_part;
} targets[] = {
    { "http://127.0.0.1:3000/", 1, NP_TARGET_HTTP, "127.0.0.1", "127.0.0.1:3000", "/", "http://127.0.0.1:3000", NULL, 3000, NULL },
    { "http://localhost", 1, NP_TARGET_HTTP, "localhost", "localhost", "/", "http://localhost:80", NULL, 80, NULL },
    { "HTTP://app:8080/base/x", 1, NP_TARGET_HTTP, "app", "app:8080", "/base/x", "http://app:8080", NULL, 8080, NULL },
    { "http://[::1]:3001/", 1, NP_TARGET_HTTP, "::1", "[::1]:3001", "/", "http://::1:3001", NULL, 3001, NULL },
    { "unix:/run/app.sock|http://localhost/", 1, NP_TARGET_UNIX, "localhost", "localhost", "/", "unix:/run/app.sock", "/run/app.sock", 80, NULL },
    { "unix:/run/app.sock|http://localhost/api", 1, NP_TARGET_UNIX, "localhost", "localhost", "/api", "unix:/run/app.sock", "/run/app.sock", 80, NULL },
    { "balancer://app/", 1, NP_TARGET_BALANCER, "app", "app", "/", "balancer://app", NULL, 0, NULL },
    { "balancer://app", 1, NP_TARGET_BALANCER, "app", "app", "/", "balancer://app", NULL, 0, NULL },
    { "", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "missing target" },
    { "ftp://x/", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "unknown scheme" },
    { "127.0.0.1:3000", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "unknown scheme" },
    { "http://", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "no host" },
    { "http://h:0/", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "bad port" },
    { "http://h:70000/", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "bad port" },
    { "http://h:30x/", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "bad port" },
    { "http://h:/", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "empty port" },
    { "http://h/?q", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "query" },
    { "http://u@h/", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "user info" },
    { "http://[::1/", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "IPv6" },
    { "unix:/s.sock", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "unix:/path" },
    { "unix:rel.sock|http://localhost/", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "unix:/path" },
    { "unix:/s.sock|ftp://x/", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "only http://" },
    { "balancer:///", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, "balancer name" },
};

static void test_targets(void **state)
{
    size_t i;
    for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        np_target_t t;
        const char *err = NULL;
        apr_status_t rv = np_target_parse(*state, targets[i].in, &t, &err);
        print_message("row %zu: %s\n", i, targets[i].in);
        if (!targets[i].ok) {
            assert_int_not_equal(rv, APR_SUCCESS);
            assert_non_null(err);
            assert_non_null(strstr(err, targets[i].err_part));
            continue;
        }
        assert_int_equal(rv, APR_SUCCESS);
        assert_int_equal(t.kind, targets[i].kind);
        assert_string_equal(t.host, targets[i].host);
        assert_string_equal(t.authority, targets[i].authority);
        assert_string_equal(t.path, targets[i].path);
        assert_string_equal(t.key, targets[i].key);
        assert_int_equal(t.port, targets[i].port);
        if (targets[i].sock) {
            assert_string_equal(t.sock_path, targets[i].sock);
        }
    }
}

static void test_keys(void **state)
{
    np_mapping_t m;
    const char *err;
    memset(&m, 0, sizeof(m));
    m.timeout = m.connect_timeout = NP_UNSET;
    m.websocket = m.preserve_host = m.reverse = NP_UNSET;
    assert_int_equal(np_mapping_set_key(*state, &m, "timeout=90s", &err), APR_SUCCESS);
    assert_int_equal(m.timeout, apr_time_from_sec(90));
    assert_int_equal(np_mapping_set_key(*state, &m, "connecttimeout=500ms", &err), APR_SUCCESS);
    assert_int_equal(m.connect_timeout, apr_time_from_msec(500));
    assert_int_equal(np_mapping_set_key(*state, &m, "websocket=off", &err), APR_SUCCESS);
    assert_int_equal(m.websocket, 0);
    assert_int_equal(np_mapping_set_key(*state, &m, "preservehost=On", &err), APR_SUCCESS);
    assert_int_equal(m.preserve_host, 1);
    assert_int_equal(np_mapping_set_key(*state, &m, "reverse=off", &err), APR_SUCCESS);
    assert_int_equal(m.reverse, 0);

    assert_int_not_equal(np_mapping_set_key(*state, &m, "foo=bar", &err), APR_SUCCESS);
    assert_non_null(strstr(err, "unknown key \"foo\""));
    assert_int_not_equal(np_mapping_set_key(*state, &m, "timeout=5x", &err), APR_SUCCESS);
    assert_non_null(strstr(err, "5x"));
    assert_int_not_equal(np_mapping_set_key(*state, &m, "timeout=0", &err), APR_SUCCESS);
    assert_int_not_equal(np_mapping_set_key(*state, &m, "reverse=maybe", &err), APR_SUCCESS);
    assert_non_null(strstr(err, "on or off"));
    assert_int_not_equal(np_mapping_set_key(*state, &m, "timeout", &err), APR_SUCCESS);
    assert_int_not_equal(np_mapping_set_key(*state, &m, "=1", &err), APR_SUCCESS);
}

static void test_paths(void **state)
{
    const char *err;
    assert_int_equal(np_mapping_check_path(*state, "/api/", &err), APR_SUCCESS);
    assert_int_not_equal(np_mapping_check_path(*state, "api", &err), APR_SUCCESS);
    assert_int_not_equal(np_mapping_check_path(*state, "/a?b", &err), APR_SUCCESS);
    assert_int_not_equal(np_mapping_check_path(*state, NULL, &err), APR_SUCCESS);
}

static np_mapping_t *mapping(apr_pool_t *p, const char *path, const char *target)
{
    np_mapping_t *m = apr_pcalloc(p, sizeof(*m));
    const char *err;
    m->path = path;
    m->path_len = strlen(path);
    if (strcmp(target, "!") == 0) {
        m->exclude = 1;
    }
    else {
        assert_int_equal(np_target_parse(p, target, &m->target, &err), APR_SUCCESS);
    }
    return m;
}

static void test_prefix_boundaries(void **state)
{
    static const struct { const char *prefix, *uri; int match; } rows[] = {
        { "/api", "/api", 1 }, { "/api", "/api/", 1 }, { "/api", "/api/x", 1 },
        { "/api", "/apiary", 0 }, { "/api/", "/api", 0 }, { "/api/", "/api/x", 1 },
        { "/api/", "/api/", 1 }, { "/", "/anything", 1 }, { "/", "/", 1 },
        { "/a/b", "/a/bc", 0 }, { "/a/b", "/a/b/c", 1 }, { "/api", "/ap", 0 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu: %s vs %s\n", i, rows[i].prefix, rows[i].uri);
        assert_int_equal(np_map_prefix_matches(rows[i].prefix,
                         strlen(rows[i].prefix), rows[i].uri), rows[i].match);
    }
}

static void test_longest_wins_any_order(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *own = apr_array_make(p, 4, sizeof(np_mapping_t *));
    apr_array_header_t *main_s = apr_array_make(p, 4, sizeof(np_mapping_t *));
    np_map_t *map;
    /* Written shortest first: the order must not matter. */
    APR_ARRAY_PUSH(own, np_mapping_t *) = mapping(p, "/", "http://h:1/");
    APR_ARRAY_PUSH(own, np_mapping_t *) = mapping(p, "/api", "http://h:2/");
    APR_ARRAY_PUSH(own, np_mapping_t *) = mapping(p, "/api/static/", "!");
    APR_ARRAY_PUSH(own, np_mapping_t *) = mapping(p, "/api/v2/", "http://h:3/");
    APR_ARRAY_PUSH(main_s, np_mapping_t *) = mapping(p, "/api", "http://main:9/");
    APR_ARRAY_PUSH(main_s, np_mapping_t *) = mapping(p, "/admin/", "http://main:8/");
    map = np_map_compile(p, own, main_s);
    assert_int_equal(map->n, 5);   /* main's /api is shadowed by the vhost's */

    assert_int_equal(np_map_match(map, "/x")->target.port, 1);
    assert_int_equal(np_map_match(map, "/apiary")->target.port, 1);
    assert_int_equal(np_map_match(map, "/api")->target.port, 2);
    assert_int_equal(np_map_match(map, "/api/v1/x")->target.port, 2);
    assert_int_equal(np_map_match(map, "/api/v2/x")->target.port, 3);
    assert_int_equal(np_map_match(map, "/api/v2")->target.port, 2);
    assert_true(np_map_match(map, "/api/static/app.js")->exclude);
    assert_int_equal(np_map_match(map, "/admin/users")->target.port, 8);
    assert_null(np_map_match(map, "*"));
}

static void test_backend_uri(void **state)
{
    static const struct { const char *path, *target, *uri, *args, *want; } rows[] = {
        { "/api/", "http://h:1/", "/api/a/b", "x=1", "/a/b?x=1" },
        { "/api/", "http://h:1/", "/api/", NULL, "/" },
        { "/api", "http://h:1/", "/api", NULL, "/" },
        { "/api", "http://h:1/", "/api/a", NULL, "/a" },
        { "/pfx", "http://h:1/base", "/pfx/a/b", "x=1&y=%20", "/base/a/b?x=1&y=%20" },
        { "/pfx", "http://h:1/base", "/pfx", NULL, "/base" },
        { "/", "http://h:1/", "/a b/c", NULL, "/a%20b/c" },
        { "/", "http://h:1/app/", "/x", "", "/app/x" },
        /* Decoded characters are re-escaped: "%3F" must not become a query. */
        { "/", "http://h:1/", "/a?b#c%", NULL, "/a%3Fb%23c%25" },
        { "/loc", "http://h:1/l", "/loc/z", NULL, "/l/z" },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        np_mapping_t *m = mapping(*state, rows[i].path, rows[i].target);
        print_message("row %zu: %s\n", i, rows[i].uri);
        assert_string_equal(np_map_backend_uri(*state, m, rows[i].uri,
                                               rows[i].args), rows[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_targets, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_keys, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_paths, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_prefix_boundaries, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_longest_wins_any_order, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_backend_uri, np_test_pool_setup, np_test_pool_teardown),
    };
    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
