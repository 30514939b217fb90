# Admission control, part 1: NodeMember max=N and the queue that holds no
# thread (admission/mod_nodeproxy_queue.c), through a DEDICATED httpd
# (t/lib/NPAsync.pm: event MPM, 2 children x 25 threads = 50 worker
# threads), backends t/backends/slow.js (each reports the most requests it
# ever had in flight at once), clients t/backends/loadclient.js:
#  - max=2 on each of 2 members, 60 concurrent requests of 500 ms (more
#    than the 50 worker threads): each Node process never has more than 2
#    at once, all 60 are answered with their own body;
#  - while they queue, plain requests to another path are answered within
#    500 ms (queued requests hold no thread), the status page shows 2 slots
#    in use per member and a queue;
#  - a balancer with max=1, NodeQueueLimit 2, NodeQueueTimeout 2s: queue
#    timeout -> 503 + Retry-After after ~2 s; queue full -> 503 +
#    Retry-After at once; neither reaches Node;
#  - a client that gives up while queued frees its place (queue length back
#    to 0, counted as abandoned; Node never sees it);
#  - every count back to 0 at the end (pending, queue length), JSON and
#    Prometheus.
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

plan tests => 9 + 6 + 8 + 4 + 6, need_module('nodeproxy');

sub enc { $NPAsync::JSON->encode($_[0]) }

my ($port, $p1, $p2, $p3) = NPAsync::free_ports(4);
my $b1 = NPAsync::backend('q1', $p1);
my $b2 = NPAsync::backend('q2', $p2);
my $b3 = NPAsync::backend('q3', $p3);
my $httpd = NPAsync::Httpd->start(tag => 'queue', port => $port, conf => <<"EOC");
<NodeBalancer q>
    NodeMember http://127.0.0.1:$p1 max=2
    NodeMember http://127.0.0.1:$p2 max=2
    NodeQueueTimeout 30s
</NodeBalancer>
NodeProxyPass /q/ balancer://q/
<NodeBalancer small>
    NodeMember http://127.0.0.1:$p3 max=1
    NodeQueueLimit 2
    NodeQueueTimeout 2s
</NodeBalancer>
NodeProxyPass /s/ balancer://small/
NodeProxyPass /plain/ http://127.0.0.1:$p3/
EOC
my $base = "http://127.0.0.1:$port";

sub qstatus {
    my $r = eval { NPTest::http_req(port => $port, path => '/np-status?format=json', timeout => 5) };
    return ($r && $r->{status} == 200) ? (eval { $NPAsync::JSON->decode($r->{body}) } || {}) : {};
}
sub balancer {
    my ($st, $name) = @_;
    for my $b (@{ $st->{balancers} || [] }) { return $b if $b->{name} eq $name; }
    return {};
}
sub pendings { my $b = shift; join ',', map { $_->{pending} // '?' } @{ $b->{members} || [] } }
# wait (at most 10 s) until balancer small has its slot taken / n waiting
sub small_busy { NPTest::wait_until(10, sub { pendings(balancer(qstatus(), 'small')) eq '1' }, 0.1) }
sub small_waiting {
    my $n = shift;
    NPTest::wait_until(10, sub { ((balancer(qstatus(), 'small')->{queue} || {})->{length} // -1) == $n }, 0.1);
}

# warm-up: both children have connected once
NPAsync::load({ url => "$base/plain/fast?id=w{i}", n => 20, check_id => 1 });

# ---- 60 x 500 ms through max=2 x 2 (9) -----------------------------------------
{
    NPAsync::reset_stats($_) for $b1, $b2, $b3;
    my $bg = NPAsync::load_bg({ url => "$base/q/slow?ms=500&id=c{i}", n => 60, check_id => 1,
                                timeout_ms => 40000, hard_ms => 50000 });
    # the load client (a node process) may take a while to start on a
    # loaded machine: wait until the queue has filled
    my $mid = {};
    NPTest::wait_until(15, sub { $mid = balancer(qstatus(), 'q'); (($mid->{queue} || {})->{length} // 0) >= 10 }, 0.1);
    t_debug('while queued: ' . enc($mid));
    my @times;
    for my $k (1 .. 3) {
        my ($st, $ms) = NPAsync::timed_get($port, "/plain/fast?id=p$k");
        push @times, [$st, $ms];
        sleep 0.2;
    }
    my $res = $bg->wait(60);
    delete $res->{records};
    t_debug('60x500ms: ' . enc($res));
    my ($s1, $s2) = (NPAsync::stats($b1), NPAsync::stats($b2));
    t_debug("q1 " . enc($s1) . "\nq2 " . enc($s2));
    ok t_cmp($res->{ok} // 0, 60, '60x500ms: all 60 answered 200 with their own body (' .
             enc($res->{statuses} || {}) . ', errors ' . enc($res->{errors} || {}) . ')');
    ok t_cmp(($s1->{max_inflight} // 99) <= 2 ? 1 : 0, 1, "q1 never had more than 2 at once (max $s1->{max_inflight})");
    ok t_cmp(($s2->{max_inflight} // 99) <= 2 ? 1 : 0, 1, "q2 never had more than 2 at once (max $s2->{max_inflight})");
    ok t_cmp(($s1->{total} // 0) + ($s2->{total} // 0), 60, 'the two members got the 60 between them');
    ok t_cmp((grep { $_->[0] == 200 } @times) == 3 ? 1 : 0, 1,
             'plain requests while 60 queue: all 200 (' . join(' ', map { $_->[0] } @times) . ')');
    ok t_cmp((grep { $_->[1] < 500 } @times) == 3 ? 1 : 0, 1,
             'plain requests while 60 queue (more than the 50 threads): each within 500 ms (' .
             join(' ', map { sprintf '%.0f', $_->[1] } @times) . ' ms)');
    ok t_cmp(pendings($mid), '2,2', 'status while queued: 2 slots in use on each member');
    ok t_cmp(($mid->{queue}{length} // 0) >= 10 ? 1 : 0, 1,
             "status while queued: the queue holds the rest ($mid->{queue}{length})");
    my $after = balancer(qstatus(), 'q');
    ok t_cmp(($after->{queue}{served} // 0) >= 40 ? 1 : 0, 1,
             "status: requests served after waiting ($after->{queue}{served}), wait time " .
             ($after->{queue}{wait_seconds_total} // '?') . ' s in all');
}

# ---- queue timeout and queue full (6) --------------------------------------------
{
    NPAsync::reset_stats($b3);
    my $long = NPAsync::load_bg({ url => "$base/s/slow?ms=8000&id=L", n => 1, check_id => 1,
                                  timeout_ms => 20000, hard_ms => 20000 });
    small_busy();
    my ($st, $ms, $r) = NPAsync::timed_get($port, '/s/fast?id=t1', timeout => 10);
    ok t_cmp($st, 503, 'queue timeout: 503');
    ok t_cmp(($ms >= 1800 && $ms < 7000) ? 1 : 0, 1, sprintf('queue timeout: after NodeQueueTimeout 2s (%.0f ms)', $ms));
    ok t_cmp(defined(hdr($r, 'Retry-After')) && hdr($r, 'Retry-After') =~ /^\d+$/ ? 1 : 0, 1,
             'queue timeout: Retry-After ' . (hdr($r, 'Retry-After') // 'missing'));
    # fill the queue (limit 2), then one more
    my $two = NPAsync::load_bg({ url => "$base/s/fast?id=f{i}", n => 2, timeout_ms => 10000, hard_ms => 10000 });
    small_waiting(2);
    ($st, $ms, $r) = NPAsync::timed_get($port, '/s/fast?id=t2', timeout => 10);
    ok t_cmp(($st == 503 && $ms < 1000) ? 1 : 0, 1, sprintf('queue full: 503 at once (%d, %.0f ms)', $st, $ms));
    ok t_cmp(defined(hdr($r, 'Retry-After')) ? 1 : 0, 1, 'queue full: Retry-After ' . (hdr($r, 'Retry-After') // 'missing'));
    my $lr = $long->wait(20);
    my $tr = $two->wait(20);
    t_debug('long ' . enc({ %$lr, records => undef }) . ' two ' . enc({ %$tr, records => undef }));
    my $s3 = NPAsync::stats($b3);
    ok t_cmp(enc([ $s3->{counts}{slow} // 0, $s3->{counts}{fast} // 0, ($tr->{statuses} || {})->{503} // 0 ]),
             enc([1, 0, 2]), 'only the long request reached Node; both queued ones timed out with 503');
}

# ---- a client that gives up while queued (8) ---------------------------------------
{
    NPAsync::reset_stats($b3);
    my $s0 = balancer(qstatus(), 'small')->{queue} || {};
    my $long = NPAsync::load_bg({ url => "$base/s/slow?ms=4000&id=L2", n => 1, check_id => 1,
                                  timeout_ms => 20000, hard_ms => 20000 });
    small_busy();
    my @socks;
    for my $k (1 .. 2) {
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5);
        print $c "GET /s/fast?id=gone$k HTTP/1.1\r\nHost: localhost\r\n\r\n";
        push @socks, $c;
    }
    small_waiting(2);
    my $q1 = balancer(qstatus(), 'small')->{queue} || {};
    ok t_cmp($q1->{length} // -1, 2, 'two clients queued');
    # the queue is full: another is refused
    my ($st) = NPAsync::timed_get($port, '/s/fast?id=x1', timeout => 10);
    ok t_cmp($st, 503, 'and the queue is full (503)');
    close $_ for @socks;
    @socks = ();
    my $q2 = {};
    NPTest::wait_until(3, sub { $q2 = balancer(qstatus(), "small")->{queue} || {}; ($q2->{length} // -1) == 0 });
    ok t_cmp($q2->{length} // -1, 0, 'both gave up: their places are free (queue length 0)');
    ok t_cmp(($q2->{abandoned} // 0) - ($s0->{abandoned} // 0), 2, 'counted as abandoned');
    # the freed places can be taken again (with the queue full, they
    # would be refused at once)
    my $again = NPAsync::load_bg({ url => "$base/s/fast?id=again{i}", n => 2, timeout_ms => 10000, hard_ms => 10000 });
    ok t_cmp(defined(small_waiting(2)) ? 1 : 0, 1, 'two new requests queue in the freed places');
    $long->wait(20);
    my $ar = $again->wait(20);
    t_debug('again: ' . enc({ %$ar, records => undef }));
    my $s3 = NPAsync::stats($b3);
    ok t_cmp($s3->{counts}{fast} // 0, ($ar->{statuses} || {})->{200} // 0,
             'Node never saw the requests of the clients that left (only those answered 200 of the two new ones)');
    ok t_cmp(scalar(keys %{ $s3->{aborted} || {} }), 0, 'and nothing was aborted at Node');
    my $sb = balancer(qstatus(), 'small');
    ok t_cmp(pendings($sb), '0', 'small: slot free again');
}

# ---- everything back to 0 (4) -------------------------------------------------------------
{
    my $st = qstatus();
    my $q = balancer($st, 'q');
    ok t_cmp(pendings($q), '0,0', 'q: pending (slots in use) back to 0');
    ok t_cmp($q->{queue}{length} // -1, 0, 'q: queue length 0');
    ok t_cmp(enc([ map { $_->{max} } @{ $q->{members} } ]), '[2,2]', 'q: status shows max=2 per member');
    my $pr = NPTest::http_req(port => $port, path => '/np-status?format=prometheus', timeout => 5);
    my $body = $pr->{body} // '';
    ok t_cmp(($body =~ /^nodeproxy_queue_length\{balancer="q"\} 0$/m
              && $body =~ /^nodeproxy_member_max\{balancer="q",member="http:\/\/127\.0\.0\.1:$p1"\} 2$/m
              && $body =~ /^nodeproxy_queue_wait_seconds_total\{balancer="q"\} [0-9.]+$/m) ? 1 : 0, 1,
             'Prometheus: queue length 0, member max 2, queue wait time');
}

# ---- the log (6) -------------------------------------------------------------------------
{
    my $log = do { local $/; open my $fh, '<', $httpd->error_log or die; <$fh> } // '';
    ok t_cmp($log =~ /NP00502: nodeproxy\(balancer small\): every member is at its max= and the request waited NodeQueueTimeout \(2000 ms\)/ ? 1 : 0, 1,
             'queue timeout logged with NP00502');
    ok t_cmp($log =~ /NP00502: nodeproxy\(balancer small\): every member is at its max= and the queue is full \(NodeQueueLimit 2\)/ ? 1 : 0, 1,
             'queue full logged with NP00502');
    ok t_cmp($log =~ /NP00502: nodeproxy\(balancer q\)/ ? 1 : 0, 0, 'nothing refused on q');
    my @acc = do { open my $fh, '<', $httpd->access_log or die; <$fh> };
    my $q200 = grep { m{^200 "GET /q/slow} } @acc;
    ok t_cmp($q200, 60, 'access log: 60 answered on /q/');
    ok t_cmp(scalar(grep { m{^503 "GET /s/fast} } @acc) >= 4 ? 1 : 0, 1, 'access log: the 503s of /s/');
    ok t_cmp(scalar(grep { /segfault|Segmentation|exit signal/i } split /\n/, $log), 0, 'no crash in the error log');
}
