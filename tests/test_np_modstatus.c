/* cmocka: mod_nodeproxy's section of server-status (np_modstatus.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "np_test.h"
#include "np_modstatus.h"

#define assert_contains(hay, needle) do {                                   \
        if (!strstr((hay), (needle))) {                                     \
            print_error("missing: [%s]\nin:\n%s\n", (needle), (hay));       \
            fail();                                                         \
        }                                                                   \
    } while (0)

/* Two children as in the acceptance test: 20 long-polls and 10 WebSockets
 * spread unevenly over them. */
static const np_child_count_t two[] = {
    { 0, 4101, 0, 12, 3, 0, 1 },
    { 1, 4102, 0, 8, 7, 2, 0 },
};

static np_status_member_t members[] = {
    { .url = "http://127.0.0.1:3001", .state = NP_STATE_USABLE,
      .pending = 5, .requests = 1234, .failures = 1 },
    { .url = "http://127.0.0.1:3002", .state = NP_STATE_FAILED,
      .admin = "drain", .pending = 0, .requests = 17 },
};

static np_status_queue_t queue = { .length = 3 };

static np_status_balancer_t balancers[] = {
    { .name = "app", .nmembers = 2, .members = members },
    { .name = "capped", .nmembers = 0, .queue = &queue },
};

static np_status_t snap = { .nbalancers = 2, .balancers = balancers };

static void test_sum(void **state)
{
    np_child_total_t t;
    (void)state;
    np_modstatus_sum(two, 2, &t);
    assert_int_equal(t.children, 2);
    assert_int_equal(t.waiting, 20);
    assert_int_equal(t.tunnels, 10);
    assert_int_equal(t.queued, 2);
    assert_int_equal(t.keepalive, 1);
    np_modstatus_sum(NULL, 0, &t);
    assert_int_equal(t.children, 0);
    assert_int_equal(t.waiting + t.tunnels + t.queued + t.keepalive, 0);
}

/* Sums do not wrap at 32 bits: each child's count is 32-bit, the sum 64. */
static void test_sum_wide(void **state)
{
    np_child_count_t big[3] = {
        { 0, 1, 0, 4000000000u, 0, 0, 0 },
        { 1, 2, 0, 4000000000u, 0, 0, 0 },
        { 2, 3, 1, 1, 0, 0, 0 },
    };
    np_child_total_t t;
    (void)state;
    np_modstatus_sum(big, 3, &t);
    assert_true(t.waiting == 8000000001ull);
}

static void test_auto(void **state)
{
    apr_pool_t *p = *state;
    const char *a = np_modstatus_auto(p, two, 2, &snap);
    /* the totals come first, exactly so */
    assert_true(strncmp(a, "NodeProxyWaiting: 20\n"
                           "NodeProxyTunnels: 10\n"
                           "NodeProxyQueued: 2\n"
                           "NodeProxyKeepAlive: 1\n"
                           "NodeProxyChildren: 2\n", strlen(
                           "NodeProxyWaiting: 20\n"
                           "NodeProxyTunnels: 10\n"
                           "NodeProxyQueued: 2\n"
                           "NodeProxyKeepAlive: 1\n"
                           "NodeProxyChildren: 2\n")) == 0);
    assert_contains(a, "\nNodeProxyChild[0]Pid: 4101\n"
                       "NodeProxyChild[0]Stopping: 0\n"
                       "NodeProxyChild[0]Waiting: 12\n"
                       "NodeProxyChild[0]Tunnels: 3\n"
                       "NodeProxyChild[0]Queued: 0\n"
                       "NodeProxyChild[0]KeepAlive: 1\n");
    assert_contains(a, "\nNodeProxyChild[1]Waiting: 8\n");
    assert_contains(a, "\nNodeProxyBalancer[0]Name: app\n"
                       "NodeProxyBalancer[0]Member[0]Name: http://127.0.0.1:3001\n"
                       "NodeProxyBalancer[0]Member[0]State: usable\n"
                       "NodeProxyBalancer[0]Member[0]Admin: ready\n"
                       "NodeProxyBalancer[0]Member[0]Pending: 5\n"
                       "NodeProxyBalancer[0]Member[0]Requests: 1234\n"
                       "NodeProxyBalancer[0]Member[0]Failures: 1\n");
    assert_contains(a, "\nNodeProxyBalancer[0]Member[1]State: failed\n"
                       "NodeProxyBalancer[0]Member[1]Admin: drain\n");
    /* a queue only where there is one */
    assert_null(strstr(a, "NodeProxyBalancer[0]Queued"));
    assert_contains(a, "\nNodeProxyBalancer[1]Name: capped\n"
                       "NodeProxyBalancer[1]Queued: 3\n");
    /* every line is "Key: value" */
    {
        char *copy = apr_pstrdup(p, a), *last, *line;
        for (line = apr_strtok(copy, "\n", &last); line;
             line = apr_strtok(NULL, "\n", &last)) {
            const char *colon = strstr(line, ": ");
            assert_non_null(colon);
            assert_true(strchr(line, ' ') == colon + 1);
            assert_true(line[0] == 'N');
        }
    }
    assert_true(a[strlen(a) - 1] == '\n');
}

static void test_auto_empty(void **state)
{
    apr_pool_t *p = *state;
    const char *a = np_modstatus_auto(p, NULL, 0, NULL);
    assert_string_equal(a, "NodeProxyWaiting: 0\nNodeProxyTunnels: 0\n"
                           "NodeProxyQueued: 0\nNodeProxyKeepAlive: 0\n"
                           "NodeProxyChildren: 0\n");
}

/* A name with a line break cannot forge a line of its own. */
static void test_auto_one_line(void **state)
{
    apr_pool_t *p = *state;
    np_status_member_t m = { .url = "http://x\nNodeProxyWaiting: 99" };
    np_status_balancer_t b = { .name = "a\rb", .nmembers = 1, .members = &m };
    np_status_t s = { .nbalancers = 1, .balancers = &b };
    const char *a = np_modstatus_auto(p, NULL, 0, &s);
    assert_null(strstr(a, "\nNodeProxyWaiting: 99"));
    assert_contains(a, "Member[0]Name: http://x?NodeProxyWaiting: 99\n");
    assert_contains(a, "NodeProxyBalancer[0]Name: a?b\n");
}

static void test_html(void **state)
{
    apr_pool_t *p = *state;
    np_child_count_t c[2];
    const char *h;
    memcpy(c, two, sizeof(c));
    c[1].stopping = 1;
    h = np_modstatus_html(p, c, 2, &snap, 0);
    assert_true(strncmp(h, "<hr />\n<h1>mod_nodeproxy</h1>\n", 29) == 0);
    assert_contains(h, "<p>20 requests waiting for Node, 10 WebSocket tunnels, "
                       "2 queued, 1 idle keep-alive connections in 2 children");
    assert_contains(h, "<tr><td>0</td><td>4101</td><td>no</td><td>12</td>"
                       "<td>3</td><td>0</td><td>1</td></tr>\n");
    assert_contains(h, "<tr><td>1</td><td>4102</td><td>yes</td><td>8</td>");
    assert_contains(h, "<tr><td>Sum</td><td>2</td><td>&nbsp;</td><td>20</td>"
                       "<td>10</td><td>2</td><td>1</td></tr>\n</table>\n");
    assert_contains(h, "<h2>NodeBalancer app</h2>\n");
    assert_contains(h, "<tr><td>http://127.0.0.1:3001</td><td>usable</td>"
                       "<td>ready</td><td>5</td><td>1234</td><td>1</td></tr>\n");
    assert_contains(h, "<tr><td>http://127.0.0.1:3002</td><td>failed</td>"
                       "<td>drain</td>");
    assert_contains(h, "<h2>NodeBalancer capped</h2>\n<p>3 queued");
    assert_null(strstr(h, "<br />"));
}

static void test_html_notable_escaped(void **state)
{
    apr_pool_t *p = *state;
    np_status_member_t m = { .url = "http://h/<x>&\"" };
    np_status_balancer_t b = { .name = "<b>", .nmembers = 1, .members = &m };
    np_status_t s = { .nbalancers = 1, .balancers = &b };
    const char *h = np_modstatus_html(p, two, 2, &s, 1);
    assert_null(strstr(h, "<table"));
    assert_contains(h, "Slot 0 (pid 4101): 12 waiting for Node, 3 WebSocket "
                       "tunnels, 0 queued, 1 idle keep-alive<br />\n");
    assert_contains(h, "<h2>NodeBalancer &lt;b&gt;</h2>");
    assert_contains(h, "http://h/&lt;x&gt;&amp;&quot;: usable, ready, 0 pending");
    assert_null(strstr(h, "<x>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum),
        cmocka_unit_test(test_sum_wide),
        cmocka_unit_test_setup_teardown(test_auto, np_test_pool_setup,
                                        np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_auto_empty, np_test_pool_setup,
                                        np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_auto_one_line, np_test_pool_setup,
                                        np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_html, np_test_pool_setup,
                                        np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_html_notable_escaped,
                                        np_test_pool_setup,
                                        np_test_pool_teardown),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
