/* cmocka: the nodeproxy-status renderers (JSON, Prometheus text 0.0.4, HTML)
 * and the response-time histogram buckets. JSON is also checked with
 * python3's json module, Prometheus with promtool when installed (required
 * when NP_REQUIRE_PROMTOOL=1) and always with the strict checker below. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>

#include "np_status.h"


/* --- the snapshot: balancer "app" (3 members, all states), "api" (1) ------- */

#define NOW  (apr_time_from_sec(1700000000) + 250000)
#define AGO(s) (NOW - apr_time_from_sec(s))

static np_status_member_t app_members[3];
static np_status_member_t api_members[1];
static np_status_balancer_t balancers[2];
static np_status_t snap;

static const np_status_t *snapshot(void)
{
    np_status_member_t *m;
    memset(app_members, 0, sizeof(app_members));
    memset(api_members, 0, sizeof(api_members));

    m = &app_members[0];
    m->url = "http://127.0.0.1:3001";
    m->address = "127.0.0.1";
    m->route = "r1";
    m->state = NP_STATE_USABLE;
    m->state_since = AGO(65);
    m->weight = 2;
    m->pending = 3;
    m->max = 4;                       /* admission control: 3 of 4 slots */
    m->requests = 1000;
    m->failures = 0;
    m->ewma_us = 12345;               /* 12.3 ms */
    m->hc_enabled = 1;
    m->hc_status = 200;
    m->hc_last = AGO(3);
    m->hc_total = 42;
    m->hist[0] = 10;                  /* <= 5ms   */
    m->hist[1] = 20;                  /* <= 10ms  */
    m->hist[2] = 30;                  /* <= 25ms  */
    m->hist[7] = 4;                   /* <= 1s    */
    m->hist[NP_HIST_N] = 1;           /* > 10s    */
    m->hist_sum_us = 1234567;

    m = &app_members[1];
    m->url = "http://127.0.0.1:3002";
    m->route = "r2";
    m->state = NP_STATE_FAILED;
    m->reason = "connect refused \"ECONNREFUSED\" <tag>";
    m->state_since = AGO(5);
    m->weight = 1;
    m->requests = 10;
    m->failures = 4;
    m->ewma_us = 0;
    m->hc_enabled = 1;
    m->hc_status = 0;                 /* checked, no answer */
    m->hc_last = AGO(1);
    m->hc_total = 7;
    m->hist[3] = 10;

    m = &app_members[2];
    m->url = "http://127.0.0.1:3003";
    m->route = "r3";
    m->state = NP_STATE_UNHEALTHY;
    m->reason = "health check: status 500";
    m->state_since = 0;               /* unknown */
    m->weight = 1;
    m->standby = 1;
    m->ewma_us = 1500050;             /* 1500.1 ms (rounded) */
    m->hc_enabled = 1;
    m->hc_status = 500;
    m->hc_last = AGO(7200);
    m->hc_total = 3;

    m = &api_members[0];
    m->url = "unix:/run/api.sock|http://localhost";
    m->route = NULL;
    m->state = NP_STATE_USABLE;
    m->weight = 1;
    m->requests = 5;
    m->ewma_us = 999;
    m->hist[0] = 5;
    m->hist_sum_us = 4995;

    balancers[0].name = "app";
    balancers[0].method = "least-pending";
    balancers[0].sticky_cookie = "NPROUTE";
    balancers[0].nmembers = 3;
    balancers[0].members = app_members;
    {
        static np_status_queue_t q;
        memset(&q, 0, sizeof(q));
        q.limit = 100;
        q.timeout = apr_time_from_sec(10);
        q.length = 5;
        q.served = 7;
        q.timeouts = 1;
        q.rejected = 2;
        q.abandoned = 3;
        q.wait_us = 1250000;
        balancers[0].queue = &q;
    }
    balancers[1].queue = NULL;
    balancers[1].name = "api";
    balancers[1].method = "round-robin";
    balancers[1].sticky_cookie = NULL;
    balancers[1].nmembers = 1;
    balancers[1].members = api_members;

    memset(&snap, 0, sizeof(snap));
    snap.version = "mod_nodeproxy/0.1.0";
    snap.now = NOW;
    snap.started = AGO(3725);         /* 1h 2m 5s */
    snap.tunnels_open = 2;
    snap.tunnels_total = 17;
    snap.nbalancers = 2;
    snap.balancers = balancers;
    return &snap;
}

/* Names and URLs an operator would never write, to exercise every escape. */
static np_status_member_t odd_member;
static np_status_balancer_t odd_balancer;
static np_status_t odd_snap;

static const np_status_t *odd_snapshot(void)
{
    memset(&odd_member, 0, sizeof(odd_member));
    odd_member.url = "http://h/<a&b>\"q\\z\x01";
    odd_member.route = "it's";
    odd_member.state = NP_STATE_FAILED;
    odd_member.reason = "a\tb\nc </td>";
    odd_member.weight = 1;
    odd_balancer.name = "we\"ird\\b\nx";
    odd_balancer.method = "p2c";
    odd_balancer.sticky_cookie = "C\"K";
    odd_balancer.nmembers = 1;
    odd_balancer.members = &odd_member;
    memset(&odd_snap, 0, sizeof(odd_snap));
    odd_snap.version = "v\"1";
    odd_snap.now = NOW;
    odd_snap.started = 0;
    odd_snap.nbalancers = 1;
    odd_snap.balancers = &odd_balancer;
    return &odd_snap;
}

#define assert_contains(hay, needle) do { \
        if (!strstr((hay), (needle))) { \
            print_message("missing: [%s]\n", (needle)); \
            fail(); \
        } } while (0)
#define assert_lacks(hay, needle) do { \
        if (strstr((hay), (needle))) { \
            print_message("unexpected: [%s]\n", (needle)); \
            fail(); \
        } } while (0)

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    const char *s = hay;
    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += strlen(needle);
    }
    return n;
}

static char *write_temp(const char *text)
{
    const char *dir = getenv("TMPDIR");
    char *path;
    int fd;
    size_t len = strlen(text);
    if (!dir || !*dir) {
        dir = "/tmp";
    }
    path = malloc(strlen(dir) + 32);
    assert_non_null(path);
    sprintf(path, "%s/np_status_XXXXXX", dir);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static int have_cmd(const char *cmd)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "command -v %s >/dev/null 2>&1", cmd);
    return system(buf) == 0;
}

static void json_parses(const char *json)
{
    char *path, cmd[512];
    if (!have_cmd("python3")) {
        print_message("python3 not found: JSON not checked with json.load\n");
        return;
    }
    path = write_temp(json);
    snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; "
             "json.load(open(sys.argv[1]))' %s", path);
    if (system(cmd) != 0) {
        print_message("python3 json.load failed on:\n%s\n", json);
        unlink(path);
        free(path);
        fail();
    }
    unlink(path);
    free(path);
}

static void promtool_accepts(const char *text)
{
    char *path, cmd[512];
    const char *req = getenv("NP_REQUIRE_PROMTOOL");
    if (!have_cmd("promtool")) {
        if (req && !strcmp(req, "1")) {
            print_message("promtool not found and NP_REQUIRE_PROMTOOL=1\n");
            fail();
        }
        print_message("promtool not found: only the built-in format checks ran\n");
        return;
    }
    path = write_temp(text);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    if (system(cmd) != 0) {
        print_message("promtool check metrics failed on:\n%s\n", text);
        unlink(path);
        free(path);
        fail();
    }
    unlink(path);
    free(path);
}

/* --- strict Prometheus text 0.0.4 checker ----------------------------------- */

static int name_start(int c) { return apr_isalpha(c) || c == '_' || c == ':'; }
static int name_char(int c)  { return apr_isalnum(c) || c == '_' || c == ':'; }

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

static int parse_value(const char *s, double *v)
{
    char *end;
    if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN")) {
        *v = 0;
        return 1;
    }
    if (!*s || apr_isspace(*s)) {
        return 0;
    }
    *v = strtod(s, &end);
    return *end == '\0';
}

/* Returns NULL when `text` is a well-formed exposition in which every family
 * has HELP then TYPE exactly once, names start with nodeproxy_, samples follow
 * their own family, no sample repeats, counters end in _total, and every
 * histogram series has ascending le, cumulative buckets, a +Inf bucket equal
 * to _count, and a _sum. Otherwise a message naming the line. */
static const char *prom_check(apr_pool_t *p, const char *text)
{
    apr_hash_t *families = apr_hash_make(p);   /* name -> type */
    apr_hash_t *samples = apr_hash_make(p);
    const char *fam = NULL, *fam_type = NULL;
    int want_type = 0, lineno = 0;
    char *copy, *line, *next;
    /* current histogram series */
    const char *series = NULL;
    double last_le = -1, last_bucket = -1, inf_bucket = -1;
    int saw_inf = 0, saw_sum = 0, saw_count = 0;
    size_t len = strlen(text);

    if (len == 0 || text[len - 1] != '\n') {
        return "no trailing newline";
    }
    copy = apr_pstrdup(p, text);
    for (line = copy; *line; line = next) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        next = nl + 1;
        lineno++;
#define BAD(msg) return apr_psprintf(p, "line %d: %s: %s", lineno, (msg), line)
        if (!*line) {
            BAD("empty line");
        }
        if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
            int is_help = line[2] == 'H';
            const char *n = line + 7, *rest;
            const char *name;
            if (!name_start((unsigned char)*n)) {
                BAD("bad metric name");
            }
            for (rest = n; name_char((unsigned char)*rest); rest++)
                ;
            if (*rest != ' ' || !rest[1]) {
                BAD("no text after the name");
            }
            name = apr_pstrmemdup(p, n, (apr_size_t)(rest - n));
            if (strncmp(name, "nodeproxy_", 10)) {
                BAD("name without the nodeproxy_ prefix");
            }
            if (is_help) {
                if (want_type) {
                    BAD("HELP while the previous TYPE is missing");
                }
                if (apr_hash_get(families, name, APR_HASH_KEY_STRING)) {
                    BAD("family declared twice");
                }
                if (series && (!saw_inf || !saw_sum || !saw_count)) {
                    BAD("previous histogram series incomplete");
                }
                series = NULL;
                fam = name;
                fam_type = NULL;
                apr_hash_set(families, name, APR_HASH_KEY_STRING, "");
                want_type = 1;
            }
            else {
                const char *t = rest + 1;
                if (!want_type || !fam || strcmp(name, fam)) {
                    BAD("TYPE not right after its HELP");
                }
                if (strcmp(t, "gauge") && strcmp(t, "counter") && strcmp(t, "histogram")) {
                    BAD("unexpected type");
                }
                if (!strcmp(t, "counter") && !ends_with(name, "_total")) {
                    BAD("counter name without _total");
                }
                fam_type = apr_pstrdup(p, t);
                apr_hash_set(families, name, APR_HASH_KEY_STRING, fam_type);
                want_type = 0;
            }
            continue;
        }
        if (*line == '#') {
            BAD("stray comment");
        }
        {
            const char *s = line, *name, *le = NULL, *key;
            const char *labels_start, *labels_no_le;
            char *lbuf;
            apr_size_t lpos = 0;
            double v;
            if (!fam || want_type) {
                BAD("sample before HELP/TYPE");
            }
            if (!name_start((unsigned char)*s)) {
                BAD("bad sample name");
            }
            while (name_char((unsigned char)*s)) {
                s++;
            }
            name = apr_pstrmemdup(p, line, (apr_size_t)(s - line));
            if (!strcmp(fam_type, "histogram")) {
                if (strcmp(name, apr_pstrcat(p, fam, "_bucket", NULL))
                    && strcmp(name, apr_pstrcat(p, fam, "_sum", NULL))
                    && strcmp(name, apr_pstrcat(p, fam, "_count", NULL))) {
                    BAD("sample outside its histogram family");
                }
            }
            else if (strcmp(name, fam)) {
                BAD("sample outside its family");
            }
            labels_start = s;
            lbuf = apr_palloc(p, strlen(s) + 1);
            if (*s == '{') {
                s++;
                while (*s != '}') {
                    const char *ln = s, *vstart;
                    int is_le;
                    if (!apr_isalpha(*s) && *s != '_') {
                        BAD("bad label name");
                    }
                    while (apr_isalnum(*s) || *s == '_') {
                        s++;
                    }
                    is_le = (s - ln == 2 && !strncmp(ln, "le", 2));
                    if (s[0] != '=' || s[1] != '"') {
                        BAD("label without =\"");
                    }
                    s += 2;
                    vstart = s;
                    while (*s != '"') {
                        if (!*s) {
                            BAD("unterminated label value");
                        }
                        if (*s == '\\') {
                            if (s[1] != '\\' && s[1] != '"' && s[1] != 'n') {
                                BAD("bad escape in label value");
                            }
                            s++;
                        }
                        s++;
                    }
                    if (is_le) {
                        le = apr_pstrmemdup(p, vstart, (apr_size_t)(s - vstart));
                    }
                    else {
                        memcpy(lbuf + lpos, ln, (size_t)(s + 1 - ln));
                        lpos += (apr_size_t)(s + 1 - ln);
                        lbuf[lpos++] = ',';
                    }
                    s++;
                    if (*s == ',') {
                        s++;
                    }
                    else if (*s != '}') {
                        BAD("labels not separated by a comma");
                    }
                }
                s++;
            }
            lbuf[lpos] = '\0';
            labels_no_le = lbuf;
            if (*s != ' ') {
                BAD("no single space before the value");
            }
            s++;
            if (!parse_value(s, &v)) {
                BAD("bad value");
            }
            key = apr_pstrcat(p, name, "{",
                              apr_pstrmemdup(p, labels_start, (apr_size_t)(s - 1 - labels_start)),
                              NULL);
            if (apr_hash_get(samples, key, APR_HASH_KEY_STRING)) {
                BAD("duplicate sample");
            }
            apr_hash_set(samples, key, APR_HASH_KEY_STRING, "");

            if (!strcmp(fam_type, "histogram")) {
                if (ends_with(name, "_bucket")) {
                    double lev;
                    if (!le) {
                        BAD("bucket without le");
                    }
                    if (!series || strcmp(series, labels_no_le)) {
                        if (series && (!saw_inf || !saw_sum || !saw_count)) {
                            BAD("previous histogram series incomplete");
                        }
                        series = labels_no_le;
                        last_le = -1;
                        last_bucket = -1;
                        saw_inf = saw_sum = saw_count = 0;
                    }
                    if (saw_inf) {
                        BAD("bucket after +Inf");
                    }
                    if (!strcmp(le, "+Inf")) {
                        saw_inf = 1;
                        inf_bucket = v;
                    }
                    else {
                        if (!parse_value(le, &lev) || lev <= last_le) {
                            BAD("le not ascending");
                        }
                        last_le = lev;
                    }
                    if (v < last_bucket) {
                        BAD("buckets not cumulative");
                    }
                    last_bucket = v;
                }
                else {
                    if (le) {
                        BAD("le on _sum/_count");
                    }
                    if (!series || strcmp(series, labels_no_le) || !saw_inf) {
                        BAD("_sum/_count before the series' +Inf bucket");
                    }
                    if (ends_with(name, "_count")) {
                        if (v != inf_bucket) {
                            BAD("_count differs from the +Inf bucket");
                        }
                        saw_count = 1;
                    }
                    else {
                        saw_sum = 1;
                    }
                }
            }
            else if (le) {
                BAD("le label outside a histogram");
            }
        }
#undef BAD
    }
    if (want_type) {
        return "last family has no TYPE";
    }
    if (series && (!saw_inf || !saw_sum || !saw_count)) {
        return "last histogram series incomplete";
    }
    return NULL;
}

/* --- histogram buckets ------------------------------------------------------- */

static void test_hist_bounds(void **state)
{
    static const double expect[NP_HIST_N] = {
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
    };
    int k;
    for (k = 0; k < NP_HIST_N; k++) {
        assert_true(np_hist_bounds[k] == expect[k]);
    }
}

static void test_hist_bucket(void **state)
{
    static const struct { apr_interval_time_t us; int bucket; } rows[] = {
        { -1, 0 }, { 0, 0 }, { 1, 0 }, { 4999, 0 }, { 5000, 0 }, { 5001, 1 },
        { 10000, 1 }, { 10001, 2 }, { 25000, 2 }, { 49999, 3 }, { 50000, 3 },
        { 100000, 4 }, { 250000, 5 }, { 500000, 6 }, { 500001, 7 },
        { 1000000, 7 }, { 1000001, 8 }, { 2500000, 8 }, { 5000000, 9 },
        { 10000000, 10 }, { 10000001, NP_HIST_N }, { APR_INT64_C(3600000000), NP_HIST_N },
    };
    size_t i;
    int k;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu: %" APR_INT64_T_FMT "us\n", i, (apr_int64_t)rows[i].us);
        assert_int_equal(np_hist_bucket(rows[i].us), rows[i].bucket);
    }
    /* every bound: exactly on it -> that bucket, 1us above -> the next */
    for (k = 0; k < NP_HIST_N; k++) {
        apr_interval_time_t b = (apr_interval_time_t)(np_hist_bounds[k] * 1e6 + 0.5);
        assert_int_equal(np_hist_bucket(b), k);
        assert_int_equal(np_hist_bucket(b + 1), k + 1);
    }
}

static void test_state_names(void **state)
{
    assert_string_equal(np_status_state_name(NP_STATE_USABLE), "usable");
    assert_string_equal(np_status_state_name(NP_STATE_FAILED), "failed");
    assert_string_equal(np_status_state_name(NP_STATE_UNHEALTHY), "unhealthy");
}

/* --- JSON -------------------------------------------------------------------- */

static void test_json(void **state)
{
    static const char head[] =
        "{\"version\":\"mod_nodeproxy/0.1.0\",\"now\":1700000000.250,"
        "\"uptime_seconds\":3725,"
        "\"websocket\":{\"tunnels_open\":2,\"tunnels_total\":17},"
        "\"balancers\":[";
    const char *j = np_status_json(*state, snapshot());

    assert_true(!strncmp(j, head, sizeof(head) - 1));
    assert_contains(j, "{\"name\":\"app\",\"method\":\"least-pending\","
                       "\"sticky_cookie\":\"NPROUTE\",\"members\":[");
    assert_contains(j, "{\"name\":\"api\",\"method\":\"round-robin\","
                       "\"sticky_cookie\":null,\"members\":[");
    /* usable member, complete */
    assert_contains(j, "{\"url\":\"http://127.0.0.1:3001\",\"address\":\"127.0.0.1\","
                       "\"route\":\"r1\","
                       "\"state\":\"usable\",\"reason\":null,"
                       "\"state_since\":1699999935.250,\"weight\":2,\"standby\":false,"
                       "\"pending\":3,\"requests\":1000,\"failures\":0,"
                       "\"latency_ewma_ms\":12.3,\"max\":4,"
                       "\"health\":{\"enabled\":true,\"last_status\":200,"
                       "\"last_check\":1699999997.250,\"checks_total\":42},"
                       "\"admin\":\"ready\",");
    /* failed member: reason escaped; checked but no answer -> last_status null */
    assert_contains(j, "\"state\":\"failed\","
                       "\"reason\":\"connect refused \\\"ECONNREFUSED\\\" <tag>\","
                       "\"state_since\":1699999995.250,");
    assert_contains(j, "\"failures\":4,\"latency_ewma_ms\":0.0,\"max\":null,"
                       "\"health\":{\"enabled\":true,\"last_status\":null,"
                       "\"last_check\":1699999999.250,\"checks_total\":7},");
    /* unhealthy standby member, state_since unknown */
    assert_contains(j, "\"state\":\"unhealthy\",\"reason\":\"health check: status 500\","
                       "\"state_since\":null,\"weight\":1,\"standby\":true,");
    assert_contains(j, "\"latency_ewma_ms\":1500.1,");
    /* no route, no health checks */
    assert_contains(j, "{\"url\":\"unix:/run/api.sock|http://localhost\",\"address\":null,"
                       "\"route\":null,");
    assert_contains(j, "\"health\":{\"enabled\":false,\"last_status\":null,"
                       "\"last_check\":null,\"checks_total\":0},");
    assert_contains(j, "\"latency_ewma_ms\":1.0,");
    assert_int_equal(count_of(j, "\"url\":"), 4);
    /* admission control: max null when unlimited, queue per balancer */
    assert_int_equal(count_of(j, "\"max\":null,"), 3);
    assert_contains(j, "],\"queue\":{\"limit\":100,\"timeout_ms\":10000,"
                       "\"length\":5,\"served\":7,\"timeouts\":1,\"rejected\":2,"
                       "\"abandoned\":3,\"wait_seconds_total\":1.250000}}");
    assert_contains(j, "],\"queue\":null}");
    assert_true(j[strlen(j) - 1] == '\n');
    json_parses(j);
}

static void test_json_escaping(void **state)
{
    const char *j = np_status_json(*state, odd_snapshot());
    assert_contains(j, "\"version\":\"v\\\"1\"");
    assert_contains(j, "\"uptime_seconds\":0,");
    assert_contains(j, "\"name\":\"we\\\"ird\\\\b\\u000ax\"");
    assert_contains(j, "\"sticky_cookie\":\"C\\\"K\"");
    assert_contains(j, "\"url\":\"http://h/<a&b>\\\"q\\\\z\\u0001\"");
    assert_contains(j, "\"route\":\"it's\"");
    assert_contains(j, "\"reason\":\"a\\u0009b\\u000ac </td>\"");
    json_parses(j);
}

static void test_json_empty(void **state)
{
    np_status_t st;
    const char *j;
    memset(&st, 0, sizeof(st));
    j = np_status_json(*state, &st);
    assert_string_equal(j, "{\"version\":\"\",\"now\":0,\"uptime_seconds\":0,"
                           "\"websocket\":{\"tunnels_open\":0,\"tunnels_total\":0},"
                           "\"balancers\":[]}\n");
    json_parses(j);
}

/* --- Prometheus ---------------------------------------------------------------- */

static const struct { const char *name, *type; } families[] = {
    { "nodeproxy_info", "gauge" },
    { "nodeproxy_uptime_seconds", "gauge" },
    { "nodeproxy_websocket_tunnels_open", "gauge" },
    { "nodeproxy_websocket_tunnels_total", "counter" },
    { "nodeproxy_member_up", "gauge" },
    { "nodeproxy_member_pending", "gauge" },
    { "nodeproxy_member_requests_total", "counter" },
    { "nodeproxy_member_failures_total", "counter" },
    { "nodeproxy_member_weight", "gauge" },
    { "nodeproxy_member_latency_ewma_seconds", "gauge" },
    { "nodeproxy_member_response_seconds", "histogram" },
    { "nodeproxy_health_checks_total", "counter" },
    { "nodeproxy_member_health_status", "gauge" },
    { "nodeproxy_member_max", "gauge" },
    { "nodeproxy_queue_length", "gauge" },
    { "nodeproxy_queue_limit", "gauge" },
    { "nodeproxy_queue_served_total", "counter" },
    { "nodeproxy_queue_timeouts_total", "counter" },
    { "nodeproxy_queue_rejected_total", "counter" },
    { "nodeproxy_queue_abandoned_total", "counter" },
    { "nodeproxy_queue_wait_seconds_total", "counter" },
    { "nodeproxy_member_admin_state", "gauge" },
    { "nodeproxy_member_effective_weight", "gauge" },
};

#define L1 "{balancer=\"app\",member=\"http://127.0.0.1:3001\""
#define L2 "{balancer=\"app\",member=\"http://127.0.0.1:3002\""
#define L3 "{balancer=\"app\",member=\"http://127.0.0.1:3003\""
#define L4 "{balancer=\"api\",member=\"unix:/run/api.sock|http://localhost\""

static void test_prometheus(void **state)
{
    apr_pool_t *p = *state;
    const np_status_t *st = snapshot();
    const char *t = np_status_prometheus(p, st);
    const char *err;
    size_t i;
    int b, m, k;

    err = prom_check(p, t);
    if (err) {
        print_message("%s\n", err);
        fail();
    }
    for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        const char *help = apr_psprintf(p, "# HELP %s ", families[i].name);
        const char *type = apr_psprintf(p, "# TYPE %s %s\n", families[i].name,
                                        families[i].type);
        assert_int_equal(count_of(t, help), 1);
        assert_int_equal(count_of(t, type), 1);
    }
    assert_int_equal(count_of(t, "# HELP "), (int)(sizeof(families) / sizeof(families[0])));
    assert_int_equal(count_of(t, "# TYPE "), (int)(sizeof(families) / sizeof(families[0])));

    assert_contains(t, "\nnodeproxy_info{version=\"mod_nodeproxy/0.1.0\"} 1\n");
    assert_contains(t, "\nnodeproxy_uptime_seconds 3725\n");
    assert_contains(t, "\nnodeproxy_websocket_tunnels_open 2\n");
    assert_contains(t, "\nnodeproxy_websocket_tunnels_total 17\n");
    assert_contains(t, "\nnodeproxy_member_up" L1 "} 1\n");
    assert_contains(t, "\nnodeproxy_member_up" L2 "} 0\n");
    assert_contains(t, "\nnodeproxy_member_up" L3 "} 0\n");
    assert_contains(t, "\nnodeproxy_member_up" L4 "} 1\n");
    assert_contains(t, "\nnodeproxy_member_pending" L1 "} 3\n");
    assert_contains(t, "\nnodeproxy_member_max" L1 "} 4\n");
    assert_contains(t, "\nnodeproxy_member_max" L4 "} 0\n");
    assert_contains(t, "\nnodeproxy_queue_length{balancer=\"app\"} 5\n");
    assert_contains(t, "\nnodeproxy_queue_limit{balancer=\"app\"} 100\n");
    assert_contains(t, "\nnodeproxy_queue_served_total{balancer=\"app\"} 7\n");
    assert_contains(t, "\nnodeproxy_queue_timeouts_total{balancer=\"app\"} 1\n");
    assert_contains(t, "\nnodeproxy_queue_rejected_total{balancer=\"app\"} 2\n");
    assert_contains(t, "\nnodeproxy_queue_abandoned_total{balancer=\"app\"} 3\n");
    assert_contains(t, "\nnodeproxy_queue_wait_seconds_total{balancer=\"app\"} 1.250000\n");
    assert_lacks(t, "nodeproxy_queue_length{balancer=\"api\"}");
    assert_contains(t, "\nnodeproxy_member_requests_total" L1 "} 1000\n");
    assert_contains(t, "\nnodeproxy_member_failures_total" L2 "} 4\n");
    assert_contains(t, "\nnodeproxy_member_weight" L1 "} 2\n");
    assert_contains(t, "\nnodeproxy_member_latency_ewma_seconds" L1 "} 0.012345\n");
    assert_contains(t, "\nnodeproxy_member_latency_ewma_seconds" L3 "} 1.500050\n");
    assert_contains(t, "\nnodeproxy_health_checks_total" L1 "} 42\n");
    assert_contains(t, "\nnodeproxy_member_health_status" L1 "} 200\n");
    assert_contains(t, "\nnodeproxy_member_health_status" L2 "} 0\n");
    assert_contains(t, "\nnodeproxy_member_health_status" L3 "} 500\n");
    /* no health checks in "api": no health samples for its member */
    assert_lacks(t, "nodeproxy_health_checks_total" L4);
    assert_lacks(t, "nodeproxy_member_health_status" L4);

    /* histogram of member 1: cumulative, exact lines */
    assert_contains(t, "\nnodeproxy_member_response_seconds_bucket" L1 ",le=\"0.005\"} 10\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"0.01\"} 30\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"0.025\"} 60\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"0.05\"} 60\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"0.1\"} 60\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"0.25\"} 60\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"0.5\"} 60\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"1\"} 64\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"2.5\"} 64\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"5\"} 64\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"10\"} 64\n"
                       "nodeproxy_member_response_seconds_bucket" L1 ",le=\"+Inf\"} 65\n"
                       "nodeproxy_member_response_seconds_sum" L1 "} 1.234567\n"
                       "nodeproxy_member_response_seconds_count" L1 "} 65\n");
    assert_contains(t, "\nnodeproxy_member_response_seconds_count" L2 "} 10\n");
    assert_contains(t, "\nnodeproxy_member_response_seconds_count" L3 "} 0\n");
    assert_contains(t, "\nnodeproxy_member_response_seconds_sum" L4 "} 0.004995\n");

    /* for every member: _count == sum of the (non-cumulative) snapshot buckets,
     * and the le labels are the np_hist_bounds */
    for (b = 0; b < st->nbalancers; b++) {
        for (m = 0; m < st->balancers[b].nmembers; m++) {
            const np_status_member_t *mm = &st->balancers[b].members[m];
            apr_uint64_t sum = 0;
            for (k = 0; k <= NP_HIST_N; k++) {
                sum += mm->hist[k];
            }
            assert_contains(t, apr_psprintf(p,
                "\nnodeproxy_member_response_seconds_count{balancer=\"%s\",member=\"%s\"} %"
                APR_UINT64_T_FMT "\n", st->balancers[b].name, mm->url, sum));
        }
    }
    for (k = 0; k < NP_HIST_N; k++) {
        const char *s = strstr(t, "_bucket" L1 ",le=\"");
        int j;
        for (j = 0; j < k; j++) {
            s = strstr(s + 1, "_bucket" L1 ",le=\"");
        }
        assert_non_null(s);
        s += strlen("_bucket" L1 ",le=\"");
        assert_true(strtod(s, NULL) == np_hist_bounds[k]);
    }

    /* families grouped: every member_up sample sits between its TYPE and the next HELP */
    {
        const char *a = strstr(t, "# TYPE nodeproxy_member_up gauge\n");
        const char *z = strstr(a, "# HELP nodeproxy_member_pending ");
        const char *s = t;
        int n = 0;
        while ((s = strstr(s, "\nnodeproxy_member_up{")) != NULL) {
            assert_true(s > a && s < z);
            s++;
            n++;
        }
        assert_int_equal(n, 4);
    }
    promtool_accepts(t);
}

static void test_prometheus_escaping(void **state)
{
    const char *t = np_status_prometheus(*state, odd_snapshot());
    const char *err = prom_check(*state, t);
    if (err) {
        print_message("%s\n", err);
        fail();
    }
    assert_contains(t, "\nnodeproxy_info{version=\"v\\\"1\"} 1\n");
    assert_contains(t, "\nnodeproxy_member_up{balancer=\"we\\\"ird\\\\b\\nx\","
                       "member=\"http://h/<a&b>\\\"q\\\\z\x01\"} 0\n");
    assert_contains(t, "\nnodeproxy_uptime_seconds 0\n");
    /* an odd label must not break a line: exactly one newline per line */
    assert_lacks(t, "\nx\"");
    promtool_accepts(t);
}

static void test_prometheus_empty(void **state)
{
    np_status_t st;
    const char *t, *err;
    memset(&st, 0, sizeof(st));
    st.version = "mod_nodeproxy/0.1.0";
    t = np_status_prometheus(*state, &st);
    err = prom_check(*state, t);
    if (err) {
        print_message("%s\n", err);
        fail();
    }
    assert_contains(t, "# TYPE nodeproxy_member_response_seconds histogram\n");
    assert_contains(t, "\nnodeproxy_websocket_tunnels_open 0\n");
    promtool_accepts(t);
}

/* The checker itself must reject what it is there to catch. */
static void test_prom_checker(void **state)
{
    static const char *const bad[] = {
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a gauge\nnodeproxy_a 1",  /* no final newline */
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a gauge\nnodeproxy_a 1\n"
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a gauge\n",                /* declared twice */
        "# TYPE nodeproxy_a gauge\nnodeproxy_a 1\n",                        /* no HELP */
        "# HELP nodeproxy_a x\nnodeproxy_a 1\n",                            /* no TYPE */
        "# HELP other_a x\n# TYPE other_a gauge\nother_a 1\n",              /* prefix */
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a counter\nnodeproxy_a 1\n",/* counter w/o _total */
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a gauge\nnodeproxy_b 1\n",  /* outside family */
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a gauge\nnodeproxy_a{x=\"a\nb\"} 1\n",
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a gauge\nnodeproxy_a{x=\"a\\tb\"} 1\n",
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a gauge\nnodeproxy_a 1x\n",
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a gauge\nnodeproxy_a 1\nnodeproxy_a 2\n",
        "# HELP nodeproxy_h x\n# TYPE nodeproxy_h histogram\n"
        "nodeproxy_h_bucket{le=\"1\"} 2\nnodeproxy_h_bucket{le=\"+Inf\"} 1\n"
        "nodeproxy_h_sum 1\nnodeproxy_h_count 1\n",                         /* not cumulative */
        "# HELP nodeproxy_h x\n# TYPE nodeproxy_h histogram\n"
        "nodeproxy_h_bucket{le=\"1\"} 1\nnodeproxy_h_bucket{le=\"+Inf\"} 2\n"
        "nodeproxy_h_sum 1\nnodeproxy_h_count 3\n",                         /* count != +Inf */
        "# HELP nodeproxy_h x\n# TYPE nodeproxy_h histogram\n"
        "nodeproxy_h_bucket{le=\"1\"} 1\nnodeproxy_h_sum 1\n",             /* no +Inf */
    };
    static const char *good =
        "# HELP nodeproxy_a x\n# TYPE nodeproxy_a gauge\nnodeproxy_a{x=\"a\\\"\\\\\\n\"} 1\n"
        "# HELP nodeproxy_h x\n# TYPE nodeproxy_h histogram\n"
        "nodeproxy_h_bucket{le=\"1\"} 1\nnodeproxy_h_bucket{le=\"+Inf\"} 2\n"
        "nodeproxy_h_sum 1.5\nnodeproxy_h_count 2\n";
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("bad row %zu\n", i);
        assert_non_null(prom_check(*state, bad[i]));
    }
    assert_null(prom_check(*state, good));
}

/* --- HTML ------------------------------------------------------------------------ */

static void test_html(void **state)
{
    const char *h = np_status_html(*state, snapshot(), 0);

    assert_true(!strncmp(h, "<!DOCTYPE html>\n", 16));
    assert_contains(h, "<title>mod_nodeproxy status</title>");
    assert_contains(h, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    assert_contains(h, "<meta charset=\"utf-8\">");
    assert_contains(h, "<style>");
    assert_contains(h, "overflow-x:auto");
    assert_lacks(h, "http-equiv=\"refresh\"");
    assert_lacks(h, "<script");
    assert_lacks(h, "<link");
    assert_lacks(h, "src=");
    assert_contains(h, "<p>Version: mod_nodeproxy/0.1.0</p>");
    assert_contains(h, "<p>Uptime: 1h 2m</p>");
    assert_contains(h, "<p>Current time: Tue, 14 Nov 2023 22:13:20 GMT</p>");
    assert_contains(h, "<p>WebSocket tunnels: 2 open, 17 since start</p>");
    assert_int_equal(count_of(h, "<table>"), 2);
    assert_int_equal(count_of(h, "</table>"), 2);
    assert_int_equal(count_of(h, "<div class=\"scroll\"><table>"), 2);
    assert_contains(h, "<h2>Balancer app</h2>");
    assert_contains(h, "method least-pending &middot; sticky cookie NPROUTE");
    assert_contains(h, "<p class=\"meta\">queue: 5 waiting (limit 100, timeout 10.000000 s) "
                       "&middot; 7 served after 1.250000 s in all &middot; 1 timed out "
                       "&middot; 2 refused (full) &middot; 3 left</p>");
    assert_int_equal(count_of(h, "queue: "), 1);
    assert_contains(h, "<h2>Balancer api</h2>");
    assert_contains(h, "method round-robin &middot; sticky cookie off");
    assert_contains(h, "<th>member</th><th>state</th><th>why</th><th>weight</th>"
                       "<th>pending</th><th>requests</th><th>failures</th>"
                       "<th>latency (ms)</th><th>last health check</th>");
    /* member rows, column by column */
    assert_contains(h, "<tr data-member=\"http://127.0.0.1:3001\"><td>http://127.0.0.1:3001 <small>at 127.0.0.1</small> <small>route r1</small></td>"
                       "<td><span class=\"usable\">usable</span> <small>for 1m 5s</small></td>"
                       "<td></td><td class=\"n\">2</td><td class=\"n\">3 <small>of max 4</small></td>"
                       "<td class=\"n\">1000</td><td class=\"n\">0</td>"
                       "<td class=\"n\">12.3</td><td>200, 3s ago</td><td>");
    assert_contains(h, "<td><span class=\"failed\">failed</span> <small>for 5s</small></td>"
                       "<td>connect refused &quot;ECONNREFUSED&quot; &lt;tag&gt;</td>");
    assert_contains(h, "<td>no answer, 1s ago</td>");
    assert_contains(h, "http://127.0.0.1:3003 <small>route r3</small> "
                       "<span class=\"tag\">standby</span></td>"
                       "<td><span class=\"unhealthy\">unhealthy</span></td>"
                       "<td>health check: status 500</td>");
    assert_contains(h, "<td class=\"n\">1500.1</td><td>500, 2h 0m ago</td>");
    assert_contains(h, "<tr data-member=\"unix:/run/api.sock|http://localhost\"><td>unix:/run/api.sock|http://localhost</td>"
                       "<td><span class=\"usable\">usable</span></td><td></td>");
    assert_contains(h, "<td class=\"n\">1.0</td><td>off</td><td>");
    assert_lacks(h, "<tag>");
    assert_int_equal(count_of(h, "standby</span>"), 1);
    assert_true(!strcmp(h + strlen(h) - 15, "</body></html>\n"));
}

static void test_html_refresh(void **state)
{
    const char *h = np_status_html(*state, snapshot(), 5);
    assert_int_equal(count_of(h, "<meta http-equiv=\"refresh\" content=\"5\">"), 1);
    h = np_status_html(*state, snapshot(), -1);
    assert_lacks(h, "refresh");
}

static void test_html_escaping(void **state)
{
    const char *h = np_status_html(*state, odd_snapshot(), 0);
    assert_contains(h, "<p>Version: v&quot;1</p>");
    assert_contains(h, "<h2>Balancer we&quot;ird\\b\nx</h2>");
    assert_contains(h, "sticky cookie C&quot;K</p>");
    assert_contains(h, "<td>http://h/&lt;a&amp;b&gt;&quot;q\\z\x01 <small>route it&#39;s</small>");
    assert_contains(h, "<td>a\tb\nc &lt;/td&gt;</td>");
    assert_contains(h, "<td>off</td>");
    assert_lacks(h, "<a&b>");
    assert_int_equal(count_of(h, "</td>"), 11);   /* + admin, effective weight */
}

static void test_html_empty(void **state)
{
    np_status_t st;
    np_status_balancer_t bal;
    const char *h;
    memset(&st, 0, sizeof(st));
    h = np_status_html(*state, &st, 0);
    assert_contains(h, "<p>No balancers configured.</p>");
    assert_contains(h, "<p>Uptime: 0s</p>");
    assert_lacks(h, "<table>");

    memset(&bal, 0, sizeof(bal));
    bal.name = "none";
    bal.method = "p2c";
    st.nbalancers = 1;
    st.balancers = &bal;
    h = np_status_html(*state, &st, 0);
    assert_contains(h, "<tr><td colspan=\"11\">no members</td></tr>");
}

static void test_html_durations(void **state)
{
    static const struct { apr_int64_t ago; const char *text; } rows[] = {
        { 0, "for 0s" }, { 59, "for 59s" }, { 60, "for 1m 0s" }, { 3599, "for 59m 59s" },
        { 3600, "for 1h 0m" }, { 86399, "for 23h 59m" }, { 86400, "for 1d 0h" },
        { 200000, "for 2d 7h" }, { -5, "for 0s" },
    };
    np_status_t st;
    np_status_balancer_t bal;
    np_status_member_t m;
    size_t i;
    memset(&st, 0, sizeof(st));
    memset(&bal, 0, sizeof(bal));
    memset(&m, 0, sizeof(m));
    m.url = "http://x";
    bal.name = "b";
    bal.nmembers = 1;
    bal.members = &m;
    st.now = NOW;
    st.nbalancers = 1;
    st.balancers = &bal;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        m.state_since = AGO(rows[i].ago);
        print_message("row %zu\n", i);
        assert_contains(np_status_html(*state, &st, 0), rows[i].text);
    }
}

/* --- runtime admin state (issue 15) ------------------------------------------ */

static void test_admin_state(void **state)
{
    apr_pool_t *p = *state;
    np_status_t *st = apr_pmemdup(p, snapshot(), sizeof(np_status_t));
    np_status_member_t *m = &st->balancers[0].members[0];
    const char *j, *t, *h;
    m->admin = "drain";
    m->weight = 4;                  /* set at runtime */
    m->configured_weight = 2;
    m->effective_weight = 130;      /* slow start: 1.30 of 4 */
    st->balancers[0].members[1].admin = "maint";
    st->balancers[0].members[1].effective_weight = 100;
    st->balancers[0].members[1].weight = 1;
    j = np_status_json(p, st);
    assert_contains(j, "\"checks_total\":42},\"admin\":\"drain\","
                       "\"configured_weight\":2,\"effective_weight\":1.30,"
                       "\"slow_start_percent\":32}");
    assert_contains(j, "\"admin\":\"maint\",\"configured_weight\":0,"
                       "\"effective_weight\":1.00,\"slow_start_percent\":100}");
    /* the control API's answer is the same object as on the page */
    assert_contains(j, np_status_member_json(p, m));
    t = np_status_prometheus(p, st);
    assert_contains(t, "nodeproxy_member_admin_state" L1 ",state=\"ready\"} 0\n");
    assert_contains(t, "nodeproxy_member_admin_state" L1 ",state=\"drain\"} 1\n");
    assert_contains(t, "nodeproxy_member_admin_state" L2 ",state=\"maint\"} 1\n");
    assert_contains(t, "nodeproxy_member_effective_weight" L1 "} 1.30\n");
    assert_contains(t, "nodeproxy_member_weight" L1 "} 4\n");
    /* read-only page: no forms */
    h = np_status_html(p, st, 0);
    assert_contains(h, "<td><span class=\"admin-drain\">drain</span></td>"
                       "<td class=\"n\">1.30 <small>slow start 32%</small></td>");
    assert_lacks(h, "<form");
    assert_lacks(h, "<th>control</th>");
    /* with the control API: one form per member carrying the token */
    st->control_token = "5f.ab\"<x";
    h = np_status_html(p, st, 0);
    assert_contains(h, "<th>control</th>");
    assert_int_equal(count_of(h, "<form method=\"post\" class=\"np-ctl\">"), 4);
    assert_contains(h, "<input type=\"hidden\" name=\"token\" value=\"5f.ab&quot;&lt;x\">"
                       "<input type=\"hidden\" name=\"balancer\" value=\"app\">"
                       "<input type=\"hidden\" name=\"member\" value=\"http://127.0.0.1:3001\">");
    assert_contains(h, "<button name=\"action\" value=\"drain\">drain</button>");
    assert_contains(h, "<input name=\"weight\" size=\"3\" value=\"4\" aria-label=\"weight\">");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_admin_state, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test(test_hist_bounds),
        cmocka_unit_test(test_hist_bucket),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test_setup_teardown(test_json, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_json_escaping, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_json_empty, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_prometheus, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_prometheus_escaping, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_prometheus_empty, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_prom_checker, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_html, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_html_refresh, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_html_escaping, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_html_empty, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_html_durations, np_test_pool_setup, np_test_pool_teardown),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
