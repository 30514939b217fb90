# drain / maint / ready UNDER LOAD (issue 15), through a real httpd of 2
# children: 8 keep-alive connections (until 3 s after ready), 4 of them browsers with a
# sticky cookie (2 bound to each member, a short pause between requests).
#   drain m1 (`nodeproxyctl drain --wait`): it returns (pending reached 0),
#     no new unsticky request reaches m1, the sticky clients of m1 still do;
#   maint m1 (`nodeproxyctl maint --wait`): nothing reaches m1, its sticky
#     clients move to m2;
#   ready m1: traffic returns;
# and no request fails throughout.
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

plan tests => 13, need_module('nodeproxy');

my $PORT = 29411;
my ($P1, $P2) = (29412, 29413);
my ($U1, $U2) = ("http://127.0.0.1:$P1", "http://127.0.0.1:$P2");
my @names = qw(dr1 dr2);
my $b1 = NPBackend::start('dr1', 'deploy.js', $P1);
my $b2 = NPBackend::start('dr2', 'deploy.js', $P2);
my $h = NPControl::httpd('drain', $PORT, <<"EOC");
<NodeBalancer drn>
    NodeSticky cookie NPD
    NodeMember $U1
    NodeMember $U2
</NodeBalancer>
NodeProxyPass /app/ balancer://drn/
EOC
my $r1 = NPControl::member($h, 'drn', $U1)->{route};
my $r2 = NPControl::member($h, 'drn', $U2)->{route};

my $stop = NPAsync::Httpd::dir($h) . '/load.stop';
unlink $stop;
my $load = NPControl::load_bg({ url => "http://127.0.0.1:$PORT/app/", lanes => 8, seconds => 60, stop_file => $stop,
                                sticky => 4, sticky_pause_ms => 100, post_max => 4096,
                                cookies => [ "NPD=$r1", "NPD=$r1", "NPD=$r2", "NPD=$r2" ] });
sleep 2;
my ($rc, $out) = NPControl::ctl($h, 'drain', 'drn', $U1, '--wait', '--timeout', '20');
my $t_drained = time;
ok t_cmp($rc, 0, "nodeproxyctl drain --wait returned 0 under load: pending reached 0 ($out)");
ok t_cmp($out, qr/has no request in flight/, '... and says so');
sleep 3.5;
my $t_maint_call = time;
($rc, $out) = NPControl::ctl($h, 'maint', 'drn', $U1, '--wait', '--timeout', '20');
my $t_maint = time;
ok t_cmp($rc, 0, "nodeproxyctl maint --wait returned 0 ($out)");
sleep 3.5;
my $t_ready_call = time;
($rc, $out) = NPControl::ctl($h, 'ready', 'drn', $U1);
my $t_ready = time;
ok t_cmp($rc, 0, "nodeproxyctl ready returned 0 ($out)");
sleep 3;
{ open my $fh, '>', $stop or die "$stop: $!"; }
my $res = $load->wait;
t_debug('load: n=' . ($res->{n} // '') . ' failed=' . ($res->{failed} // '') .
        ' by_backend ' . $NPControl::JSON->encode($res->{by_backend} || {}));
my @recs = @{ $res->{records} || [] };
# [lane, sticky, start_ms, end_ms, backend, ok]; lanes 0,1 sticky to dr1, 2,3 to dr2
my $in = sub { my ($r, $from, $to) = @_; $r->[2] / 1000 > $from && $r->[2] / 1000 < $to };
my @drain = grep { $in->($_, $t_drained + 0.05, $t_maint_call) } @recs;
my $unsticky_d1 = grep { !$_->[1] && $_->[4] eq 'dr1' } @drain;
my $unsticky_all = grep { !$_->[1] } @drain;
my $sticky_d1 = grep { $_->[0] <= 1 && $_->[4] eq 'dr1' } @drain;
my $sticky_other = grep { $_->[0] <= 1 && $_->[4] ne 'dr1' } @drain;
ok t_cmp($unsticky_all > 50 ? 1 : 0, 1, "drain: the load went on ($unsticky_all unsticky requests while drained)");
ok t_cmp($unsticky_d1, 0, 'drain: no new unsticky request reached the drained member');
ok t_cmp($sticky_d1 > 5 ? 1 : 0, 1, "drain: the sticky clients of the drained member still reach it ($sticky_d1 requests)");
ok t_cmp($sticky_other, 0, '... all of them');
my @maint = grep { $in->($_, $t_maint + 0.05, $t_ready_call) } @recs;
my $maint_d1 = grep { $_->[4] eq 'dr1' } @maint;
my $moved = grep { $_->[0] <= 1 && $_->[4] eq 'dr2' } @maint;
ok t_cmp(scalar(@maint) > 50 ? 1 : 0, 1, 'maint: the load went on (' . scalar(@maint) . ' requests)');
ok t_cmp($maint_d1, 0, 'maint: nothing reached the member, sticky or not');
ok t_cmp($moved > 5 ? 1 : 0, 1, "maint: its sticky clients moved to the other member ($moved requests)");
my $after = grep { $_->[2] / 1000 > $t_ready + 0.05 && $_->[4] eq 'dr1' && !$_->[1] } @recs;
ok t_cmp($after > 10 ? 1 : 0, 1, "ready: unsticky traffic returns to it ($after requests)");
ok t_cmp($res->{failed} // -1, 0, 'no request failed (' . $NPControl::JSON->encode($res->{errors} || {}) . ')');
$h->stop;
