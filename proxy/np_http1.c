/* np_http1.c — backend response parsing. See np_http1.h. */
#include <string.h>

#include <apr_cstr.h>

#include <apr_strings.h>
#include "np_http1.h"

#define CR '\r'
#define LF '\n'

static apr_status_t fail(const char **err, const char *msg)
{
    *err = msg;
    return APR_EGENERAL;
}

/* ===========================================================================
 * Character classes (RFC 9110 5.6.2, 5.5)
 */

static int is_tchar(unsigned char c)
{
    static const char others[] = "!#$%&'*+-.^_`|~";

    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || memchr(others, c, sizeof(others) - 1) != NULL;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* SP, HTAB, VCHAR, obs-text: every byte but the other controls and DEL. */
static int is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* ===========================================================================
 * Response head
 */

typedef enum {
    LINE_PARTIAL,               /* no line end yet */
    LINE_DONE,
    LINE_BAD_CR,                /* a CR that is not followed by LF */
    LINE_BAD_LF                 /* a LF that does not follow a CR */
} line_e;

/* Find the end of the line that starts at buf[pos]. *content is the length
 * of the line without its CRLF/LF (for LINE_PARTIAL: of what is there, less
 * a final CR still waiting for its LF); *next is where the next line
 * starts. */
static line_e scan_line(const char *buf, apr_size_t len, apr_size_t pos,
                        apr_size_t *content, apr_size_t *next)
{
    apr_size_t i;

    for (i = pos; i < len; i++) {
        if (buf[i] == LF) {
            /* A bare LF would end the line for some recipients and not for
             * others: what follows could become a header of its own. */
            return LINE_BAD_LF;
        }
        if (buf[i] == CR) {
            if (i + 1 == len) {
                break;
            }
            if (buf[i + 1] != LF) {
                return LINE_BAD_CR;
            }
            *content = i - pos;
            *next = i + 2;
            return LINE_DONE;
        }
    }
    *content = i - pos;
    return LINE_PARTIAL;
}

/* Check the n bytes of the status line that are there; with complete, the
 * line is whole and *out is filled. Byte positions:
 * "HTTP/1.1 200 OK": version 0-7, SP 8, code 9-11, SP 12, reason 13-. */
static apr_status_t parse_status_line(const char *l, apr_size_t n,
                                      int complete, np_response_head_t *out,
                                      const char **err)
{
    static const char version[] = "HTTP/1.";
    apr_size_t i;

    for (i = 0; i < n && i < 7; i++) {
        if (l[i] != version[i]) {
            return fail(err, i < 5 ? "not an HTTP response"
                                   : "unsupported HTTP version");
        }
    }
    if (n > 7 && l[7] != '0' && l[7] != '1') {
        return fail(err, "unsupported HTTP version");
    }
    if (n > 8 && l[8] != ' ') {
        return fail(err, "malformed status line");
    }
    for (i = 9; i < n && i < 12; i++) {
        if (l[i] < (i == 9 ? '1' : '0') || l[i] > (i == 9 ? '5' : '9')) {
            return fail(err, "bad status code");
        }
    }
    if (n > 12 && l[12] != ' ') {
        return fail(err, "malformed status line");
    }
    for (i = 13; i < n; i++) {
        if (!is_field_char((unsigned char)l[i])) {
            return fail(err, "bad character in reason phrase");
        }
    }
    if (!complete) {
        return APR_INCOMPLETE;
    }
    if (n < 12) {
        return fail(err, n < 5 ? "not an HTTP response"
                               : "malformed status line");
    }
    out->minor = l[7] - '0';
    out->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    out->reason = l + (n > 12 ? 13 : 12);
    out->reason_len = n > 12 ? n - 13 : 0;
    return APR_SUCCESS;
}

/* "name: value" without its line end; n > 0. */
static apr_status_t parse_header_line(const char *l, apr_size_t n,
                                      np_header_t *h, const char **err)
{
    apr_size_t i = 0, end;

    if (is_ows(l[0])) {
        return fail(err, "folded header line (obs-fold)");
    }
    while (i < n && is_tchar((unsigned char)l[i])) {
        i++;
    }
    if (i == n) {
        return fail(err, "header line without colon");
    }
    if (l[i] != ':') {
        return fail(err, is_ows(l[i]) ? "whitespace before colon in header"
                                      : "bad character in header name");
    }
    if (i == 0) {
        return fail(err, "empty header name");
    }
    h->name = l;
    h->name_len = i;
    for (i++; i < n && is_ows(l[i]); i++) {
    }
    for (end = n; end > i && is_ows(l[end - 1]); end--) {
    }
    h->value = l + i;
    h->value_len = end - i;
    for (; i < end; i++) {
        if (!is_field_char((unsigned char)l[i])) {
            return fail(err, "bad character in header value");
        }
    }
    return APR_SUCCESS;
}

apr_status_t np_http1_parse_response_head(const char *buf, apr_size_t len,
                                          np_header_t *hdrs, int max_headers,
                                          np_response_head_t *out,
                                          const char **err)
{
    apr_size_t pos, n = 0, next = 0;
    apr_status_t rv;
    line_e le;

    memset(out, 0, sizeof(*out));
    out->headers = hdrs;
    le = scan_line(buf, len, 0, &n, &next);
    if (le == LINE_BAD_CR) {
        return fail(err, "bare CR in response head");
    }
    if (le == LINE_BAD_LF) {
        return fail(err, "bare LF in response head");
    }
    rv = parse_status_line(buf, n, le == LINE_DONE, out, err);
    for (pos = next; rv == APR_SUCCESS; pos = next) {
        le = scan_line(buf, len, pos, &n, &next);
        if (le == LINE_BAD_CR) {
            return fail(err, "bare CR in response head");
        }
        if (le == LINE_BAD_LF) {
            return fail(err, "bare LF in response head");
        }
        if (le == LINE_PARTIAL) {
            return APR_INCOMPLETE;
        }
        if (n == 0) {
            out->head_len = next;
            return APR_SUCCESS;
        }
        if (out->nheaders >= max_headers) {
            return fail(err, "too many headers");
        }
        rv = parse_header_line(buf + pos, n, &hdrs[out->nheaders++], err);
    }
    return rv;
}

static int name_is(const np_header_t *h, const char *name, apr_size_t len)
{
    return h->name_len == len && apr_cstr_casecmpn(h->name, name, len) == 0;
}

const char *np_http1_header(const np_response_head_t *h, const char *name,
                            apr_size_t *value_len)
{
    apr_size_t len = strlen(name);
    int i;

    for (i = 0; i < h->nheaders; i++) {
        if (name_is(&h->headers[i], name, len)) {
            if (value_len) {
                *value_len = h->headers[i].value_len;
            }
            return h->headers[i].value;
        }
    }
    return NULL;
}

/* ===========================================================================
 * Framing
 */

/* Walks the comma-separated elements of every header line named name, as
 * one list (RFC 9110 5.3). Empty elements are returned too, so that callers
 * can refuse them where that matters. */
typedef struct {
    const np_response_head_t *h;
    const char *name;
    apr_size_t name_len;
    int hdr;                    /* current header index */
    apr_size_t pos;             /* offset in its value; > value_len: next */
} list_iter_t;

static void list_init(list_iter_t *it, const np_response_head_t *h,
                      const char *name)
{
    it->h = h;
    it->name = name;
    it->name_len = strlen(name);
    it->hdr = -1;
    it->pos = 1;
}

static int list_next(list_iter_t *it, const char **e, apr_size_t *elen)
{
    const np_header_t *hd;
    apr_size_t end;

    while (it->hdr < 0 || it->pos > it->h->headers[it->hdr].value_len) {
        if (++it->hdr >= it->h->nheaders) {
            return 0;
        }
        it->pos = name_is(&it->h->headers[it->hdr], it->name, it->name_len)
                  ? 0 : (apr_size_t)-1;
    }
    hd = &it->h->headers[it->hdr];
    for (end = it->pos; end < hd->value_len && hd->value[end] != ','; end++) {
    }
    *e = hd->value + it->pos;
    *elen = end - it->pos;
    it->pos = end + 1;
    while (*elen > 0 && is_ows(**e)) {
        (*e)++;
        (*elen)--;
    }
    while (*elen > 0 && is_ows((*e)[*elen - 1])) {
        (*elen)--;
    }
    return 1;
}

static int element_is(const char *e, apr_size_t elen, const char *token)
{
    apr_size_t len = strlen(token);

    return elen == len && apr_cstr_casecmpn(e, token, len) == 0;
}

/* Every Content-Length value: 1..18 digits, all equal. */
static apr_status_t content_length(const np_response_head_t *h, int *present,
                                   apr_off_t *length, const char **err)
{
    list_iter_t it;
    const char *e;
    apr_size_t elen, i;
    apr_int64_t v;

    *present = 0;
    list_init(&it, h, "Content-Length");
    while (list_next(&it, &e, &elen)) {
        if (elen == 0 || elen > 18) {
            return fail(err, "bad Content-Length");
        }
        for (v = 0, i = 0; i < elen; i++) {
            if (e[i] < '0' || e[i] > '9') {
                return fail(err, "bad Content-Length");
            }
            v = v * 10 + (e[i] - '0');
        }
        if ((apr_off_t)v != v) {
            return fail(err, "bad Content-Length");   /* 32-bit apr_off_t */
        }
        if (*present && *length != (apr_off_t)v) {
            return fail(err, "conflicting Content-Length values");
        }
        *present = 1;
        *length = (apr_off_t)v;
    }
    return APR_SUCCESS;
}

/* All Transfer-Encoding lines together must say exactly "chunked". */
static apr_status_t transfer_encoding(const np_response_head_t *h,
                                      int *present, const char **err)
{
    list_iter_t it;
    const char *e;
    apr_size_t elen;

    *present = 0;
    list_init(&it, h, "Transfer-Encoding");
    while (list_next(&it, &e, &elen)) {
        if (*present || !element_is(e, elen, "chunked")) {
            return fail(err, "unsupported Transfer-Encoding");
        }
        *present = 1;
    }
    return APR_SUCCESS;
}

static int connection_close(const np_response_head_t *h)
{
    list_iter_t it;
    const char *e;
    apr_size_t elen;

    list_init(&it, h, "Connection");
    while (list_next(&it, &e, &elen)) {
        if (element_is(e, elen, "close")) {
            return 1;
        }
    }
    return 0;
}

static int status_has_no_body(int status)
{
    return status < 200 || status == 204 || status == 304;
}

apr_status_t np_http1_response_framing(const np_response_head_t *h,
                                       int request_is_head,
                                       np_body_kind_e *kind,
                                       apr_off_t *length, int *reusable,
                                       const char **err)
{
    int has_cl, has_te;
    apr_off_t cl = 0;
    apr_status_t rv;

    if ((rv = content_length(h, &has_cl, &cl, err)) != APR_SUCCESS
        || (rv = transfer_encoding(h, &has_te, err)) != APR_SUCCESS) {
        return rv;
    }
    if (has_te && has_cl) {
        return fail(err, "both Transfer-Encoding and Content-Length");
    }
    if (has_te && h->minor == 0) {
        return fail(err, "Transfer-Encoding in an HTTP/1.0 response");
    }
    *reusable = h->minor == 1 && h->status != 101 && !connection_close(h);
    if ((h->status < 200 || h->status == 204) && (has_te || cl != 0)) {
        /* It announces a body where none can be: the head is good for
         * the client, the connection is not for another request. */
        *reusable = 0;
    }
    if (request_is_head || status_has_no_body(h->status)) {
        *kind = NP_BODY_NONE;
        *length = 0;
    }
    else if (has_te) {
        *kind = NP_BODY_CHUNKED;
        *length = -1;
    }
    else if (has_cl) {
        *kind = NP_BODY_LENGTH;
        *length = cl;
    }
    else {
        *kind = NP_BODY_UNTIL_CLOSE;
        *length = -1;
        *reusable = 0;
    }
    return APR_SUCCESS;
}

/* ===========================================================================
 * Chunked decoder
 */

enum {
    CH_SIZE,                    /* hex digits of the chunk size */
    CH_EXT,                     /* ";ext..." up to the line end */
    CH_SIZE_LF,                 /* CR seen at the end of the size line */
    CH_DATA,
    CH_DATA_CR,                 /* CRLF expected after the data */
    CH_DATA_LF,
    CH_TRAILER,                 /* trailer lines, or the final empty line */
    CH_TRAILER_LF,
    CH_DONE,
    CH_ERROR
};

static apr_status_t chunk_fail(np_chunk_decoder_t *d, const char *msg)
{
    d->state = CH_ERROR;
    d->err = msg;
    return APR_EGENERAL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static void end_size_line(np_chunk_decoder_t *d)
{
    d->state = d->remaining == 0 ? CH_TRAILER : CH_DATA;
    d->digits = 0;
    d->line_len = 0;
}

static apr_status_t size_digit(np_chunk_decoder_t *d, int v)
{
    if (d->digits == 16 || d->remaining > (APR_INT64_MAX - v) / 16) {
        return chunk_fail(d, "chunk size too large");
    }
    d->remaining = d->remaining * 16 + v;
    d->digits++;
    return APR_SUCCESS;
}

/* One byte of the size line (CH_SIZE, CH_EXT or CH_SIZE_LF). */
static apr_status_t size_line_byte(np_chunk_decoder_t *d, char c)
{
    if (d->state == CH_SIZE_LF) {
        if (c != LF) {
            return chunk_fail(d, "bad chunk size");
        }
        end_size_line(d);
        return APR_SUCCESS;
    }
    if (c == CR || c == LF) {
        if (d->digits == 0) {
            return chunk_fail(d, "bad chunk size");
        }
        if (c == LF) {
            end_size_line(d);
        }
        else {
            d->state = CH_SIZE_LF;
        }
        return APR_SUCCESS;
    }
    if (++d->line_len > NP_CHUNK_SIZE_LINE_MAX) {
        return chunk_fail(d, "chunk size line too long");
    }
    if (d->state == CH_EXT) {
        return is_field_char((unsigned char)c) ? APR_SUCCESS
               : chunk_fail(d, "bad chunk extension");
    }
    if (hex_value(c) >= 0) {
        return size_digit(d, hex_value(c));
    }
    if (c != ';' || d->digits == 0) {
        return chunk_fail(d, "bad chunk size");
    }
    d->state = CH_EXT;
    return APR_SUCCESS;
}

/* CRLF (or LF) after the chunk data. */
static apr_status_t data_end_byte(np_chunk_decoder_t *d, char c)
{
    if (c == CR && d->state == CH_DATA_CR) {
        d->state = CH_DATA_LF;
    }
    else if (c == LF) {
        d->state = CH_SIZE;
    }
    else {
        return chunk_fail(d, "missing CRLF after chunk data");
    }
    return APR_SUCCESS;
}

/* Trailer lines are skipped; the empty line ends the body. */
static apr_status_t trailer_byte(np_chunk_decoder_t *d, char c)
{
    if (++d->trailer_len > NP_CHUNK_TRAILER_MAX) {
        return chunk_fail(d, "trailer too long");
    }
    if (c == LF) {
        d->state = d->line_len == 0 ? CH_DONE : CH_TRAILER;
        d->line_len = 0;
        return APR_SUCCESS;
    }
    if (d->state == CH_TRAILER_LF) {
        return chunk_fail(d, "bad character in trailer");
    }
    if (c == CR) {
        d->state = CH_TRAILER_LF;
        return APR_SUCCESS;
    }
    if (!is_field_char((unsigned char)c)) {
        return chunk_fail(d, "bad character in trailer");
    }
    if (++d->line_len > NP_CHUNK_TRAILER_LINE_MAX) {
        return chunk_fail(d, "trailer line too long");
    }
    return APR_SUCCESS;
}

static apr_status_t framing_byte(np_chunk_decoder_t *d, char c)
{
    switch (d->state) {
    case CH_SIZE:
    case CH_EXT:
    case CH_SIZE_LF:
        return size_line_byte(d, c);
    case CH_DATA_CR:
    case CH_DATA_LF:
        return data_end_byte(d, c);
    default:
        return trailer_byte(d, c);
    }
}

void np_chunk_init(np_chunk_decoder_t *d)
{
    memset(d, 0, sizeof(*d));
    d->state = CH_SIZE;
}

apr_status_t np_chunk_next(np_chunk_decoder_t *d, const char *in,
                           apr_size_t len, apr_size_t *consumed,
                           const char **data, apr_size_t *data_len,
                           int *done, const char **err)
{
    apr_status_t rv = APR_SUCCESS;
    apr_size_t i = 0, n;

    *consumed = 0;
    *data = NULL;
    *data_len = 0;
    *done = d->state == CH_DONE;
    if (d->state == CH_ERROR || (*done && len > 0)) {
        *err = d->state == CH_ERROR ? d->err : "data after the last chunk";
        return APR_EGENERAL;
    }
    while (i < len && d->state != CH_DONE && rv == APR_SUCCESS) {
        if (d->state == CH_DATA) {
            /* One run of data per call; the caller passes it on. */
            n = (apr_off_t)(len - i) < d->remaining ? len - i
                                                    : (apr_size_t)d->remaining;
            *data = in + i;
            *data_len = n;
            i += n;
            if ((d->remaining -= (apr_off_t)n) == 0) {
                d->state = CH_DATA_CR;
            }
            break;
        }
        rv = framing_byte(d, in[i++]);
    }
    *consumed = i;
    *done = d->state == CH_DONE;
    if (rv != APR_SUCCESS) {
        *err = d->err;
    }
    return rv;
}

const char *np_http1_header_dup(apr_pool_t *p, const np_response_head_t *h,
                                const char *name)
{
    apr_size_t len = 0;
    const char *v = np_http1_header(h, name, &len);
    return v ? apr_pstrmemdup(p, v, len) : NULL;
}
