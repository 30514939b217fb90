/* Pure: the WebSocket opening handshake as a proxy sees it. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_sha1.h>
#include <apr_base64.h>

#include "np_ws.h"

/* Is token (case-insensitive) one of the comma-separated items of list? */
static int has_token(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, ','), *e;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        e = end ? end : p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if ((size_t)(e - p) == tlen && strncasecmp(p, token, tlen) == 0) {
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int np_ws_is_upgrade(const char *method, const char *upgrade,
                     const char *connection)
{
    return method && strcmp(method, "GET") == 0 && upgrade && connection
        && has_token(upgrade, "websocket") && has_token(connection, "upgrade");
}

const char *np_ws_accept(apr_pool_t *p, const char *key)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    char *out;

    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, key, (unsigned int)strlen(key));
    apr_sha1_update(&ctx, guid, (unsigned int)(sizeof(guid) - 1));
    apr_sha1_final(digest, &ctx);
    out = apr_palloc(p, apr_base64_encode_len(APR_SHA1_DIGESTSIZE));
    apr_base64_encode_binary(out, digest, APR_SHA1_DIGESTSIZE);
    return out;
}

int np_ws_answer_ok(apr_pool_t *p, int status, const char *upgrade,
                    const char *accept, const char *client_key,
                    const char **why)
{
    if (status != 101) {
        *why = "not 101 Switching Protocols";
        return 0;
    }
    if (!upgrade || strcasecmp(upgrade, "websocket") != 0) {
        *why = "101 without Upgrade: websocket";
        return 0;
    }
    if (!client_key || !accept) {
        *why = "101 without Sec-WebSocket-Accept";
        return 0;
    }
    if (strcmp(accept, np_ws_accept(p, client_key)) != 0) {
        *why = "Sec-WebSocket-Accept does not match the client's key";
        return 0;
    }
    return 1;
}

int np_ws_h2_refusal(int websocket_on, int pollable, const char **why)
{
    if (!websocket_on) {
        *why = "NodeWebSocket is off here (a WebSocket over HTTP/2 cannot "
               "be answered as a plain request)";
        return 501;
    }
    if (!pollable) {
        *why = "mod_http2 offers no pollable input for the stream "
               "(ap_get_pollfd_from_conn)";
        return 501;
    }
    *why = NULL;
    return 0;
}

int np_ws_h2_eos(np_ws_h2_in_t *in)
{
    return in->eos_seen++ > 0;
}
