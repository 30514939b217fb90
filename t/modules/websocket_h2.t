# WebSockets over HTTP/2 (RFC 8441; t/conf/websocket_h2.conf.in): with
# H2WebSockets on, Node's http2 client opens a WebSocket with an extended
# CONNECT (t/backends/h2wsclient.js frames the messages itself) and the
# proxy tunnels it to a Node `ws` backend (t/backends/ws.js): text and
# binary of every length class echo back, closes propagate both ways (close
# frames, END_STREAM, RST_STREAM), the idle timeout ends it, an open tunnel
# does not spin, sticky routing holds, an https:// (wss) backend works,
# HTTP/1.1 WebSockets on the same vhost are unaffected, and what cannot
# work gets a clear status.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();
use NPWs ();
use JSON::PP ();
use Time::HiRes qw(time sleep);

my @SIZES = (1, 125, 126, 65535, 65536, 1048576);

plan tests => 5 + 2 * @SIZES + 4 + 4 + 4 + 3 + 2 + 5 + 4 + 3 + 2 + 2 + 4 + 3 + 1,
    need_module('nodeproxy', 'ssl', 'http2');

my $ws = NPBackend::start('h2ws', 'ws.js', 29620);
my $m1 = NPBackend::start('h2ws1', 'ws.js', 29621);
my $m2 = NPBackend::start('h2ws2', 'ws.js', 29622);
my $plain = NPBackend::start('h2plain', 'echo.js', 29623);
my $pki = t_path('conf', 'np-pki');
my $wss = NPBackend::start('h2wss', 'ws.js', 29624,
                           tls => { cert => "$pki/server.crt", key => "$pki/server.key" });
my $port = vhost_port('np_h2ws');
my $base = "https://localhost:$port";
my $CLIENT = "$NPWs::T_DIR/backends/h2wsclient.js";
my $J = JSON::PP->new->canonical;

# Run one h2wsclient.js plan; its JSON answer (or {error => ...}).
sub h2ws {
    my ($plan) = @_;
    $plan->{timeout} ||= 20000;
    open my $fh, '-|', NPWs::node(), $CLIENT, $J->encode($plan)
        or return { error => "cannot run node: $!" };
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my $r = eval { $J->decode($out) };
    return $r || { error => "bad client output: $out" };
}

sub stats { NPWs::ws_stats($_[0]) || {} }
sub tunnels_open { my $j = eval { status_json() } || {}; ($j->{websocket} || {})->{tunnels_open} }

my $mark = log_mark();
my $open0 = tunnels_open() // 0;

# ---- echo through an h2 stream, client closes (5 + 2 x 6 + 4) ----------------
{
    my @msgs = map { my $s = $_; ({ type => 'text', size => $s }, { type => 'binary', size => $s }) } @SIZES;
    my $st0 = stats($ws);
    my $r = h2ws({ op => 'echo', url => "$base/ws/e?x=1", messages => \@msgs, close => 'client' });
    ok t_cmp($r->{settings_connect} ? 1 : 0, 1, 'the server advertises extended CONNECT (H2WebSockets on)');
    ok t_cmp($r->{status} // $r->{error}, 200, 'CONNECT :protocol websocket: 200 (the backend\'s 101, through mod_http2)');
    my $h = ref $r->{hello} ? $r->{hello} : {};
    ok t_cmp(($h->{hello} // '') . '|' . ($h->{url} // ''), 'h2ws|/e?x=1', 'the backend saw the mapped path and query');
    my $hh = $h->{headers} || {};
    ok t_cmp(($hh->{upgrade} // '') . '|' . ($hh->{'x-forwarded-proto'} // ''), 'websocket|https',
             'HTTP/1.1 upgrade towards Node, X-Forwarded-Proto https');
    ok t_cmp(defined $hh->{'transfer-encoding'} || defined $hh->{'content-length'} ? 'body headers' : 'none', 'none',
             'the upgrade is sent without a body (no Transfer-Encoding, no Content-Length)');
    my %by = map { ("$_->{type}/$_->{size}" => $_) } @{ $r->{echoes} || [] };
    for my $s (@SIZES) {
        for my $type (qw(text binary)) {
            ok t_cmp(($by{"$type/$s"} || {})->{ok} ? 1 : 0, 1, "h2: $type message of $s bytes comes back identical");
        }
    }
    ok t_cmp($r->{close_code} // 'none', 1000, 'client close frame: the backend answers with its close frame (1000)');
    ok t_cmp($r->{stream_ended} ? 1 : 0, 1, 'client close: the stream ends');
    my $ok = wait_until(10, sub { (stats($ws)->{closed} // 0) > ($st0->{closed} // 0) });
    ok t_cmp(defined $ok ? 1 : 0, 1, 'client close: the backend saw its WebSocket close');
    ok t_cmp(scalar(grep { /NP00621/ } split /\n/, log_since($mark)) >= 1 ? 1 : 0, 1,
             'logged as an HTTP/2 tunnel (NP00621)');
}

# ---- the backend closes (4) ---------------------------------------------------------
{
    my $r = h2ws({ op => 'echo', url => "$base/ws/bc", messages => [{ type => 'text', size => 10 }], close => 'backend' });
    ok t_cmp($r->{all_ok} ? 1 : 0, 1, 'backend close: echo first');
    ok t_cmp($r->{close_code} // 'none', 1000, 'backend close: its close frame reaches the client');
    ok t_cmp($r->{stream_ended} ? 1 : 0, 1, 'backend close: the stream ends (END_STREAM), the client never ended its side');
    ok t_cmp($r->{error} // '', '', 'backend close: no client error');
}

# ---- the client ends its side, or resets the stream (4) -------------------------------
{
    my $st0 = stats($ws);
    my $r = h2ws({ op => 'echo', url => "$base/ws/end", close => 'end' });
    ok t_cmp($r->{stream_ended} ? 1 : 0, 1, 'END_STREAM from the client: the backend closes, the stream ends');
    my $ok = wait_until(10, sub { (stats($ws)->{closed} // 0) > ($st0->{closed} // 0) });
    ok t_cmp(defined $ok ? 1 : 0, 1, 'END_STREAM from the client: the backend saw the close');

    $st0 = stats($ws);
    $r = h2ws({ op => 'echo', url => "$base/ws/rst", messages => [{ type => 'binary', size => 100 }], close => 'rst' });
    ok t_cmp($r->{all_ok} ? 1 : 0, 1, 'RST_STREAM: echo first');
    $ok = wait_until(10, sub { (stats($ws)->{closed} // 0) > ($st0->{closed} // 0) });
    ok t_cmp(defined $ok ? 1 : 0, 1, 'RST_STREAM from the client: the backend saw the close');
}

# ---- an https:// (wss) backend (3) ----------------------------------------------------
{
    my $r = h2ws({ op => 'echo', url => "$base/wss/t",
                   messages => [ { type => 'text', size => 126 }, { type => 'binary', size => 1048576 } ],
                   close => 'backend' });
    ok t_cmp(($r->{status} // $r->{error}) . '|' . ((ref $r->{hello} ? $r->{hello}{hello} : '') // ''),
             '200|h2wss', 'h2 client, TLS backend: opened, on h2wss');
    ok t_cmp($r->{all_ok} ? 1 : 0, 1, 'h2 client, TLS backend: echoes (126 text, 1 MiB binary)');
    ok t_cmp($r->{stream_ended} ? 1 : 0, 1, 'h2 client, TLS backend: the backend\'s close ends the stream');
}

# ---- idle timeout (2) --------------------------------------------------------------------
{
    my $r = h2ws({ op => 'hold', url => "$base/idle/x", duration => 15000 });
    ok t_cmp(defined $r->{closed_after_ms} ? 1 : 0, 1,
             'NodeWebSocketIdleTimeout 2s: the silent h2 tunnel is closed' .
             (defined $r->{closed_after_ms} ? " (after $r->{closed_after_ms} ms)" : ''));
    my @l = wait_log($mark, qr/NP00623.*idle timeout/, 5);
    ok t_cmp(scalar(@l) >= 1 ? 1 : 0, 1, 'the idle timeout is logged (NP00623)');
}

# ---- an open tunnel waits in poll, not in a loop (5) ------------------------------------
{
    my @pids = httpd_pids();
    my $ticks = sub {
        my $n = 0;
        for my $p (@pids) {
            open my $fh, '<', "/proc/$p/stat" or next;
            my @f = split ' ', <$fh>;
            $n += $f[13] + $f[14];
        }
        return $n;
    };
    my $plan = $J->encode({ op => 'hold', url => "$base/ws/hold", duration => 5000, timeout => 20000 });
    my $t0 = $ticks->();
    open my $fh, '-|', NPWs::node(), $CLIENT, $plan or die "node: $!";
    my $during = wait_until(10, sub { (tunnels_open() // 0) > $open0 });
    ok t_cmp(defined $during ? 1 : 0, 1, 'the status page counts the open h2 tunnel');
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    my $used = $ticks->() - $t0;
    my $r = eval { $J->decode($out) } || {};
    ok t_cmp($r->{status} // $r->{error}, 200, 'hold: opened');
    ok t_cmp($r->{closed_after_ms} // 'open', 'open', 'hold: still open after 5 s (default idle timeout 300 s)');
    # one core spinning for 5 s is 500 ticks (a spinning tunnel got 182 on
    # a busy test machine); waiting in poll costs about 10 (health checks)
    ok t_cmp($used < 75 ? 1 : 0, 1, "httpd used $used CPU ticks during a 5 s silent tunnel (< 75: no busy loop)");
    my $back = wait_until(10, sub { (tunnels_open() // -1) == $open0 });
    ok t_cmp(defined $back ? 1 : 0, 1, 'the open-tunnel count goes back once the client left');
}

# ---- sticky routing, pending (4) ------------------------------------------------------------------
{
    my $r = h2ws({ op => 'handshake', url => "$base/bal/s" });
    my $sc = ($r->{headers} || {})->{'set-cookie'};
    $sc = $sc->[0] if ref $sc;
    my ($cookie) = ($sc // '') =~ /^(H2WSROUTE=[^;]+)/;
    ok t_cmp(defined $cookie ? 1 : 0, 1, 'balancer: the 200 sets the sticky cookie' . ($sc ? " ($sc)" : ''));
    my %seen;
    for my $i (1 .. 4) {
        my $e = h2ws({ op => 'echo', url => "$base/bal/s$i", headers => { cookie => $cookie // 'x=1' } });
        my $h = ref $e->{hello} ? $e->{hello} : {};
        $seen{ $h->{hello} // 'none' }++;
    }
    ok t_cmp(scalar(keys %seen), 1, 'balancer: four tunnels with the cookie go to one member (' .
             join(',', map { "$_=$seen{$_}" } sort keys %seen) . ')');
    ok t_cmp((keys %seen)[0], qr/^h2ws[12]$/, 'balancer: that member is one of the pool');

    # an open tunnel is not a request in flight on its member (as HTTP/1.1)
    my $plan = $J->encode({ op => 'hold', url => "$base/bal/p", duration => 3000,
                            headers => { cookie => $cookie // 'x=1' } });
    open my $fh, '-|', NPWs::node(), $CLIENT, $plan or die "node: $!";
    my $pending = 'not seen';
    wait_until(10, sub {
        return 0 unless (tunnels_open() // 0) > $open0;
        my $j = status_json() or return 0;
        $pending = join ',', map { "$_->[1]{url}=$_->[1]{pending}" }
                             grep { $_->[0] eq 'np_h2ws_bal' } status_members($j);
        return 1;
    });
    my $out = do { local $/; <$fh> };
    close $fh;
    ok t_cmp($pending, 'http://127.0.0.1:29621=0,http://127.0.0.1:29622=0',
             'balancer: an open h2 tunnel is not pending on its member');
}

# ---- what cannot work gets a clear status (3 + 2) -----------------------------------
{
    my $st0 = stats($ws);
    my $r = h2ws({ op => 'echo', url => "$base/nows/x" });
    ok t_cmp($r->{status} // $r->{error}, 501, 'NodeWebSocket off: 501');
    my @l = wait_log($mark, qr/NP00620.*NodeWebSocket is off/, 5);
    ok t_cmp(scalar(@l) >= 1 ? 1 : 0, 1, 'NodeWebSocket off: logged why (NP00620)');
    my $st1 = stats($ws);
    ok t_cmp(($st1->{upgrades} // 0) + ($st1->{http} // 0), ($st0->{upgrades} // 0) + ($st0->{http} // 0),
             'NodeWebSocket off: nothing reached the backend (not even a plain GET)');

    $r = h2ws({ op => 'echo', url => "$base/ws/reject403" });
    ok t_cmp($r->{status} // $r->{error}, 403, 'the backend refuses the upgrade: its 403 is relayed');
    ok t_cmp($r->{body} // '', qr/forbidden by h2ws/, 'the backend refuses the upgrade: its body too');
}

# ---- a wrong Accept, an app that does not speak WebSocket (2) --------------------------
{
    my $r = h2ws({ op => 'echo', url => "$base/ws/badaccept" });
    ok t_cmp($r->{status} // $r->{error}, 502, 'a 101 with a wrong Sec-WebSocket-Accept: 502');
    $r = h2ws({ op => 'echo', url => "$base/plain/x" });
    ok t_cmp($r->{status} // $r->{error}, 502, 'an app that answers 200 to the upgrade: 502 (mod_http2: not a WebSocket)');
}

# ---- HTTP/1.1 WebSockets on the same vhost (4) ---------------------------------------
{
    my $r = NPWs::run({ op => 'echo', url => "wss://localhost:$port/ws/h1",
                        messages => [ { type => 'text', size => 100 }, { type => 'binary', size => 70000 } ] });
    ok t_cmp($r->{status} // $r->{error}, 101, 'HTTP/1.1 WebSocket on the h2 vhost: 101');
    ok t_cmp($r->{all_ok} ? 1 : 0, 1, 'HTTP/1.1 WebSocket on the h2 vhost: echoes');
    ok t_cmp(($r->{hello} || {})->{hello} // '', 'h2ws', 'HTTP/1.1 WebSocket on the h2 vhost: same backend');
    my @l = grep { /NP00102.*29620/ } split /\n/, log_since($mark);
    ok t_cmp(scalar(@l) >= 1 ? 1 : 0, 1, 'HTTP/1.1 WebSocket: the reactor tunnel as before (NP00102)');
}

# ---- never "ambiguous framing"; no tunnel left (3 + 1) -----------------------------
{
    my $log = log_since($mark);
    ok t_cmp(join("\n", grep { /NP00021/ } split /\n/, $log), '', 'no "ambiguous framing" refusal');
    ok t_cmp(join("\n", grep { /NP00622/ } split /\n/, $log), '', 'no poll failure');
    my $back = wait_until(10, sub { (tunnels_open() // -1) == $open0 });
    ok t_cmp(defined $back ? 1 : 0, 1, 'every tunnel closed in the counters');
    my @opened = grep { /NP00621/ } split /\n/, $log;
    my @closed = grep { /NP00623/ } split /\n/, $log;
    ok t_cmp(scalar(@closed), scalar(@opened), 'every h2 tunnel opened was closed (NP00621 / NP00623)');
}
