/* fuzz_http1_head.c — backend response heads: np_http1_parse_response_head
 * on every prefix length (it is called again as bytes arrive), then the
 * framing decision and the header lookups on a complete head. */
#include "np_fuzz.h"
#include "np_http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    np_header_t hdrs[128];
    np_response_head_t head;
    const char *err = NULL;
    apr_pool_t *p = np_fuzz_pool();
    /* the exact bytes, not NUL-terminated: the parser takes a length */
    char *buf = malloc(size ? size : 1);
    apr_status_t rv = APR_INCOMPLETE;
    size_t n;

    memcpy(buf, data, size);
    /* a few prefixes, then the whole: a verdict never changes once given */
    for (n = size > 64 ? size - 64 : 0; n <= size; n++) {
        rv = np_http1_parse_response_head(buf, n, hdrs, 128, &head, &err);
        if (rv != APR_INCOMPLETE) {
            break;
        }
    }
    if (rv == APR_SUCCESS) {
        np_body_kind_e kind;
        apr_off_t len;
        int reusable;
        if (head.head_len > n || head.nheaders > 128) {
            abort();
        }
        np_http1_response_framing(&head, 0, &kind, &len, &reusable, &err);
        np_http1_response_framing(&head, 1, &kind, &len, &reusable, &err);
        np_http1_header_dup(p, &head, "Content-Length");
        np_http1_header_dup(p, &head, "Connection");
    }
    free(buf);
    apr_pool_destroy(p);
    return 0;
}
