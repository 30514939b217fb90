/* Pure: names and keys for https:// backends. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "np_tls.h"

static int is_ipv4(const char *s)
{
    int parts = 0, digits = 0;
    for (; *s; s++) {
        if (apr_isdigit(*s)) {
            if (++digits > 3) {
                return 0;
            }
        }
        else if (*s == '.' && digits > 0) {
            parts++;
            digits = 0;
        }
        else {
            return 0;
        }
    }
    return parts == 3 && digits > 0;
}

int np_tls_host_is_ip(const char *host)
{
    return host && (strchr(host, ':') != NULL || is_ipv4(host));
}

apr_status_t np_tls_check_sni(apr_pool_t *p, const char *name,
                              const char **err)
{
    apr_size_t len = name ? strlen(name) : 0, i, start = 0;

    if (len > 0 && name[len - 1] == '.') {
        len--;   /* the root's dot */
    }
    if (len == 0 || len > 253) {
        *err = apr_psprintf(p, "sni=\"%s\": a TLS server name is a DNS name "
                            "of 1-253 characters", name ? name : "");
        return APR_EINVAL;
    }
    if (np_tls_host_is_ip(name)) {
        *err = apr_psprintf(p, "sni=\"%s\": a TLS server name cannot be an IP "
                            "address", name);
        return APR_EINVAL;
    }
    for (i = 0; i <= len; i++) {
        if (i == len || name[i] == '.') {
            apr_size_t l = i - start;
            if (l == 0 || l > 63 || name[start] == '-' || name[i - 1] == '-') {
                *err = apr_psprintf(p, "sni=\"%s\": \"%.*s\" is not a valid "
                                    "DNS label", name, (int)l, name + start);
                return APR_EINVAL;
            }
            start = i + 1;
        }
        else if (!apr_isalnum(name[i]) && name[i] != '-') {
            *err = apr_psprintf(p, "sni=\"%s\": '%c' is not allowed in a DNS "
                                "name", name, name[i]);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

const char *np_tls_sni_for(const char *host, const char *sni)
{
    if (sni) {
        return sni;
    }
    return np_tls_host_is_ip(host) ? NULL : host;
}

const char *np_tls_settings_key(apr_pool_t *p, const char *ca, int verify,
                                const char *cert, const char *key)
{
    return apr_psprintf(p, "ca=%s|verify=%d|cert=%s|key=%s",
                        ca ? ca : "(system)", verify ? 1 : 0,
                        cert ? cert : "", key ? key : "");
}
