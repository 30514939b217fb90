# Admission control, part 4: NodeRateLimitStore rediss:// - one limit for a
# fleet through a TLS-only Redis that requires client certificates and a
# password (admission/mod_nodeproxy_redis_conn.c). A real redis-server
# (Debian package, built with TLS) is started by this test with its own
# command-line config: no plain port (port 0), tls-port 29500 with the
# test PKI's server certificate (t/lib/NPTestRun.pm make_backend_pki:
# names localhost and 127.0.0.1), client certificates required and
# checked against client-ca, requirepass for the default user and an ACL
# user "np". Three DEDICATED httpd instances (t/lib/NPAsync.pm):
#  - A: rediss://localhost (SNI and name check: localhost), password=;
#  - B: rediss://127.0.0.1 (no SNI, the address checked), user=np
#    password= (Redis 6 ACL AUTH);
#  - C: like A but ca= the wrong CA;
#  - D: no client certificate; E: a wrong password, and verify=off
#    without ca= (warned at start; the handshake passes, AUTH fails).
# Must show: A and B share one limit (rate=1/m burst=6: 6 of 8 pass, Node
# sees 6); C fails open with one NP00520 line naming the verification
# failure and serves with its local limit; D and E likewise, each line
# naming its reason; Redis stopped -> local limits and one NP00520 per
# instance; Redis back -> NP00522 and shared again.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPAsync ();
use NPRedis qw(get n200 log_count log_lines);

plan tests => 1 + 4 + 4 + 2 * 2 + 1 + 4 + 4, need_module('nodeproxy');

my $REDIS_PORT = 29500;
my $PW = 'np-default-secret';
my $ACL_PW = 'np-acl-secret';
my $pki = t_path('conf', 'np-pki');
my $cli = (grep { -x } '/usr/bin/redis-cli')[0];
my $redis = NPRedis->new(
    dir => Apache::Test::vars('t_logs') . '/np-redis-tls',
    args => ['--port', '0', '--tls-port', $REDIS_PORT, '--bind', '127.0.0.1',
             '--tls-cert-file', "$pki/server.crt", '--tls-key-file', "$pki/server.key",
             '--tls-ca-cert-file', "$pki/client-ca.crt", '--tls-auth-clients', 'yes',
             '--requirepass', $PW, '--user', 'np', 'on', ">$ACL_PW", '~nprl:*', '+@all'],
    # PING over TLS with a client certificate, as the default user.
    up => sub {
        return 0 unless $cli;
        my $out = `$cli --tls --cacert $pki/ca.crt --cert $pki/client.crt --key $pki/client.key -h 127.0.0.1 -p $REDIS_PORT -a $PW --no-auth-warning PING 2>&1`;
        return ($out // '') =~ /PONG/ ? 1 : 0;
    });

my $started = eval { $redis->start } || 0;
ok t_cmp($started, 1, "TLS-only redis-server (" . ($redis->bin // 'missing') .
         ") answers on 127.0.0.1:$REDIS_PORT to a client with a certificate and the password");

my ($pa, $pb, $pc, $pd, $pe, $p1) = NPAsync::free_ports(6);
my $b1 = NPAsync::backend('rt1', $p1);
my $locations = <<"EOL";
<Location /r/>
    NodeProxyPass http://127.0.0.1:$p1/r/
    NodeRateLimit rate=1/m burst=6
</Location>
<Location /local/>
    NodeProxyPass http://127.0.0.1:$p1/local/
    NodeRateLimit rate=1/m burst=3
</Location>
<Location /again/>
    NodeProxyPass http://127.0.0.1:$p1/again/
    NodeRateLimit rate=1/m burst=4
</Location>
EOL
my $tls = "cert=$pki/client.crt key=$pki/client.key timeout=200ms";
my $ha = NPAsync::Httpd->start(tag => 'redis-tls-a', port => $pa, conf =>
    "NodeRateLimitStore rediss://localhost:$REDIS_PORT/0 password=$PW ca=$pki/ca.crt $tls\n$locations");
my $hb = NPAsync::Httpd->start(tag => 'redis-tls-b', port => $pb, conf =>
    "NodeRateLimitStore rediss://127.0.0.1:$REDIS_PORT/0 user=np password=$ACL_PW ca=$pki/ca.crt $tls\n$locations");
my $hc = NPAsync::Httpd->start(tag => 'redis-tls-c', port => $pc, conf =>
    "NodeRateLimitStore rediss://localhost:$REDIS_PORT/0 password=$PW ca=$pki/other-ca.crt $tls\n$locations");
my $hd = NPAsync::Httpd->start(tag => 'redis-tls-d', port => $pd, conf =>
    "NodeRateLimitStore rediss://localhost:$REDIS_PORT/0 password=$PW ca=$pki/ca.crt timeout=200ms\n$locations");
my $he = NPAsync::Httpd->start(tag => 'redis-tls-e', port => $pe, conf =>
    "NodeRateLimitStore rediss://localhost:$REDIS_PORT/0 password=not-$PW verify=off $tls\n$locations");

sub statuses { join ' ', map { $_->{status} } @_ }
sub node_count { my $s = NPAsync::stats($b1); return $s->{counts}{ $_[0] } // 0 }

# ---- shared through TLS (4) ------------------------------------------------------
NPAsync::reset_stats($b1);
my @x;
for my $i (1 .. 4) { push @x, get($pa, "/r/fast?id=a$i"), get($pb, "/r/fast?id=b$i"); }
ok t_cmp(n200(@x), 6, 'rate=1/m burst=6 over two httpd instances through TLS Redis: 6 of 8 pass in all (' .
         statuses(@x) . ')');
ok t_cmp(node_count('fast'), 6, 'Node saw exactly 6');
ok t_cmp(log_count($ha, qr/NP0052[01]/), 0, 'A (SNI localhost, password=): no Redis trouble logged' .
         log_lines($ha, qr/NP0052/));
ok t_cmp(log_count($hb, qr/NP0052[01]/), 0, 'B (127.0.0.1, user=np password=): no Redis trouble logged' .
         log_lines($hb, qr/NP0052/));

# ---- wrong CA: fail open, one line with the reason (4) -------------------------------
my @c = map { get($pc, "/local/fast?id=w$_") } 1 .. 8;
ok t_cmp(scalar(grep { $_->{status} == 200 || $_->{status} == 429 } @c), 8,
         'wrong CA: every request answered (' . statuses(@c) . ')');
ok t_cmp(n200(@c), 3, 'wrong CA: the local limit applies (3 of 8 pass)');
ok t_cmp(log_count($hc, qr/NP00520: .*rediss:\/\/localhost:$REDIS_PORT\/0 unreachable/), 1,
         'wrong CA: the outage logged once (NP00520)');
ok t_cmp(log_lines($hc, qr/NP00520/), qr/certificate verify failed/,
         'the line names the reason');

# ---- no client certificate, wrong password (2 x 2) ---------------------------------
# (TLS 1.3: Redis refuses the missing certificate after the handshake, with
# an alert read at the first reply; a reset may overtake it)
for my $case (['no client certificate', $hd, $pd, qr/alert certificate required|Connection reset/],
              ['wrong password', $he, $pe, qr/AUTH refused: WRONGPASS/]) {
    my ($what, $h, $port, $why) = @$case;
    my @r = map { get($port, "/local/fast?id=$_") } 1 .. 4;
    ok t_cmp(join(' ', map { $_->{status} } @r), '200 200 200 429',
             "$what: served with the local limit (burst=3)");
    ok t_cmp(log_count($h, qr/NP00520: .*unreachable/) . ' ' . log_lines($h, qr/NP00520/),
             qr/^1 .*$why/, "$what: one NP00520 line naming the reason");
}

ok t_cmp(log_count($he, qr/NP00524: .*rediss:\/\/localhost:$REDIS_PORT\/0 verify=off/), 1,
         'verify=off is warned about at start (NP00524), once');

# ---- Redis stopped (4) -----------------------------------------------------------------
$redis->stop;
my @l = map { get($pa, "/local/fast?id=l$_") } 1 .. 8;
my @lb = map { get($pb, "/local/fast?id=m$_") } 1 .. 4;
ok t_cmp(scalar(grep { $_->{status} == 200 || $_->{status} == 429 } @l, @lb), 12,
         'Redis down: every request answered (' . statuses(@l) . ' / ' . statuses(@lb) . '; max ' .
         (sort { $b <=> $a } map { int $_->{ms} } @l, @lb)[0] . ' ms)');
ok t_cmp(n200(@l), 3, 'Redis down: the local limit applies on A (3 of 8 pass)');
ok t_cmp(log_count($ha, qr/NP00520: .*unreachable/), 1, 'instance A logged the outage once');
ok t_cmp(log_count($hb, qr/NP00520: .*unreachable/), 1, 'instance B logged the outage once');

# ---- Redis back (4) ----------------------------------------------------------------------
my $back = eval { $redis->start } || 0;
ok t_cmp($back, 1, 'redis-server started again');
my $wa = NPTest::wait_until(10, sub { log_count($ha, qr/NP00522: .*is back/) >= 1 }, 0.1);
my $wb = NPTest::wait_until(10, sub { log_count($hb, qr/NP00522: .*is back/) >= 1 }, 0.1);
ok t_cmp((defined $wa && defined $wb) ? 1 : 0, 1, 'both instances logged that Redis is back (NP00522)');
sleep 1.5;   # every child's reconnect thread has looked (every 500 ms)
NPAsync::reset_stats($b1);
my @y;
for my $i (1 .. 3) { push @y, get($pa, "/again/fast?id=c$i"), get($pb, "/again/fast?id=d$i"); }
ok t_cmp(n200(@y), 4, 'shared again: rate=1/m burst=4 over both instances, 4 of 6 pass (' .
         statuses(@y) . ')');
ok t_cmp(node_count('fast'), 4, 'Node saw exactly 4');
