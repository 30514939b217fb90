# Admission control, part 2: NodeRateLimit with the shared-memory store
# (admission/mod_nodeproxy_ratelimit.c), through a DEDICATED httpd
# (t/lib/NPAsync.pm: event MPM, 2 children, so the limit is shared by both)
# with mod_remoteip, backend t/backends/slow.js (counts what it sees):
#  - burst: rate=1/m burst=5 lets exactly 5 of 12 quick requests through,
#    the other 7 get 429; Node sees exactly the 5;
#  - rate: rate=4/s burst=4: after the burst, one request every 100 ms
#    for 2 s gets about 4 a second through (6-13 allowed of 20: generous);
#  - the 429: Retry-After, RateLimit-Policy and RateLimit headers (IETF
#    draft), Apache's own page, or JSON when the client prefers it;
#  - key=ip is the address mod_remoteip established: two clients behind
#    the same proxy (127.0.0.1, X-Client-IP) get separate buckets;
#  - key=header:NAME: a bucket per header value;
#  - NodeRateLimit off in a nested Location lifts the limit.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPAsync ();

plan tests => 4 + 2 + 7 + 5 + 3 + 2, need_module('nodeproxy');

sub enc { $NPAsync::JSON->encode($_[0]) }

my ($port, $p1) = NPAsync::free_ports(2);
my $b1 = NPAsync::backend('rl1', $p1);
my $mods = '/usr/lib/apache2/modules';
my $httpd = NPAsync::Httpd->start(tag => 'ratelimit', port => $port, conf => <<"EOC");
LoadModule remoteip_module $mods/mod_remoteip.so
RemoteIPHeader X-Client-IP
RemoteIPTrustedProxy 127.0.0.1
NodeRateLimitStore shm size=1024
<Location /burst/>
    NodeProxyPass http://127.0.0.1:$p1/burst/
    NodeRateLimit rate=1/m burst=5
</Location>
<Location /burst/free/>
    NodeRateLimit off
</Location>
<Location /rate/>
    NodeProxyPass http://127.0.0.1:$p1/rate/
    NodeRateLimit rate=4/s burst=4
</Location>
<Location /rip/>
    NodeProxyPass http://127.0.0.1:$p1/rip/
    NodeRateLimit rate=1/m burst=3
</Location>
<Location /hdr/>
    NodeProxyPass http://127.0.0.1:$p1/hdr/
    NodeRateLimit rate=1/m burst=2 key=header:X-Api-Key
</Location>
EOC

sub get {
    my ($path, @h) = @_;
    return eval { NPTest::http_req(port => $port, path => $path, timeout => 10, headers => [@h]) }
        || { status => 0, headers => {}, body => '' };
}
sub statuses { my %c; $c{ $_->{status} }++ for @_; return enc(\%c) }
sub node_count { my $s = NPAsync::stats($b1); return $s->{counts}{ $_[0] } // 0 }

NPAsync::reset_stats($b1);

# ---- burst (4) --------------------------------------------------------------------
my @r = map { get("/burst/fast?id=b$_") } 1 .. 12;
ok t_cmp(join('', map { $_->{status} == 200 ? 'o' : $_->{status} == 429 ? 'x' : '?' } @r),
         'oooooxxxxxxx', 'rate=1/m burst=5: the first 5 of 12 pass, then 429 (' . statuses(@r) . ')');
ok t_cmp(node_count('fast'), 5, 'Node saw exactly the 5 allowed requests');
my $nf = get('/burst/free/fast?id=free');
ok t_cmp($nf->{status}, 200, 'NodeRateLimit off in a nested Location: not limited');
ok t_cmp(node_count('fast'), 6, 'and it reached Node');

# ---- rate (2) ---------------------------------------------------------------------
{
    my @b = map { get("/rate/fast?id=r$_") } 1 .. 8;
    my $burst = grep { $_->{status} == 200 } @b;
    my ($ok, $n, $t0) = (0, 0, time);
    while (time - $t0 < 2.0 && $n < 40) {
        my $x = get("/rate/slow?ms=0&id=s$n");
        $ok++ if $x->{status} == 200;
        $n++;
        sleep 0.1;
    }
    my $el = time - $t0;
    t_debug(sprintf 'rate: burst %d of 8; then %d of %d in %.2f s', $burst, $ok, $n, $el);
    ok t_cmp(($burst >= 4 && $burst <= 5) ? 1 : 0, 1, "rate=4/s burst=4: $burst of 8 quick requests pass");
    # 4/s over the elapsed time, +-: at least half, at most one burst more
    ok t_cmp(($ok >= int(4 * $el / 2) && $ok <= int(4 * $el) + 5) ? 1 : 0, 1,
             sprintf('then about 4 a second: %d of %d in %.2f s', $ok, $n, $el));
}

# ---- the 429 (7) ------------------------------------------------------------------
{
    my $x = get('/burst/fast?id=h1');
    ok t_cmp($x->{status}, 429, '429');
    my $ra = hdr($x, 'Retry-After') // '';
    ok t_cmp(($ra =~ /^\d+$/ && $ra >= 1 && $ra <= 60) ? 1 : 0, 1, "Retry-After: $ra (seconds until one more)");
    ok t_cmp(hdr($x, 'RateLimit-Policy') // '', '"nodeproxy";q=5;w=300', 'RateLimit-Policy: quota 5, window 300 s');
    ok t_cmp(hdr($x, 'RateLimit') // '', qr/^"nodeproxy";r=0;t=\d+$/, 'RateLimit: r=0 and t');
    ok t_cmp(hdr($x, 'Content-Type') // '', qr{^text/html}, "Apache's own 429 page by default");
    my $j = get('/burst/fast?id=h2', Accept => 'application/json');
    my $d = eval { $NPAsync::JSON->decode($j->{body}) } || {};
    ok t_cmp(enc([ 0 + $j->{status}, hdr($j, 'Content-Type') // '', $d->{status}, $d->{error} ]),
             enc([ 429, 'application/json', 429, 'too many requests' ]), 'JSON when the client prefers it');
    ok t_cmp(($d->{retry_after} // 0) >= 1 && defined hdr($j, 'Retry-After') ? 1 : 0, 1, 'JSON retry_after');
}

# ---- mod_remoteip: a bucket per client address (5) ---------------------------------
{
    my $before = node_count('fast');
    my @a = map { get("/rip/fast?id=a$_", 'X-Client-IP' => '203.0.113.5') } 1 .. 5;
    my @b = map { get("/rip/fast?id=c$_", 'X-Client-IP' => '198.51.100.7') } 1 .. 5;
    ok t_cmp(statuses(@a), '{"200":3,"429":2}', 'client 203.0.113.5: 3 pass, then 429');
    ok t_cmp(statuses(@b), '{"200":3,"429":2}', 'client 198.51.100.7 behind the same proxy: its own bucket, 3 pass');
    ok t_cmp(node_count('fast') - $before, 6, 'Node saw the 6 allowed, none of the 4 refused');
    my $c = get('/rip/fast?id=d1', 'X-Client-IP' => '192.0.2.44');
    ok t_cmp($c->{status}, 200, 'a third client still passes');
    my $a2 = get('/rip/fast?id=a9', 'X-Client-IP' => '203.0.113.5');
    ok t_cmp($a2->{status}, 429, 'the first client is still limited');
}

# ---- key=header:X-Api-Key (3) -------------------------------------------------------
{
    my @k1 = map { get("/hdr/fast?id=k$_", 'X-Api-Key' => 'alpha') } 1 .. 3;
    my @k2 = map { get("/hdr/fast?id=m$_", 'X-Api-Key' => 'beta') } 1 .. 3;
    ok t_cmp(statuses(@k1), '{"200":2,"429":1}', 'key alpha: 2 pass');
    ok t_cmp(statuses(@k2), '{"200":2,"429":1}', 'key beta, same address: its own bucket');
    my @k3 = map { get("/hdr/fast?id=n$_") } 1 .. 3;
    ok t_cmp(statuses(@k3), '{"200":2,"429":1}', 'no key: the client address is the key');
}

# ---- log (2) ---------------------------------------------------------------------------
{
    my @acc = do { open my $fh, '<', $httpd->access_log or die; <$fh> };
    ok t_cmp(scalar(grep { m{^429 "GET /burst/fast} } @acc) >= 7 ? 1 : 0, 1, 'access log: the 429s');
    my $log = do { local $/; open my $fh, '<', $httpd->error_log or die; <$fh> } // '';
    ok t_cmp(scalar(grep { /segfault|Segmentation|exit signal/i } split /\n/, $log), 0, 'no crash');
}
