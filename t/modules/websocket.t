# WebSocket through the proxy (t/conf/websocket.conf.in, t/backends/ws.js,
# t/backends/wsclient.js): echo of text and binary frames of every length
# class, wss through mod_ssl, sticky sessions, refused handshakes (403, a 101
# with a wrong Sec-WebSocket-Accept), Upgrade: h2c and websocket=off /
# NodeWebSocket off never tunnelled, the idle timeout, the status counters.
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

my @SIZES = (1, 125, 126, 65535, 65536, 1048576);

plan tests => 2 + 2 * @SIZES + 2 + 6 + 6 + 10 + 9 + 6 + 5 + 6, need_module('nodeproxy', 'ssl');

my $t0 = time;
my $mark0 = log_mark();
my $wsa = NPBackend::start('wsa', 'ws.js', 29151);
my $s1 = NPBackend::start('wss1', 'ws.js', 29153);
my $s2 = NPBackend::start('wss2', 'ws.js', 29154);
my $port = port();
my $ws = "ws://127.0.0.1:$port";

sub lap { t_debug(sprintf "%s: %.2f s", $_[0], time - $t0) }

sub ws_status {
    my $j = eval { status_json() } or return undef;
    return $j->{websocket};
}

# ---- echo, every frame length class, text and binary (2 + 2 x 6) ----------
{
    my @msgs = map { my $s = $_; ({ type => 'text', size => $s }, { type => 'binary', size => $s }) } @SIZES;
    my $r = NPWs::run({ op => 'echo', url => "$ws/wst/echo/e?x=1", messages => \@msgs });
    ok t_cmp($r->{status} // $r->{error}, 101, 'echo: handshake answered 101 through the proxy');
    my $h = $r->{hello} || {};
    ok t_cmp("$h->{hello}|$h->{url}", 'wsa|/e?x=1', 'echo: the backend (wsa) saw the mapped path and query');
    my %by = map { ("$_->{type}/$_->{size}" => $_) } @{ $r->{echoes} || [] };
    for my $s (@SIZES) {
        for my $type (qw(text binary)) {
            my $e = $by{"$type/$s"} || { error => 'not run' };
            ok t_cmp($e->{ok} ? 1 : 0, 1,
                     "echo: $type message of $s bytes comes back identical" .
                     ($e->{ok} ? " ($e->{ms} ms)" : ': ' . $NPWs::JSON->encode($e)));
        }
    }
    lap('echo');
}

# ---- several messages in a row (2) ---------------------------------------------
{
    my $r = NPWs::run({ op => 'echo', url => "$ws/wst/echo/row",
                        messages => [ { type => 'text', size => 10, count => 50 },
                                      { type => 'binary', size => 3000, count => 50 },
                                      { type => 'text', size => 70000, count => 5 } ] });
    my @e = @{ $r->{echoes} || [] };
    ok t_cmp(scalar(@e), 105, 'in a row: 105 messages sent on one tunnel');
    ok t_cmp(scalar(grep { $_->{ok} } @e), 105, 'in a row: all 105 echoed identical, in order');
    lap('in a row');
}

# ---- wss through mod_ssl (6) -------------------------------------------------------
{
    my $sport = vhost_port('np_wst_tls');
    my $r = NPWs::run({ op => 'echo', url => "wss://localhost:$sport/wst/echo/tls",
                        messages => [ map { ({ type => 'text', size => $_ }, { type => 'binary', size => $_ }) }
                                      (1, 126, 65536, 1048576) ] });
    my $h = $r->{hello} || {};
    ok t_cmp($r->{status} // $r->{error}, 101, 'wss: handshake over TLS answered 101');
    ok t_cmp($h->{hello} // '-', 'wsa', 'wss: hello from wsa');
    ok t_cmp(($h->{headers} || {})->{'x-forwarded-proto'} // '-', 'https', 'wss: X-Forwarded-Proto https at the backend');
    my @e = @{ $r->{echoes} || [] };
    ok t_cmp(scalar(@e), 8, 'wss: 8 messages sent');
    ok t_cmp(scalar(grep { $_->{ok} } @e), 8, 'wss: text and binary of 1, 126, 65536, 1 MiB bytes echoed identical: ' .
             join(' ', map { "$_->{type}/$_->{size}=" . ($_->{ok} ? 'ok' : ($_->{error} // 'bad')) } @e));
    my $big = (grep { $_->{size} == 1048576 && $_->{type} eq 'binary' } @e)[0] || {};
    ok t_cmp(defined $big->{ms} && $big->{ms} < 5000 ? 1 : 0, 1, 'wss: 1 MiB echo within 5 s (' . ($big->{ms} // '-') . ' ms)');
    lap('wss');
}

# ---- sticky sessions: the WebSocket follows the cookie (6) ---------------------------
{
    # plain requests without a cookie until both members have answered (bounded)
    my %route;
    for my $i (1 .. 12) {
        my $r = http_req(path => "/wst/sticky/plain$i");
        my $b = hdr($r, 'X-Backend') // '-';
        my ($c) = map { /^NPWSROUTE=([^;]+)/ ? $1 : () } hdrs($r, 'Set-Cookie');
        $route{$b} ||= $c if $r->{status} == 200 && defined $c;
        last if keys(%route) >= 2;
    }
    ok t_cmp(join(',', sort keys %route), 'wss1,wss2', 'sticky: plain requests got an NPWSROUTE cookie from each member');
    for my $member (qw(wss1 wss2)) {
        my $route = $route{$member} // 'none';
        my @plans = map { { op => 'handshake', url => "$ws/wst/sticky/ws$_",
                            headers => { Cookie => "a=1; NPWSROUTE=$route" } } } 1 .. 10;
        my $r = NPWs::run({ op => 'parallel', plans => \@plans });
        my @res = @{ $r->{results} || [] };
        my %got;
        $got{ ($_->{hello} || {})->{hello} // "status $_->{status}" }++ for @res;
        ok t_cmp(scalar(grep { $_->{opened} } @res), 10, "sticky: 10 WebSockets with the $member cookie opened");
        ok t_cmp(join(',', map { "$_=$got{$_}" } sort keys %got), "$member=10",
                 "sticky: all 10 hellos name $member");
    }
    # and the cookie reached the backend on the handshake
    my $r = NPWs::run({ op => 'handshake', url => "$ws/wst/sticky/ck",
                        headers => { Cookie => "NPWSROUTE=" . ($route{wss1} // 'none') } });
    ok t_cmp((($r->{hello} || {})->{headers} || {})->{cookie} // '-', qr/NPWSROUTE=/,
             'sticky: the Cookie header reaches the backend on the handshake');
    lap('sticky');
}

# ---- refused handshakes: 403 relayed, bad Sec-WebSocket-Accept -> 502 (10) ----------
{
    my $before = ws_status() || {};
    my $st0 = NPWs::ws_stats($wsa);
    my $r = NPWs::run({ op => 'handshake', url => "$ws/wst/echo/x/reject403" });
    ok t_cmp($r->{status}, 403, 'upgrade answered 403 by the backend: the client gets 403');
    ok t_cmp($r->{opened} ? 1 : 0, 0, '403: no WebSocket opened');
    ok t_cmp(($r->{headers} || {})->{'x-backend'} // '-', 'wsa', '403: the backend\'s response is relayed (X-Backend)');
    ok t_cmp($r->{body} // '', "forbidden by wsa\n", '403: with its body');
    ok t_cmp(($r->{headers} || {})->{upgrade} // 'none', 'none', '403: no Upgrade header towards the client');

    my $mark = log_mark();
    $r = NPWs::run({ op => 'handshake', url => "$ws/wst/echo/x/badaccept" });
    ok t_cmp($r->{status}, 502, '101 with a wrong Sec-WebSocket-Accept: the client gets 502');
    ok t_cmp($r->{opened} ? 1 : 0, 0, 'wrong accept: no WebSocket opened');
    my @l = wait_log($mark, qr/Sec-WebSocket-Accept/, 3);
    ok t_cmp(scalar(@l) ? 1 : 0, 1, 'wrong accept: logged: ' . ($l[0] // 'nothing'));
    my $st1 = NPWs::ws_stats($wsa);
    ok t_cmp($st1->{rejected} - $st0->{rejected}, 2, 'both handshakes reached the backend');
    my $after = ws_status() || {};
    ok t_cmp(($after->{tunnels_total} // -1) - ($before->{tunnels_total} // 0), 0,
             'status: tunnels_total unchanged by the refused handshakes');
    lap('refused');
}

# ---- never tunnelled: Upgrade: h2c, websocket=off, NodeWebSocket off (9) -------------
{
    my $st0 = NPWs::ws_stats($wsa);
    my $req = "GET /wst/echo/h2c HTTP/1.1\r\nHost: " . hostport() . "\r\n" .
              "Connection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n" .
              "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    my $r = parse_response(scalar raw_http($port, $req, timeout => 5));
    my $j = json_body($r) || {};
    ok t_cmp($r->{status}, 200, 'Upgrade: h2c on a proxied path: a normal 200 answer');
    ok t_cmp(hdr($r, 'Upgrade') // 'none', 'none', 'h2c: no Upgrade header in the answer');
    ok t_cmp(($j->{upgrade} // 'none') . '|' . (($j->{headers} || {})->{upgrade} // 'none'), 'none|none',
             'h2c: the backend saw no Upgrade header');
    ok t_cmp(($j->{headers} || {})->{'http2-settings'} // 'none', 'none',
             'h2c: HTTP2-Settings (named in Connection) not forwarded');

    for my $case (['/wst/off/x', '/off/x', 'websocket=off'], ['/wst/offloc/x', '/offloc/x', 'NodeWebSocket off']) {
        my ($path, $url, $what) = @$case;
        my $h = NPWs::run({ op => 'handshake', url => "$ws$path" });
        my $b = eval { $NPWs::JSON->decode($h->{body} // '') } || {};
        ok t_cmp($h->{status}, 200, "$what: the handshake gets the backend's normal 200 answer");
        ok t_cmp(($b->{url} // '-') . '|' . ($b->{upgrade} // 'none'), "$url|none",
                 "$what: the backend got a plain GET without an Upgrade header");
    }
    my $st1 = NPWs::ws_stats($wsa);
    ok t_cmp($st1->{upgrades} - $st0->{upgrades}, 0, 'no upgrade at all reached the backend');
    lap('not tunnelled');
}

# ---- idle timeout: NodeWebSocketIdleTimeout 2s (6) -------------------------------------
{
    my $mark = log_mark();
    my $r = NPWs::run({ op => 'parallel', plans => [
        { op => 'hold', url => "$ws/wst/idle/silent", every => 0, duration => 5000 },
        { op => 'hold', url => "$ws/wst/idle/busy", every => 500, duration => 4500 },
    ] }, 20);
    my ($silent, $busy) = @{ $r->{results} || [{}, {}] };
    ok t_cmp($silent->{opened} && $busy->{opened} ? 1 : 0, 1, 'idle: both tunnels opened');
    my $ms = $silent->{closed_after_ms};
    ok t_cmp(defined $ms && $ms >= 1000 && $ms <= 4500 ? 1 : 0, 1,
             'idle: a silent tunnel is closed at 2 s (1 s to 4.5 s) (' . ($ms // 'not closed') . ' ms)');
    ok t_cmp($busy->{closed_after_ms} // 'open', 'open', 'idle: a tunnel with traffic every 500 ms is still open after 4.5 s');
    ok t_cmp($busy->{echoed} >= 7 ? 1 : 0, 1, "idle: its messages were echoed ($busy->{echoed} of $busy->{sent})");
    my @l = wait_log($mark, qr/tunnel closed: idle timeout/, 2);
    ok t_cmp(scalar(@l), 1, 'idle: one "tunnel closed: idle timeout" log line');
    my $n;
    wait_until(3, sub { $n = NPWs::ws_stats($wsa)->{open}; $n == 0 }, 0.05);
    ok t_cmp($n, 0, 'idle: no WebSocket left open at the backend');
    lap('idle');
}

# ---- status JSON: tunnels_open rises and falls back, tunnels_total grows (5) -------------
{
    my $base;
    wait_until(5, sub { $base = ws_status(); $base && $base->{tunnels_open} == 0 }, 0.1);
    $base ||= {};
    ok t_cmp($base->{tunnels_open} // 'no status', 0, 'status: websocket.tunnels_open is 0 when nothing is open');
    my $s = NPWs::Session->new;
    my $o = $s->cmd({ cmd => 'open', url => "$ws/wst/echo/st", n => 3, concurrency => 3 });
    my $mid;
    wait_until(3, sub { $mid = ws_status(); $mid && $mid->{tunnels_open} == 3 }, 0.05);
    ok t_cmp($mid->{tunnels_open} // -1, 3, 'status: tunnels_open is 3 with 3 tunnels open');
    ok t_cmp(($mid->{tunnels_total} // 0) - ($base->{tunnels_total} // 0), 3, 'status: tunnels_total grew by 3');
    $s->cmd({ cmd => 'close' });
    my $end;
    my $took = wait_until(5, sub { $end = ws_status(); $end && $end->{tunnels_open} == 0 }, 0.05);
    ok t_cmp($end->{tunnels_open} // -1, 0, 'status: tunnels_open back to 0 after the closes (' .
             (defined $took ? sprintf('%.2f s', $took) : 'timeout') . ')');
    ok t_cmp(($end->{tunnels_total} // 0) - ($base->{tunnels_total} // 0), 3, 'status: tunnels_total stays 3 higher');
    $s->stop;
    lap('status');
}

# ---- prometheus and the open count at the backends (6) ----------------------------------
{
    my $r = http_req(path => '/np-status?format=prometheus');
    my ($po) = $r->{body} =~ /^(nodeproxy_websocket_tunnels_open .*)$/m;
    my ($pt) = $r->{body} =~ /^(nodeproxy_websocket_tunnels_total .*)$/m;
    ok t_cmp($po // 'missing', 'nodeproxy_websocket_tunnels_open 0', 'prometheus: tunnels_open 0');
    ok t_cmp($pt // 'missing', qr/^nodeproxy_websocket_tunnels_total [1-9]\d*$/, 'prometheus: tunnels_total');
    for my $b ($wsa, $s1, $s2) {
        my $n;
        wait_until(3, sub { $n = NPWs::ws_stats($b)->{open}; $n == 0 }, 0.05);
        ok t_cmp($n, 0, 'backend ' . $b->name . ': no WebSocket left open');
    }
    ok t_cmp(scalar(() = NPTest::log_since($mark0) =~ /exit signal|segfault|Segmentation fault/g), 0,
             'no child crashed (error_log)');
    lap('end');
}
