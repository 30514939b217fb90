# Admission control on an MPM that cannot suspend a request (worker): a
# request over a member's max= waits in the queue ON ITS THREAD (looking
# every 10 ms) instead of in the reactor; the order, the limit and the
# counts are the same. DEDICATED httpd (t/lib/NPAsync.pm, mpm => worker,
# 2 children x 25 threads), backend t/backends/slow.js:
#  - max=1 on one member, 8 concurrent requests of 300 ms: Node never has
#    more than 1 at once, all 8 answered, queue back to 0, slot free;
#  - a balancer with NodeQueueTimeout 1s: a request behind a 3 s one gets 503 +
#    Retry-After after about 1 s.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPAsync ();

plan tests => 7, need_module('nodeproxy');

sub enc { $NPAsync::JSON->encode($_[0]) }

my ($port, $p1) = NPAsync::free_ports(2);
my $b1 = NPAsync::backend('qw1', $p1);
my $httpd = NPAsync::Httpd->start(tag => 'queue-worker', port => $port, mpm => 'worker', conf => <<"EOC");
<NodeBalancer w>
    NodeMember http://127.0.0.1:$p1 max=1
    NodeQueueTimeout 20s
</NodeBalancer>
NodeProxyPass /w/ balancer://w/
<NodeBalancer wt>
    NodeMember http://127.0.0.1:$p1 max=1
    NodeQueueTimeout 1s
</NodeBalancer>
NodeProxyPass /wt/ balancer://wt/
EOC
my $base = "http://127.0.0.1:$port";

sub wstatus {
    my $name = shift // 'w';
    my $r = eval { NPTest::http_req(port => $port, path => '/np-status?format=json', timeout => 5) };
    my $st = ($r && $r->{status} == 200) ? (eval { $NPAsync::JSON->decode($r->{body}) } || {}) : {};
    return (grep { $_->{name} eq $name } @{ $st->{balancers} || [] })[0] || {};
}

NPAsync::reset_stats($b1);
my $res = NPAsync::load({ url => "$base/w/slow?ms=300&id=k{i}", n => 8, check_id => 1,
                          timeout_ms => 20000, hard_ms => 30000 });
delete $res->{records};
t_debug('8x300ms: ' . enc($res));
my $s = NPAsync::stats($b1);
ok t_cmp($res->{ok} // 0, 8, 'worker MPM: all 8 answered (' . enc($res->{statuses} || {}) . ')');
ok t_cmp($s->{max_inflight} // 99, 1, 'Node never had more than 1 at once (max=1)');
ok t_cmp(($res->{wall_ms} // 0) >= 8 * 300 - 100 ? 1 : 0, 1, "one after another: $res->{wall_ms} ms for 8 x 300 ms");
my $b = wstatus();
ok t_cmp(enc([ $b->{members}[0]{pending}, $b->{queue}{length}, ($b->{queue}{served} // 0) >= 1 ? 1 : 0 ]),
         '[0,0,1]', 'slot free, queue empty, some were served after waiting');

my $long = NPAsync::load_bg({ url => "$base/wt/slow?ms=3000&id=L", n => 1, timeout_ms => 20000, hard_ms => 20000 });
NPTest::wait_until(10, sub { (wstatus('wt')->{members}[0]{pending} // 0) == 1 }, 0.1);
my ($st, $ms, $r) = NPAsync::timed_get($port, '/wt/fast?id=t', timeout => 10);
ok t_cmp($st, 503, 'queue timeout on the thread: 503');
ok t_cmp(($ms >= 900 && $ms < 2900) ? 1 : 0, 1, sprintf('after about NodeQueueTimeout 1s (%.0f ms)', $ms));
ok t_cmp(defined hdr($r, 'Retry-After') ? 1 : 0, 1, 'with Retry-After');
$long->wait(20);
