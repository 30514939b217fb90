/* fuzz_sticky.c — cookies and sticky routes: "COOKIE-HEADER\nNAME\nROUTE"
 * into np_sticky_cookie_get, np_sticky_check_name/route, np_sticky_route_id
 * and np_sticky_set_cookie. */
#include "np_fuzz.h"
#include "np_sticky.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = np_fuzz_pool();
    const char *f[3], *err = NULL;

    np_fuzz_split(p, data, size, '\n', f, 3);
    np_sticky_cookie_get(p, f[0], f[1]);
    np_sticky_route_id(p, f[2]);
    if (np_sticky_check_name(p, f[1], &err) == APR_SUCCESS
        && np_sticky_check_route(p, f[2], &err) == APR_SUCCESS) {
        const char *c = np_sticky_set_cookie(p, f[1], f[2], size & 1);
        /* what we set, we read back */
        const char *back = np_sticky_cookie_get(p, c, f[1]);
        if (!back || strcmp(back, f[2]) != 0) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
