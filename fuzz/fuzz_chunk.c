/* fuzz_chunk.c — the incremental chunked decoder. The first byte picks how
 * the rest is split into calls; the decoded body must be the same whatever
 * the split (checked against a one-call decode). */
#include "np_fuzz.h"
#include "np_http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_status_t decode(const char *in, size_t len, size_t step,
                           char *out, size_t *out_len, int *done)
{
    np_chunk_decoder_t d;
    const char *err = NULL;
    size_t pos = 0;
    apr_status_t rv = APR_SUCCESS;

    np_chunk_init(&d);
    *out_len = 0;
    *done = 0;
    while (pos < len && !*done) {
        size_t avail = len - pos < step ? len - pos : step;
        while (avail > 0 && !*done) {
            const char *span;
            apr_size_t used = 0, span_len = 0;
            rv = np_chunk_next(&d, in + pos, avail, &used, &span, &span_len,
                               done, &err);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            if (used == 0 || used > avail || span_len > avail) {
                abort();
            }
            if (span_len) {
                memcpy(out + *out_len, span, span_len);
            }
            *out_len += span_len;
            pos += used;
            avail -= used;
        }
    }
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t step, n1, n2;
    int d1, d2;
    char *o1, *o2;
    apr_status_t r1, r2;

    if (size < 1) {
        return 0;
    }
    step = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    o1 = malloc(size + 1);
    o2 = malloc(size + 1);
    r1 = decode((const char *)data, size, size ? size : 1, o1, &n1, &d1);
    r2 = decode((const char *)data, size, step, o2, &n2, &d2);
    /* same verdict and the same body bytes, whatever the split */
    if (r1 == APR_SUCCESS && r2 == APR_SUCCESS
        && (d1 != d2 || n1 != n2 || memcmp(o1, o2, n1) != 0)) {
        abort();
    }
    if ((r1 == APR_SUCCESS) != (r2 == APR_SUCCESS)) {
        abort();
    }
    free(o1);
    free(o2);
    return 0;
}
