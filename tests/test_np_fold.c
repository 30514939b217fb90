/* Unit tests of proxy/np_fold.c: folds found, look-alikes not, and the
 * same answer however the bytes are split between reads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "np_fold.h"

/* Scan head in pieces of at most step bytes (0: all at once). */
static int folded(const char *head, size_t step)
{
    np_fold_t st;
    size_t n = strlen(head), i;
    np_fold_reset(&st);
    if (step == 0) {
        np_fold_scan(&st, head, n);
        return st.folded;
    }
    for (i = 0; i < n; i += step) {
        np_fold_scan(&st, head + i, n - i < step ? n - i : step);
    }
    return st.folded;
}

static const struct {
    const char *head;
    int folded;
} cases[] = {
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", 1 },
    { "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n", 1 },
    { "GET / HTTP/1.1\nX-A: 1\n 2\n\n", 1 },                 /* bare LF */
    { "GET / HTTP/1.1\r\nX-A: 1 2\r\nX-B:  3\r\n\r\n", 0 },  /* inner SP */
    /* after the empty line a leading SP is body or the next head, not a
     * continuation of anything */
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\n x", 0 },
    { " GET / HTTP/1.1\r\n", 0 },                              /* first line */
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n x\r\n", 0 },       /* CRs only */
    { "GET / HTTP/1.1\r\nHost: a\r\n\rx\r\n y\r\n", 1 },      /* CR + text */
    { "GET / HTTP/1.1\r\nX-A:\r\n y\r\n", 1 },    /* "X-A:" has content */
};

static void test_cases_whole_and_split(void **state)
{
    size_t c, step;
    (void)state;
    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (step = 0; step <= 7; step++) {
            if (folded(cases[c].head, step) != cases[c].folded) {
                fail_msg("case %zu (\"%s\") split every %zu: folded %d, want %d",
                         c, cases[c].head, step, !cases[c].folded,
                         cases[c].folded);
            }
        }
    }
}

static void test_reset_forgets(void **state)
{
    np_fold_t st;
    const char *a = "GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n";
    const char *b = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    (void)state;
    np_fold_reset(&st);
    np_fold_scan(&st, a, strlen(a));
    assert_true(st.folded);
    np_fold_reset(&st);
    np_fold_scan(&st, b, strlen(b));
    assert_false(st.folded);
}

static void test_empty_read(void **state)
{
    np_fold_t st;
    (void)state;
    np_fold_reset(&st);
    np_fold_scan(&st, "", 0);
    assert_false(st.folded);
    assert_true(st.line_start);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_whole_and_split),
        cmocka_unit_test(test_reset_forgets),
        cmocka_unit_test(test_empty_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
