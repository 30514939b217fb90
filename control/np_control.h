/* Pure: the admin control API of the nodeproxy-status handler
 * (NodeStatusControl): parsing and checking a POSTed change, the page's
 * anti-CSRF token and same-origin check, and the NodeBalancerPersist file.
 *
 * A change is {"balancer":"NAME","member":"URL","action":"drain"|"maint"|
 * "ready"} or {"balancer":..,"member":..,"weight":N} as JSON, or the same
 * fields form-encoded (balancer, member, action=drain|maint|ready|weight,
 * weight=N, token=T) from the HTML page's buttons. */
#ifndef NP_CONTROL_H
#define NP_CONTROL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define NP_CTL_BODY_MAX 8192        /* a change is small; more is refused  */

typedef enum {
    NP_CTL_ADMIN = 1,               /* set the admin state (drain/maint/ready) */
    NP_CTL_WEIGHT                   /* set the runtime weight 0-100         */
} np_ctl_kind_e;

typedef struct {
    const char *balancer;
    const char *member;
    np_ctl_kind_e kind;
    int admin;                      /* np_admin_e, for NP_CTL_ADMIN         */
    int weight;                     /* 0-100, for NP_CTL_WEIGHT             */
    const char *token;              /* form posts: the page's token, or NULL */
} np_ctl_req_t;

/* A JSON body: one object whose members are strings or whole numbers;
 * "balancer" and "member" (strings) are required, and exactly one of
 * "action" ("drain", "maint", "ready") and "weight" (0-100; a number or a
 * string of digits). Unknown keys are errors naming them. *err names what
 * is wrong ("unknown action \"stop\" (use drain, maint or ready)"). */
apr_status_t np_ctl_parse_json(apr_pool_t *p, const char *body, apr_size_t len,
                               np_ctl_req_t *req, const char **err);

/* An application/x-www-form-urlencoded body: balancer, member, action
 * (drain|maint|ready|weight; weight= is read only with action=weight),
 * token. Unknown fields are ignored (browsers may add the button's). */
apr_status_t np_ctl_parse_form(apr_pool_t *p, const char *body, apr_size_t len,
                               np_ctl_req_t *req, const char **err);

/* "0".."100" (digits only) -> 0; else APR_EINVAL with *err naming it. */
apr_status_t np_ctl_parse_weight(apr_pool_t *p, const char *s, int *weight,
                                 const char **err);

/* The page token: "<seconds since the epoch, hex>.<HMAC-SHA1 hex>" over that
 * time with the server's secret. Valid for max_age from when it was made
 * (and not from the future, beyond a minute of clock slack). */
const char *np_ctl_token_make(apr_pool_t *p, const unsigned char *secret,
                              apr_size_t secret_len, apr_time_t now);
int np_ctl_token_ok(const unsigned char *secret, apr_size_t secret_len,
                    const char *token, apr_time_t now,
                    apr_interval_time_t max_age);

/* Is the Origin (or Referer) a browser sent the same origin as the page,
 * given the request's scheme ("http"/"https") and Host header? Origin must
 * be exactly scheme://host (case-insensitive); a Referer must start with
 * scheme://host followed by '/', '?', '#' or its end. NULL or "null" is
 * not the same origin. */
int np_ctl_same_origin(const char *origin, int is_referer, const char *scheme,
                       const char *host);

/* ---- NodeBalancerPersist file ----------------------------------------------
 *
 *   # mod_nodeproxy admin states (NodeBalancerPersist), written by httpd
 *   np-admin-states 1
 *   BALANCER<TAB>MEMBER<TAB>STATE<TAB>WEIGHT
 *
 * one line per member: STATE ready|drain|maint, WEIGHT 0-100 or "-" (the
 * configured weight). Lines starting with '#' and empty lines are skipped. */
typedef struct {
    const char *balancer;
    const char *member;             /* the member's key (its URL)          */
    int admin;                      /* np_admin_e                          */
    int weight;                     /* -1: configured                      */
} np_persist_entry_t;

/* One line (with its newline) for an entry; NULL when a name cannot be
 * written (a tab or newline in it). */
const char *np_persist_line(apr_pool_t *p, const np_persist_entry_t *e);
#define NP_PERSIST_HEADER "# mod_nodeproxy admin states (NodeBalancerPersist), " \
                          "written by httpd\nnp-admin-states 1\n"

/* Parse a whole file into np_persist_entry_t elements of out. Anything
 * unexpected (no header line, a bad field count, state or weight, a
 * member listed twice) rejects the whole file: *err names the line. */
apr_status_t np_persist_parse(apr_pool_t *p, const char *text, apr_size_t len,
                              apr_array_header_t *out, const char **err);

#endif
