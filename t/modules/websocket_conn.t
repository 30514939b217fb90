# WebSocket tunnels when a side dies (t/conf/websocket.conf.in): kill -9 of
# the backend -> its clients see the close within 1 s; kill -9 of a client ->
# the backend sees the close within 1 s. Nothing stays open afterwards.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();
use NPWs ();
use Time::HiRes qw(time sleep);

plan tests => 13, need_module('nodeproxy');

my $t0 = time;
my $port = port();
my $ws = "ws://127.0.0.1:$port";
my $N = 5;

sub lap { t_debug(sprintf "%s: %.2f s", $_[0], time - $t0) }

sub tunnels_open {
    my $j = eval { status_json() } or return -1;
    return $j->{websocket}{tunnels_open};
}

# ---- kill -9 of the backend (6) -------------------------------------------------
{
    my $wsk = NPBackend::start('wsk', 'ws.js', 29152);
    my $s = NPWs::Session->new;
    my $o = $s->cmd({ cmd => 'open', url => "$ws/wst/kill/k", n => $N, concurrency => $N });
    ok t_cmp($o->{opened} // 0, $N, "kill backend: $N tunnels open");
    my $e = $s->cmd({ cmd => 'echo', sample => $N });
    ok t_cmp($e->{ok} // 0, $N, 'kill backend: they echo');
    my $tk = time;
    $wsk->kill9;
    my $w = $s->cmd({ cmd => 'waitclose', n => $N, timeout => 3000 }, 10);
    my @lat = map { $_ - $tk * 1000 } @{ $w->{close_ms} || [] };
    my $max = @lat ? (sort { $b <=> $a } @lat)[0] : undef;
    ok t_cmp($w->{closed} // 0, $N, "kill backend: all $N clients saw a close");
    ok t_cmp(defined $max && $max < 1000 ? 1 : 0, 1,
             'kill backend: within 1 s (slowest ' . (defined $max ? sprintf('%.0f', $max) : '-') . ' ms)');
    my $took = wait_until(3, sub { tunnels_open() == 0 }, 0.05);
    ok t_cmp(tunnels_open(), 0, 'kill backend: status tunnels_open back to 0');
    # a new tunnel to the dead backend: refused, no tunnel
    my $h = NPWs::run({ op => 'handshake', url => "$ws/wst/kill/again" });
    ok t_cmp($h->{status}, 503, 'kill backend: a new handshake to the dead backend gets 503');
    $s->stop;
    lap('kill backend');
}

# ---- kill -9 of a client (7) --------------------------------------------------------
{
    my $wsa = NPBackend::start('wsa', 'ws.js', 29151);
    my $s = NPWs::Session->new;
    my $keep = NPWs::Session->new;     # another client, not killed
    my $o = $s->cmd({ cmd => 'open', url => "$ws/wst/echo/kc", n => $N, concurrency => $N });
    my $o2 = $keep->cmd({ cmd => 'open', url => "$ws/wst/echo/keep", n => 1 });
    ok t_cmp(($o->{opened} // 0) + ($o2->{opened} // 0), $N + 1, 'kill client: ' . ($N + 1) . ' tunnels open');
    my $open;
    wait_until(3, sub { $open = NPWs::ws_stats($wsa)->{open}; $open == $N + 1 }, 0.05);
    ok t_cmp($open, $N + 1, 'kill client: the backend counts them open');
    my $tk = time;
    $s->kill9;
    my $took = wait_until(3, sub { $open = NPWs::ws_stats($wsa)->{open}; $open == 1 }, 0.02);
    my $st = NPWs::ws_stats($wsa);
    my $lat = $st->{last_close_ms} - $tk * 1000;
    ok t_cmp($open, 1, "kill client: the backend saw the $N closes");
    ok t_cmp(defined $took && $lat < 1000 ? 1 : 0, 1,
             sprintf('kill client: within 1 s (last close %.0f ms after the kill)', $lat));
    my $e = $keep->cmd({ cmd => 'echo', sample => 1 });
    ok t_cmp($e->{ok} // 0, 1, 'kill client: the other client\'s tunnel still echoes');
    $keep->cmd({ cmd => 'close' });
    wait_until(3, sub { tunnels_open() == 0 }, 0.05);
    ok t_cmp(tunnels_open(), 0, 'kill client: status tunnels_open back to 0');
    wait_until(3, sub { NPWs::ws_stats($wsa)->{open} == 0 }, 0.05);
    ok t_cmp(NPWs::ws_stats($wsa)->{open}, 0, 'kill client: nothing left open at the backend');
    $keep->stop;
    lap('kill client');
}
