/* test_np_reverse.c — cmocka tests for proxy/np_reverse.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "np_reverse.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

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

/* Mappings under test, named P_T. Field order: backend_authority,
 * target_path (T), mapped_path (P), client_scheme, client_host,
 * preserve_host. */
static const np_reverse_t api_root =        /* /api/ -> http://127.0.0.1:3000/ */
    { "127.0.0.1:3000", "/", "/api/", "http", "client.example", 0 };
static const np_reverse_t api_root_ph =     /* same, NodePreserveHost on */
    { "127.0.0.1:3000", "/", "/api/", "http", "client.example", 1 };
static const np_reverse_t api_root_tls =    /* https client, Host with port */
    { "127.0.0.1:3000", "/", "/api/", "https", "client.example:8443", 1 };
static const np_reverse_t api_app =         /* /api/ -> .../app/ */
    { "127.0.0.1:3000", "/app/", "/api/", "http", "client.example", 0 };
static const np_reverse_t api_app_noslash = /* /api -> .../app */
    { "127.0.0.1:3000", "/app", "/api", "http", "client.example", 0 };
static const np_reverse_t apis_app =        /* /api/ -> .../app */
    { "127.0.0.1:3000", "/app", "/api/", "http", "client.example", 0 };
static const np_reverse_t api_apps =        /* /api -> .../app/ */
    { "127.0.0.1:3000", "/app/", "/api", "http", "client.example", 0 };
static const np_reverse_t root_app =        /* / -> .../app/ */
    { "127.0.0.1:3000", "/app/", "/", "http", "client.example", 0 };
static const np_reverse_t root_root =       /* / -> .../ */
    { "127.0.0.1:3000", "/", "/", "http", "client.example", 1 };
static const np_reverse_t api_identity =    /* /api -> .../api/ */
    { "127.0.0.1:3000", "/api/", "/api", "http", "client.example", 0 };
static const np_reverse_t api_apiv1 =       /* /api -> .../api/v1: T under P */
    { "127.0.0.1:3000", "/api/v1", "/api", "http", "client.example", 0 };
static const np_reverse_t apiv1_api =       /* /api/v1 -> .../api: P under T */
    { "127.0.0.1:3000", "/api", "/api/v1", "http", "client.example", 0 };
static const np_reverse_t unix_api =        /* /api/ -> unix:...|http://localhost/ */
    { "localhost", "/", "/api/", "http", "client.example", 0 };

typedef struct {
    const np_reverse_t *rv;
    const char *in;
    const char *out;   /* NULL: unchanged, and the input pointer comes back */
} rev_case_t;

/* Quiet on success; on failure name the row, which cmocka cannot. */
static void check(const char *fn, size_t row, const rev_case_t *c,
                  const char *got)
{
    const char *want = c->out != NULL ? c->out : c->in;

    if (got == NULL || strcmp(got, want) != 0
        || (c->out == NULL && got != c->in)) {
        print_error("%s row %zu: \"%s\" -> \"%s\", want \"%s\"%s\n", fn, row,
                    c->in, got ? got : "(null)", want,
                    c->out == NULL ? " (same pointer)" : "");
        fail();
    }
}

static const rev_case_t url_cases[] = {
    /* P="/api/", T="/": (c) path-absolute values */
    { &api_root, "/login",                          "/api/login" },
    { &api_root, "/",                               "/api/" },
    { &api_root, "/a/b/",                           "/api/a/b/" },
    { &api_root, "/?next=/x",                       "/api/?next=/x" },
    { &api_root, "/login#top",                      "/api/login#top" },
    { &api_root, "/login?a=1#top",                  "/api/login?a=1#top" },
    { &api_root, "/a%20b",                          "/api/a%20b" },
    { &api_root, "/apiary",                         "/api/apiary" },
    /* already under P: the app knows its prefix */
    { &api_root, "/api/x",                          NULL },
    { &api_root, "/api",                            NULL },
    { &api_root, "/api/",                           NULL },
    { &api_root, "/api?x=1",                        NULL },
    /* (a) absolute URL at the backend */
    { &api_root, "http://127.0.0.1:3000/x?y=1#f",   "http://client.example/api/x?y=1#f" },
    { &api_root, "HTTP://127.0.0.1:3000/x",         "http://client.example/api/x" },
    { &api_root, "https://127.0.0.1:3000/x",        "http://client.example/api/x" },
    { &api_root, "http://127.0.0.1:3000",           "http://client.example/api/" },
    { &api_root, "http://127.0.0.1:3000?x=1",       "http://client.example/api/?x=1" },
    { &api_root, "http://127.0.0.1:3000#f",         "http://client.example/api/#f" },
    { &api_root, "http://127.0.0.1:3000/api/x",     "http://client.example/api/x" },
    /* not the backend */
    { &api_root, "http://127.0.0.1:30001/x",        NULL },
    { &api_root, "http://127.0.0.1:300/x",          NULL },
    { &api_root, "http://127.0.0.1/x",              NULL },
    { &api_root, "http://user@127.0.0.1:3000/x",    NULL },
    { &api_root, "ftp://127.0.0.1:3000/x",          NULL },
    { &api_root, "https://other/x",                 NULL },
    { &api_root, "http://client.example/login",     NULL },  /* no preserve_host */
    /* never ours */
    { &api_root, "x",                               NULL },
    { &api_root, "../x",                            NULL },
    { &api_root, "//evil.com/",                     NULL },
    { &api_root, "///evil.com",                     NULL },
    { &api_root, "?x=1",                            NULL },
    { &api_root, "#f",                              NULL },
    { &api_root, "",                                NULL },
    { &api_root, "mailto:a@b.example",              NULL },
    { &api_root, "http:/x",                         NULL },
    /* what browsers read as "//host" is not path-absolute either */
    { &api_root, "/\\evil.com",                      NULL },
    { &api_root, "/\t/evil.com",                     NULL },
    { &api_root, "/\r\n\\evil.com",                NULL },
    { &api_root, "/\tx",                             "/api/x" },

    /* (b) preserve_host: the app built URLs from the client's Host */
    { &api_root_ph, "http://client.example/login",  "http://client.example/api/login" },
    { &api_root_ph, "https://CLIENT.example/login?a", "https://CLIENT.example/api/login?a" },
    { &api_root_ph, "http://client.example",        "http://client.example/api/" },
    { &api_root_ph, "http://client.example/api/x",  NULL },
    { &api_root_ph, "http://client.example:80/x",   NULL },
    { &api_root_ph, "http://other.example/x",       NULL },
    { &api_root_ph, "http://127.0.0.1:3000/x",      "http://client.example/api/x" },
    /* https client with a port in Host */
    { &api_root_tls, "http://127.0.0.1:3000/x",     "https://client.example:8443/api/x" },
    { &api_root_tls, "https://client.example:8443/x", "https://client.example:8443/api/x" },
    { &api_root_tls, "https://client.example/x",    NULL },

    /* P="/api/", T="/app/" */
    { &api_app, "/app",                             "/api/" },
    { &api_app, "/app/",                            "/api/" },
    { &api_app, "/app/x",                           "/api/x" },
    { &api_app, "/app/x/",                          "/api/x/" },
    { &api_app, "/app?x=1",                         "/api/?x=1" },
    { &api_app, "/apple",                           NULL },
    { &api_app, "/",                                NULL },
    { &api_app, "/other",                           NULL },
    { &api_app, "/api/x",                           NULL },
    { &api_app, "http://127.0.0.1:3000/app/x",      "http://client.example/api/x" },
    { &api_app, "http://127.0.0.1:3000/other",      NULL },  /* not under T */
    { &api_app, "http://127.0.0.1:3000/",           NULL },
    { &api_app, "http://127.0.0.1:3000",            NULL },

    /* P="/api", T="/app" */
    { &api_app_noslash, "/app",                     "/api" },
    { &api_app_noslash, "/app/",                    "/api/" },
    { &api_app_noslash, "/app/x",                   "/api/x" },
    { &api_app_noslash, "/app?x",                   "/api?x" },
    { &api_app_noslash, "/apple",                   NULL },

    /* P="/api/", T="/app" */
    { &apis_app, "/app",                            "/api/" },
    { &apis_app, "/app/",                           "/api/" },
    { &apis_app, "/app/x",                          "/api/x" },

    /* P="/api", T="/app/" */
    { &api_apps, "/app",                            "/api" },
    { &api_apps, "/app/",                           "/api/" },
    { &api_apps, "/app/x",                          "/api/x" },

    /* P="/", T="/app/": T is under P, so nothing counts as "already" */
    { &root_app, "/app/x",                          "/x" },
    { &root_app, "/app/x?q#f",                      "/x?q#f" },
    { &root_app, "/app",                            "/" },
    { &root_app, "/app/",                           "/" },
    /* the seam never makes "//" or anything a browser reads as it */
    { &root_app, "/app//evil.com",                  "/evil.com" },
    { &root_app, "/app/\\evil.com",                 "/evil.com" },
    { &root_app, "/app/\\/\\evil.com",               "/evil.com" },
    { &root_app, "/app/\t/evil.com",                "/evil.com" },
    { &root_app, "/app\\evil.com",                  NULL },  /* not under T */
    { &root_app, "/x",                              NULL },
    { &root_app, "/",                               NULL },
    { &root_app, "http://127.0.0.1:3000/app/x",     "http://client.example/x" },

    /* P="/", T="/": only the host swap of (a) */
    { &root_root, "/x",                             NULL },
    { &root_root, "/",                              NULL },
    { &root_root, "http://127.0.0.1:3000/x?q",      "http://client.example/x?q" },
    { &root_root, "http://127.0.0.1:3000",          "http://client.example" },
    { &root_root, "http://client.example/x",        NULL },

    /* P="/api", T="/api/": the identity mapping */
    { &api_identity, "/api/x",                      NULL },
    { &api_identity, "/api",                        NULL },
    { &api_identity, "/x",                          NULL },
    { &api_identity, "http://127.0.0.1:3000/api",   "http://client.example/api" },

    /* P="/api", T="/api/v1": T under P, so "/api/v1/..." is still mapped */
    { &api_apiv1, "/api/v1/x",                      "/api/x" },
    { &api_apiv1, "/api/v1",                        "/api" },
    { &api_apiv1, "/api/x",                         NULL },  /* not under T */

    /* P="/api/v1", T="/api": a path under both is taken as client-facing */
    { &apiv1_api, "/api/x",                         "/api/v1/x" },
    { &apiv1_api, "/api",                           "/api/v1" },
    { &apiv1_api, "/api/v1/x",                      NULL },

    /* unix: targets have the authority "localhost" */
    { &unix_api, "http://localhost/x",              "http://client.example/api/x" },
    { &unix_api, "http://LOCALHOST/x",              "http://client.example/api/x" },
    { &unix_api, "http://localhost:3000/x",         NULL },
};

static void test_url(void **state)
{
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < N_ELEMS(url_cases); i++) {
        const rev_case_t *c = &url_cases[i];

        check("url", i, c, np_reverse_url(p, c->rv, c->in));
    }
    assert_null(np_reverse_url(p, &api_root, NULL));
}

static const rev_case_t cookie_cases[] = {
    /* P="/api/", T="/" */
    { &api_root, "sid=abc; Path=/; HttpOnly",       "sid=abc; Path=/api; HttpOnly" },
    { &api_root, "sid=abc; path=/",                 "sid=abc; path=/api" },
    { &api_root, "sid=abc; PATH=/x",                "sid=abc; PATH=/api/x" },
    { &api_root, "sid=abc;Path=/x/;Secure",         "sid=abc;Path=/api/x;Secure" },
    { &api_root, "sid=abc; Path = /x ; HttpOnly",   "sid=abc; Path = /api/x ; HttpOnly" },
    { &api_root, "sid=abc; Path=/\t",               "sid=abc; Path=/api\t" },
    { &api_root, "sid=abc; Domain=client.example; Path=/; "
                 "Expires=Wed, 21 Oct 2015 07:28:00 GMT; SameSite=Lax",
                 "sid=abc; Domain=client.example; Path=/api; "
                 "Expires=Wed, 21 Oct 2015 07:28:00 GMT; SameSite=Lax" },
    /* RFC 6265: the last Path wins, so each one is rewritten */
    { &api_root, "sid=abc; Path=/; Path=/x",        "sid=abc; Path=/api; Path=/api/x" },
    { &api_root, "sid=abc; Path=/x; HttpOnly; Path=/api",
                 "sid=abc; Path=/api/x; HttpOnly; Path=/api" },
    /* left alone */
    { &api_root, "sid=abc; Path=/api",              NULL },
    { &api_root, "sid=abc; Path=/api/",             NULL },
    { &api_root, "sid=abc; Path=/api/x",            NULL },
    { &api_root, "sid=abc; HttpOnly",               NULL },
    { &api_root, "sid=abc",                         NULL },
    { &api_root, "sid=",                            NULL },
    { &api_root, "",                                NULL },
    { &api_root, "sid=abc; Path=",                  NULL },
    { &api_root, "sid=abc; Path",                   NULL },
    { &api_root, "sid=abc; Path=x",                 NULL },
    { &api_root, "sid=abc; XPath=/; Paths=/",       NULL },
    { &api_root, "path=/; Max-Age=5",               NULL },  /* a cookie named path */
    { &api_root, "sid=abc; Max-Age=5; path=/",      "sid=abc; Max-Age=5; path=/api" },
    /* P="/api/", T="/app/" */
    { &api_app, "sid=1; Path=/app",                 "sid=1; Path=/api" },
    { &api_app, "sid=1; Path=/app/",                "sid=1; Path=/api" },
    { &api_app, "sid=1; Path=/app/x",               "sid=1; Path=/api/x" },
    { &api_app, "sid=1; Path=/",                    NULL },
    { &api_app, "sid=1; Path=/apple",               NULL },
    /* P="/api", T="/app" */
    { &api_app_noslash, "sid=1; Path=/app/",        "sid=1; Path=/api" },
    /* P="/", T="/app/": the result "/" keeps its slash */
    { &root_app, "sid=1; Path=/app",                "sid=1; Path=/" },
    { &root_app, "sid=1; Path=/app/",               "sid=1; Path=/" },
    { &root_app, "sid=1; Path=/app/x/",             "sid=1; Path=/x" },
    /* P == T */
    { &root_root, "sid=1; Path=/",                  NULL },
    { &root_root, "sid=1; Path=/x/",                NULL },
    { &api_identity, "sid=1; Path=/api/",           NULL },
};

static void test_cookie_path(void **state)
{
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < N_ELEMS(cookie_cases); i++) {
        const rev_case_t *c = &cookie_cases[i];

        check("cookie", i, c, np_reverse_cookie_path(p, c->rv, c->in));
    }
    assert_null(np_reverse_cookie_path(p, &api_root, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookie_path, setup, teardown),
    };
    int rc;

    if (apr_initialize() != APR_SUCCESS) {
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
