/* fuzz_forwarded.c — forwarded headers: the incoming values of a trusted
 * peer and the client's Host, "\n"-separated, into np_forwarded_build
 * (which must never put a line end into a value); then the header
 * predicates on the same strings. */
#include "np_fuzz.h"
#include "np_forwarded.h"
#include "np_headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = np_fuzz_pool();
    const char *f[9];
    np_forwarded_in_t in;
    np_forwarded_out_t out;
    int i;

    np_fuzz_split(p, data, size, '\n', f, 9);
    /* The glue's inputs are header values and addresses as httpd parsed
     * them: never a CR or LF (httpd splits lines at them). */
    for (i = 0; i < 9; i++) {
        char *c;
        for (c = (char *)f[i]; *c; c++) {
            if (*c == '\r') {
                *c = ' ';
            }
        }
    }
    memset(&in, 0, sizeof(in));
    in.client_ip = *f[0] ? f[0] : NULL;
    in.host = *f[1] ? f[1] : NULL;
    in.server_name = "localhost";
    in.port = size ? data[0] * 257u : 0;
    in.prefix = *f[2] ? f[2] : NULL;
    in.tls = size > 1 && (data[1] & 1);
    in.trusted = size > 1 && (data[1] & 2);
    in.in_xff = f[3];
    in.in_proto = f[4];
    in.in_host = f[5];
    in.in_port = f[6];
    in.in_prefix = f[7];
    in.in_forwarded = f[8];
    np_forwarded_build(p, &in, &out);
    /* what is built goes into header values: no line ends, ever */
    {
        const char *v[6] = { out.xff, out.proto, out.host, out.port,
                             out.prefix, out.forwarded };
        for (i = 0; i < 6; i++) {
            if (v[i] && (strchr(v[i], '\r') || strchr(v[i], '\n'))) {
                abort();
            }
        }
    }
    for (i = 0; i < 9; i++) {
        np_request_header_dropped(f[i], f[(i + 1) % 9], i & 1);
        np_response_header_dropped(f[i], f[(i + 1) % 9]);
        np_header_in_connection(f[i], f[(i + 2) % 9]);
        np_header_is_client_ip(f[i]);
        np_method_idempotent(f[i]);
    }
    apr_pool_destroy(p);
    return 0;
}
