# WebSocket tunnels at scale (t/conf/websocket.conf.in, backend wsl 29155):
#  - 2,000 open/close cycles leave the httpd children's fd counts and RSS at
#    their baseline (no leak);
#  - 5,000 idle tunnels open at once: a new plain request is still answered
#    within 2 s and a sample of 50 tunnels still echo;
#  - a graceful restart (SIGUSR1) does not cut an open tunnel.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();
use NPWs ();
use List::Util qw(sum0 max min);
use Time::HiRes qw(time sleep);

plan tests => 7 + 10 + 8, need_module('nodeproxy');

my $t0 = time;
my $port = port();
my $ws = "ws://127.0.0.1:$port";
my $MANY = 5000;
my $CYCLES = 2000;
my $wsl = NPBackend::start('wsl', 'ws.js', 29155);

sub lap { t_debug(sprintf "%s: %.2f s", $_[0], time - $t0) }

# -1 when the status page does not answer (eval: http_req dies when the
# server does not even accept the connection)
sub tunnels_open {
    my $j = eval { status_json(timeout => 5) } or return -1;
    return $j->{websocket}{tunnels_open};
}

sub fmt { my $h = shift; join ' ', map { "$_=$h->{$_}" } sort keys %$h }

# wait (bounded) until no tunnel is open and the children's fd counts are
# stable over 300 ms; returns the counts
sub settle {
    my $timeout = shift || 5;
    my (%prev, %now);
    wait_until($timeout, sub {
        return 0 unless tunnels_open() == 0;
        %now = NPWs::child_fds();
        my $same = fmt(\%now) eq fmt(\%prev);
        %prev = %now;
        return $same;
    }, 0.3);
    return %now;
}

# each child's smallest RSS over 3 samples, each after 200 open/close cycles
sub rss_floor {
    my ($s, $what) = @_;
    my %min;
    for my $round (1 .. 3) {
        $s->cmd({ cmd => 'cycles', url => "$ws/wst/load/$what", n => 200, concurrency => 20 }, 30);
        settle(3);
        my %r = NPWs::child_rss();
        t_debug("rss KiB $what $round: " . fmt(\%r));
        $min{$_} = min($min{$_} // $r{$_}, $r{$_}) for keys %r;
    }
    return %min;
}

# ---- no fd / memory leak over 2,000 open/close cycles (7) -------------------------
{
    my $s = NPWs::Session->new;
    my $warm = $s->cmd({ cmd => 'cycles', url => "$ws/wst/load/warm", n => 300, concurrency => 20 }, 60);
    settle(5);
    my %fd0 = NPWs::child_fds();
    # RSS moves by a few MiB either way without any leak (glibc's per-thread
    # arenas: memory freed in one is not reused by another, trimming is
    # opportunistic; seen here: a child going 8 -> 17 -> 8 MiB over 10,000
    # cycles). A leak raises the floor, that noise does not: RSS is taken as
    # each child's minimum over 3 samples, each after 200 more cycles, both
    # before and after the 2,000 cycles.
    my %rss0 = rss_floor($s, 'base');
    t_debug('baseline fds: ' . fmt(\%fd0) . '; rss KiB floor: ' . fmt(\%rss0));
    my $c = $s->cmd({ cmd => 'cycles', url => "$ws/wst/load/cycle", n => $CYCLES, concurrency => 20 }, 90);
    ok t_cmp($c->{ok} // 0, $CYCLES, "leak: $CYCLES open/close cycles all succeeded (" .
             ($c->{ms} // '-') . ' ms' . (%{ $c->{errors} || {} } ? ', errors ' . $NPWs::JSON->encode($c->{errors}) : '') . ')');
    my %fd1;
    wait_until(10, sub {
        %fd1 = settle(2);
        sum0(map { $fd1{$_} // 0 } keys %fd0) <= sum0(values %fd0) + 4;
    }, 0.2);
    t_debug('after fds: ' . fmt(\%fd1));
    my @common = grep { exists $fd1{$_} } keys %fd0;
    ok t_cmp(join(',', sort keys %fd1), join(',', sort keys %fd0),
             'leak: the same httpd children before and after (per-pid comparison is meaningful)');
    ok t_cmp(scalar(@common) > 0 ? 1 : 0, 1, 'leak: child fd counts readable from /proc');
    my $dfd = sum0(map { $fd1{$_} - $fd0{$_} } @common);
    ok t_cmp($dfd <= 4 ? 1 : 0, 1, "leak: sum of child fd counts back at the baseline (delta $dfd; before " .
             fmt(\%fd0) . ', after ' . fmt(\%fd1) . ')');
    my %rss1 = rss_floor($s, 'after');
    my $drss = sum0(map { ($rss1{$_} // 0) - ($rss0{$_} // 0) } @common);
    ok t_cmp($drss <= 3072 ? 1 : 0, 1, "leak: sum of child RSS back at the baseline (delta $drss KiB, " .
             'tolerance 3072; floor before ' . fmt(\%rss0) . ', after ' . fmt(\%rss1) . ')');
    ok t_cmp(tunnels_open(), 0, 'leak: status tunnels_open 0 after the cycles');
    my $bo;
    wait_until(3, sub { $bo = NPWs::ws_stats($wsl)->{open}; $bo == 0 }, 0.05);
    ok t_cmp($bo, 0, 'leak: nothing left open at the backend');
    $s->stop;
    lap('leak');
}

# ---- 5,000 idle tunnels (10) --------------------------------------------------------
{
    my %lim = NPWs::child_nofile();
    my $minlim = min(map { $_ eq 'unlimited' ? 1e9 : $_ } values %lim) // 0;
    # a child may hold most of the tunnels: 2 fds each (client + backend)
    ok t_cmp($minlim >= 2 * $MANY + 100 ? 1 : 0, 1,
             "5000: httpd children's open-files limit is enough (" . fmt(\%lim) . ', need ' . (2 * $MANY + 100) . ')');
    my $s = NPWs::Session->new;
    my $o = $s->cmd({ cmd => 'open', url => "$ws/wst/load/many", n => $MANY, concurrency => 200, timeout => 30000,
                      budget => 60000 }, 90);
    ok t_cmp($o->{opened} // 0, $MANY, "5000: $MANY tunnels open at once (" . ($o->{ms} // '-') . ' ms' .
             (%{ $o->{errors} || {} } ? ', errors ' . $NPWs::JSON->encode($o->{errors}) : '') . ')');
    my $to = tunnels_open();
    ok t_cmp($to, $o->{opened} // -1, "5000: status tunnels_open = $to");
    my %fd = NPWs::child_fds();
    t_debug('fds per child with the tunnels open: ' . fmt(\%fd));
    my $bo = NPWs::ws_stats($wsl)->{open};
    ok t_cmp($bo, $o->{opened} // -1, "5000: the backend has them all open ($bo)");
    t_debug('5000: open answer: ' . $NPWs::JSON->encode($o)) if ($o->{opened} // 0) != $MANY;

    my (@plain, @static);
    for my $i (1 .. 5) {
        my $t = time;
        my $r = eval { http_req(path => "/wst/load/plain$i", timeout => 5) } || { status => 0 };
        push @plain, [$r->{status}, (time - $t) * 1000];
        $t = time;
        $r = eval { http_req(path => '/index.html', timeout => 5) } || { status => 0 };
        push @static, [$r->{status}, (time - $t) * 1000];
    }
    my $pmax = max(map { $_->[1] } @plain);
    my $smax = max(map { $_->[1] } @static);
    ok t_cmp(join(',', map { $_->[0] } @plain), '200,200,200,200,200', '5000: new proxied plain requests answered 200');
    ok t_cmp($pmax < 2000 ? 1 : 0, 1, sprintf('5000: ... each within 2 s (slowest %.0f ms)', $pmax));
    ok t_cmp(join(',', map { $_->[0] } @static), '200,200,200,200,200', '5000: new requests for a static file answered 200');
    ok t_cmp($smax < 2000 ? 1 : 0, 1, sprintf('5000: ... each within 2 s (slowest %.0f ms)', $smax));
    my $e = $s->cmd({ cmd => 'echo', sample => 50, size => 64 }, 30);
    ok t_cmp($e->{ok} // 0, 50, '5000: a sample of 50 tunnels still echo (' . ($e->{ms} // '-') . ' ms)');
    my $cl = $s->cmd({ cmd => 'close' }, 30);
    $s->stop;    # whatever the client still holds is closed with it
    my $took = wait_until(15, sub { tunnels_open() == 0 }, 0.1);
    ok t_cmp(tunnels_open(), 0, sprintf('5000: all closed (%s ms client side), status tunnels_open back to 0 (%s)',
             $cl->{ms} // '-', defined $took ? sprintf('%.1f s', $took) : 'timeout'));
    $s->stop;
    lap('5000');
}

# ---- graceful restart keeps open tunnels (8) ------------------------------------------
{
    my $s = NPWs::Session->new;
    my $o = $s->cmd({ cmd => 'open', url => "$ws/wst/load/g", n => 3, concurrency => 3 });
    ok t_cmp($o->{opened} // 0, 3, 'graceful: 3 tunnels open');
    my $e = $s->cmd({ cmd => 'echo', sample => 3 });
    ok t_cmp($e->{ok} // 0, 3, 'graceful: they echo before the restart');
    my @old = NPTest::httpd_children();
    my $g = httpd_graceful(15);
    ok t_cmp($g, 1, 'graceful: SIGUSR1, the server answers again');
    $e = $s->cmd({ cmd => 'echo', sample => 3 });
    ok t_cmp($e->{ok} // 0, 3, 'graceful: all 3 tunnels still echo after the restart');
    my $st = $s->cmd({ cmd => 'state' });
    ok t_cmp($st->{closed} // -1, 0, 'graceful: none was closed');
    my $n = NPWs::run({ op => 'echo', url => "$ws/wst/load/after", messages => [{ type => 'text', size => 100 }] });
    ok t_cmp($n->{all_ok} ? 1 : 0, 1, 'graceful: a new tunnel after the restart echoes');
    $s->cmd({ cmd => 'close' });
    wait_until(5, sub { tunnels_open() == 0 }, 0.05);
    ok t_cmp(tunnels_open(), 0, 'graceful: tunnels_open back to 0 after the closes');
    my %old = map { $_ => 1 } @old;
    my @left;
    wait_until(10, sub { @left = grep { $old{$_} } NPTest::httpd_children(); !@left }, 0.1);
    ok t_cmp(scalar(@left), 0, 'graceful: the old generation\'s children exit once their tunnels are closed' .
             (@left ? " (still there: @left)" : ''));
    $s->stop;
    lap('graceful');
}
