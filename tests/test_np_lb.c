/* cmocka: load-balancing methods (balancer/np_lb.c): the worked schedules
 * in np_lb.c's comments, exact shares, eligibility and the standby rule,
 * rendezvous-hash stability, and fixed hash values (route ids depend on
 * them). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "np_test.h"
#include <apr_general.h>
#include <apr_strings.h>

#include "np_lb.h"


#define MAXM 128

/* A balancer snapshot as the glue would build it. */
typedef struct {
    np_lb_member_t m[MAXM];
    apr_int64_t current[MAXM];
    apr_uint32_t cursor;
    np_lb_ctx_t ctx;
} lb_t;

static const char *const ids[] = { "m1", "m2", "m3", "m4", "m5", "m6" };

static lb_t *lb_new(apr_pool_t *p, int n, const int *weights)
{
    lb_t *b = apr_pcalloc(p, sizeof(*b));
    int i;
    for (i = 0; i < n; i++) {
        b->m[i].weight = weights ? weights[i] : 1;
        b->m[i].eligible = 1;
        b->m[i].current = &b->current[i];
        b->m[i].id = i < 6 ? ids[i] : apr_psprintf(p, "m%d", i + 1);
    }
    b->ctx.m = b->m;
    b->ctx.n = n;
    b->ctx.cursor = &b->cursor;
    return b;
}

static int pick(const np_lbmethod_t *meth, lb_t *b)
{
    return meth->pick(&b->ctx);
}

/* xorshift32, fixed seed: reproducible "random" numbers for p2c. */
static apr_uint32_t xs_state = 2463534242u;
static apr_uint32_t xorshift(void)
{
    apr_uint32_t x = xs_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return xs_state = x;
}

/* ---- the provider records ------------------------------------------------ */

static void test_method_records(void **state)
{
    assert_string_equal(np_lb_round_robin.name, "round-robin");
    assert_string_equal(np_lb_least_pending.name, "least-pending");
    assert_string_equal(np_lb_p2c.name, "p2c");
    assert_string_equal(np_lb_ip_hash.name, "ip-hash");
    assert_true(np_lb_round_robin.needs_lock);
    assert_true(np_lb_least_pending.needs_lock);
    assert_false(np_lb_p2c.needs_lock);
    assert_false(np_lb_ip_hash.needs_lock);
}

static void test_none_eligible(void **state)
{
    const np_lbmethod_t *all[] = { &np_lb_round_robin, &np_lb_least_pending,
                                   &np_lb_p2c, &np_lb_ip_hash };
    size_t i;
    for (i = 0; i < 4; i++) {
        lb_t *b = lb_new(*state, 3, NULL);
        print_message("method %s\n", all[i]->name);
        b->m[0].eligible = b->m[1].eligible = b->m[2].eligible = 0;
        b->ctx.client = "10.0.0.1";
        assert_int_equal(pick(all[i], b), -1);
        b->ctx.n = 0;
        assert_int_equal(pick(all[i], b), -1);
    }
}

/* ---- round-robin --------------------------------------------------------- */

static void test_rr_worked_example(void **state)
{
    static const int w[] = { 1, 1, 2 };
    /* np_lb.c: "m3 m1 m2 m3, m3 m1 m2 m3, ..." (0-based 2 0 1 2) */
    static const int cycle[] = { 2, 0, 1, 2 };
    static const apr_int64_t after[4][3] = {
        { 1, 1, -2 }, { -2, 2, 0 }, { -1, -1, 2 }, { 0, 0, 0 } };
    lb_t *b = lb_new(*state, 3, w);
    int i, counts[3] = { 0, 0, 0 };
    for (i = 0; i < 40; i++) {
        int k = pick(&np_lb_round_robin, b);
        print_message("pick %d -> %d\n", i, k);
        assert_int_equal(k, cycle[i % 4]);
        if (i < 4) {          /* the score table in the comment */
            assert_int_equal(b->current[0], after[i][0]);
            assert_int_equal(b->current[1], after[i][1]);
            assert_int_equal(b->current[2], after[i][2]);
        }
        counts[k]++;
    }
    assert_int_equal(counts[0], 10);
    assert_int_equal(counts[1], 10);
    assert_int_equal(counts[2], 20);
}

static void test_rr_smooth(void **state)
{
    static const int w[] = { 5, 1, 1 };
    lb_t *b = lb_new(*state, 3, w);
    int i, run = 0, maxrun = 0, prev = -1, counts[3] = { 0, 0, 0 };
    int window[7];
    for (i = 0; i < 700; i++) {
        int k = pick(&np_lb_round_robin, b);
        counts[k]++;
        run = k == prev ? run + 1 : 1;
        prev = k;
        if (k == 0 && run > maxrun) {
            maxrun = run;
        }
        if (i < 7) {
            window[i] = k;
        }
    }
    /* the classic smooth schedule: a a b a c a a */
    assert_int_equal(window[0], 0);
    assert_int_equal(window[1], 0);
    assert_int_equal(window[2], 1);
    assert_int_equal(window[3], 0);
    assert_int_equal(window[4], 2);
    assert_int_equal(window[5], 0);
    assert_int_equal(window[6], 0);
    assert_true(maxrun < 5);
    assert_int_equal(counts[0], 500);
    assert_int_equal(counts[1], 100);
    assert_int_equal(counts[2], 100);
}

static void test_rr_ineligible(void **state)
{
    static const int w[] = { 1, 3, 2, 1 };
    lb_t *b = lb_new(*state, 4, w);
    int i, counts[4] = { 0, 0, 0, 0 };
    b->m[1].eligible = 0;               /* weight 3 member out */
    for (i = 0; i < 400; i++) {         /* 100 windows of 1+2+1 */
        int k = pick(&np_lb_round_robin, b);
        assert_int_not_equal(k, 1);
        counts[k]++;
        if ((i + 1) % 4 == 0) {         /* exact share in every window */
            assert_int_equal(counts[0], (i + 1) / 4);
            assert_int_equal(counts[2], (i + 1) / 2);
            assert_int_equal(counts[3], (i + 1) / 4);
        }
    }
    assert_int_equal(counts[1], 0);
    /* It rejoins where it left off (score 0): exact shares again, 3 of 7. */
    b->m[1].eligible = 1;
    memset(counts, 0, sizeof(counts));
    for (i = 0; i < 700; i++) {
        counts[pick(&np_lb_round_robin, b)]++;
    }
    assert_int_equal(counts[0], 100);
    assert_int_equal(counts[1], 300);
    assert_int_equal(counts[2], 200);
    assert_int_equal(counts[3], 100);
}

static void test_rr_ineligible_midway(void **state)
{
    /* Leaving with a non-zero score: the others still share exactly over
     * the long run (within one pick of their share). */
    static const int w[] = { 2, 1, 1 };
    lb_t *b = lb_new(*state, 3, w);
    int i, counts[3] = { 0, 0, 0 };
    pick(&np_lb_round_robin, b);
    pick(&np_lb_round_robin, b);
    b->m[0].eligible = 0;
    for (i = 0; i < 1000; i++) {
        counts[pick(&np_lb_round_robin, b)]++;
    }
    assert_int_equal(counts[0], 0);
    assert_true(counts[1] >= 499 && counts[1] <= 501);
    assert_int_equal(counts[1] + counts[2], 1000);
}

static void test_rr_standby(void **state)
{
    /* m1 m2 regular, m3 standby: m3 gets nothing while m1 or m2 is usable,
     * everything when both have failed; the others resume evenly after. */
    static const int w[] = { 1, 1, 1 };
    np_lb_state_t st[3] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 1, 0 } };
    lb_t *b = lb_new(*state, 3, w);
    int i, counts[3] = { 0, 0, 0 };
    assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 3), 2);
    for (i = 0; i < 10; i++) {
        counts[pick(&np_lb_round_robin, b)]++;
    }
    assert_int_equal(counts[0], 5);
    assert_int_equal(counts[1], 5);
    assert_int_equal(counts[2], 0);

    st[0].failed = 1;
    assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 3), 1);
    for (i = 0; i < 5; i++) {
        assert_int_equal(pick(&np_lb_round_robin, b), 1);
    }
    st[1].unhealthy = 1;
    assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 3), 1);
    for (i = 0; i < 5; i++) {
        assert_int_equal(pick(&np_lb_round_robin, b), 2);
    }
    st[0].failed = st[1].unhealthy = 0;
    assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 3), 2);
    memset(counts, 0, sizeof(counts));
    for (i = 0; i < 10; i++) {
        counts[pick(&np_lb_round_robin, b)]++;
    }
    assert_int_equal(counts[2], 0);
    assert_true(counts[0] >= 4 && counts[0] <= 6);
    assert_int_equal(counts[0] + counts[1], 10);
}

/* ---- least-pending ------------------------------------------------------- */

static void test_lp_worked_example(void **state)
{
    static const int w[] = { 1, 1, 2 };
    lb_t *b = lb_new(*state, 3, w);
    /* pending 0 0 0, cursor 0 -> m1, cursor 1 */
    assert_int_equal(pick(&np_lb_least_pending, b), 0);
    assert_int_equal(b->cursor, 1);
    /* pending 1 0 0: m2 and m3 tie at 0, first from cursor 1 -> m2 */
    b->m[0].pending = 1;
    assert_int_equal(pick(&np_lb_least_pending, b), 1);
    assert_int_equal(b->cursor, 2);
    /* pending 1 1 1: loads 1, 1, 0.5 -> m3 */
    b->m[1].pending = 1;
    b->m[2].pending = 1;
    assert_int_equal(pick(&np_lb_least_pending, b), 2);
    assert_int_equal(b->cursor, 0);
    /* ... and from any cursor */
    b->cursor = 1;
    assert_int_equal(pick(&np_lb_least_pending, b), 2);
}

static void test_lp_rotates(void **state)
{
    lb_t *b = lb_new(*state, 3, NULL);
    int i;
    for (i = 0; i < 12; i++) {
        print_message("pick %d\n", i);
        assert_int_equal(pick(&np_lb_least_pending, b), i % 3);
    }
    /* all busy alike: still rotates */
    b->m[0].pending = b->m[1].pending = b->m[2].pending = 7;
    for (i = 0; i < 6; i++) {
        assert_int_equal(pick(&np_lb_least_pending, b), i % 3);
    }
    /* an ineligible member is skipped in the rotation */
    b->m[1].eligible = 0;
    for (i = 0; i < 6; i++) {
        assert_int_equal(pick(&np_lb_least_pending, b), i % 2 ? 2 : 0);
    }
}

static void test_lp_no_cursor(void **state)
{
    lb_t *b = lb_new(*state, 3, NULL);
    b->ctx.cursor = NULL;                /* ties go to the first */
    assert_int_equal(pick(&np_lb_least_pending, b), 0);
    assert_int_equal(pick(&np_lb_least_pending, b), 0);
    b->m[0].pending = 1;
    assert_int_equal(pick(&np_lb_least_pending, b), 1);
}

static void test_lp_weight_ties(void **state)
{
    /* m1 weight 1 pending 1, m2 weight 2 pending 2: load 1 each, a tie
     * broken by the cursor; m3 is busier (load 2). */
    static const int w[] = { 1, 2, 1 };
    lb_t *b = lb_new(*state, 3, w);
    int i;
    b->m[0].pending = 1;
    b->m[1].pending = 2;
    b->m[2].pending = 2;
    for (i = 0; i < 6; i++) {
        assert_int_equal(pick(&np_lb_least_pending, b), i % 2);
    }
    b->cursor = 1;
    assert_int_equal(pick(&np_lb_least_pending, b), 1);
    /* one more on m2 (load 1.5): m1 wins from any cursor */
    b->m[1].pending = 3;
    for (i = 0; i < 3; i++) {
        b->cursor = (apr_uint32_t)i;
        assert_int_equal(pick(&np_lb_least_pending, b), 0);
    }
}

static void test_lp_busy_member_starved(void **state)
{
    lb_t *b = lb_new(*state, 3, NULL);
    int i, counts[3] = { 0, 0, 0 };
    b->m[0].pending = 100;              /* a slow Node process */
    for (i = 0; i < 100; i++) {
        counts[pick(&np_lb_least_pending, b)]++;
    }
    assert_int_equal(counts[0], 0);
    assert_int_equal(counts[1], 50);
    assert_int_equal(counts[2], 50);
}

/* ---- p2c ----------------------------------------------------------------- */

static void test_p2c_eligibility(void **state)
{
    lb_t *b = lb_new(*state, 4, NULL);
    int i;
    b->m[1].eligible = 0;
    b->m[3].eligible = 0;
    for (i = 0; i < 1000; i++) {
        int k;
        b->ctx.random = xorshift();
        k = pick(&np_lb_p2c, b);
        assert_true(k == 0 || k == 2);
    }
    b->m[0].eligible = 0;               /* one left: always it */
    for (i = 0; i < 100; i++) {
        b->ctx.random = xorshift();
        b->m[2].pending = (apr_uint32_t)i * 10;
        assert_int_equal(pick(&np_lb_p2c, b), 2);
    }
}

static void test_p2c_avoids_loaded(void **state)
{
    lb_t *b = lb_new(*state, 3, NULL);
    int i, counts[3] = { 0, 0, 0 };
    b->m[2].pending = 50;
    for (i = 0; i < 10000; i++) {
        b->ctx.random = xorshift();
        counts[pick(&np_lb_p2c, b)]++;
    }
    print_message("p2c counts %d %d %d\n", counts[0], counts[1], counts[2]);
    assert_true(counts[2] < 1000);
    assert_true(counts[0] > 4000);
    assert_true(counts[1] > 4000);
}

static void test_p2c_distinct_choices(void **state)
{
    /* The first drawn is r mod k. Make it the only busy member: the pick
     * must then be another member, which shows the second draw differs
     * from the first. With equal loads the first drawn wins. */
    int k, i;
    for (k = 2; k <= 5; k++) {
        lb_t *b = lb_new(*state, k, NULL);
        for (i = 0; i < 2000; i++) {
            apr_uint32_t r = xorshift();
            int a = (int)(r % (apr_uint32_t)k), got;
            b->ctx.random = r;
            b->m[a].pending = 1;        /* only the first drawn is busy */
            got = pick(&np_lb_p2c, b);
            assert_int_not_equal(got, a);
            b->m[a].pending = 0;
            assert_int_equal(pick(&np_lb_p2c, b), a);   /* tie: first drawn */
        }
    }
}

static void test_p2c_worked_example(void **state)
{
    /* eligible m1..m4, r = 7: first = 7 mod 4 = 3 (m4),
     * second = (3 + 1 + (7/4) mod 3) mod 4 = (4 + 1) mod 4 = 1 (m2). */
    lb_t *b = lb_new(*state, 4, NULL);
    b->ctx.random = 7;
    b->m[3].pending = 1;
    b->m[0].pending = b->m[2].pending = 5;
    assert_int_equal(pick(&np_lb_p2c, b), 1);
    b->m[1].pending = 2;
    assert_int_equal(pick(&np_lb_p2c, b), 3);
}

static void test_p2c_many_members(void **state)
{
    /* More than 64 eligible members: every one can be chosen. */
    lb_t *b = lb_new(*state, 100, NULL);
    int i, seen[100], nseen = 0;
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < 20000; i++) {
        int k;
        b->ctx.random = xorshift();
        k = pick(&np_lb_p2c, b);
        assert_true(k >= 0 && k < 100);
        if (!seen[k]++) {
            nseen++;
        }
    }
    assert_int_equal(nseen, 100);
    assert_true(seen[99] > 0);
}

/* ---- ip-hash ------------------------------------------------------------- */

static const char *client_addr(apr_pool_t *p, int i)
{
    return apr_psprintf(p, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
                        i & 255);
}

static void test_iphash_stable(void **state)
{
    lb_t *b = lb_new(*state, 4, NULL), *b2 = lb_new(*state, 4, NULL);
    int i, j;
    for (i = 0; i < 200; i++) {
        const char *c = client_addr(*state, i * 7919);
        int k;
        b->ctx.client = c;
        k = pick(&np_lb_ip_hash, b);
        assert_true(k >= 0 && k < 4);
        for (j = 0; j < 3; j++) {
            assert_int_equal(pick(&np_lb_ip_hash, b), k);
        }
        /* another process with the same config: same answer (no state) */
        b2->ctx.client = apr_pstrdup(*state, c);
        assert_int_equal(pick(&np_lb_ip_hash, b2), k);
    }
    /* The order of the members does not matter: only their ids. */
    b->ctx.client = b2->ctx.client = "192.0.2.7";
    b2->m[0].id = "m4";
    b2->m[3].id = "m1";
    {
        int k = pick(&np_lb_ip_hash, b), k2 = pick(&np_lb_ip_hash, b2);
        assert_string_equal(b->m[k].id, b2->m[k2].id);
    }
}

static void test_iphash_spread(void **state)
{
    lb_t *b = lb_new(*state, 4, NULL);
    int i, counts[4] = { 0, 0, 0, 0 };
    for (i = 0; i < 10000; i++) {
        b->ctx.client = client_addr(*state, i);
        counts[pick(&np_lb_ip_hash, b)]++;
    }
    for (i = 0; i < 4; i++) {
        print_message("member %d: %d\n", i, counts[i]);
        assert_true(counts[i] >= 2000 && counts[i] <= 3000);
    }
}

static void test_iphash_remove_one(void **state)
{
    lb_t *b = lb_new(*state, 4, NULL);
    int *before = apr_pcalloc(*state, sizeof(int) * 10000);
    int i, moved = 0, to[4] = { 0, 0, 0, 0 };
    for (i = 0; i < 10000; i++) {
        b->ctx.client = client_addr(*state, i);
        before[i] = pick(&np_lb_ip_hash, b);
    }
    b->m[2].eligible = 0;
    for (i = 0; i < 10000; i++) {
        int k;
        b->ctx.client = client_addr(*state, i);
        k = pick(&np_lb_ip_hash, b);
        assert_int_not_equal(k, 2);
        if (before[i] != 2) {
            assert_int_equal(k, before[i]);       /* nobody else moves */
        }
        else {
            moved++;
            to[k]++;
        }
    }
    print_message("moved %d: %d %d %d\n", moved, to[0], to[1], to[3]);
    assert_true(moved >= 2000 && moved <= 3000);
    for (i = 0; i < 4; i++) {
        if (i != 2) {
            assert_true(to[i] * 4 >= moved && to[i] * 2 <= moved);  /* 25-50% */
        }
    }
    /* It comes back: everyone returns to where they were. */
    b->m[2].eligible = 1;
    for (i = 0; i < 10000; i++) {
        b->ctx.client = client_addr(*state, i);
        assert_int_equal(pick(&np_lb_ip_hash, b), before[i]);
    }
}

static void test_iphash_weights(void **state)
{
    static const int w[] = { 1, 1, 2 };
    lb_t *b = lb_new(*state, 3, w);
    int i, counts[3] = { 0, 0, 0 };
    for (i = 0; i < 10000; i++) {
        b->ctx.client = client_addr(*state, i);
        counts[pick(&np_lb_ip_hash, b)]++;
    }
    print_message("weights 1,1,2: %d %d %d\n", counts[0], counts[1], counts[2]);
    assert_true(counts[0] >= 2200 && counts[0] <= 2800);
    assert_true(counts[1] >= 2200 && counts[1] <= 2800);
    assert_true(counts[2] >= 4500 && counts[2] <= 5500);
}

static void test_iphash_null_client(void **state)
{
    lb_t *b = lb_new(*state, 3, NULL);
    int k;
    b->ctx.client = NULL;               /* treated as "" */
    k = pick(&np_lb_ip_hash, b);
    assert_true(k >= 0 && k < 3);
    b->ctx.client = "";
    assert_int_equal(pick(&np_lb_ip_hash, b), k);
}

/* ---- np_lb_mark_eligible ------------------------------------------------- */

static void test_mark_eligible(void **state)
{
    /* four members; per row their failed/unhealthy/standby/skip bits */
    static const struct {
        int failed[4], unhealthy[4], standby[4], skip[4];
        int eligible[4], count;
    } rows[] = {
        /* all usable, no standby */
        { {0,0,0,0}, {0,0,0,0}, {0,0,0,0}, {0,0,0,0}, {1,1,1,1}, 4 },
        /* failed / unhealthy / skipped are out */
        { {1,0,0,0}, {0,1,0,0}, {0,0,0,0}, {0,0,1,0}, {0,0,0,1}, 1 },
        /* standby not used while a regular member is usable */
        { {0,0,0,0}, {0,0,0,0}, {0,0,1,1}, {0,0,0,0}, {1,1,0,0}, 2 },
        { {1,0,0,0}, {0,0,0,0}, {0,0,1,1}, {0,0,0,0}, {0,1,0,0}, 1 },
        /* no regular member usable: the usable standby ones */
        { {1,0,0,0}, {0,1,0,0}, {0,0,1,1}, {0,0,0,0}, {0,0,1,1}, 2 },
        { {1,0,0,1}, {0,1,0,0}, {0,0,1,1}, {0,0,0,0}, {0,0,1,0}, 1 },
        /* regular ones only skipped (already tried): standby next */
        { {0,0,0,0}, {0,0,0,0}, {0,0,1,0}, {1,1,0,1}, {0,0,1,0}, 1 },
        /* nothing usable at all */
        { {1,1,0,0}, {0,0,1,1}, {0,1,0,1}, {0,0,0,0}, {0,0,0,0}, 0 },
        { {0,0,0,0}, {0,0,0,0}, {0,0,0,0}, {1,1,1,1}, {0,0,0,0}, 0 },
        /* all standby: they are the pool */
        { {0,0,0,0}, {0,0,0,0}, {1,1,1,1}, {0,0,0,0}, {1,1,1,1}, 4 },
        { {0,1,0,0}, {0,0,0,0}, {1,1,1,1}, {0,0,1,0}, {1,0,0,1}, 2 },
    };
    size_t r;
    int i;
    for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        np_lb_member_t m[4];
        np_lb_state_t st[4];
        print_message("row %zu\n", r);
        for (i = 0; i < 4; i++) {
            memset(&m[i], 0, sizeof(m[i]));
            memset(&st[i], 0, sizeof(st[i]));
            m[i].weight = 1;
            m[i].eligible = 7;          /* overwritten, whatever it was */
            st[i].failed = rows[r].failed[i];
            st[i].unhealthy = rows[r].unhealthy[i];
            st[i].standby = rows[r].standby[i];
        }
        assert_int_equal(np_lb_mark_eligible(m, st, rows[r].skip, 4),
                         rows[r].count);
        for (i = 0; i < 4; i++) {
            assert_int_equal(m[i].eligible, rows[r].eligible[i]);
        }
        /* skip == NULL is "nothing tried yet" */
        {
            int zero[4] = { 0, 0, 0, 0 };
            if (memcmp(rows[r].skip, zero, sizeof(zero)) == 0) {
                assert_int_equal(np_lb_mark_eligible(m, st, NULL, 4),
                                 rows[r].count);
            }
        }
    }
}

static void test_mark_eligible_flag_values(void **state)
{
    /* any true value is a flag (state may come from bit masks) */
    np_lb_member_t m[2];
    np_lb_state_t st[2] = { { 4, 0, 0, 0 }, { 0, 0, 8, 0 } };
    memset(m, 0, sizeof(m));
    m[0].weight = m[1].weight = 1;
    assert_int_equal(np_lb_mark_eligible(m, st, NULL, 2), 1);
    assert_int_equal(m[0].eligible, 0);
    assert_int_equal(m[1].eligible, 1);
    st[0].failed = 0;
    assert_int_equal(np_lb_mark_eligible(m, st, NULL, 2), 1);
    assert_int_equal(m[0].eligible, 1);
    assert_int_equal(m[1].eligible, 0);
    assert_int_equal(np_lb_mark_eligible(m, st, NULL, 0), 0);
}

/* ---- admission control: max=N ------------------------------------------ */

static void test_drop_full(void **state)
{
    /* pending, max (0 = unlimited), eligible before -> after */
    static const struct { apr_uint32_t pending, max; int in, out; } rows[] = {
        { 0, 2, 1, 1 }, { 1, 2, 1, 1 }, { 2, 2, 1, 0 }, { 5, 2, 1, 0 },
        { 9, 0, 1, 1 }, { 0, 1, 0, 0 }, { 0, 0, 0, 0 },
    };
    np_lb_member_t m[7];
    size_t i;
    int want = 0;
    memset(m, 0, sizeof(m));
    for (i = 0; i < 7; i++) {
        m[i].pending = rows[i].pending;
        m[i].max = rows[i].max;
        m[i].eligible = rows[i].in;
        want += rows[i].out;
    }
    assert_int_equal(np_lb_drop_full(m, 7), want);
    for (i = 0; i < 7; i++) {
        print_message("row %zu\n", i);
        assert_int_equal(m[i].eligible, rows[i].out);
    }
    /* all full: 0, the caller queues */
    m[0].pending = 2;
    m[1].pending = 2;
    m[4].max = 9;
    assert_int_equal(np_lb_drop_full(m, 7), 0);
}

static void test_full_member_not_picked(void **state)
{
    /* Two members max=2 each under least-pending: the one with room wins
     * even when the full one has the better score otherwise. */
    apr_pool_t *p = *state;
    lb_t *b = lb_new(p, 2, NULL);
    int k;
    b->m[0].max = b->m[1].max = 2;
    b->m[0].pending = 2;
    b->m[1].pending = 1;
    assert_int_equal(np_lb_drop_full(b->m, 2), 1);
    for (k = 0; k < 4; k++) {
        assert_int_equal(np_lb_least_pending.pick(&b->ctx), 1);
        assert_int_equal(np_lb_round_robin.pick(&b->ctx), 1);
    }
    b->m[0].eligible = b->m[1].eligible = 1;
    b->m[1].pending = 2;
    assert_int_equal(np_lb_drop_full(b->m, 2), 0);
    assert_int_equal(np_lb_least_pending.pick(&b->ctx), -1);
}

static void test_slot_take(void **state)
{
    volatile apr_uint32_t pending = 0;
    assert_int_equal(np_lb_slot_take(&pending, 2), 1);
    assert_int_equal(np_lb_slot_take(&pending, 2), 1);
    assert_int_equal(pending, 2);
    assert_int_equal(np_lb_slot_take(&pending, 2), 0);
    assert_int_equal(pending, 2);
    pending--;                         /* a slot given back */
    assert_int_equal(np_lb_slot_take(&pending, 2), 1);
    assert_int_equal(pending, 2);
    /* unlimited: always taken */
    assert_int_equal(np_lb_slot_take(&pending, 0), 1);
    assert_int_equal(pending, 3);
    /* over the max (max lowered by a graceful restart): full */
    assert_int_equal(np_lb_slot_take(&pending, 1), 0);
    assert_int_equal(pending, 3);
}

/* ---- np_lb_hash ---------------------------------------------------------- */

static void test_hash_known_values(void **state)
{
    /* Fixed forever: route ids and ip-hash placement depend on them. */
    static const struct { const char *s; apr_uint64_t seed, h; } rows[] = {
        { "", 0, 0xefd01f60ba992926ULL },
        { "a", 0, 0x82a2a958a9bece5bULL },
        { "http://127.0.0.1:3000", 0, 0xa781b03c3f874cdbULL },
        { "http://127.0.0.1:3001", 0, 0x10ba58b87892acc3ULL },
        { "unix:/run/a.sock", 0, 0x25ff3a14b22a7084ULL },
        { "10.0.0.1", 0, 0xc879e56ddc6c5c88ULL },
        { "a", 42, 0x402ed084220d884eULL },
        { "10.0.0.1", 0x0123456789abcdefULL, 0xb16fc5f6565a699cULL },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu: \"%s\"\n", i, rows[i].s);
        assert_true(np_lb_hash(rows[i].s, strlen(rows[i].s), rows[i].seed)
                    == rows[i].h);
    }
    /* len, not NUL, ends the input */
    assert_true(np_lb_hash("ab", 1, 0) == np_lb_hash("a", 1, 0));
    assert_true(np_lb_hash("a\0b", 3, 0) != np_lb_hash("a", 1, 0));
}

/* ---- runtime admin states, weight 0 and slow start (issue 15) ------------ */

static void test_admin_names(void **state)
{
    assert_string_equal(np_admin_name(NP_ADMIN_READY), "ready");
    assert_string_equal(np_admin_name(NP_ADMIN_DRAIN), "drain");
    assert_string_equal(np_admin_name(NP_ADMIN_MAINT), "maint");
    assert_null(np_admin_name(3));
    assert_int_equal(np_admin_parse("ready"), NP_ADMIN_READY);
    assert_int_equal(np_admin_parse("drain"), NP_ADMIN_DRAIN);
    assert_int_equal(np_admin_parse("maint"), NP_ADMIN_MAINT);
    assert_int_equal(np_admin_parse("Drain"), -1);
    assert_int_equal(np_admin_parse("disabled"), -1);
    assert_int_equal(np_admin_parse(""), -1);
    assert_int_equal(np_admin_parse(NULL), -1);
}

/* Every method: a drained, maint or weight-0 member gets no pick at all,
 * the others share the requests; all out: none (-1). */
static void test_admin_every_method(void **state)
{
    const np_lbmethod_t *meths[] = { &np_lb_round_robin, &np_lb_least_pending,
                                     &np_lb_p2c, &np_lb_ip_hash };
    size_t k;
    for (k = 0; k < sizeof(meths) / sizeof(meths[0]); k++) {
        static const int w[] = { 100, 100, 100, 100 };
        lb_t *b = lb_new(*state, 4, w);
        np_lb_state_t st[4];
        int i, counts[4] = { 0, 0, 0, 0 };
        char client[32];
        memset(st, 0, sizeof(st));
        st[0].admin = NP_ADMIN_DRAIN;
        st[1].admin = NP_ADMIN_MAINT;
        b->m[2].weight = 0;
        print_message("method %s\n", meths[k]->name);
        assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 4), 1);
        for (i = 0; i < 200; i++) {
            apr_snprintf(client, sizeof(client), "10.0.%d.%d", i / 250, i % 250);
            b->ctx.client = client;
            b->ctx.random = xorshift();
            counts[pick(meths[k], b)]++;
        }
        assert_int_equal(counts[3], 200);
        /* back to ready: all four share again */
        st[0].admin = st[1].admin = NP_ADMIN_READY;
        b->m[2].weight = 100;
        assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 4), 4);
        memset(counts, 0, sizeof(counts));
        for (i = 0; i < 400; i++) {
            apr_snprintf(client, sizeof(client), "10.1.%d.%d", i / 250, i % 250);
            b->ctx.client = client;
            b->ctx.random = xorshift();
            counts[pick(meths[k], b)]++;
        }
        for (i = 0; i < 4; i++) {
            assert_true(counts[i] > 40);
        }
        /* nothing ready */
        st[3].admin = NP_ADMIN_MAINT;
        st[0].admin = st[1].admin = st[2].admin = NP_ADMIN_DRAIN;
        assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 4), 0);
        assert_int_equal(pick(meths[k], b), -1);
    }
}

/* Draining every regular member brings in the standby ones, as failures do. */
static void test_admin_standby(void **state)
{
    static const int w[] = { 100, 100, 100 };
    lb_t *b = lb_new(*state, 3, w);
    np_lb_state_t st[3];
    memset(st, 0, sizeof(st));
    st[2].standby = 1;
    assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 3), 2);
    assert_int_equal(b->m[2].eligible, 0);
    st[0].admin = NP_ADMIN_DRAIN;
    st[1].admin = NP_ADMIN_MAINT;
    assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 3), 1);
    assert_int_equal(b->m[2].eligible, 1);
    /* a drained standby member is not used either */
    st[2].admin = NP_ADMIN_DRAIN;
    assert_int_equal(np_lb_mark_eligible(b->m, st, NULL, 3), 0);
}

static void test_sticky_ok(void **state)
{
    /* failed unhealthy standby admin -> may a sticky request go there? */
    static const struct { np_lb_state_t st; int ok; } rows[] = {
        { { 0, 0, 0, NP_ADMIN_READY }, 1 },
        { { 0, 0, 0, NP_ADMIN_DRAIN }, 1 },   /* drain keeps its sticky clients */
        { { 0, 0, 0, NP_ADMIN_MAINT }, 0 },   /* maint moves them */
        { { 0, 0, 1, NP_ADMIN_DRAIN }, 1 },
        { { 1, 0, 0, NP_ADMIN_READY }, 0 },
        { { 0, 1, 0, NP_ADMIN_DRAIN }, 0 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        print_message("row %zu\n", i);
        assert_int_equal(np_lb_sticky_ok(&rows[i].st), rows[i].ok);
    }
}

static void test_effective_weight(void **state)
{
    const apr_int64_t s = 1000000;   /* 1 s in microseconds */
    /* the worked example in np_lb.h: weight 1, ramp 10 s */
    assert_int_equal(np_lb_effective_weight(1, 100 * s, 10 * s, 100 * s), 10);
    assert_int_equal(np_lb_effective_weight(1, 100 * s, 10 * s, 105 * s), 55);
    assert_int_equal(np_lb_effective_weight(1, 100 * s, 10 * s, 110 * s), 100);
    assert_int_equal(np_lb_effective_weight(1, 100 * s, 10 * s, 500 * s), 100);
    /* weight 5, a quarter of the way: 5 x (10 + 22.5) = 162 */
    assert_int_equal(np_lb_effective_weight(5, 100 * s, 4 * s, 101 * s), 162);
    /* off, not ramping, weight 0, clock before since */
    assert_int_equal(np_lb_effective_weight(3, 100 * s, 0, 100 * s), 300);
    assert_int_equal(np_lb_effective_weight(3, 0, 10 * s, 100 * s), 300);
    assert_int_equal(np_lb_effective_weight(0, 100 * s, 10 * s, 101 * s), 0);
    assert_int_equal(np_lb_effective_weight(0, 0, 0, 0), 0);
    assert_int_equal(np_lb_effective_weight(2, 100 * s, 10 * s, 99 * s), 20);
    assert_int_equal(np_lb_effective_weight(100, 100 * s, 10 * s, 110 * s - 1), 9999);
}

/* Slow start as every method sees it: effective weights 10 (a member that
 * just came back) and 100: round-robin gives exactly 1 in 11; least-pending
 * prefers the full one until its load is 10x; p2c and ip-hash give the
 * ramping member clearly less than its steady half. */
static void test_slow_start_every_method(void **state)
{
    const np_lbmethod_t *meths[] = { &np_lb_round_robin, &np_lb_p2c,
                                     &np_lb_ip_hash };
    size_t k;
    for (k = 0; k < sizeof(meths) / sizeof(meths[0]); k++) {
        int w[2];
        lb_t *b;
        int i, counts[2] = { 0, 0 };
        char client[32];
        w[0] = np_lb_effective_weight(1, 1, 10000000, 1);   /* just back: 10 */
        w[1] = np_lb_effective_weight(1, 0, 10000000, 1);   /* steady: 100 */
        b = lb_new(*state, 2, w);
        print_message("method %s\n", meths[k]->name);
        for (i = 0; i < 1100; i++) {
            apr_snprintf(client, sizeof(client), "192.168.%d.%d", i / 250, i % 250);
            b->ctx.client = client;
            b->ctx.random = xorshift();
            /* p2c compares pending/weight: one each, so 1/10 beats 1/100 */
            b->m[0].pending = 1;
            b->m[1].pending = 1;
            counts[pick(meths[k], b)]++;
        }
        if (meths[k] == &np_lb_round_robin) {
            assert_int_equal(counts[0], 100);
        }
        else {
            assert_true(counts[0] < 1100 / 4);
        }
    }
    {
        /* least-pending: weights 10 and 100, the full member takes new
         * requests until its pending is 10x the ramping member's */
        int w[2] = { 10, 100 };
        lb_t *b = lb_new(*state, 2, w);
        b->m[0].pending = 1;
        b->m[1].pending = 9;
        assert_int_equal(pick(&np_lb_least_pending, b), 1);
        b->m[1].pending = 11;
        assert_int_equal(pick(&np_lb_least_pending, b), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_method_records, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_none_eligible, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_rr_worked_example, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_rr_smooth, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_rr_ineligible, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_rr_ineligible_midway, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_rr_standby, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_lp_worked_example, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_lp_rotates, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_lp_no_cursor, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_lp_weight_ties, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_lp_busy_member_starved, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_p2c_eligibility, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_p2c_avoids_loaded, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_p2c_distinct_choices, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_p2c_worked_example, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_p2c_many_members, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_iphash_stable, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_iphash_spread, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_iphash_remove_one, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_iphash_weights, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_iphash_null_client, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_mark_eligible, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_mark_eligible_flag_values, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_drop_full, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_full_member_not_picked, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_slot_take, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_hash_known_values, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_admin_names, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_admin_every_method, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_admin_standby, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_sticky_ok, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_effective_weight, np_test_pool_setup, np_test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_slow_start_every_method, np_test_pool_setup, np_test_pool_teardown),
    };
    int rc;
    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
