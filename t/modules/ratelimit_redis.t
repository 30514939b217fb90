# Admission control, part 3: NodeRateLimitStore redis:// - one limit for a
# fleet (admission/mod_nodeproxy_redis.c). A real redis-server (Debian
# package redis-server, in NP_APT_PACKAGES) is started by this test on
# 127.0.0.1:29549 with its own command-line config (no persistence, no
# system service) and stopped by pid; two DEDICATED httpd instances
# (t/lib/NPAsync.pm, 2 children each) share it:
#  - shared: rate=1/m burst=6, 4 requests to each instance -> exactly 6
#    pass in all, Node sees exactly 6;
#  - Redis stopped mid-test: requests keep being answered, promptly, with
#    the local (shared-memory) limits, and each instance logs the outage
#    once (NP00520);
#  - Redis back (a new redis-server on the same port): the instances log it
#    (NP00522) and count together again.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Socket::INET ();
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPAsync ();
use NPRedis qw(get n200 log_count log_lines);

plan tests => 1 + 3 + 5 + 4, need_module('nodeproxy');

sub enc { $NPAsync::JSON->encode($_[0]) }

my $REDIS_PORT = 29549;
my $redis = NPRedis->new(
    dir => Apache::Test::vars('t_logs') . '/np-redis',
    args => ['--port', $REDIS_PORT, '--bind', '127.0.0.1', '--protected-mode', 'yes'],
    up => sub {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $REDIS_PORT,
                                      Proto => 'tcp', Timeout => 1) or return 0;
        print $s "PING\r\n";
        return (<$s> // '') =~ /PONG/ ? 1 : 0;
    });

my $started = eval { $redis->start } || 0;
ok t_cmp($started, 1, "redis-server (" . ($redis->bin // 'missing') . ") answers on 127.0.0.1:$REDIS_PORT");

my ($pa, $pb, $p1) = NPAsync::free_ports(3);
my $b1 = NPAsync::backend('rr1', $p1);
my $conf = <<"EOC";
NodeRateLimitStore redis://127.0.0.1:$REDIS_PORT/0 timeout=100ms
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
EOC
my $ha = NPAsync::Httpd->start(tag => 'redis-a', port => $pa, conf => $conf);
my $hb = NPAsync::Httpd->start(tag => 'redis-b', port => $pb, conf => $conf);

sub node_count { my $s = NPAsync::stats($b1); return $s->{counts}{ $_[0] } // 0 }

# ---- shared (3) --------------------------------------------------------------------
NPAsync::reset_stats($b1);
my @x;
for my $i (1 .. 4) { push @x, get($pa, "/r/fast?id=a$i"), get($pb, "/r/fast?id=b$i"); }
ok t_cmp(n200(@x), 6, 'rate=1/m burst=6 over two httpd instances: 6 of 8 pass in all (' .
         join(' ', map { $_->{status} } @x) . ')');
ok t_cmp(node_count('fast'), 6, 'Node saw exactly 6');
ok t_cmp(log_count($ha, qr/NP0052[01]/) + log_count($hb, qr/NP0052[01]/), 0, 'no Redis trouble logged');

# ---- Redis stopped (5) ----------------------------------------------------------------
$redis->stop;
my @l = map { get($pa, "/local/fast?id=l$_") } 1 .. 8;
my $slow = grep { $_->{ms} > 2000 } @l;
ok t_cmp(scalar(grep { $_->{status} == 200 || $_->{status} == 429 } @l), 8,
         'Redis down: every request answered (' . join(' ', map { $_->{status} } @l) . ')');
ok t_cmp($slow, 0, 'Redis down: none stalled (max ' . (sort { $b <=> $a } map { int $_->{ms} } @l)[0] . ' ms)');
# local limits: each child counts in the instance's shared memory, so burst=3
ok t_cmp(n200(@l), 3, 'Redis down: the local limit applies (3 of 8 pass)');
my @lb = map { get($pb, "/local/fast?id=m$_") } 1 .. 4;
ok t_cmp(log_count($ha, qr/NP00520: .*unreachable/), 1, 'instance A logged the outage once');
ok t_cmp(log_count($hb, qr/NP00520: .*unreachable/), 1, 'instance B logged the outage once (' .
         join(' ', map { $_->{status} } @lb) . ')');

# ---- Redis back (4) ---------------------------------------------------------------------
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
         join(' ', map { $_->{status} } @y) . ')');
ok t_cmp(node_count('fast'), 4, 'Node saw exactly 4');
