/* np_http1.h — backend HTTP/1.x responses: head, framing, chunks. */
#ifndef NP_HTTP1_H
#define NP_HTTP1_H

/* HTTP/1.x response parsing for the backend side of the proxy (pure: C99 +
 * APR only). Strict on purpose: whatever is accepted here is re-framed for
 * the client, so anything ambiguous is refused (the glue answers 502) rather
 * than guessed at. That is what keeps response splitting and smuggling out. */

#include <apr_pools.h>

/* ---------------------------------------------------------------------------
 * Response head
 */

typedef struct {
    const char *name;           /* points into the parsed buffer, no NUL */
    apr_size_t name_len;
    const char *value;          /* leading/trailing SP and HTAB trimmed */
    apr_size_t value_len;
} np_header_t;

typedef struct {
    int status;                 /* 100..599 */
    int minor;                  /* HTTP/1.<minor>, 0 or 1 */
    const char *reason;         /* may be empty (reason_len 0) */
    apr_size_t reason_len;
    np_header_t *headers;       /* the hdrs array passed in */
    int nheaders;
    apr_size_t head_len;        /* bytes of buf used, through the blank line */
} np_response_head_t;

/* Parse a response head in place: no copies, every pointer points into buf.
 *
 * Returns APR_SUCCESS for a complete head, APR_INCOMPLETE when the blank line
 * has not arrived yet and nothing is wrong so far, APR_EGENERAL when the head
 * is malformed (*err, a static string, says why). *out is only meaningful on
 * APR_SUCCESS. Stateless: call again with the grown buffer as bytes arrive;
 * bounding the buffer (a head that never ends) is the caller's job.
 *
 * Accepted:
 * - status line "HTTP/1.0" or "HTTP/1.1", SP, 3 digits 100-599, then SP and
 *   a reason phrase (possibly empty), or nothing at all ("HTTP/1.1 204");
 * - lines ending in CRLF;
 * - header lines "token: value"; the value may hold SP, HTAB, VCHAR and
 *   obs-text (0x80-0xFF).
 * Rejected (APR_EGENERAL):
 * - anything else as status line, detected while it arrives (a byte that
 *   cannot start "HTTP/1.x NNN" is an error at once, without waiting for the
 *   end of the line);
 * - a CR not followed by LF, or a LF not preceded by CR, anywhere (a bare
 *   LF inside a header would let a backend inject a header line);
 * - obs-fold (a line starting with SP or HTAB), an empty header name, a
 *   name that is not a token, whitespace before the colon, no colon;
 * - control characters other than HTAB (including NUL and DEL) in a value
 *   or in the reason phrase;
 * - more than max_headers header lines ("too many headers").
 */
apr_status_t np_http1_parse_response_head(const char *buf, apr_size_t len,
                                          np_header_t *hdrs, int max_headers,
                                          np_response_head_t *out,
                                          const char **err);

/* Value of the first header named name (ASCII case-insensitive), with its
 * length in *value_len (if not NULL); NULL if there is none. The value is
 * not NUL-terminated. */
const char *np_http1_header(const np_response_head_t *h, const char *name,
                            apr_size_t *value_len);

/* The same, copied into p as a C string; NULL if there is none. */
const char *np_http1_header_dup(apr_pool_t *p, const np_response_head_t *h,
                                const char *name);

/* ---------------------------------------------------------------------------
 * Response body framing (RFC 9112 section 6.3)
 */

typedef enum {
    NP_BODY_NONE,               /* no body follows the head */
    NP_BODY_LENGTH,             /* exactly *length bytes (may be 0) */
    NP_BODY_CHUNKED,            /* decode with np_chunk_next() */
    NP_BODY_UNTIL_CLOSE         /* the body ends when the backend closes */
} np_body_kind_e;

/* Decide how the body of a parsed head is framed and whether the backend
 * connection may be reused after it. *length is the Content-Length for
 * NP_BODY_LENGTH, 0 for NP_BODY_NONE, -1 otherwise.
 *
 * - NONE for a HEAD request, 1xx, 204 and 304.
 * - Transfer-Encoding: the values of all its header lines together must be
 *   exactly one "chunked" (case-insensitive) -> CHUNKED.
 * - Content-Length: 1 to 18 digits; several header lines or a comma list
 *   are fine when every value is the same -> LENGTH.
 * - neither -> UNTIL_CLOSE.
 * - *reusable is 0 for HTTP/1.0, a "Connection" header listing "close",
 *   101 (the connection becomes a tunnel), UNTIL_CLOSE, and a 1xx or 204
 *   with Transfer-Encoding or a non-zero Content-Length (it announces a
 *   body where none can be: NONE, and the connection is not reused);
 *   else 1.
 * The header values are checked even when the response has no body, since
 * the glue may pass Content-Length on (HEAD, 304).
 *
 * APR_EGENERAL with a static *err for: any other Transfer-Encoding, both
 * Transfer-Encoding and Content-Length, Transfer-Encoding in an HTTP/1.0
 * response (RFC 9112 6.1: faulty framing), a malformed or conflicting
 * Content-Length.
 */
apr_status_t np_http1_response_framing(const np_response_head_t *h,
                                       int request_is_head,
                                       np_body_kind_e *kind,
                                       apr_off_t *length, int *reusable,
                                       const char **err);

/* ---------------------------------------------------------------------------
 * Incremental chunked body decoder (backend -> proxy)
 */

#define NP_CHUNK_SIZE_LINE_MAX  4096    /* size + extensions, without CRLF */
#define NP_CHUNK_TRAILER_LINE_MAX 8192  /* one trailer line, without CRLF */
#define NP_CHUNK_TRAILER_MAX    16384   /* all trailer lines, with CRLFs */

typedef struct {
    int state;
    apr_off_t remaining;        /* chunk size being read, then bytes left */
    int digits;                 /* hex digits of the size read so far */
    apr_size_t line_len;        /* bytes of the current size/trailer line */
    apr_size_t trailer_len;     /* bytes of trailer so far */
    const char *err;            /* set once an error happened: it sticks */
} np_chunk_decoder_t;

void np_chunk_init(np_chunk_decoder_t *d);

/* Consume from in[0..len). *consumed is the number of input bytes used (> 0
 * unless len == 0); *data and *data_len a run of body bytes inside in
 * (data_len may be 0 when only framing was consumed); at most one run per
 * call, returned as soon as it is there (no waiting for the chunk's end).
 * Call again with in + *consumed until the input is used up; any split of
 * the input gives the same body. *done becomes 1 once the last chunk, the
 * trailers (skipped) and the final CRLF are consumed; bytes after that are
 * not consumed, and a call with more input after done is an error ("data
 * after the last chunk").
 *
 * Accepted: a size of 1 to 16 hex digits, an optional ";extension" (skipped;
 * the whole size line at most NP_CHUNK_SIZE_LINE_MAX bytes), CRLF or bare LF
 * line ends; trailer lines of at most NP_CHUNK_TRAILER_LINE_MAX bytes and
 * NP_CHUNK_TRAILER_MAX in all.
 * APR_EGENERAL with a static *err: "bad chunk size" (empty, leading space,
 * "0x", a sign, anything but ';' or the line end after the digits),
 * "chunk size too large" (more than 16 digits or above 2^63-1), "chunk size
 * line too long", "bad chunk extension" (a control character), "missing
 * CRLF after chunk data", "bad character in trailer", "trailer line too
 * long", "trailer too long". After an error every call fails the same way.
 */
apr_status_t np_chunk_next(np_chunk_decoder_t *d, const char *in,
                           apr_size_t len, apr_size_t *consumed,
                           const char **data, apr_size_t *data_len,
                           int *done, const char **err);

#endif /* NP_HTTP1_H */
