/* Glue: configuration records, shared by every feature. */
#ifndef MOD_NODEPROXY_CONFIG_H
#define MOD_NODEPROXY_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include <apr_hash.h>
#include "np_map.h"

extern module AP_MODULE_DECLARE_DATA nodeproxy_module;

/* Server and virtual host settings. NP_UNSET / NULL mean "not set here". */
typedef struct {
    apr_array_header_t *mappings;   /* np_mapping_t *: server and <Location> forms */
    np_map_t *map;                  /* compiled in post_config, main server's included */
    apr_array_header_t *trusted;    /* np_cidr_t; NULL = unset                  */
    apr_interval_time_t backend_keepalive;
    apr_hash_t *balancers;          /* name -> np_balancer_t *; a vhost's holds
                                     * the main server's too               */
    /* https:// backends (tls/) */
    struct np_tls_conf_t *tls;      /* NodeBackendCA/-Verify/-ClientCert    */
} np_server_conf_t;

/* Per-directory (<Location>) settings; the server-level values are the
 * defaults Apache merges into every request's per-dir config. */
typedef struct {
    apr_interval_time_t connect_timeout;
    apr_interval_time_t timeout;
    int forwarded;
    int preserve_host;
    struct np_page_t *maint_page;   /* NodeMaintenancePage                      */
    int retry_after;                /* seconds; NP_UNSET                        */
    struct np_flag_t *maint_flag;   /* NodeMaintenanceFlag                      */
    int websocket;                  /* NodeWebSocket                            */
    apr_interval_time_t ws_idle_timeout; /* NodeWebSocketIdleTimeout            */
    apr_interval_time_t async_delay; /* NodeAsyncDelay; NP_ASYNC_OFF           */
    apr_interval_time_t next_wait;  /* NodeNextRequestWait; 0 = off            */
    const void *ratelimit;          /* admission/: NodeRateLimit (an
                                     * np_rl_policy_t); NULL = unset          */
    int status_control;             /* NodeStatusControl (control/)            */
    /* NodeErrorOverride (proxy/mod_nodeproxy_errover.c) */
    int error_override;             /* NP_UNSET, 0, 1                          */
    apr_array_header_t *error_codes; /* int; NULL = every 4xx/5xx             */
} np_dir_conf_t;

/* NodeMaintenancePage: read when the config is read, and again when the
 * file changes (looked at no more than once a second per process). A
 * version is replaced as a whole, by one pointer swap; replaced versions
 * are not freed (a reader may still hold one; pages change rarely). */
typedef struct np_page_version_t {
    const char *body;
    apr_size_t len;
    apr_time_t mtime;
    apr_off_t size;
} np_page_version_t;

typedef struct np_page_t {
    const char *path;
    const char *type;
    np_page_version_t *volatile current;
    volatile apr_time_t checked;
} np_page_t;

/* Read a page file (at most 1 MiB) into a new version; NULL + *err. */
np_page_version_t *np_page_load(apr_pool_t *p, const char *path,
                                const char **err);

/* NodeMaintenanceFlag: the file, and what was last seen of it. The answer is
 * cached per process for a second; a racy read of it is harmless. */
typedef struct np_flag_t {
    const char *path;
    volatile apr_time_t checked;
    volatile int exists;
} np_flag_t;

/* NP_VERSION: configure.ac's version, written by configure into the build
 * tree's np_version.h (tests/guard_version.sh). */
#include "np_version.h"

#define NP_DEFAULT_CONNECT_TIMEOUT apr_time_from_sec(3)
#define NP_DEFAULT_TIMEOUT         apr_time_from_sec(60)
#define NP_DEFAULT_KEEPALIVE       apr_time_from_sec(4)
#define NP_DEFAULT_RETRY_AFTER     30
#define NP_DEFAULT_WS_IDLE_TIMEOUT apr_time_from_sec(300)
/* Waiting for a response head: a Node answer of ordinary speed should not
 * go async (the hand-offs cost ~11% of throughput at 5ms, see
 * docs/directives.md). A pause inside a body: shorter. */
#define NP_DEFAULT_ASYNC_DELAY     apr_time_from_msec(50)
#define NP_ASYNC_BODY_PAUSE        apr_time_from_msec(10)
/* After a response: how long the worker waits for the client's next
 * request before the MPM takes the connection (see NodeNextRequestWait). */
#define NP_DEFAULT_NEXT_WAIT       apr_time_from_msec(2)
#define NP_ASYNC_OFF               (-2)

/* Effective value: the first one that is set. */
#define NP_PICK(a, b) ((a) != NP_UNSET ? (a) : (b))

extern const command_rec np_cmds[];
void *np_create_server_conf(apr_pool_t *p, server_rec *s);
void *np_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *np_create_dir_conf(apr_pool_t *p, char *dir);
void *np_merge_dir_conf(apr_pool_t *p, void *base, void *add);

/* check_config (runs for configtest too): cross-checks such as undefined
 * balancers. post_config: compile mapping tables, set up backends. */
void np_config_register_hooks(apr_pool_t *p);

static APR_INLINE np_server_conf_t *np_server_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &nodeproxy_module);
}

static APR_INLINE np_dir_conf_t *np_dir_conf(ap_conf_vector_t *v)
{
    return ap_get_module_config(v, &nodeproxy_module);
}

#endif
