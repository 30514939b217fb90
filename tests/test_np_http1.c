/* Unit tests of proxy/np_http1.c: the backend response head parser, the body
 * framing decision and the chunked decoder. Every input is copied into a
 * buffer of exactly its size, so that valgrind/ASan catch a read past len. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "np_http1.h"

/* A string literal and its length: inputs may contain NUL bytes. */
#define S(lit) lit, sizeof(lit) - 1

#define MAX_HEADERS 16

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

/* Exactly len bytes on the heap (malloc(0) may return NULL: use 1). */
static char *exact_copy(const char *in, size_t len)
{
    char *b = malloc(len ? len : 1);

    assert_non_null(b);
    memcpy(b, in, len);
    return b;
}

static apr_status_t parse_exact(const char *in, size_t len, np_header_t *hdrs,
                                int max, np_response_head_t *out,
                                const char **err)
{
    char *b = exact_copy(in, len);
    apr_status_t rv = np_http1_parse_response_head(b, len, hdrs, max, out,
                                                   err);

    /* Pointers into b are dead after free: the callers only compare
     * numbers and offsets, or re-parse the original in. */
    free(b);
    return rv;
}

/* ===========================================================================
 * Response head
 */

#define NODE_DATE "Date: Wed, 26 Nov 2025 01:25:00 GMT\r\n"
#define NODE_KA "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n"

#define NODE_200_CL \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" NODE_DATE NODE_KA \
    "Content-Length: 5\r\n\r\n"
#define NODE_200_CHUNKED \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" \
    "Cache-Control: no-cache\r\n" NODE_DATE NODE_KA \
    "Transfer-Encoding: chunked\r\n\r\n"
#define NODE_304 \
    "HTTP/1.1 304 Not Modified\r\nX-Powered-By: Express\r\n" \
    "ETag: W/\"5-fXkwN6B2AYZXSwKC8vQ15w\"\r\n" NODE_DATE NODE_KA "\r\n"
#define NODE_204 \
    "HTTP/1.1 204 No Content\r\nX-Powered-By: Express\r\n" NODE_DATE NODE_KA \
    "\r\n"
#define NODE_101 \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" \
    "Connection: Upgrade\r\n" \
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

typedef struct {
    const char *in;
    size_t len;
    apr_status_t rv;
    int status;
    int minor;
    const char *reason;
    int nheaders;
    size_t body;                /* bytes after the head: len - head_len */
    const char *err;
} head_case_t;

#define GOOD(in, status, minor, reason, nh) \
    { S(in), APR_SUCCESS, status, minor, reason, nh, 0, NULL }
#define GOOD_BODY(in, status, nh, body) \
    { S(in), APR_SUCCESS, status, 1, "OK", nh, body, NULL }
#define BAD(in, err) { S(in), APR_EGENERAL, 0, 0, NULL, 0, 0, err }
#define WS_COLON "whitespace before colon in header"
#define BAD_NAME "bad character in header name"
#define BAD_VALUE "bad character in header value"
#define BARE_LF "bare LF in response head"

static const head_case_t head_cases[] = {
    GOOD(NODE_200_CL, 200, 1, "OK", 5),
    GOOD(NODE_200_CHUNKED, 200, 1, "OK", 6),
    GOOD(NODE_304, 304, 1, "Not Modified", 5),
    GOOD(NODE_204, 204, 1, "No Content", 4),
    GOOD(NODE_101, 101, 1, "Switching Protocols", 3),
    GOOD("HTTP/1.0 200 OK\r\n\r\n", 200, 0, "OK", 0),
    GOOD("HTTP/1.1 100 Continue\r\n\r\n", 100, 1, "Continue", 0),
    GOOD("HTTP/1.1 599 x\r\n\r\n", 599, 1, "x", 0),
    GOOD("HTTP/1.1 200\r\n\r\n", 200, 1, "", 0),        /* no SP, no reason */
    GOOD("HTTP/1.1 200 \r\n\r\n", 200, 1, "", 0),       /* SP, empty reason */
    GOOD("HTTP/1.1 200  OK \r\n\r\n", 200, 1, " OK ", 0),   /* kept as is */
    GOOD("HTTP/1.1 404 Not\tFound \xe9\r\n\r\n", 404, 1,
         "Not\tFound \xe9", 0),                           /* HTAB, obs-text */
    BAD("HTTP/1.1 200 OK\nA: b\n\n", BARE_LF),
    BAD("HTTP/1.1 200 OK\r\nA: b\n\r\n", BARE_LF),
    /* a bare LF inside a header: never a line end (header injection) */
    BAD("HTTP/1.1 200 OK\r\nX-A: a\nX-Injected: yes\r\n\r\n", BARE_LF),
    BAD("HTTP/1.1 200 OK\r\nX-A: a\n", BARE_LF),      /* at once, not at the end */
    BAD("HTTP/1.1 200 OK\n", BARE_LF),
    GOOD("HTTP/1.1 200 OK\r\nA:\r\nB: \t \r\n\r\n", 200, 1, "OK", 2),
    GOOD("HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9\t1\r\n\r\n", 200, 1, "OK", 1),
    GOOD("HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09az: v\r\n\r\n", 200, 1, "OK",
         1),                                              /* all tchars */
    GOOD_BODY("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, 1, 5),
    GOOD_BODY("HTTP/1.1 200 OK\r\n\r\n\r\n", 200, 0, 2),  /* body is CRLF */
    BAD("<html>", "not an HTTP response"),
    BAD("http/1.1 200 OK\r\n\r\n", "not an HTTP response"),
    BAD("HTTX/1.1 200 OK\r\n\r\n", "not an HTTP response"),
    BAD("\r\nHTTP/1.1 200 OK\r\n\r\n", "not an HTTP response"),
    BAD(" HTTP/1.1 200 OK\r\n\r\n", "not an HTTP response"),
    BAD("HTTP/2 200\r\n\r\n", "unsupported HTTP version"),
    BAD("HTTP/1.2 200 OK\r\n\r\n", "unsupported HTTP version"),
    BAD("HTTP/0.9 200 OK\r\n\r\n", "unsupported HTTP version"),
    BAD("HTTP/1.10 200 OK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1\t200 OK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 \r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 20\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 200OK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 200\tOK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1  200 OK\r\n\r\n", "bad status code"),
    BAD("HTTP/1.1 20 OK\r\n\r\n", "bad status code"),
    BAD("HTTP/1.1 099 OK\r\n\r\n", "bad status code"),
    BAD("HTTP/1.1 600 OK\r\n\r\n", "bad status code"),
    BAD("HTTP/1.1 2x0 OK\r\n\r\n", "bad status code"),
    BAD("HTTP/1.1 -20 OK\r\n\r\n", "bad status code"),
    BAD("HTTP/1.1 200 O\x01K\r\n\r\n", "bad character in reason phrase"),
    BAD("HTTP/1.1 200 O\0K\r\n\r\n", "bad character in reason phrase"),
    BAD("HTTP/1.1 200 O\x7fK\r\n\r\n", "bad character in reason phrase"),
    BAD("HTTP/1.1 200 OK\rX: y\r\n\r\n", "bare CR in response head"),
    BAD("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", "bare CR in response head"),
    BAD("HTTP/1.1 200 OK\r\nA: b\r\r\n\r\n", "bare CR in response head"),
    BAD("HTTP/1.1 200 OK\r\n\r\r\n", "bare CR in response head"),
    BAD("HTTP/1.1 200 OK\r\n X: y\r\n\r\n", "folded header line (obs-fold)"),
    BAD("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
        "folded header line (obs-fold)"),
    BAD("HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",
        "folded header line (obs-fold)"),
    BAD("HTTP/1.1 200 OK\r\nA : b\r\n\r\n", WS_COLON),
    BAD("HTTP/1.1 200 OK\r\nA\t: b\r\n\r\n", WS_COLON),
    BAD("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
        "whitespace before colon in header"),
    BAD("HTTP/1.1 200 OK\r\n: b\r\n\r\n", "empty header name"),
    BAD("HTTP/1.1 200 OK\r\nAb\r\n\r\n", "header line without colon"),
    BAD("HTTP/1.1 200 OK\r\nA(b: c\r\n\r\n", BAD_NAME),
    BAD("HTTP/1.1 200 OK\r\nA\0b: c\r\n\r\n", BAD_NAME),
    BAD("HTTP/1.1 200 OK\r\n\xc3\xa4: c\r\n\r\n", BAD_NAME),
    BAD("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", BAD_VALUE),
    BAD("HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n", BAD_VALUE),
    BAD("HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n", BAD_VALUE),
    BAD("HTTP/1.1 200 OK\r\nA: \x1b[31m\r\n\r\n", BAD_VALUE),
};

static void check_head_case(const head_case_t *c)
{
    np_header_t hdrs[MAX_HEADERS];
    np_response_head_t h;
    const char *err = NULL;
    apr_status_t rv;

    rv = np_http1_parse_response_head(c->in, c->len, hdrs, MAX_HEADERS, &h,
                                      &err);
    assert_int_equal(rv, c->rv);
    if (rv != APR_SUCCESS) {
        assert_string_equal(err, c->err);
        return;
    }
    assert_int_equal(h.status, c->status);
    assert_int_equal(h.minor, c->minor);
    assert_int_equal(h.reason_len, strlen(c->reason));
    assert_memory_equal(h.reason, c->reason, h.reason_len);
    assert_int_equal(h.nheaders, c->nheaders);
    assert_ptr_equal(h.headers, hdrs);
    assert_int_equal(h.head_len, c->len - c->body);
}

/* Bytes arrive one by one: before the head is complete the answer is
 * APR_INCOMPLETE or already the final error, never anything else. */
static void check_head_prefixes(const head_case_t *c)
{
    np_header_t hdrs[MAX_HEADERS];
    np_response_head_t h;
    const char *err;
    size_t n, complete = c->len - c->body;
    apr_status_t rv;

    for (n = 0; n < c->len; n++) {
        err = NULL;
        rv = parse_exact(c->in, n, hdrs, MAX_HEADERS, &h, &err);
        if (c->rv == APR_SUCCESS) {
            assert_int_equal(rv, n < complete ? APR_INCOMPLETE : APR_SUCCESS);
        }
        else if (rv != APR_INCOMPLETE) {
            assert_int_equal(rv, APR_EGENERAL);
            assert_string_equal(err, c->err);
        }
    }
}

static void test_head_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
        print_message("head case %u\n", (unsigned)i);
        check_head_case(&head_cases[i]);
        check_head_prefixes(&head_cases[i]);
    }
}

/* Garbage is refused as soon as it cannot become a status line, without
 * waiting for a line end that may never come. */
typedef struct {
    const char *in;
    size_t len;
    apr_status_t rv;
    const char *err;
} early_case_t;

static const early_case_t early_cases[] = {
    { S(""), APR_INCOMPLETE, NULL },
    { S("HTTP/"), APR_INCOMPLETE, NULL },
    { S("HTTP/1.1 2"), APR_INCOMPLETE, NULL },
    { S("HTTP/1.1 200 Some long reas"), APR_INCOMPLETE, NULL },
    { S("HTTP/1.1 200 OK\r"), APR_INCOMPLETE, NULL },   /* LF may follow */
    { S("HTTP/1.1 200 OK\r\nX-Long: abc"), APR_INCOMPLETE, NULL },
    { S("HTTP/1.1 200 OK\r\n\r"), APR_INCOMPLETE, NULL },
    { S("<html"), APR_EGENERAL, "not an HTTP response" },
    { S("SSH-2"), APR_EGENERAL, "not an HTTP response" },
    { S("HTTP/2"), APR_EGENERAL, "unsupported HTTP version" },
    { S("HTTP/1.1x"), APR_EGENERAL, "malformed status line" },
    { S("HTTP/1.1 6"), APR_EGENERAL, "bad status code" },
    { S("HTTP/1.1 200X"), APR_EGENERAL, "malformed status line" },
    { S("HTTP/1.1 200 \x01"), APR_EGENERAL, "bad character in reason phrase" },
    { S("HTTP/1.1 200 OK\rX"), APR_EGENERAL, "bare CR in response head" },
    { S("HTTP/1.1 200 OK\r\n X"), APR_INCOMPLETE, NULL },   /* line not done */
    { S("HTTP/1.1 200 OK\r\n X\r\n"), APR_EGENERAL,
      "folded header line (obs-fold)" },
};

static void test_head_early(void **state)
{
    np_header_t hdrs[MAX_HEADERS];
    np_response_head_t h;
    const char *err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(early_cases) / sizeof(early_cases[0]); i++) {
        print_message("early case %u\n", (unsigned)i);
        err = NULL;
        assert_int_equal(parse_exact(early_cases[i].in, early_cases[i].len,
                                     hdrs, MAX_HEADERS, &h, &err),
                         early_cases[i].rv);
        if (early_cases[i].err) {
            assert_string_equal(err, early_cases[i].err);
        }
    }
}

static void assert_header(const np_header_t *h, const char *name,
                          const char *value)
{
    assert_int_equal(h->name_len, strlen(name));
    assert_memory_equal(h->name, name, h->name_len);
    assert_int_equal(h->value_len, strlen(value));
    assert_memory_equal(h->value, value, h->value_len);
}

static void test_head_node_headers(void **state)
{
    static const char in[] = NODE_200_CL "hello";
    np_header_t hdrs[MAX_HEADERS];
    np_response_head_t h;
    const char *err;

    (void)state;
    assert_int_equal(np_http1_parse_response_head(in, sizeof(in) - 1, hdrs,
                     MAX_HEADERS, &h, &err), APR_SUCCESS);
    assert_ptr_equal(h.reason, in + 13);          /* in place, no copy */
    assert_int_equal(h.nheaders, 5);
    assert_header(&hdrs[0], "Content-Type", "text/plain");
    assert_header(&hdrs[1], "Date", "Wed, 26 Nov 2025 01:25:00 GMT");
    assert_header(&hdrs[2], "Connection", "keep-alive");
    assert_header(&hdrs[3], "Keep-Alive", "timeout=5");
    assert_header(&hdrs[4], "Content-Length", "5");
    assert_int_equal(h.head_len, sizeof(in) - 1 - 5);
}

static void test_head_ows_trimmed(void **state)
{
    static const char in[] =
        "HTTP/1.1 200 OK\r\nA: \t x  y \t\r\nB:z\r\nC:   \r\n\r\n";
    np_header_t hdrs[MAX_HEADERS];
    np_response_head_t h;
    const char *err;

    (void)state;
    assert_int_equal(np_http1_parse_response_head(in, sizeof(in) - 1, hdrs,
                     MAX_HEADERS, &h, &err), APR_SUCCESS);
    assert_int_equal(h.nheaders, 3);
    assert_header(&hdrs[0], "A", "x  y");
    assert_header(&hdrs[1], "B", "z");
    assert_header(&hdrs[2], "C", "");
}

static void test_head_too_many_headers(void **state)
{
    static const char in[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    np_header_t hdrs[3];
    np_response_head_t h;
    const char *err = NULL;

    (void)state;
    assert_int_equal(np_http1_parse_response_head(in, sizeof(in) - 1, hdrs,
                     3, &h, &err), APR_SUCCESS);
    assert_int_equal(h.nheaders, 3);
    assert_int_equal(np_http1_parse_response_head(in, sizeof(in) - 1, hdrs,
                     2, &h, &err), APR_EGENERAL);
    assert_string_equal(err, "too many headers");
    /* Refused as soon as the extra line is complete, not at the end. */
    assert_int_equal(np_http1_parse_response_head(in, 35, hdrs, 2, &h, &err),
                     APR_EGENERAL);
    assert_int_equal(np_http1_parse_response_head(in, 34, hdrs, 2, &h, &err),
                     APR_INCOMPLETE);
    assert_int_equal(np_http1_parse_response_head(S("HTTP/1.1 200 OK\r\n\r\n"),
                     NULL, 0, &h, &err), APR_SUCCESS);
}

static void test_header_lookup(void **state)
{
    static const char in[] = "HTTP/1.1 200 OK\r\nContent-Type: a\r\n"
                             "X-Dup: first\r\nx-dup: second\r\nContent: c\r\n"
                             "\r\n";
    np_header_t hdrs[MAX_HEADERS];
    np_response_head_t h;
    const char *err, *v;
    apr_size_t vlen = 99;

    (void)state;
    assert_int_equal(np_http1_parse_response_head(in, sizeof(in) - 1, hdrs,
                     MAX_HEADERS, &h, &err), APR_SUCCESS);
    v = np_http1_header(&h, "x-DUP", &vlen);
    assert_int_equal(vlen, 5);
    assert_memory_equal(v, "first", 5);
    v = np_http1_header(&h, "content", &vlen);    /* not a prefix match */
    assert_int_equal(vlen, 1);
    assert_memory_equal(v, "c", 1);
    assert_ptr_equal(np_http1_header(&h, "content-type", NULL), in + 31);
    vlen = 99;
    assert_null(np_http1_header(&h, "Content-Length", &vlen));
    assert_int_equal(vlen, 99);
    assert_null(np_http1_header(&h, "Content-Typ", NULL));
}

/* ===========================================================================
 * Framing
 */

typedef struct {
    const char *head;           /* a complete, valid head */
    int is_head;                /* the request was HEAD */
    apr_status_t rv;
    np_body_kind_e kind;
    apr_off_t length;
    int reusable;
    const char *err;
} framing_case_t;

#define H11 "HTTP/1.1 200 OK\r\n"
#define H10 "HTTP/1.0 200 OK\r\n"
#define H204 "HTTP/1.1 204 No Content\r\n"
#define END "\r\n"
#define FRAME(head, is_head, kind, length, reusable) \
    { head, is_head, APR_SUCCESS, kind, length, reusable, NULL }
#define NOFRAME(head, is_head, err) \
    { head, is_head, APR_EGENERAL, NP_BODY_NONE, 0, 0, err }

#define AMBIGUOUS "both Transfer-Encoding and Content-Length"
#define BAD_TE "unsupported Transfer-Encoding"
#define BAD_CL "bad Content-Length"
#define CONFLICT_CL "conflicting Content-Length values"

static const framing_case_t framing_cases[] = {
    /* Node's usual answers */
    FRAME(NODE_200_CL, 0, NP_BODY_LENGTH, 5, 1),
    FRAME(NODE_200_CHUNKED, 0, NP_BODY_CHUNKED, -1, 1),
    FRAME(NODE_304, 0, NP_BODY_NONE, 0, 1),
    FRAME(NODE_204, 0, NP_BODY_NONE, 0, 1),
    FRAME(NODE_101, 0, NP_BODY_NONE, 0, 0),        /* becomes a tunnel */
    FRAME(NODE_200_CL, 1, NP_BODY_NONE, 0, 1),     /* HEAD */
    FRAME(NODE_200_CHUNKED, 1, NP_BODY_NONE, 0, 1),
    FRAME(H11 END, 1, NP_BODY_NONE, 0, 1),
    /* statuses without a body */
    FRAME("HTTP/1.1 100 Continue\r\n\r\n", 0, NP_BODY_NONE, 0, 1),
    FRAME("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", 0,
          NP_BODY_NONE, 0, 1),
    FRAME("HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n", 0,
          NP_BODY_NONE, 0, 1),
    FRAME("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
          0, NP_BODY_NONE, 0, 1),
    FRAME("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 0,
          NP_BODY_NONE, 0, 1),
    /* a body announced where none can be: no body, and the connection
     * is not reused (what the backend sends after the head is dropped) */
    FRAME(H204 "Content-Length: 5\r\n" END, 0, NP_BODY_NONE, 0, 0),
    FRAME(H204 "Content-Length: 5\r\n" END, 1, NP_BODY_NONE, 0, 0),
    FRAME("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
          NP_BODY_NONE, 0, 0),
    FRAME("HTTP/1.1 100 Continue\r\nContent-Length: 1\r\n\r\n", 0,
          NP_BODY_NONE, 0, 0),
    FRAME("HTTP/1.1 101 Switching Protocols\r\n"
          "Transfer-Encoding: chunked\r\n\r\n", 0, NP_BODY_NONE, 0, 0),
    /* Content-Length */
    FRAME(H11 "Content-Length: 0\r\n" END, 0, NP_BODY_LENGTH, 0, 1),
    FRAME(H11 "Content-Length: 007\r\n" END, 0, NP_BODY_LENGTH, 7, 1),
    FRAME(H11 "content-length:  42 \r\n" END, 0, NP_BODY_LENGTH, 42, 1),
    FRAME(H11 "Content-Length: 5, 5\r\n" END, 0, NP_BODY_LENGTH, 5, 1),
    FRAME(H11 "Content-Length: 5\r\nContent-Length: 5\r\n" END, 0,
          NP_BODY_LENGTH, 5, 1),
    FRAME(H11 "Content-Length: 007,7\r\n" END, 0, NP_BODY_LENGTH, 7, 1),
    FRAME(H11 "Content-Length: 999999999999999999\r\n" END, 0, NP_BODY_LENGTH,
          APR_INT64_C(999999999999999999), 1),
    NOFRAME(H11 "Content-Length: 1000000000000000000\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: 5, 6\r\n" END, 0, CONFLICT_CL),
    NOFRAME(H11 "Content-Length: 5\r\nContent-Length: 6\r\n" END, 0,
            CONFLICT_CL),
    NOFRAME(H11 "Content-Length: 5\r\nX: y\r\ncontent-length: 50\r\n" END, 0,
            CONFLICT_CL),
    NOFRAME(H11 "Content-Length: \r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: +5\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: -1\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: 5 5\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: 0x5\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: 5.0\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: 5,\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: ,5\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: five\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: 5\xc2\xb2\r\n" END, 0, BAD_CL),
    NOFRAME(H11 "Content-Length: abc\r\n" END, 1, BAD_CL),     /* HEAD too */
    NOFRAME("HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n", 0,
            BAD_CL),
    /* Transfer-Encoding */
    FRAME(H11 "Transfer-Encoding: Chunked\r\n" END, 0, NP_BODY_CHUNKED, -1, 1),
    FRAME(H11 "transfer-encoding:\tCHUNKED\t\r\n" END, 0, NP_BODY_CHUNKED, -1,
          1),
    NOFRAME(H11 "Transfer-Encoding: gzip, chunked\r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: chunked, gzip\r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: chunked, chunked\r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
            END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
            END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: identity\r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: \r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: chunked,\r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: ,chunked\r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: xchunked\r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: chunked;q=1\r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: chunk\r\n" END, 0, BAD_TE),
    NOFRAME(H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n" END, 0,
            AMBIGUOUS),
    NOFRAME(H11 "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n" END, 0,
            AMBIGUOUS),
    NOFRAME(H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n" END, 1,
            AMBIGUOUS),
    NOFRAME(H10 "Transfer-Encoding: chunked\r\n" END, 0,
            "Transfer-Encoding in an HTTP/1.0 response"),
    /* neither: read until close */
    FRAME(H11 END, 0, NP_BODY_UNTIL_CLOSE, -1, 0),
    FRAME(H11 "Connection: keep-alive\r\n" END, 0, NP_BODY_UNTIL_CLOSE, -1, 0),
    FRAME(H10 END, 0, NP_BODY_UNTIL_CLOSE, -1, 0),
    /* reuse */
    FRAME(H10 "Content-Length: 5\r\n" END, 0, NP_BODY_LENGTH, 5, 0),
    FRAME(H10 "Content-Length: 5\r\nConnection: keep-alive\r\n" END, 0,
          NP_BODY_LENGTH, 5, 0),
    FRAME(H11 "Content-Length: 5\r\nConnection: close\r\n" END, 0,
          NP_BODY_LENGTH, 5, 0),
    FRAME(H11 "Content-Length: 5\r\nConnection: Keep-Alive, CLOSE\r\n" END, 0,
          NP_BODY_LENGTH, 5, 0),
    FRAME(H11 "Connection: keep-alive\r\nContent-Length: 5\r\n"
          "Connection: close\r\n" END, 0, NP_BODY_LENGTH, 5, 0),
    FRAME(H11 "Connection: foo,,close ,\r\nContent-Length: 5\r\n" END, 0,
          NP_BODY_LENGTH, 5, 0),
    FRAME(H11 "Content-Length: 5\r\nConnection: closed\r\n" END, 0,
          NP_BODY_LENGTH, 5, 1),
    FRAME(H11 "Content-Length: 5\r\nConnection: cl0se, TE\r\n" END, 0,
          NP_BODY_LENGTH, 5, 1),
    FRAME(H11 "Content-Length: 5\r\nX-Connection: close\r\n" END, 0,
          NP_BODY_LENGTH, 5, 1),
    FRAME(H11 "Transfer-Encoding: chunked\r\nConnection: close\r\n" END, 0,
          NP_BODY_CHUNKED, -1, 0),
    FRAME("HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n", 0,
          NP_BODY_NONE, 0, 0),
    FRAME(H11 "Content-Length: 5\r\nConnection: close\r\n" END, 1,
          NP_BODY_NONE, 0, 0),
};

static void check_framing_case(const framing_case_t *c)
{
    np_header_t hdrs[MAX_HEADERS];
    np_response_head_t h;
    np_body_kind_e kind = (np_body_kind_e)-1;
    apr_off_t length = -2;
    int reusable = -1;
    const char *err = NULL;

    assert_int_equal(np_http1_parse_response_head(c->head, strlen(c->head),
                     hdrs, MAX_HEADERS, &h, &err), APR_SUCCESS);
    assert_int_equal(np_http1_response_framing(&h, c->is_head, &kind, &length,
                                               &reusable, &err), c->rv);
    if (c->rv != APR_SUCCESS) {
        assert_string_equal(err, c->err);
        return;
    }
    assert_int_equal(kind, c->kind);
    assert_int_equal(length, c->length);
    assert_int_equal(reusable, c->reusable);
}

static void test_framing_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(framing_cases) / sizeof(framing_cases[0]); i++) {
        print_message("framing case %u\n", (unsigned)i);
        check_framing_case(&framing_cases[i]);
    }
}

/* ===========================================================================
 * Chunked decoder
 */

typedef struct {
    apr_status_t rv;
    const char *err;
    char *body;                 /* reassembled data */
    size_t body_len;
    size_t consumed;            /* input bytes used in all */
    int done;
} decoded_t;

/* Piece sizes: 0 = all at once, 1 = byte by byte, else random up to max. */
typedef struct {
    size_t max;
    unsigned long seed;
} splitter_t;

static size_t next_piece(splitter_t *s, size_t left)
{
    size_t n;

    if (s->max == 0) {
        return left;
    }
    /* A fixed LCG: every run of the suite splits the same way. */
    s->seed = s->seed * 1103515245UL + 12345UL;
    n = 1 + (size_t)((s->seed >> 16) % s->max);
    return n < left ? n : left;
}

/* Feed one piece to d until it is used up, the body is done or an error. */
static void feed_piece(np_chunk_decoder_t *d, const char *piece, size_t len,
                       decoded_t *r, size_t *used)
{
    size_t off = 0, consumed;
    const char *data;
    apr_size_t data_len;

    while (off < len && !r->done && r->rv == APR_SUCCESS) {
        r->rv = np_chunk_next(d, piece + off, len - off, &consumed, &data,
                              &data_len, &r->done, &r->err);
        assert_true(consumed <= len - off);
        assert_true(data_len <= consumed);
        if (r->rv == APR_SUCCESS) {
            assert_true(consumed > 0);      /* the contract: progress */
        }
        if (data_len > 0) {
            assert_true(data >= piece + off && data < piece + off + consumed);
            memcpy(r->body + r->body_len, data, data_len);
            r->body_len += data_len;
        }
        off += consumed;
    }
    *used = off;
}

static void decode(apr_pool_t *p, const char *in, size_t len, splitter_t s,
                   decoded_t *r)
{
    np_chunk_decoder_t d;
    size_t off = 0, n, used;
    char *piece;

    memset(r, 0, sizeof(*r));
    r->body = apr_palloc(p, len + 1);
    np_chunk_init(&d);
    while (off < len && !r->done && r->rv == APR_SUCCESS) {
        n = next_piece(&s, len - off);
        piece = exact_copy(in + off, n);
        feed_piece(&d, piece, n, r, &used);
        free(piece);
        off += used;
    }
    r->consumed = off;
}

typedef struct {
    const char *in;
    size_t len;
    apr_status_t rv;
    const char *body;           /* data delivered (before an error, too) */
    size_t body_len;
    int done;
    size_t rest;                /* input bytes left after done */
    const char *err;
} chunk_case_t;

#define CHUNK_OK(in, body) { S(in), APR_SUCCESS, S(body), 1, 0, NULL }
#define CHUNK_PARTIAL(in, body) { S(in), APR_SUCCESS, S(body), 0, 0, NULL }
#define CHUNK_BAD(in, body, err) { S(in), APR_EGENERAL, S(body), 0, 0, err }
#define NO_CRLF "missing CRLF after chunk data"

static const chunk_case_t chunk_cases[] = {
    CHUNK_OK("5\r\nhello\r\n0\r\n\r\n", "hello"),
    CHUNK_OK("0\r\n\r\n", ""),
    CHUNK_OK("5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n", "hello world"),
    CHUNK_OK("a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n",
             "0123456789abcdefghij"),
    CHUNK_OK("0005\r\nhello\r\n0000\r\n\r\n", "hello"),
    CHUNK_OK("0000000000000005\r\nhello\r\n0\r\n\r\n", "hello"),  /* 16 */
    CHUNK_OK("5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello"),
    CHUNK_OK("5;a=\"q; \\\"x\"\t;b\r\nhello\r\n0\r\n\r\n", "hello"),
    CHUNK_OK("5\nhello\n0\n\n", "hello"),                   /* bare LF */
    CHUNK_OK("5\r\nhello\n0\n\r\n", "hello"),
    CHUNK_OK("0\r\nX-Checksum: abc\r\nX-Other:\td\r\n\r\n", ""),
    CHUNK_OK("3\r\nabc\r\n0\r\nExpires: \xff\r\n\n", "abc"),
    CHUNK_OK("7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n", "\r\n0\r\n\r\n"),  /* data */
    CHUNK_OK("4\r\na\0b\n\r\n0\r\n\r\n", "a\0b\n"),
    { S("0\r\n\r\nHTTP/1.1 200 OK\r\n"), APR_SUCCESS, S(""), 1, 17, NULL },
    { S("2\r\nok\r\n0\r\n\r\n\r\n"), APR_SUCCESS, S("ok"), 1, 2, NULL },
    CHUNK_PARTIAL("", ""),
    CHUNK_PARTIAL("5", ""),
    CHUNK_PARTIAL("5\r\nhel", "hel"),
    CHUNK_PARTIAL("5\r\nhello\r\n0\r\n", "hello"),
    CHUNK_PARTIAL("0\r\nX: y\r\n", ""),
    CHUNK_PARTIAL("7fffffffffffffff\r\nabc", "abc"),        /* 2^63-1 */
    CHUNK_BAD("\r\n", "", "bad chunk size"),
    CHUNK_BAD("\n", "", "bad chunk size"),
    CHUNK_BAD(" 5\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
    CHUNK_BAD("5 \r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
    CHUNK_BAD("5\t;x\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
    CHUNK_BAD("0x5\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
    CHUNK_BAD("+5\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
    CHUNK_BAD("-5\r\nhello\r\n0\r\n\r\n", "", "bad chunk size"),
    CHUNK_BAD("g\r\n", "", "bad chunk size"),
    CHUNK_BAD(";ext\r\nhello\r\n", "", "bad chunk size"),
    CHUNK_BAD("5\rhello\r\n", "", "bad chunk size"),       /* bare CR */
    CHUNK_BAD("5;x\rhello\r\n", "", "bad chunk size"),
    CHUNK_BAD("5\r\nhello\r\n\r\n", "hello", "bad chunk size"),
    CHUNK_BAD("5\0\r\nhello", "", "bad chunk size"),
    CHUNK_BAD("00000000000000005\r\nhello\r\n", "", "chunk size too large"),
    CHUNK_BAD("8000000000000000\r\n", "", "chunk size too large"),
    CHUNK_BAD("FFFFFFFFFFFFFFFF\r\n", "", "chunk size too large"),
    CHUNK_BAD("10000000000000000\r\n", "", "chunk size too large"),
    CHUNK_BAD("5;a\x01" "b\r\nhello\r\n0\r\n\r\n", "", "bad chunk extension"),
    CHUNK_BAD("5;a\0b\r\nhello\r\n0\r\n\r\n", "", "bad chunk extension"),
    CHUNK_BAD("5\r\nhelloX\r\n0\r\n\r\n", "hello", NO_CRLF),
    CHUNK_BAD("5\r\nhello\rX\r\n0\r\n\r\n", "hello", NO_CRLF),
    CHUNK_BAD("5\r\nhello\r\r\n0\r\n\r\n", "hello", NO_CRLF),
    CHUNK_BAD("3\r\nhello\r\n0\r\n\r\n", "hel", NO_CRLF),
    CHUNK_BAD("0\r\nX: y\rZ\r\n\r\n", "", "bad character in trailer"),
    CHUNK_BAD("0\r\nX: \0\r\n\r\n", "", "bad character in trailer"),
    CHUNK_BAD("0\r\n\r\r\n", "", "bad character in trailer"),
};

static const splitter_t whole = { 0, 0 }, bytewise = { 1, 0 };

static void check_decoded(const chunk_case_t *c, const decoded_t *r)
{
    assert_int_equal(r->rv, c->rv);
    if (c->rv == APR_SUCCESS) {
        assert_null(r->err);
        assert_int_equal(r->consumed, c->len - c->rest);
    }
    else {
        assert_string_equal(r->err, c->err);
    }
    assert_int_equal(r->done, c->done);
    assert_int_equal(r->body_len, c->body_len);
    assert_memory_equal(r->body, c->body, c->body_len);
}

static void test_chunk_table(void **state)
{
    decoded_t r;
    splitter_t rnd;
    size_t i;
    unsigned long seed;

    for (i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
        print_message("chunk case %u\n", (unsigned)i);
        decode(*state, chunk_cases[i].in, chunk_cases[i].len, whole, &r);
        check_decoded(&chunk_cases[i], &r);
        decode(*state, chunk_cases[i].in, chunk_cases[i].len, bytewise, &r);
        check_decoded(&chunk_cases[i], &r);
        for (seed = 1; seed <= 20; seed++) {
            rnd.max = 4;
            rnd.seed = seed;
            decode(*state, chunk_cases[i].in, chunk_cases[i].len, rnd, &r);
            check_decoded(&chunk_cases[i], &r);
        }
    }
}

/* A long body in chunks of many sizes, with extensions and trailers, split
 * at every byte and at random: the data must come out unchanged. */
static char *make_chunked(apr_pool_t *p, const char *body, size_t body_len,
                          size_t *len)
{
    char *out = apr_palloc(p, body_len * 2 + 4096), *w = out;
    size_t off = 0, n, step = 1;

    while (off < body_len) {
        n = step < body_len - off ? step : body_len - off;
        if (step % 3) {
            w += sprintf(w, "%zx\r\n", n);
        }
        else {
            w += sprintf(w, "%zX;ext=%zu\r\n", n, step);
        }
        memcpy(w, body + off, n);
        w += n;
        w += sprintf(w, (step % 5) ? "\r\n" : "\n");
        off += n;
        step = step * 3 % 1021 + 1;
    }
    w += sprintf(w, "0\r\nX-Trailer: yes\r\nX-More: %s\r\n\r\n", "1");
    *len = (size_t)(w - out);
    return out;
}

static void test_chunk_splits(void **state)
{
    apr_pool_t *p = *state;
    char body[20000];
    size_t i, len;
    const char *in;
    decoded_t r;
    splitter_t rnd;
    unsigned long seed;

    for (i = 0; i < sizeof(body); i++) {
        body[i] = (char)((i * 7 + i / 251) & 0xff);  /* CR, LF, NUL included */
    }
    in = make_chunked(p, body, sizeof(body), &len);
    decode(p, in, len, whole, &r);
    assert_int_equal(r.rv, APR_SUCCESS);
    assert_int_equal(r.done, 1);
    assert_int_equal(r.consumed, len);
    assert_int_equal(r.body_len, sizeof(body));
    assert_memory_equal(r.body, body, sizeof(body));
    decode(p, in, len, bytewise, &r);
    assert_int_equal(r.done, 1);
    assert_int_equal(r.body_len, sizeof(body));
    assert_memory_equal(r.body, body, sizeof(body));
    for (seed = 1; seed <= 200; seed++) {
        rnd.max = seed % 2 ? 16 : 2000;
        rnd.seed = seed;
        decode(p, in, len, rnd, &r);
        assert_int_equal(r.rv, APR_SUCCESS);
        assert_int_equal(r.done, 1);
        assert_int_equal(r.consumed, len);
        assert_int_equal(r.body_len, sizeof(body));
        assert_memory_equal(r.body, body, sizeof(body));
    }
}

/* Every way of cutting a small body in two gives the same result. */
static void test_chunk_every_cut(void **state)
{
    static const char in[] = "3;x=1\r\nabc\r\n2\nde\n0\r\nT: 1\r\n\r\n";
    size_t cut;
    decoded_t r;
    np_chunk_decoder_t d;
    size_t used;
    char *a, *b;

    for (cut = 0; cut <= sizeof(in) - 1; cut++) {
        memset(&r, 0, sizeof(r));
        r.body = apr_palloc(*state, sizeof(in));
        np_chunk_init(&d);
        a = exact_copy(in, cut);
        b = exact_copy(in + cut, sizeof(in) - 1 - cut);
        feed_piece(&d, a, cut, &r, &used);
        assert_int_equal(used, cut);
        feed_piece(&d, b, sizeof(in) - 1 - cut, &r, &used);
        assert_int_equal(used, sizeof(in) - 1 - cut);
        free(a);
        free(b);
        assert_int_equal(r.rv, APR_SUCCESS);
        assert_int_equal(r.done, 1);
        assert_int_equal(r.body_len, 5);
        assert_memory_equal(r.body, "abcde", 5);
    }
}

static apr_status_t decode_all(apr_pool_t *p, const char *in, size_t len,
                               const char **err)
{
    decoded_t r;

    decode(p, in, len, whole, &r);
    *err = r.err;
    return r.rv;
}

static void test_chunk_limits(void **state)
{
    apr_pool_t *p = *state;
    size_t n = NP_CHUNK_SIZE_LINE_MAX + NP_CHUNK_TRAILER_MAX + 64;
    char *in = apr_palloc(p, n);
    const char *err;
    size_t i;

    /* size line: "1;xxx...x" of exactly the limit is fine, one more is not */
    memset(in, 'x', n);
    memcpy(in, "1;", 2);
    memcpy(in + NP_CHUNK_SIZE_LINE_MAX, "\r\nA\r\n0\r\n\r\n", 10);
    assert_int_equal(decode_all(p, in, NP_CHUNK_SIZE_LINE_MAX + 10, &err),
                     APR_SUCCESS);
    memcpy(in + NP_CHUNK_SIZE_LINE_MAX, "x\r\nA\r\n0\r\n\r\n", 11);
    assert_int_equal(decode_all(p, in, NP_CHUNK_SIZE_LINE_MAX + 11, &err),
                     APR_EGENERAL);
    assert_string_equal(err, "chunk size line too long");

    /* one trailer line: "0\r\n" + limit bytes + "\r\n\r\n" */
    memset(in, 'x', n);
    memcpy(in, "0\r\nX:", 5);
    memcpy(in + 3 + NP_CHUNK_TRAILER_LINE_MAX, "\r\n\r\n", 4);
    assert_int_equal(decode_all(p, in, 3 + NP_CHUNK_TRAILER_LINE_MAX + 4,
                                &err), APR_SUCCESS);
    memcpy(in + 3 + NP_CHUNK_TRAILER_LINE_MAX, "x\r\n\r\n", 5);
    assert_int_equal(decode_all(p, in, 3 + NP_CHUNK_TRAILER_LINE_MAX + 5,
                                &err), APR_EGENERAL);
    assert_string_equal(err, "trailer line too long");

    /* all trailer lines, CRLFs included: 16384 bytes end to end */
    memcpy(in, "0\r\n", 3);
    for (i = 0; i < NP_CHUNK_TRAILER_MAX / 8; i++) {
        memcpy(in + 3 + i * 8, "X: 1234\n", 8);
    }
    /* the last 8 bytes become "X: 123\n\n": a line and the end */
    in[3 + NP_CHUNK_TRAILER_MAX - 2] = '\n';
    in[3 + NP_CHUNK_TRAILER_MAX - 1] = '\n';
    assert_int_equal(decode_all(p, in, 3 + NP_CHUNK_TRAILER_MAX, &err),
                     APR_SUCCESS);
    in[3 + NP_CHUNK_TRAILER_MAX - 2] = '4';     /* one byte more needed */
    in[3 + NP_CHUNK_TRAILER_MAX] = '\n';
    assert_int_equal(decode_all(p, in, 3 + NP_CHUNK_TRAILER_MAX + 1, &err),
                     APR_EGENERAL);
    assert_string_equal(err, "trailer too long");
}

static void test_chunk_after_end(void **state)
{
    np_chunk_decoder_t d;
    apr_size_t consumed, data_len;
    const char *data, *err = NULL;
    int done = 0;

    (void)state;
    np_chunk_init(&d);
    assert_int_equal(np_chunk_next(&d, S("0\r\n\r\nX"), &consumed, &data,
                                   &data_len, &done, &err), APR_SUCCESS);
    assert_int_equal(consumed, 5);
    assert_int_equal(data_len, 0);
    assert_int_equal(done, 1);
    /* no input: nothing to do, still done */
    assert_int_equal(np_chunk_next(&d, "", 0, &consumed, &data, &data_len,
                                   &done, &err), APR_SUCCESS);
    assert_int_equal(consumed, 0);
    assert_int_equal(done, 1);
    /* more input: the backend sent bytes nobody asked for */
    assert_int_equal(np_chunk_next(&d, "X", 1, &consumed, &data, &data_len,
                                   &done, &err), APR_EGENERAL);
    assert_string_equal(err, "data after the last chunk");
    assert_int_equal(consumed, 0);
}

static void test_chunk_error_sticks(void **state)
{
    np_chunk_decoder_t d;
    apr_size_t consumed, data_len;
    const char *data, *err = NULL;
    int done;

    (void)state;
    np_chunk_init(&d);
    assert_int_equal(np_chunk_next(&d, S("zz"), &consumed, &data, &data_len,
                                   &done, &err), APR_EGENERAL);
    assert_string_equal(err, "bad chunk size");
    err = NULL;
    assert_int_equal(np_chunk_next(&d, S("5\r\nhello\r\n0\r\n\r\n"), &consumed,
                                   &data, &data_len, &done, &err),
                     APR_EGENERAL);
    assert_string_equal(err, "bad chunk size");
    assert_int_equal(done, 0);
}

/* A data run is returned without waiting for the rest of the chunk: SSE
 * events must pass the proxy as soon as the bytes arrive. */
static void test_chunk_streams(void **state)
{
    np_chunk_decoder_t d;
    apr_size_t consumed, data_len;
    const char *data, *err;
    int done;
    static const char in[] = "400\r\ndata: 1\n\n";

    (void)state;
    np_chunk_init(&d);
    assert_int_equal(np_chunk_next(&d, S(in), &consumed, &data, &data_len,
                                   &done, &err), APR_SUCCESS);
    assert_int_equal(consumed, sizeof(in) - 1);
    assert_ptr_equal(data, in + 5);
    assert_int_equal(data_len, sizeof(in) - 1 - 5);
    assert_int_equal(done, 0);
    assert_int_equal(d.remaining, 0x400 - (sizeof(in) - 1 - 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_head_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_node_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_head_ows_trimmed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_head_too_many_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_header_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_framing_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_every_cut, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chunk_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_after_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chunk_error_sticks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chunk_streams, setup, teardown),
    };
    int failed;

    apr_initialize();
    failed = cmocka_run_group_tests_name("np_http1", tests, NULL, NULL);
    apr_terminate();
    return failed;
}
