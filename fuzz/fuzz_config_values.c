/* fuzz_config_values.c — directive values: durations and CIDRs (and the
 * match of an address against a parsed CIDR): "VALUE\nADDRESS". */
#include "np_fuzz.h"
#include "np_duration.h"
#include "np_cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = np_fuzz_pool();
    const char *f[2], *err = NULL;
    apr_interval_time_t t;
    np_cidr_t c;

    np_fuzz_split(p, data, size, '\n', f, 2);
    if (np_duration_parse(f[0], &t, &err) == APR_SUCCESS && t < 0) {
        abort();
    }
    if (np_cidr_parse_p(p, f[0], &c, &err) == APR_SUCCESS) {
        np_cidr_match(&c, f[1]);
        np_cidr_match(&c, f[0]);
    }
    apr_pool_destroy(p);
    return 0;
}
