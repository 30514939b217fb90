/* Pure: load-balancing methods, one small function each, with a worked
 * schedule above it (as httpd's mod_lbmethod_byrequests does). */
#include <math.h>
#include <string.h>

#include <apr_atomic.h>

#include "np_lb.h"

int np_lb_mark_eligible(np_lb_member_t *m, const np_lb_state_t *st,
                        const int *skip, int n)
{
    int i, count = 0, pass;
    /* First the regular members; standby ones only if none is usable. */
    for (pass = 0; pass < 2 && count == 0; pass++) {
        for (i = 0; i < n; i++) {
            int usable = !st[i].failed && !st[i].unhealthy
                         && st[i].admin == NP_ADMIN_READY && m[i].weight > 0
                         && !(skip && skip[i]);
            m[i].eligible = usable && (!!st[i].standby == (pass == 1));
            count += m[i].eligible;
        }
    }
    return count;
}

int np_lb_drop_full(np_lb_member_t *m, int n)
{
    int i, count = 0;
    for (i = 0; i < n; i++) {
        if (m[i].eligible && m[i].max && m[i].pending >= m[i].max) {
            m[i].eligible = 0;
        }
        count += m[i].eligible;
    }
    return count;
}

int np_lb_slot_take(volatile apr_uint32_t *pending, apr_uint32_t max)
{
    apr_uint32_t cur;
    if (!max) {
        apr_atomic_inc32(pending);
        return 1;
    }
    /* Compare-and-swap: two children cannot both take the last slot. */
    for (cur = apr_atomic_read32(pending); cur < max;) {
        apr_uint32_t was = apr_atomic_cas32(pending, cur + 1, cur);
        if (was == cur) {
            return 1;
        }
        cur = was;
    }
    return 0;
}

const char *np_admin_name(int admin)
{
    switch (admin) {
    case NP_ADMIN_READY: return "ready";
    case NP_ADMIN_DRAIN: return "drain";
    case NP_ADMIN_MAINT: return "maint";
    }
    return NULL;
}

int np_admin_parse(const char *name)
{
    int a;
    for (a = NP_ADMIN_READY; name && a <= NP_ADMIN_MAINT; a++) {
        if (strcmp(name, np_admin_name(a)) == 0) {
            return a;
        }
    }
    return -1;
}

int np_lb_sticky_ok(const np_lb_state_t *st)
{
    return !st->failed && !st->unhealthy && st->admin != NP_ADMIN_MAINT;
}

int np_lb_effective_weight(int weight, apr_int64_t since, apr_int64_t ramp,
                           apr_int64_t now)
{
    apr_int64_t elapsed, w;
    if (weight <= 0) {
        return 0;
    }
    if (ramp <= 0 || since <= 0 || now - since >= ramp) {
        return weight * NP_LB_WEIGHT_SCALE;
    }
    elapsed = now > since ? now - since : 0;
    /* a tenth plus nine tenths of the elapsed fraction, in hundredths */
    w = (apr_int64_t)weight * (10 * ramp + 90 * elapsed) / ramp;
    return w < 1 ? 1 : (int)w;
}

apr_uint64_t np_lb_hash(const char *s, apr_size_t len, apr_uint64_t seed)
{
    apr_uint64_t h = 14695981039346656037ULL ^ seed;
    apr_size_t i;
    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    /* FNV's low bits mix poorly; finish with a 64-bit avalanche. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* round-robin: smooth weighted round robin.
 *
 * Every pick adds each eligible member's weight to its score, takes the
 * member with the highest score (the first one on a tie) and subtracts the
 * total weight from it. Scores always sum to zero, so each member gets
 * exactly its share in every window of sum(weights) picks, spread out
 * rather than in runs. Weights 1,1,2 (m1 m2 m3):
 *
 *   scores before     +weights       pick   after
 *   0  0  0           1  1  2        m3     1  1 -2
 *   1  1 -2           2  2  0        m1    -2  2  0
 *  -2  2  0          -1  3  2        m2    -1 -1  2
 *  -1 -1  2           0  0  4        m3     0  0  0
 *
 * so: m3 m1 m2 m3, m3 m1 m2 m3, ... 10/10/20 of 40. A member that turns
 * ineligible keeps its score and rejoins where it left off.
 * The lock must be held: scores are shared by every child. */
static int pick_round_robin(np_lb_ctx_t *c)
{
    apr_int64_t total = 0;
    int i, best = -1;
    for (i = 0; i < c->n; i++) {
        if (!c->m[i].eligible) {
            continue;
        }
        *c->m[i].current += c->m[i].weight;
        total += c->m[i].weight;
        if (best < 0 || *c->m[i].current > *c->m[best].current) {
            best = i;
        }
    }
    if (best >= 0) {
        *c->m[best].current -= total;
    }
    return best;
}

/* pending/weight of a against b, without division: <0, 0, >0. */
static int load_cmp(const np_lb_member_t *a, const np_lb_member_t *b)
{
    apr_uint64_t la = (apr_uint64_t)a->pending * (apr_uint64_t)b->weight;
    apr_uint64_t lb = (apr_uint64_t)b->pending * (apr_uint64_t)a->weight;
    return la < lb ? -1 : la > lb ? 1 : 0;
}

/* least-pending: fewest requests in flight relative to weight; among equal
 * loads, round robin (the search starts one past the last pick).
 * Members m1 m2 m3, weights 1 1 2, pending 0 0 0 with cursor 0:
 *   m1 (all 0; cursor start 0) -> cursor 1
 * pending 1 0 0 (m1 busy): m2 or m3 tie at 0 -> the first from cursor 1: m2
 * pending 1 1 1: loads 1, 1, 0.5 -> m3 (weight 2 halves its load).
 * A slow Node process keeps requests pending and so gets fewer new ones.
 * The lock must be held: the cursor is shared. */
static int pick_least_pending(np_lb_ctx_t *c)
{
    int i, best = -1;
    apr_uint32_t start = c->cursor ? *c->cursor : 0;
    for (i = 0; i < c->n; i++) {
        int k = (int)((start + (apr_uint32_t)i) % (apr_uint32_t)c->n);
        if (c->m[k].eligible
            && (best < 0 || load_cmp(&c->m[k], &c->m[best]) < 0)) {
            best = k;
        }
    }
    if (best >= 0 && c->cursor) {
        *c->cursor = (apr_uint32_t)(best + 1) % (apr_uint32_t)c->n;
    }
    return best;
}

/* Index of the nth (from 0) eligible member, or -1. */
static int nth_eligible(const np_lb_ctx_t *c, int nth)
{
    int i;
    for (i = 0; i < c->n; i++) {
        if (c->m[i].eligible && nth-- == 0) {
            return i;
        }
    }
    return -1;
}

/* p2c: power of two choices. Two different eligible members drawn at
 * random; the one with fewer pending (relative to weight) wins, the first
 * drawn on a tie. Nearly as good as least-pending with no shared cursor and
 * no lock. With eligible m1..m4 and random r: first = r mod 4,
 * second = (first + 1 + (r / 4) mod 3) mod 4 over the eligible list, which
 * may be of any length. */
static int pick_p2c(np_lb_ctx_t *c)
{
    int k = 0, i, a, b;
    for (i = 0; i < c->n; i++) {
        k += c->m[i].eligible != 0;
    }
    if (k <= 1) {
        return k ? nth_eligible(c, 0) : -1;
    }
    a = (int)(c->random % (apr_uint32_t)k);
    b = (a + 1 + (int)((c->random / (apr_uint32_t)k) % (apr_uint32_t)(k - 1))) % k;
    a = nth_eligible(c, a);
    b = nth_eligible(c, b);
    return load_cmp(&c->m[b], &c->m[a]) < 0 ? b : a;
}

/* ip-hash: weighted rendezvous (highest random weight) hashing of the
 * client address. Each member scores -weight / ln(u), u a uniform number
 * in (0,1) from hash(client, member id); the highest score wins. A client
 * stays on its member as long as that member is eligible; when a member
 * leaves, only its own clients move (each to its second-best member), and
 * no other client changes: with 4 members, removing one moves ~1/4. */
static int pick_ip_hash(np_lb_ctx_t *c)
{
    int i, best = -1;
    double best_score = 0;
    apr_size_t clen = c->client ? strlen(c->client) : 0;
    apr_uint64_t ch = np_lb_hash(c->client ? c->client : "", clen, 0);
    for (i = 0; i < c->n; i++) {
        const char *id = c->m[i].id ? c->m[i].id : "";
        apr_uint64_t h;
        double u, score;
        if (!c->m[i].eligible) {
            continue;
        }
        h = np_lb_hash(id, strlen(id), ch);
        u = ((double)(h >> 11) + 0.5) / 9007199254740992.0;   /* (0,1) */
        score = -(double)c->m[i].weight / log(u);
        if (best < 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

const np_lbmethod_t np_lb_round_robin = { "round-robin", pick_round_robin, 1 };
const np_lbmethod_t np_lb_least_pending = { "least-pending", pick_least_pending, 1 };
const np_lbmethod_t np_lb_p2c = { "p2c", pick_p2c, 0 };
const np_lbmethod_t np_lb_ip_hash = { "ip-hash", pick_ip_hash, 0 };
