/* np_errover.c — NodeErrorOverride arguments. See np_errover.h. */
#include <string.h>

#include <apr_strings.h>

#include "np_errover.h"

static int is_error_status(const char *s, int *code)
{
    if (strlen(s) != 3 || (s[0] != '4' && s[0] != '5')
        || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9') {
        return 0;
    }
    *code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return 1;
}

apr_status_t np_errover_parse(apr_pool_t *p, int argc, char *const argv[],
                              int *on, apr_array_header_t **codes,
                              const char **err)
{
    int i;

    *codes = NULL;
    if (argc < 1) {
        *err = "needs on or off, then optionally the status codes "
               "(e.g. on 500 502 503)";
        return APR_EINVAL;
    }
    if (strcasecmp(argv[0], "on") == 0) {
        *on = 1;
    }
    else if (strcasecmp(argv[0], "off") == 0) {
        *on = 0;
    }
    else {
        *err = apr_psprintf(p, "\"%s\" is not on or off", argv[0]);
        return APR_EINVAL;
    }
    if (argc > 1 && !*on) {
        *err = "off takes no status codes";
        return APR_EINVAL;
    }
    for (i = 1; i < argc; i++) {
        int code;
        if (!is_error_status(argv[i], &code)) {
            *err = apr_psprintf(p, "\"%s\" is not an error status (a code "
                                "from 400 to 599)", argv[i]);
            return APR_EINVAL;
        }
        if (!*codes) {
            *codes = apr_array_make(p, argc - 1, sizeof(int));
        }
        APR_ARRAY_PUSH(*codes, int) = code;
    }
    return APR_SUCCESS;
}

int np_errover_applies(int on, const apr_array_header_t *codes, int status)
{
    int i;

    if (!on || status < 400 || status > 599) {
        return 0;
    }
    if (!codes) {
        return 1;
    }
    for (i = 0; i < codes->nelts; i++) {
        if (APR_ARRAY_IDX(codes, i, int) == status) {
            return 1;
        }
    }
    return 0;
}
