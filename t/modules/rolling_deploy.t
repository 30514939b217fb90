# The rolling deploy of issue 15, through a real httpd (2 children) and 3
# real Node processes that shut down gracefully on SIGTERM (deploy.js):
# 16 keep-alive connections of GET + POST for 20 s; meanwhile each member
# in turn is drained with `nodeproxyctl drain --wait`, sent SIGTERM,
# restarted 1 s later and put back with `nodeproxyctl ready --wait`.
# (The load runs until the deploys are over if they take longer than 20 s
# on a loaded machine.) Asserted: 0 failed requests, every POST body whole at Node (the app
# checks length and sha256 of each, and counts aborted requests), each
# member takes traffic again after its restart.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();
use NPAsync ();
use NPControl ();

plan tests => 17, need_module('nodeproxy');

my $PORT = 29420;
my @ports = (29421, 29422, 29423);
my @names = map { "dep$_" } 1 .. 3;
NPControl::deploy_stats_reset(@names);
my @b = map { NPBackend::start($names[$_], 'deploy.js', $ports[$_]) } 0 .. 2;
my $h = NPControl::httpd('rolling', $PORT, <<"EOC");
<NodeBalancer dep>
    NodeMember http://127.0.0.1:$ports[0]-$ports[2]
    NodeHealthCheck /healthz interval=300ms timeout=300ms passes=2 fails=1
</NodeBalancer>
NodeProxyPass /app/ balancer://dep/
EOC

# the load: at least 20 s, and until the deploys are over (a loaded CI box
# may need longer for them), at most 120 s
my $stop = NPAsync::Httpd::dir($h) . '/load.stop';
unlink $stop;
my $load = NPControl::load_bg({ url => "http://127.0.0.1:$PORT/app/", lanes => 16, seconds => 120,
                                stop_file => $stop });
my $t0 = time;
sleep 2;
my %back;   # member index -> time it was put back
for my $i (0 .. 2) {
    my $url = "http://127.0.0.1:$ports[$i]";
    my ($rc, $out) = NPControl::ctl($h, 'drain', 'dep', $url, '--wait', '--timeout', '30');
    ok t_cmp($rc, 0, "$names[$i]: nodeproxyctl drain --wait returned 0 ($out)");
    my $pend = NPControl::member($h, 'dep', $url)->{pending} // -1;
    t_debug("$names[$i]: pending right after drain --wait: $pend");
    $b[$i]->stop;           # SIGTERM, waits until the process has exited
    sleep 1;                # the app restarts 1 s later
    $b[$i] = NPBackend::start($names[$i], 'deploy.js', $ports[$i]);
    ($rc, $out) = NPControl::ctl($h, 'ready', 'dep', $url, '--wait', '--timeout', '30');
    ok t_cmp($rc, 0, "$names[$i]: nodeproxyctl ready --wait returned 0 ($out)");
    $back{ $names[$i] } = time;
    sleep 1;
}
my $deploy_s = time - $t0;
sleep 2;
sleep 0.1 while time < $t0 + 20;
{ open my $fh, '>', $stop or die "$stop: $!"; }
my $res = $load->wait;
t_debug('load: ' . join(' ', map { "$_=" . ($res->{$_} // '') } qw(n ok failed)) .
        ' errors ' . $NPControl::JSON->encode($res->{errors} || {}) .
        ' by_backend ' . $NPControl::JSON->encode($res->{by_backend} || {}));
my @span = sort { $a <=> $b } map { $_->[2] } @{ $res->{records} || [] };
my $span_s = @span ? ($span[-1] - $span[0]) / 1000 : 0;
ok t_cmp($span_s >= 19 ? 1 : 0, 1, sprintf('the load ran for %.1f s (>= 20 s), the 3 deploys (%.1f s) inside it',
                                            $span_s, $deploy_s));
ok t_cmp(($res->{n} // 0) > 300 ? 1 : 0, 1, 'the load ran: ' . ($res->{n} // 0) . ' requests over 16 connections');
ok t_cmp($res->{failed} // -1, 0, '0 failed requests (' . $NPControl::JSON->encode($res->{errors} || {}) . ')');
ok t_cmp($res->{ok} // 0, $res->{n} // -1, 'every request answered 200, every POST echoed whole');
my @recs = @{ $res->{records} || [] };
for my $i (0 .. 2) {
    my $after = grep { $_->[4] eq $names[$i] && $_->[2] / 1000 > $back{ $names[$i] } } @recs;
    ok t_cmp($after > 0 ? 1 : 0, 1, "$names[$i] takes traffic again after its restart ($after requests)");
}
$_->stop for @b;   # SIGTERM: each process life writes its counts
my $st = NPControl::deploy_stats(@names);
t_debug('Node: ' . $NPControl::JSON->encode($st));
ok t_cmp($st->{lives}, 6, 'Node counted: 3 processes before and 3 after the restarts');
ok t_cmp($st->{bad_bodies}, 0, "every POST body whole at Node ($st->{posts} POSTs, 0 short or corrupt)");
ok t_cmp($st->{aborted}, 0, 'no request aborted at Node');
ok t_cmp($st->{in_flight_at_term}, 0, 'nothing in flight when each got SIGTERM (drained first)');
$h->stop;
