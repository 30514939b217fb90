/* np_fuzz.h — shared by the libFuzzer targets in fuzz/ (see fuzz/README.md).
 * Each target gets the fuzzer's bytes as a NUL-terminated copy and a fresh
 * APR pool per input, so that the parsers see C strings as the glue gives
 * them and every allocation is freed. */
#ifndef NP_FUZZ_H
#define NP_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>

static apr_pool_t *np_fuzz_root;

static apr_pool_t *np_fuzz_pool(void)
{
    apr_pool_t *p = NULL;
    if (!np_fuzz_root) {
        apr_initialize();
        apr_pool_create(&np_fuzz_root, NULL);
    }
    apr_pool_create(&p, np_fuzz_root);
    return p;
}

/* A NUL-terminated copy of data (embedded NULs end the string early, as
 * they would in a header value). */
static char *np_fuzz_str(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *s = apr_palloc(p, size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Split "a\0b\0c" style input into up to n strings (missing ones ""). */
static int np_fuzz_split(apr_pool_t *p, const uint8_t *data, size_t size,
                         char sep, const char **out, int n)
{
    char *s = apr_palloc(p, size + 1);
    int k = 0;
    size_t i, start = 0;
    memcpy(s, data, size);
    s[size] = '\0';
    for (i = 0; i <= size && k < n; i++) {
        if (i == size || s[i] == sep) {
            s[i] = '\0';
            out[k++] = s + start;
            start = i + 1;
        }
    }
    while (k < n) {
        out[k++] = "";
    }
    return k;
}

#endif
