/* fuzz_map.c — mapping and paths: "PATH\nTARGET\nKEY=VAL\nURI\nARGS" ->
 * np_mapping_check_path, np_target_parse, np_mapping_set_key, a one-entry
 * table, np_map_match, np_map_backend_uri, np_uri_escape_path,
 * np_uri_has_dot_segment. A URI that matches must give a backend path
 * under the target path. */
#include "np_fuzz.h"
#include "np_map.h"
#include "np_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = np_fuzz_pool();
    const char *f[5], *err = NULL;
    np_mapping_t *m = apr_pcalloc(p, sizeof(*m));
    apr_array_header_t *own = apr_array_make(p, 1, sizeof(np_mapping_t *));

    np_fuzz_split(p, data, size, '\n', f, 5);
    np_uri_escape_path(p, f[3]);
    np_uri_has_dot_segment(f[3]);
    np_uri_join(p, f[0], f[3]);
    if (np_mapping_check_path(p, f[0], &err) == APR_SUCCESS
        && np_target_parse(p, f[1], &m->target, &err) == APR_SUCCESS) {
        const np_mapping_t *hit;
        m->path = f[0];
        m->path_len = strlen(f[0]);
        m->timeout = m->connect_timeout = NP_UNSET;
        m->websocket = m->preserve_host = m->reverse = NP_UNSET;
        np_mapping_set_key(p, m, f[2], &err);
        APR_ARRAY_PUSH(own, np_mapping_t *) = m;
        hit = np_map_match(np_map_compile(p, own, NULL), f[3]);
        if (hit) {
            const char *u = np_map_backend_uri(p, hit, f[3],
                                               *f[4] ? f[4] : NULL);
            if (!u || u[0] != '/') {
                abort();
            }
        }
    }
    apr_pool_destroy(p);
    return 0;
}
