# MPMs that cannot suspend a request (worker, prefork): WebSocket tunnels
# run in the request's own thread or process, and slow responses stay on
# it (no async), with the same results. Each MPM gets a DEDICATED httpd
# (t/lib/NPAsync.pm, mpm => worker|prefork) in front of t/backends/ws.js and
# t/backends/slow.js.
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
use NPWs ();

my @MPMS = qw(worker prefork);
plan tests => 8 * @MPMS, need_module('nodeproxy');

for my $mpm (@MPMS) {
    my ($port, $wsport, $slowport) = NPAsync::free_ports(3);
    my $wsb = NPBackend::start("fb-ws-$mpm", 'ws.js', $wsport);
    my $slow = NPAsync::backend("fb-slow-$mpm", $slowport);
    my $h = NPAsync::Httpd->start(tag => "fallback-$mpm", port => $port, mpm => $mpm,
                                  loglevel => 'info nodeproxy:debug', conf => <<"EOC");
NodeProxyPass /ws/ http://127.0.0.1:$wsport/
NodeProxyPass /a/ http://127.0.0.1:$slowport/
<Location /idle/>
    NodeProxyPass http://127.0.0.1:$wsport/
    NodeWebSocketIdleTimeout 2s
</Location>
EOC
    my $mark = $h->log_mark;

    # WebSocket echo, text and binary, small and large
    my $r = NPWs::run({ op => 'echo', url => "ws://127.0.0.1:$port/ws/e",
                        messages => [ { type => 'text', size => 5 }, { type => 'binary', size => 65536 },
                                      { type => 'text', size => 1048576 } ] }, 30);
    ok t_cmp($r->{status} // $r->{error}, 101, "$mpm: the upgrade is answered 101");
    ok t_cmp($r->{all_ok} ? 1 : 0, 1, "$mpm: text and binary up to 1 MiB echo through the tunnel");
    my @open = grep { /WebSocket tunnel open \(in this thread\)/ } split /\n/, $h->log_since($mark);
    ok t_cmp(scalar(@open) >= 1 ? 1 : 0, 1, "$mpm: the tunnel runs in the request's thread (NP00102 says so)");

    # idle timeout works in the thread-held tunnel too
    my $i = NPWs::run({ op => 'hold', url => "ws://127.0.0.1:$port/idle/silent", every => 0,
                        duration => 6000 }, 20);
    my $ms = $i->{closed_after_ms};
    ok t_cmp(defined $ms && $ms >= 1000 && $ms <= 5000 ? 1 : 0, 1,
             "$mpm: a silent tunnel is closed by the idle timeout (" . ($ms // 'not closed') . ' ms)');

    # a slow response stays on its thread: answered correctly, keep-alive kept
    my ($st, $t, $res) = NPAsync::timed_get($port, '/a/slow?ms=300&id=fb',
                                           headers => ['Connection', 'keep-alive']);
    ok t_cmp($st, 200, "$mpm: a 300 ms response is answered 200");
    ok t_cmp(($res->{body} // '') =~ /fb/ ? 1 : 0, 1, "$mpm: with its own body");
    ok t_cmp(lc(hdr($res, 'Connection') // ''), qr/^(keep-alive|)$/,
             "$mpm: and no Connection: close (nothing was suspended)");
    my @susp = grep { /without a thread/ } split /\n/, $h->log_since($mark);
    ok t_cmp(scalar(@susp), 0, "$mpm: no request was suspended");
    $h->stop;
}
