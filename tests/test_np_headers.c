/* test_np_headers.c — cmocka tests for proxy/np_headers.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "np_headers.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Quiet on success; on failure name the table row, which cmocka cannot. */
#define EXPECT_INT(i, got, want) do {                                   \
        int got_ = (got), want_ = (want);                               \
        if (got_ != want_) {                                            \
            print_error("row %zu: %s = %d, want %d\n", (size_t)(i),     \
                        #got, got_, want_);                             \
        }                                                               \
        assert_int_equal(got_, want_);                                  \
    } while (0)

/* These units never allocate; the per-test pool keeps every unit's
 * fixtures alike (and catches an APR that fails to initialise). */
static int setup(void **state)
{
    apr_pool_t *p = NULL;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return -1;
    }
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

typedef struct {
    const char *name;
    int hop, fwd, framing;
} class_case_t;

static const class_case_t class_cases[] = {
    /* name                  hop fwd framing */
    { "Connection",           1, 0, 0 },
    { "connection",           1, 0, 0 },
    { "Keep-Alive",           1, 0, 0 },
    { "TE",                   1, 0, 0 },
    { "te",                   1, 0, 0 },
    { "Trailer",              1, 0, 0 },
    { "Transfer-Encoding",    1, 0, 1 },
    { "TRANSFER-ENCODING",    1, 0, 1 },
    { "Upgrade",              1, 0, 0 },
    { "Proxy-Connection",     1, 0, 0 },
    { "Proxy-Authorization",  1, 0, 0 },
    { "Proxy-Authenticate",   1, 0, 0 },
    { "Content-Length",       0, 0, 1 },
    { "content-length",       0, 0, 1 },
    { "X-Forwarded-For",      0, 1, 0 },
    { "x-forwarded-for",      0, 1, 0 },
    { "X-Forwarded-Proto",    0, 1, 0 },
    { "X-Forwarded-Host",     0, 1, 0 },
    { "X-Forwarded-Port",     0, 1, 0 },
    { "X-Forwarded-Prefix",   0, 1, 0 },
    { "Forwarded",            0, 1, 0 },
    { "FORWARDED",            0, 1, 0 },
    /* near misses must not match */
    { "Trailers",             0, 0, 0 },
    { "TE ",                  0, 0, 0 },
    { "X-Forwarded",          0, 0, 0 },
    { "X-Forwarded-Server",   0, 0, 0 },
    { "Content-Length2",      0, 0, 0 },
    { "Authorization",        0, 0, 0 },
    { "Host",                 0, 0, 0 },
    { "Expect",               0, 0, 0 },
    { "",                     0, 0, 0 },
};

static void test_classes(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(class_cases); i++) {
        const class_case_t *c = &class_cases[i];

        EXPECT_INT(i, np_header_is_hop_by_hop(c->name), c->hop);
        EXPECT_INT(i, np_header_is_forwarded(c->name), c->fwd);
        EXPECT_INT(i, np_header_is_framing(c->name), c->framing);
    }
    assert_int_equal(np_header_is_hop_by_hop(NULL), 0);
    assert_int_equal(np_header_is_forwarded(NULL), 0);
    assert_int_equal(np_header_is_framing(NULL), 0);
}

typedef struct {
    const char *conn;
    const char *name;
    int expect;
} conn_case_t;

static const conn_case_t conn_cases[] = {
    { "close",                       "close",      1 },
    { "close, X-Foo , keep-alive",   "x-foo",      1 },
    { "close, X-Foo , keep-alive",   "Keep-Alive", 1 },
    { "close, X-Foo , keep-alive",   "close",      1 },
    { "close,X-Foo,keep-alive",      "X-Foo",      1 },
    { "\tX-Foo\t",                   "X-Foo",      1 },
    { ",, ,X-Foo,,",                 "X-Foo",      1 },
    { "Upgrade",                     "upgrade",    1 },
    /* tokens, not substrings */
    { "X-Foo-Bar",                   "X-Foo",      0 },
    { "X-Foo",                       "X-Foo-Bar",  0 },
    { "X-Fo",                        "X-Foo",      0 },
    { "X-Foo Bar",                   "X-Foo",      0 },
    { "",                            "X-Foo",      0 },
    { " , ",                         "X-Foo",      0 },
    { "close",                       "",           0 },
    { NULL,                          "X-Foo",      0 },
    { "X-Foo",                       NULL,         0 },
};

static void test_in_connection(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(conn_cases); i++) {
        const conn_case_t *c = &conn_cases[i];

        EXPECT_INT(i, np_header_in_connection(c->conn, c->name), c->expect);
    }
}

typedef struct {
    const char *name;
    const char *conn;
    int trusted;
    int expect;
} req_case_t;

static const req_case_t req_cases[] = {
    /* ordinary end-to-end headers pass */
    { "Accept",              NULL,                   0, 0 },
    { "Cookie",              "keep-alive",           0, 0 },
    { "Authorization",       NULL,                   0, 0 },
    { "Host",                NULL,                   0, 0 },
    /* hop-by-hop, framing and Expect always go */
    { "Connection",          NULL,                   1, 1 },
    { "Keep-Alive",          NULL,                   1, 1 },
    { "TE",                  NULL,                   1, 1 },
    { "Trailer",             NULL,                   1, 1 },
    { "Transfer-Encoding",   NULL,                   1, 1 },
    { "Upgrade",             NULL,                   1, 1 },
    { "Proxy-Connection",    NULL,                   1, 1 },
    { "Proxy-Authorization", NULL,                   1, 1 },
    { "Proxy-Authenticate",  NULL,                   1, 1 },
    { "Content-Length",      NULL,                   1, 1 },
    { "Expect",              NULL,                   1, 1 },
    { "expect",              NULL,                   0, 1 },
    /* httpoxy (CVE-2016-5387): Proxy never reaches the app */
    { "Proxy",               NULL,                   1, 1 },
    { "proxy",               NULL,                   0, 1 },
    { "Proxy-X",             NULL,                   0, 0 },
    /* named in Connection */
    { "X-Foo",               "close, X-Foo",         0, 1 },
    { "x-foo",               "X-FOO",                1, 1 },
    { "X-Bar",               "close, X-Foo",         0, 0 },
    { "Cookie",              "Cookie",               0, 1 },
    /* Connection cannot strip Host or the forwarded headers */
    { "Host",                "Host",                 0, 0 },
    { "host",                "close, HOST",          1, 0 },
    { "X-Forwarded-For",     "X-Forwarded-For",      1, 0 },
    { "Forwarded",           "forwarded",            1, 0 },
    { "X-Forwarded-Prefix",  "X-Forwarded-Prefix",   1, 0 },
    /* forwarded headers only survive from a trusted peer */
    { "X-Forwarded-For",     NULL,                   0, 1 },
    { "X-Forwarded-For",     NULL,                   1, 0 },
    { "x-forwarded-proto",   NULL,                   0, 1 },
    { "X-Forwarded-Host",    NULL,                   0, 1 },
    { "X-Forwarded-Port",    NULL,                   0, 1 },
    { "X-Forwarded-Prefix",  NULL,                   0, 1 },
    { "Forwarded",           NULL,                   0, 1 },
    { "Forwarded",           NULL,                   1, 0 },
    { "X-Forwarded-Proto",   "X-Forwarded-Proto",    0, 1 },
    /* a header the spec does not treat as forwarded is ordinary */
    { "X-Forwarded-Server",  NULL,                   0, 0 },
    { "X-Real-IP",           NULL,                   0, 0 },
};

/* X-Real-IP and friends: the glue drops them unless the peer is trusted */
static void test_client_ip(void **state)
{
    (void)state;
    assert_int_equal(np_header_is_client_ip("X-Real-IP"), 1);
    assert_int_equal(np_header_is_client_ip("x-real-ip"), 1);
    assert_int_equal(np_header_is_client_ip("X-Client-IP"), 1);
    assert_int_equal(np_header_is_client_ip("True-Client-IP"), 1);
    assert_int_equal(np_header_is_client_ip("X-Real-IPs"), 0);
    assert_int_equal(np_header_is_client_ip("X-Forwarded-For"), 0);
    assert_int_equal(np_header_is_client_ip(NULL), 0);
}

static void test_request_dropped(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(req_cases); i++) {
        const req_case_t *c = &req_cases[i];

        EXPECT_INT(i, np_request_header_dropped(c->name, c->conn, c->trusted),
                   c->expect);
    }
    assert_int_equal(np_request_header_dropped(NULL, "x", 0), 0);
}

typedef struct {
    const char *name;
    const char *conn;
    int expect;
} resp_case_t;

static const resp_case_t resp_cases[] = {
    { "Content-Type",        NULL,                0 },
    { "Set-Cookie",          "keep-alive",        0 },
    { "Location",            NULL,                0 },
    /* the backend's forwarded-looking headers are its business */
    { "X-Forwarded-For",     NULL,                0 },
    { "Connection",          NULL,                1 },
    { "Keep-Alive",          NULL,                1 },
    { "Transfer-Encoding",   NULL,                1 },
    { "Content-Length",      NULL,                1 },
    { "Upgrade",             NULL,                1 },
    { "Trailer",             NULL,                1 },
    { "Proxy-Authenticate",  NULL,                1 },
    { "Proxy-Connection",    NULL,                1 },
    { "X-Internal",          "close, x-internal", 1 },
    { "X-Internal",          "close",             0 },
    { "Set-Cookie",          "Set-Cookie",        1 },
};

static void test_response_dropped(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(resp_cases); i++) {
        const resp_case_t *c = &resp_cases[i];

        EXPECT_INT(i, np_response_header_dropped(c->name, c->conn), c->expect);
    }
    assert_int_equal(np_response_header_dropped(NULL, NULL), 0);
}

typedef struct {
    const char *method;
    int expect;
} method_case_t;

static const method_case_t method_cases[] = {
    { "GET", 1 }, { "HEAD", 1 }, { "OPTIONS", 1 }, { "TRACE", 1 },
    { "PUT", 1 }, { "DELETE", 1 },
    { "POST", 0 }, { "PATCH", 0 }, { "CONNECT", 0 }, { "PROPFIND", 0 },
    /* methods are case-sensitive tokens (RFC 9110 9.1) */
    { "get", 0 }, { "Get", 0 },
    { "GETX", 0 }, { "GE", 0 }, { "", 0 }, { NULL, 0 },
};

static void test_method_idempotent(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(method_cases); i++) {
        const method_case_t *c = &method_cases[i];

        EXPECT_INT(i, np_method_idempotent(c->method), c->expect);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_idempotent, setup, teardown),
    };
    int rc;

    if (apr_initialize() != APR_SUCCESS) {
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
