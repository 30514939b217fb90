/* Unit tests of proxy/np_cidr.c: parsing (with masking and rejections) and
 * matching of client addresses as Apache writes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "np_cidr.h"

#define HINT "(use 10.0.0.0/8, 127.0.0.1, ::1)"

typedef struct {
    const char *in;
    int family;                 /* 0: rejected */
    const char *network;        /* expected address after masking */
    unsigned int bits;
} parse_case_t;

#define REJECT(in) { in, 0, NULL, 0 }

static const parse_case_t parse_cases[] = {
    { "10.0.0.0/8", AF_INET, "10.0.0.0", 8 },
    { "127.0.0.1", AF_INET, "127.0.0.1", 32 },
    { "192.168.1.0/24", AF_INET, "192.168.1.0", 24 },
    { "0.0.0.0/0", AF_INET, "0.0.0.0", 0 },
    { "10.1.2.3/8", AF_INET, "10.0.0.0", 8 },          /* host bits masked */
    { "172.31.255.255/12", AF_INET, "172.16.0.0", 12 },
    { "10.0.0.255/31", AF_INET, "10.0.0.254", 31 },
    { "10.0.0.1/32", AF_INET, "10.0.0.1", 32 },
    { "10.0.0.0/008", AF_INET, "10.0.0.0", 8 },
    { "::1", AF_INET6, "::1", 128 },
    { "fd00::/8", AF_INET6, "fd00::", 8 },
    { "fd12:3456::1/8", AF_INET6, "fd00::", 8 },
    { "2001:db8::/32", AF_INET6, "2001:db8::", 32 },
    { "2001:db8:ffff::/33", AF_INET6, "2001:db8:8000::", 33 },
    { "::/0", AF_INET6, "::", 0 },
    { "::1/128", AF_INET6, "::1", 128 },
    { "::ffff:10.1.2.3", AF_INET, "10.1.2.3", 32 },    /* stored as IPv4 */
    { "::ffff:10.0.0.0/104", AF_INET, "10.0.0.0", 8 },
    REJECT(""),
    REJECT("/8"),
    REJECT("10.0.0.0/"),
    REJECT("10.0.0.0/33"),
    REJECT("10.0.0.0/-1"),
    REJECT("10.0.0.0/+8"),
    REJECT("10.0.0.0/8a"),
    REJECT("10.0.0.0/ 8"),
    REJECT("10.0.0.0/8 "),
    REJECT("10.0.0.0/0008"),
    REJECT("10.0.0.0/8/8"),
    REJECT("10.0.0.0/4294967304"),      /* would wrap to 8 */
    REJECT("::/129"),
    REJECT("fd00::/1000"),
    REJECT(" 10.0.0.0/8"),
    REJECT("10.0.0"),
    REJECT("10.0.0.256"),
    REJECT("010.0.0.1"),
    REJECT("localhost"),
    REJECT("fe80::1%eth0"),
    REJECT(":::1"),
    REJECT("1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd"),
};

static int setup(void **state)
{
    apr_pool_t *p;

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

static void check_parse(apr_pool_t *p, const parse_case_t *c)
{
    np_cidr_t out;
    unsigned char want[16];
    const char *err = NULL;
    apr_status_t rv;

    print_message("case \"%s\"\n", c->in);
    memset(&out, 0xAA, sizeof(out));
    rv = np_cidr_parse_p(p, c->in, &out, &err);
    if (c->family == 0) {
        assert_int_equal(rv, APR_EINVAL);
        assert_string_equal(err, apr_pstrcat(p, "\"", c->in,
                            "\" is not an address or CIDR " HINT, NULL));
        return;
    }
    assert_int_equal(rv, APR_SUCCESS);
    assert_null(err);
    memset(want, 0, sizeof(want));
    assert_int_equal(inet_pton(c->family, c->network, want), 1);
    assert_int_equal(out.family, c->family);
    assert_int_equal(out.bits, c->bits);
    assert_memory_equal(out.addr, want, sizeof(want));
}

static void test_parse_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        check_parse(*state, &parse_cases[i]);
    }
}

/* Brackets get their own hint: they are the likely mistake with IPv6. */
static void test_parse_brackets(void **state)
{
    np_cidr_t out;
    const char *err = NULL;

    assert_int_equal(np_cidr_parse_p(*state, "[::1]", &out, &err), APR_EINVAL);
    assert_string_equal(err, "\"[::1]\" is not an address or CIDR (write IPv6 "
                        "without brackets: ::1, fd00::/8)");
    assert_int_equal(np_cidr_parse_p(*state, "[fd00::]/8", &out, &err),
                     APR_EINVAL);
    assert_string_equal(err, "\"[fd00::]/8\" is not an address or CIDR (write "
                        "IPv6 without brackets: ::1, fd00::/8)");
    assert_int_equal(np_cidr_parse_p(*state, NULL, &out, &err), APR_EINVAL);
    assert_string_equal(err, "missing address or CIDR " HINT);
}

typedef struct {
    const char *cidr;
    const char *ip;
    int match;
} match_case_t;

static const match_case_t match_cases[] = {
    { "10.0.0.0/8", "10.1.2.3", 1 },
    { "10.0.0.0/8", "10.255.255.255", 1 },
    { "10.0.0.0/8", "11.0.0.0", 0 },
    { "10.0.0.0/8", "9.255.255.255", 0 },
    { "10.0.0.0/8", "::ffff:10.1.2.3", 1 },           /* mapped client */
    { "10.0.0.0/8", "::ffff:11.1.2.3", 0 },
    { "10.0.0.0/8", "::10.1.2.3", 0 },                /* not mapped */
    { "10.0.0.0/8", "::1", 0 },
    { "127.0.0.1", "127.0.0.1", 1 },
    { "127.0.0.1", "127.0.0.2", 0 },
    { "192.168.1.128/25", "192.168.1.200", 1 },
    { "192.168.1.128/25", "192.168.1.127", 0 },
    { "172.16.0.0/12", "172.31.255.255", 1 },
    { "172.16.0.0/12", "172.32.0.0", 0 },
    { "0.0.0.0/0", "203.0.113.9", 1 },
    { "0.0.0.0/0", "::1", 0 },                        /* families differ */
    { "::1", "::1", 1 },
    { "::1", "0:0:0:0:0:0:0:1", 1 },                  /* any IPv6 spelling */
    { "::1", "::2", 0 },
    { "::1", "127.0.0.1", 0 },
    { "fd00::/8", "fd12:3456::1", 1 },
    { "fd00::/8", "fe00::1", 0 },
    { "fe80::/10", "fe80::1%eth0", 1 },               /* zone id ignored */
    { "fe80::/10", "febf::1", 1 },
    { "fe80::/10", "fec0::1", 0 },
    { "2001:db8::/33", "2001:db8:7fff::1", 1 },
    { "2001:db8::/33", "2001:db8:8000::1", 0 },
    { "::ffff:10.0.0.0/104", "10.9.9.9", 1 },
    { "10.0.0.0/8", "", 0 },
    { "10.0.0.0/8", "10.1.2.3 ", 0 },
    { "10.0.0.0/8", "garbage", 0 },
    { "10.0.0.0/8", "10.1.2.3/8", 0 },
};

static void test_match_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const match_case_t *c = &match_cases[i];
        np_cidr_t cidr;
        const char *err;

        print_message("case %s ~ \"%s\"\n", c->cidr, c->ip);
        assert_int_equal(np_cidr_parse_p(*state, c->cidr, &cidr, &err),
                         APR_SUCCESS);
        assert_int_equal(np_cidr_match(&cidr, c->ip), c->match);
    }
}

static void test_match_null(void **state)
{
    np_cidr_t cidr;
    const char *err;

    assert_int_equal(np_cidr_parse_p(*state, "0.0.0.0/0", &cidr, &err),
                     APR_SUCCESS);
    assert_int_equal(np_cidr_match(&cidr, NULL), 0);
    assert_int_equal(np_cidr_match(NULL, "10.0.0.1"), 0);
    assert_int_equal(np_cidr_match_any(NULL, "10.0.0.1"), 0);
}

static void test_match_any(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *a = apr_array_make(p, 2, sizeof(np_cidr_t));
    const char *err;

    assert_int_equal(np_cidr_match_any(a, "10.0.0.1"), 0);    /* empty */
    assert_int_equal(np_cidr_parse_p(p, "10.0.0.0/8",
                     apr_array_push(a), &err), APR_SUCCESS);
    assert_int_equal(np_cidr_parse_p(p, "::1",
                     apr_array_push(a), &err), APR_SUCCESS);
    assert_int_equal(np_cidr_match_any(a, "10.0.0.1"), 1);
    assert_int_equal(np_cidr_match_any(a, "::ffff:10.0.0.1"), 1);
    assert_int_equal(np_cidr_match_any(a, "::1"), 1);
    assert_int_equal(np_cidr_match_any(a, "192.168.0.1"), 0);
    assert_int_equal(np_cidr_match_any(a, "::2"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_brackets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_any, setup, teardown),
    };
    int failed;

    apr_initialize();
    failed = cmocka_run_group_tests_name("np_cidr", tests, NULL, NULL);
    apr_terminate();
    return failed;
}
