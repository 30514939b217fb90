/* test_np_uri.c — cmocka tests for proxy/np_uri.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "np_uri.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Quiet on success; on failure name the table row, which cmocka cannot. */
#define EXPECT_STR(i, got, want) do {                                   \
        const char *got_ = (got), *want_ = (want);                      \
        if (got_ == NULL || want_ == NULL || strcmp(got_, want_) != 0) { \
            print_error("row %zu: %s = \"%s\", want \"%s\"\n",          \
                        (size_t)(i), #got, got_ ? got_ : "(null)",      \
                        want_ ? want_ : "(null)");                      \
        }                                                               \
        assert_non_null(got_);                                          \
        assert_non_null(want_);                                         \
        assert_string_equal(got_, want_);                               \
    } while (0)

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
    const char *in;
    const char *out;
} escape_case_t;

static const escape_case_t escape_cases[] = {
    /* nothing to escape: must come back as the same pointer (checked) */
    { "/",                          "/" },
    { "",                           "" },
    { "/a/b/c.html",                "/a/b/c.html" },
    { "/AZaz09-._~",                "/AZaz09-._~" },
    { "/!$&'()*+,;=",               "/!$&'()*+,;=" },
    { "/user:pw@host/x",            "/user:pw@host/x" },
    /* escaped */
    { "/a b",                       "/a%20b" },
    { "/100%",                      "/100%25" },
    { "/%41",                       "/%2541" },      /* input is decoded */
    { "/a?b",                       "/a%3Fb" },
    { "/a#b",                       "/a%23b" },
    { "/\"<>\\^`{|}[]",             "/%22%3C%3E%5C%5E%60%7B%7C%7D%5B%5D" },
    { "/\t\r\n\x01\x7f",            "/%09%0D%0A%01%7F" },
    { "/caf\xc3\xa9",               "/caf%C3%A9" },  /* UTF-8 e-acute */
    { "/\xff\x80",                  "/%FF%80" },
    { "  ",                         "%20%20" },
};

static void test_escape_path(void **state)
{
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < N_ELEMS(escape_cases); i++) {
        const escape_case_t *c = &escape_cases[i];
        const char *got = np_uri_escape_path(p, c->in);

        EXPECT_STR(i, got, c->out);
        if (strcmp(c->in, c->out) == 0) {
            /* the no-allocation promise of the hot path */
            assert_ptr_equal(got, c->in);
        }
    }
    assert_null(np_uri_escape_path(p, NULL));
}

typedef struct {
    const char *a, *b;
    const char *out;
} join_case_t;

static const join_case_t join_cases[] = {
    /* the contract's examples */
    { "/app/",  "/x",     "/app/x" },
    { "/app",   "x",      "/app/x" },
    { "/app",   "",       "/app" },
    { "/",      "",       "/" },
    { "/app/",  "",       "/app/" },
    { "",       "/x",     "/x" },
    { "",       "",       "/" },
    /* more seams */
    { "/app",   "/x",     "/app/x" },
    { "/app/",  "x",      "/app/x" },
    { "/app",   "/",      "/app/" },
    { "/app/",  "/",      "/app/" },
    { "/",      "/",      "/" },
    { "/",      "x",      "/x" },
    { "/",      "/x/",    "/x/" },
    { "",       "x",      "/x" },
    { "/app//", "//x",    "/app/x" },    /* every seam slash collapses */
    { "/a/b",   "c/d/",   "/a/b/c/d/" },
    { "/app",   "x//y",   "/app/x//y" }, /* only the seam is touched */
    { NULL,     "/x",     "/x" },
    { "/app",   NULL,     "/app" },
    { NULL,     NULL,     "/" },
};

static void test_join(void **state)
{
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < N_ELEMS(join_cases); i++) {
        const join_case_t *c = &join_cases[i];

        EXPECT_STR(i, np_uri_join(p, c->a, c->b), c->out);
    }
}

typedef struct {
    const char *path;
    int bad;
} dot_case_t;

static const dot_case_t dot_cases[] = {
    { "/app/..;/admin", 1 },
    { "/..;/admin", 1 },
    { "/app/..;jsessionid=x/admin", 1 },
    { "/app/.;/admin", 1 },
    { "/app/..\\admin", 1 },
    { "/app\\..\\admin", 1 },
    { "/app/..\\..\\admin", 1 },
    { "/a\\.\\b", 1 },
    { "/app/x\\..", 1 },
    { "/app/..;", 1 },
    /* not dot-segments */
    { "/app/a..b;c", 0 },
    { "/app/x..\\y", 0 },
    { "/app/...;/x", 0 },
    { "/.well-known/acme", 0 },
    { "/app/.hidden", 0 },
    { "/app/;..", 0 },
    { "/app//x", 0 },
    { "/", 0 },
    { "", 0 },
};

static void test_dot_segment(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(dot_cases); i++) {
        if (np_uri_has_dot_segment(dot_cases[i].path) != dot_cases[i].bad) {
            print_error("row %zu: \"%s\": want %d\n", i, dot_cases[i].path,
                        dot_cases[i].bad);
            fail();
        }
    }
    assert_int_equal(np_uri_has_dot_segment(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_escape_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dot_segment, setup, teardown),
    };
    int rc;

    if (apr_initialize() != APR_SUCCESS) {
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
