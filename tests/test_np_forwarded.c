/* test_np_forwarded.c — cmocka tests for proxy/np_forwarded.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "np_forwarded.h"

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

/* NULL means "not sent", so it is compared like a value. */
static void expect_field(const char *what, size_t row, const char *field,
                         const char *got, const char *want)
{
    if (got == NULL && want == NULL) {
        return;
    }
    if (got == NULL || want == NULL || strcmp(got, want) != 0) {
        print_error("%s row %zu: %s = %s%s%s, want %s%s%s\n", what, row, field,
                    got ? "\"" : "", got ? got : "(not sent)", got ? "\"" : "",
                    want ? "\"" : "", want ? want : "(not sent)",
                    want ? "\"" : "");
        fail();
    }
}

typedef struct {
    const char *what;
    np_forwarded_in_t in;
    np_forwarded_out_t out;
} fwd_case_t;

/* Field order of np_forwarded_in_t:
 *   client_ip, tls, host, server_name, port, prefix, trusted,
 *   in_xff, in_proto, in_host, in_port, in_prefix, in_forwarded
 * and of np_forwarded_out_t: xff, proto, host, port, prefix, forwarded. */
static const fwd_case_t fwd_cases[] = {
    { "untrusted peer, spoofed values all ignored",
      { "203.0.113.7", 0, "example.com", "srv", 80, "/api", 0,
        "1.1.1.1", "https", "evil.example", "443", "/evil",
        "for=1.1.1.1;proto=https" },
      { "203.0.113.7", "http", "example.com", "80", "/api",
        "for=203.0.113.7;proto=http;host=example.com" } },

    { "mod_remoteip's client, trusted balancer's proto and host in both families",
      { "203.0.113.9", 0, "lb.internal:8080", "srv", 8080, NULL, 1,
        NULL, "https", "app.example", "443", NULL, NULL },
      { "203.0.113.9", "https", "app.example", "443", NULL,
        "for=203.0.113.9;proto=https;host=app.example" } },

    { "trusted peer sent only Forwarded: its last element's proto and host",
      { "10.0.0.3", 0, "internal", NULL, 80, NULL, 1,
        NULL, NULL, NULL, NULL, NULL,
        "for=192.0.2.1;proto=http;host=a.example, "
        "for=192.0.2.2;Proto=https;HOST=\"b.example:8443\"" },
      { "10.0.0.3", "https", "b.example:8443", "80", NULL,
        "for=192.0.2.1;proto=http;host=a.example, "
        "for=192.0.2.2;Proto=https;HOST=\"b.example:8443\", "
        "for=10.0.0.3;proto=https;host=\"b.example:8443\"" } },

    { "trusted Forwarded with a quoted comma; X-Forwarded-Proto wins over it",
      { "10.0.0.3", 0, "internal", NULL, 80, NULL, 1,
        NULL, "http", NULL, NULL, NULL,
        "for=\"[2001:db8::1]\";host=\"x,y\";proto=https" },
      { "10.0.0.3", "http", "x,y", "80", NULL,
        "for=\"[2001:db8::1]\";host=\"x,y\";proto=https, "
        "for=10.0.0.3;proto=http;host=\"x,y\"" } },

    { "trusted Forwarded without proto or host: ours",
      { "10.0.0.3", 1, "example.com", NULL, 443, NULL, 1,
        NULL, NULL, NULL, NULL, NULL, "for=192.0.2.1" },
      { "10.0.0.3", "https", "example.com", "443", NULL,
        "for=192.0.2.1, for=10.0.0.3;proto=https;host=example.com" } },

    { "untrusted peer, spoofed prefix and nothing stripped",
      { "203.0.113.7", 0, "example.com", NULL, 80, NULL, 0,
        NULL, NULL, NULL, NULL, "/evil", NULL },
      { "203.0.113.7", "http", "example.com", "80", NULL,
        "for=203.0.113.7;proto=http;host=example.com" } },

    { "trusted chain kept and extended",
      { "10.0.0.3", 0, "internal:8080", "srv", 8080, "/api/", 1,
        "198.51.100.1, 10.0.0.2", "https", "public.example", "443",
        "/outer/", "for=198.51.100.1;proto=https;host=public.example" },
      { "198.51.100.1, 10.0.0.2, 10.0.0.3", "https", "public.example", "443",
        "/outer/api",
        "for=198.51.100.1;proto=https;host=public.example, "
        "for=10.0.0.3;proto=https;host=public.example" } },

    { "trusted peer that sent nothing: ours",
      { "10.0.0.3", 1, "example.com", "srv", 443, "/api", 1,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "10.0.0.3", "https", "example.com", "443", "/api",
        "for=10.0.0.3;proto=https;host=example.com" } },

    { "trusted peer with blank values: treated as absent",
      { "10.0.0.3", 0, "example.com", NULL, 80, NULL, 1,
        " ", "", "\t", "", " ", "  " },
      { "10.0.0.3", "http", "example.com", "80", NULL,
        "for=10.0.0.3;proto=http;host=example.com" } },

    { "trusted values trimmed of surrounding blanks",
      { "10.0.0.3", 0, "example.com", NULL, 80, NULL, 1,
        " 198.51.100.1 ", "https ", NULL, NULL, NULL, NULL },
      { "198.51.100.1, 10.0.0.3", "https", "example.com", "80", NULL,
        "for=10.0.0.3;proto=https;host=example.com" } },

    { "trusted prefix passed on when we strip nothing",
      { "10.0.0.3", 0, "example.com", NULL, 80, NULL, 1,
        NULL, NULL, NULL, NULL, "/outer", NULL },
      { "10.0.0.3", "http", "example.com", "80", "/outer",
        "for=10.0.0.3;proto=http;host=example.com" } },

    { "trusted prefix and prefix \"/\"",
      { "10.0.0.3", 0, "example.com", NULL, 80, "/", 1,
        NULL, NULL, NULL, NULL, "/outer/", NULL },
      { "10.0.0.3", "http", "example.com", "80", "/outer",
        "for=10.0.0.3;proto=http;host=example.com" } },

    { "IPv6 client over TLS, IPv6 Host with port",
      { "2001:db8::1", 1, "[2001:db8::2]:8443", "srv", 8443, NULL, 0,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "2001:db8::1", "https", "[2001:db8::2]:8443", "8443", NULL,
        "for=\"[2001:db8::1]\";proto=https;host=\"[2001:db8::2]:8443\"" } },

    { "IPv6 loopback",
      { "::1", 0, "localhost", NULL, 80, NULL, 0,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "::1", "http", "localhost", "80", NULL,
        "for=\"[::1]\";proto=http;host=localhost" } },

    { "IPv4-mapped IPv6 written as IPv4",
      { "::ffff:192.0.2.5", 0, "example.com", NULL, 80, NULL, 0,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "192.0.2.5", "http", "example.com", "80", NULL,
        "for=192.0.2.5;proto=http;host=example.com" } },

    { "IPv4-mapped, upper case, trusted chain",
      { "::FFFF:10.0.0.3", 0, "example.com", NULL, 80, NULL, 1,
        "192.0.2.9", NULL, NULL, NULL, NULL, NULL },
      { "192.0.2.9, 10.0.0.3", "http", "example.com", "80", NULL,
        "for=10.0.0.3;proto=http;host=example.com" } },

    { "::ffff: followed by hex is an IPv6 address",
      { "::ffff:c000:205", 0, "example.com", NULL, 80, NULL, 0,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "::ffff:c000:205", "http", "example.com", "80", NULL,
        "for=\"[::ffff:c000:205]\";proto=http;host=example.com" } },

    { "TLS with Host carrying a port",
      { "203.0.113.7", 1, "example.com:8443", "srv", 8443, "/app/", 0,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "203.0.113.7", "https", "example.com:8443", "8443", "/app",
        "for=203.0.113.7;proto=https;host=\"example.com:8443\"" } },

    { "no Host (HTTP/1.0): server name",
      { "203.0.113.7", 0, NULL, "www.example.com", 80, NULL, 0,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "203.0.113.7", "http", "www.example.com", "80", NULL,
        "for=203.0.113.7;proto=http;host=www.example.com" } },

    { "no Host and no server name: no host anywhere",
      { "203.0.113.7", 0, NULL, NULL, 80, NULL, 0,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "203.0.113.7", "http", NULL, "80", NULL,
        "for=203.0.113.7;proto=http" } },

    { "Host needing escapes inside quotes",
      { "203.0.113.7", 0, "a\"b\\c", NULL, 80, NULL, 0,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "203.0.113.7", "http", "a\"b\\c", "80", NULL,
        "for=203.0.113.7;proto=http;host=\"a\\\"b\\\\c\"" } },

    { "prefix \"/\" is not sent, unknown port 0 is not sent",
      { "203.0.113.7", 0, "example.com", NULL, 0, "/", 0,
        NULL, NULL, NULL, NULL, NULL, NULL },
      { "203.0.113.7", "http", "example.com", NULL, NULL,
        "for=203.0.113.7;proto=http;host=example.com" } },

    { "no client address: chain alone, for=unknown",
      { NULL, 0, "example.com", NULL, 80, NULL, 1,
        "192.0.2.9", NULL, NULL, NULL, NULL, NULL },
      { "192.0.2.9", "http", "example.com", "80", NULL,
        "for=unknown;proto=http;host=example.com" } },

    { "no client address, untrusted",
      { NULL, 0, "example.com", NULL, 80, NULL, 0,
        "192.0.2.9", NULL, NULL, NULL, NULL, NULL },
      { NULL, "http", "example.com", "80", NULL,
        "for=unknown;proto=http;host=example.com" } },
};

static void test_build(void **state)
{
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < N_ELEMS(fwd_cases); i++) {
        const fwd_case_t *c = &fwd_cases[i];
        np_forwarded_out_t out;

        memset(&out, 0x5a, sizeof(out)); /* every field must be written */
        np_forwarded_build(p, &c->in, &out);
        expect_field(c->what, i, "xff", out.xff, c->out.xff);
        expect_field(c->what, i, "proto", out.proto, c->out.proto);
        expect_field(c->what, i, "host", out.host, c->out.host);
        expect_field(c->what, i, "port", out.port, c->out.port);
        expect_field(c->what, i, "prefix", out.prefix, c->out.prefix);
        expect_field(c->what, i, "forwarded", out.forwarded,
                     c->out.forwarded);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_build, setup, teardown),
    };
    int rc;

    if (apr_initialize() != APR_SUCCESS) {
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
