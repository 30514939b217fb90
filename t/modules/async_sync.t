# Async proxying behaves exactly as the synchronous path. Through a
# DEDICATED httpd (2 children x 25 threads, t/lib/NPAsync.pm; LogLevel
# nodeproxy:trace1, so that "waiting for the response without a thread"
# shows which requests were suspended), backends t/backends/slow.js:
#  - NodeTimeout while suspended: 504 within ~1-2 s, logged once with an NP
#    id naming the backend; the same status, body and message as the same
#    mapping with NodeAsyncDelay off;
#  - a backend that dies mid-body after going async: the client sees a
#    truncated response (as with NodeAsyncDelay off);
#  - a client that disconnects while its request waits (before the head, in
#    a paused body, 20 at once): the backend connection is closed within 1 s
#    and the pending count of a balancer used only here goes back to 0;
#  - a long-poll through a <NodeBalancer> with a sticky cookie follows it;
#  - the access-log line of an async request carries its status and the
#    nodeproxy notes (member, upstream_ms >= the wait, attempts);
#  - TLS: HTTP/1.1 over mod_ssl suspends and answers correctly (the shared
#    server's np_ssl vhost as in ssl_h2.t, and a TLS listener of the
#    dedicated server: 60 concurrent 1 s requests over TLS within 1.5 s with
#    50 threads; SSE over TLS; a 4 MiB async response to a TLS client that
#    reads nothing for 1.5 s arrives whole); HTTP/2 (curl --http2) to a slow path answers
#    correctly and stays synchronous (no suspension logged).
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Socket::INET ();
use IO::Select ();
use IO::Socket::SSL ();
use List::Util qw(max min sum0);
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();
use NPAsync ();

plan tests => 10 + 8 + 15 + 6 + 6 + 21, need_module('nodeproxy', 'ssl', 'http2');

my $T0 = time;
sub lap { t_debug(sprintf "%s: %.2f s", $_[0], time - $T0) }
sub enc { $NPAsync::JSON->encode($_[0]) }

my ($port, $tport, $ba, $bg, $bs1, $bs2) = NPAsync::free_ports(6);
my $sa  = NPAsync::backend('asa', $ba);
my $sg  = NPAsync::backend('asg', $bg);
my $sb1 = NPAsync::backend('asb1', $bs1);
my $sb2 = NPAsync::backend('asb2', $bs2);
my $ssl = Apache::Test::vars('t_conf') . '/np-ssl';
my $httpd = NPAsync::Httpd->start(tag => 'sync', port => $port, extra_listen => [$tport], ssl => 1,
                                  loglevel => 'info nodeproxy:trace1', conf => <<"EOC");
NodeProxyPass /a/ http://127.0.0.1:$ba/
NodeProxyPass /t1/ http://127.0.0.1:$ba/ timeout=1s
<Location /off/>
    NodeProxyPass http://127.0.0.1:$ba/off/
    NodeAsyncDelay off
</Location>
<Location /t1off/>
    NodeProxyPass http://127.0.0.1:$ba/t1off/
    NodeTimeout 1s
    NodeAsyncDelay off
</Location>
# used only by the client-disconnect tests
<NodeBalancer np_async_gone>
    NodeMember http://127.0.0.1:$bg
</NodeBalancer>
NodeProxyPass /gone/ balancer://np_async_gone/
<NodeBalancer np_async_sticky>
    NodeSticky cookie NPASYNC
    NodeMember http://127.0.0.1:$bs1
    NodeMember http://127.0.0.1:$bs2
</NodeBalancer>
NodeProxyPass /sticky/ balancer://np_async_sticky/
<VirtualHost 127.0.0.1:$tport>
    SSLEngine on
    SSLCertificateFile $ssl/server.crt
    SSLCertificateKeyFile $ssl/server.key
    Protocols h2 http/1.1
    NodeProxyPass /a/ http://127.0.0.1:$ba/
</VirtualHost>
EOC
my $base = "http://127.0.0.1:$port";
t_debug("dedicated httpd pid " . $httpd->pid . ", children " . join(' ', $httpd->children) .
        ", port $port, TLS $tport, backends asa $ba, asg $bg, asb1 $bs1, asb2 $bs2");
my $SUSP = qr/waiting for the response without a thread/;
my $SUSP_ANY = qr/without a thread/;
lap('start');

# the access-log line of a request-target (waits up to 3 s for it)
# the shared server's np_ssl vhost's access-log line for $target (last one)
sub ssl_access_line {
    my $target = shift;
    my $line;
    wait_until(3, sub {
        open my $fh, '<', t_path('logs', 'np_ssl_access_log') or return 0;
        ($line) = reverse grep { /\Q"GET $target HTTP\/1.1"\E/ } <$fh>;
        return defined $line;
    }, 0.1);
    chomp $line if defined $line;
    return $line // '';
}

sub access_line {
    my $target = shift;
    my $line;
    wait_until(3, sub {
        open my $fh, '<', $httpd->access_log or return 0;
        ($line) = grep { /\Q"GET $target HTTP\/1.1"\E/ } <$fh>;
        return defined $line;
    }, 0.1);
    chomp $line if defined $line;
    return $line // '';
}

# ---- NodeTimeout while suspended: 504 (10) -------------------------------------------
{
    my $mark = $httpd->log_mark;
    my $t = time;
    my $r = http_req(port => $port, path => '/t1/never?id=to1', timeout => 10);
    my $dt = time - $t;
    ok t_cmp($r->{status}, 504, 'timeout while suspended: 504');
    ok t_cmp($dt >= 0.9 && $dt < 2.5 ? 1 : 0, 1, sprintf('timeout while suspended: after %.2f s (timeout=1s)', $dt));
    my $log = $httpd->log_since($mark);
    ok t_cmp($log =~ $SUSP ? 1 : 0, 1, 'timeout: the request was suspended (trace1 line)');
    my @np = grep { /\bNP\d{5}\b/ && /\[[\w.]+:(warn|error|crit|alert|emerg)\]/ } split /\n/, $log;
    ok t_cmp(scalar(@np), 1, 'timeout: logged once at warn or above with an NP id')
        or t_debug($log);
    ok t_cmp($np[0] // '', qr/\Q127.0.0.1:$ba\E.*answering 504/, 'timeout: the NP line names the backend and the 504');
    my $al = access_line('/t1/never?id=to1');
    ok t_cmp($al, qr/^504 .* member=\S*127\.0\.0\.1:$ba\S* upstream_ms=\d+ attempts=1 async=1 relayed=\S+ cport=\d+$/, 'timeout: access log 504 with the notes');

    # the synchronous path, for comparison
    my $mark2 = $httpd->log_mark;
    $t = time;
    my $s = http_req(port => $port, path => '/t1off/never?id=to2', timeout => 10);
    my $dt2 = time - $t;
    my $log2 = $httpd->log_since($mark2);
    my @np2 = grep { /\bNP\d{5}\b/ && /\[[\w.]+:(warn|error|crit|alert|emerg)\]/ } split /\n/, $log2;
    ok t_cmp($s->{status}, 504, sprintf('timeout, NodeAsyncDelay off: 504 too (%.2f s)', $dt2));
    ok t_cmp($log2 =~ $SUSP_ANY ? 1 : 0, 0, 'timeout, off: not suspended');
    ok t_cmp($r->{body}, $s->{body}, 'timeout: the same 504 body as the synchronous path');
    (my $m1 = $np[0] // 'x') =~ s/^.*?(NP\d{5}: .*?)(, referer.*)?$/$1/;
    (my $m2 = $np2[0] // 'y') =~ s/^.*?(NP\d{5}: .*?)(, referer.*)?$/$1/;
    ok t_cmp($m1, $m2, 'timeout: the same NP message as the synchronous path');
    lap('504');
}

# ---- backend dies mid-body after going async (8) ------------------------------------------
{
    for my $case (['a', 'async', 1], ['off', 'NodeAsyncDelay off', 0]) {
        my ($pfx, $what, $susp) = @$case;
        my $mark = $httpd->log_mark;
        my $t = time;
        my $r = http_req(port => $port, path => "/$pfx/diemid?wait=200&pause=300&id=dm$pfx", timeout => 10);
        my $dt = time - $t;
        my $log = $httpd->log_since($mark);
        ok t_cmp($r->{status}, 200, "dies mid-body ($what): the head was relayed (200)");
        ok t_cmp(sprintf('%s/%d/%d/%d', $r->{content_length} // '-', length $r->{body}, $r->{complete}, $r->{eof} ? 1 : 0),
                 '1000/100/0/1', sprintf("dies mid-body ($what): Content-Length 1000, 100 bytes, then closed: truncated (%.2f s)", $dt));
        ok t_cmp($log =~ /without a thread/ ? 1 : 0, $susp, "dies mid-body ($what): " . ($susp ? '' : 'not ') . 'suspended');
        ok t_cmp(join(' | ', grep { /NP00030/ } split /\n/, $log), qr/NP00030: .*truncated response/,
                 "dies mid-body ($what): logged NP00030 (truncated response)");
    }
    lap('diemid');
}

# ---- client disconnects while its request waits (16) ---------------------------------------
sub gone_pending {
    my $j = $httpd->status_json or return -1;
    for my $b (@{ $j->{balancers} || [] }) {
        next unless $b->{name} eq 'np_async_gone';
        return $b->{members}[0]{pending};
    }
    return -2;
}
{
    my $mark = $httpd->log_mark;
    for my $case (['before the head', "/gone/slow?ms=10000&id=gh", 'gh', 0],
                  ['in a paused body', "/gone/sse?n=100&every=2000&id=gb", 'gb', 1]) {
        my ($what, $path, $id, $body) = @$case;
        NPAsync::reset_stats($sg);
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 3)
            or die "connect: $!";
        $sock->autoflush(1);
        print $sock "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
        my $got = '';
        if ($body) {   # wait for the head and the first event
            my $sel = IO::Select->new($sock);
            my $dl = time + 3;
            while (time < $dl && $got !~ /data: gb 1 /) {
                last unless $sel->can_read(0.5);
                sysread($sock, my $c, 4096) or last;
                $got .= $c;
            }
        }
        my $waiting = wait_until(3, sub { (NPAsync::stats($sg)->{inflight} // 0) == 1 && gone_pending() == 1 }, 0.05);
        ok t_cmp(defined $waiting ? 1 : 0, 1, "client gone $what: the backend has it, pending 1" .
                 ($body ? ' (first event received: ' . ($got =~ /data: gb 1 / ? 'yes' : 'no') . ')' : ''));
        sleep 0.3;   # well past NodeAsyncDelay: suspended
        my $t_close = time;
        close $sock;
        my $ab;
        wait_until(3, sub { $ab = NPAsync::stats($sg)->{aborted}{$id}; defined $ab }, 0.02);
        my $lag = defined $ab ? $ab - $t_close * 1000 : undef;
        ok t_cmp(defined $lag && $lag < 1000 ? 1 : 0, 1,
                 "client gone $what: the backend saw its connection closed " .
                 (defined $lag ? sprintf('%.0f ms after the client left', $lag) : 'never (3 s)') . ' (< 1 s)');
        my $pz = wait_until(3, sub { gone_pending() == 0 }, 0.05);
        ok t_cmp(gone_pending(), 0, "client gone $what: pending back to 0" . (defined $pz ? sprintf(' (%.2f s)', $pz) : ''));
        ok t_cmp(NPAsync::stats($sg)->{inflight} // -1, 0, "client gone $what: nothing left in progress at the backend");
    }
    my $log = $httpd->log_since($mark);
    my $n110 = () = $log =~ /NP00110: /g;
    ok t_cmp($n110, 2, 'client gone: logged twice "client went away while the backend was still answering" (NP00110)');

    # 20 at once: the load client gives up after 1 s
    NPAsync::reset_stats($sg);
    my $r = NPAsync::load({ url => "$base/gone/slow?ms=10000&id=gm{i}", n => 20, timeout_ms => 1000,
                            records => 1, hard_ms => 10000 });
    my $ab = {};
    wait_until(3, sub { $ab = NPAsync::stats($sg)->{aborted} || {}; keys(%$ab) >= 20 }, 0.05);
    ok t_cmp($r->{errors}{timeout} // 0, 20, '20 clients gone: all 20 gave up after 1 s (' . enc($r->{errors} || {}) . ')');
    ok t_cmp(scalar(keys %$ab), 20, '20 clients gone: the backend saw all 20 connections closed');
    my @lags = map { $ab->{"gm$_->[0]"} - ($r->{t0} + $_->[4]) } grep { $_ && defined $_->[4] && exists $ab->{"gm$_->[0]"} }
               @{ $r->{records} || [] };
    my $maxlag = @lags ? max(@lags) : 1e9;
    ok t_cmp($maxlag < 1000 ? 1 : 0, 1, sprintf('20 clients gone: each closed at the backend within 1 s of its client (max %.0f ms)', $maxlag));
    my $pz = wait_until(3, sub { gone_pending() == 0 }, 0.05);
    ok t_cmp(gone_pending(), 0, '20 clients gone: pending back to 0');
    ok t_cmp(NPAsync::stats($sg)->{inflight} // -1, 0, '20 clients gone: nothing left in progress at the backend');
    # and the balancer still works
    my ($s, $ms, $rr) = NPAsync::timed_get($port, '/gone/slow?ms=100&id=gz');
    ok t_cmp($s . ' ' . ((json_body($rr) || {})->{id} // ''), '200 gz', 'client gone: the balancer answers the next request');
    lap('client gone');
}

# ---- a long-poll through a sticky balancer (6) ----------------------------------------
{
    my $r = http_req(port => $port, path => '/sticky/slow?ms=300&id=st0', timeout => 5);
    my ($sc) = grep { /^NPASYNC=/ } hdrs($r, 'Set-Cookie');
    my $who = hdr($r, 'X-Backend') // '-';
    ok t_cmp($r->{status} . ' async=' . $httpd->async_count(qr/id=st0$/), '200 async=1',
             "sticky: the first long-poll (300 ms) answered, async ($who)");
    ok t_cmp($sc // '', qr/^NPASYNC=[^;]+/, 'sticky: ... and sets the NPASYNC cookie');
    my ($route) = ($sc // '') =~ /^NPASYNC=([^;]+)/;
    my $l = NPAsync::load({ url => "$base/sticky/slow?ms=1000&id=st{i}", n => 10, check_id => 1,
                            headers => { Cookie => "NPASYNC=$route" }, timeout_ms => 5000 });
    t_debug('sticky long-polls: ' . enc($l));
    ok t_cmp($l->{ok} // 0, 10, 'sticky: 10 concurrent 1 s long-polls with the cookie: all 200 with their own body');
    ok t_cmp(join(',', map { "$_=$l->{backends}{$_}" } sort keys %{ $l->{backends} || {} }), "$who=10",
             "sticky: all 10 on the cookie's member ($who)");
    ok t_cmp($httpd->async_count(qr/id=st\d+$/, 11), 11, 'sticky: all 10 went async (and the first)');
    # the other member with its own cookie
    my $other = $who eq 'asb1' ? 'asb2' : 'asb1';
    my $j = $httpd->status_json || {};
    my ($b) = grep { $_->{name} eq 'np_async_sticky' } @{ $j->{balancers} || [] };
    my ($om) = grep { $_->{url} eq 'http://127.0.0.1:' . ($other eq 'asb1' ? $bs1 : $bs2) } @{ $b->{members} || [] };
    my $oroute = $om ? $om->{route} : 'none';
    my $l2 = NPAsync::load({ url => "$base/sticky/slow?ms=500&id=so{i}", n => 5, check_id => 1,
                             headers => { Cookie => "NPASYNC=$oroute" }, timeout_ms => 5000 });
    ok t_cmp(join(',', map { "$_=$l2->{backends}{$_}" } sort keys %{ $l2->{backends} || {} }), "$other=5",
             "sticky: 5 long-polls with the other member's route ($oroute) all on $other");
    lap('sticky');
}

# ---- the access log (6) ---------------------------------------------------------------
{
    my $mark = $httpd->log_mark;
    my $r = http_req(port => $port, path => '/a/slow?ms=300&id=al1', timeout => 5);
    ok t_cmp($r->{status}, 200, 'access log: async request 200');
    ok t_cmp($httpd->log_since($mark) =~ $SUSP ? 1 : 0, 1, 'access log: ... it was suspended');
    my $line = access_line('/a/slow?ms=300&id=al1');
    t_debug("access log: $line");
    ok t_cmp($line, qr/^200 "GET \S+ HTTP\/1\.1" member=\S*127\.0\.0\.1:$ba\S* upstream_ms=\d+ attempts=1 async=1 relayed=\S+ cport=\d+$/,
             'access log: status 200 and the nodeproxy notes (async=1: it waited once without a thread)');
    my ($ums) = $line =~ /upstream_ms=(\d+)/;
    ok t_cmp(defined $ums && $ums >= 290 && $ums < 2000 ? 1 : 0, 1, 'access log: upstream_ms covers the wait (' . ($ums // '-') . ')');
    my $r2 = http_req(port => $port, path => '/off/slow?ms=300&id=al2', timeout => 5);
    my $line2 = access_line('/off/slow?ms=300&id=al2');
    (my $shape1 = $line) =~ s/ async=1 / async=- /;
    $shape1 =~ s/ relayed=\d+ / relayed=- /;
    $shape1 =~ s/\d+|al1|\/a\//N/g;
    (my $shape2 = $line2) =~ s/\d+|al2|\/off\//N/g;
    ok t_cmp($shape1, $shape2, 'access log: the same line as the synchronous path (numbers, async=1 and relayed= aside)');
    my $sl = access_line('/sticky/slow?ms=300&id=st0');
    ok t_cmp($sl, qr/^200 .* member=\S*127\.0\.0\.1:($bs1|$bs2)\S* upstream_ms=\d+ attempts=1 async=1 /,
             'access log: the async balancer request names its member');
    lap('access log');
}

# ---- TLS and HTTP/2 (21) --------------------------------------------------------------------
{
    # the shared server's TLS vhost (as ssl_h2.t reaches it)
    my $echo = NPBackend::start('echo', 'echo.js', NPTest::ECHO_PORT);
    my $sport = vhost_port('np_ssl');
    my $r = curl_req('-k', '--http1.1', "https://localhost:$sport/echo/slow?ms=300");
    my $j = json_body($r) || {};
    ok t_cmp($r->{code}, 200, 'shared TLS vhost: slow (300 ms) request 200');
    ok t_cmp($j->{url} // '', '/slow?ms=300', 'shared TLS vhost: the right answer');
    ok t_cmp(ssl_access_line('/echo/slow?ms=300'), qr/ async=1$/, 'shared TLS vhost: it went async (access log async=1)');
    $r = curl_req('-k', '--http2', "https://localhost:$sport/echo/slow?ms=300");
    $j = json_body($r) || {};
    ok t_cmp("$r->{http_version} $r->{code}", '2 200', 'shared TLS vhost, h2: slow request 200 over HTTP/2');
    ok t_cmp($j->{url} // '', '/slow?ms=300', 'shared TLS vhost, h2: the right answer');
    $echo->stop;

    # the dedicated server's TLS listener
    my $tb = "https://127.0.0.1:$tport";
    my $mark = $httpd->log_mark;
    $r = curl_req('-k', '--http1.1', "$tb/a/slow?ms=300&id=tls1");
    my $log = $httpd->log_since($mark);
    ok t_cmp($r->{code} . ' ' . ((json_body($r) || {})->{id} // ''), '200 tls1', 'TLS: slow request 200, its own body');
    ok t_cmp($log =~ $SUSP ? 1 : 0, 1, 'TLS: it was suspended (trace1 line)');
    ok t_cmp(hdr($r, 'Connection') // 'keep-alive', qr/^(?!.*close)/i, 'TLS: the connection is kept alive after it (no Connection: close)');
    $r = curl_req('-k', '--http1.1', "$tb/a/sse?n=5&every=200&id=tsse");
    my @ev = $r->{body} =~ /^data: tsse (\d+) \d+$/mg;
    ok t_cmp(join(',', @ev), '1,2,3,4,5', 'TLS: SSE, all 5 events in order');
    my $l = NPAsync::load({ url => "$tb/a/slow?ms=1000&id=tl{i}", n => 60, check_id => 1, timeout_ms => 10000 });
    t_debug('TLS 60x1s: ' . enc($l));
    ok t_cmp($l->{ok} // 0, 60, 'TLS: 60 concurrent 1 s requests all 200 with their own body (' . enc($l->{errors} || {}) . ')');
    ok t_cmp(($l->{max_ms} // 1e9) <= 1900 ? 1 : 0, 1,
             "TLS: ... each within 1.9 s of its handshake (max $l->{max_ms} ms, wall $l->{wall_ms} ms): more than 50 threads' worth");

    # a client that reads nothing for a while: over TLS the writes go
    # through mod_ssl into the core, which writes without blocking
    {
        my $size = 4 << 20;
        my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $tport, SSL_verify_mode => 0,
                                     Timeout => 5) or die 'TLS connect: ' . IO::Socket::SSL::errstr();
        binmode $s;
        print $s "GET /a/big?ms=200&size=$size&id=tbig HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        sleep 1.5;
        my ($buf, $deadline) = ('', time + 20);
        my $sel = IO::Select->new($s);
        while (time < $deadline) {
            last unless $s->pending || $sel->can_read(5);
            my $n = sysread $s, my $chunk, 262144;
            last unless $n;
            $buf .= $chunk;
        }
        close $s;
        my $end = index $buf, "\r\n\r\n";
        my $body = $end >= 0 ? substr($buf, $end + 4) : '';
        my $exact = length($body) == $size && substr($body, 0, 5) eq 'tbig:' && substr($body, 5) !~ /[^x]/;
        ok t_cmp(($buf =~ m{^HTTP/1\.1 (\d{3})})[0] . ' ' . length($body) . ($exact ? ' exact' : ' wrong'), "200 $size exact",
                 'TLS: a 4 MiB async response to a client that read nothing for 1.5 s arrives whole');
    }

    # HTTP/2: answers, stays synchronous
    $mark = $httpd->log_mark;
    $r = curl_req('-k', '--http2', "$tb/a/slow?ms=300&id=h2a");
    $log = $httpd->log_since($mark);
    ok t_cmp($r->{http_version}, '2', 'h2: the client spoke HTTP/2');
    ok t_cmp($r->{code} . ' ' . ((json_body($r) || {})->{id} // ''), '200 h2a', 'h2: slow request 200, its own body');
    ok t_cmp($log =~ $SUSP_ANY ? 1 : 0, 0, 'h2: not suspended (HTTP/2 streams stay synchronous)');
    ok t_cmp(hdr($r, 'X-Backend') // '', 'asa', 'h2: proxied to the backend');
    $r = curl_req('-k', '--http2', "$tb/a/sse?n=5&every=200&id=hsse");
    @ev = $r->{body} =~ /^data: hsse (\d+) \d+$/mg;
    ok t_cmp("$r->{http_version} " . join(',', @ev), '2 1,2,3,4,5', 'h2: SSE, all 5 events in order');
    $r = curl_req('-k', '--http2', "$tb/a/diemid?wait=200&pause=300&id=h2d");
    ok t_cmp($r->{code} . ' ' . length($r->{body}), '200 100', 'h2: backend dying mid-body: 200 and only 100 bytes');
    ok t_cmp($r->{rc} != 0 ? 1 : 0, 1, "h2: ... and curl reports the stream as broken (exit $r->{rc})");

    ok t_cmp(scalar($httpd->children), 2, 'still 2 children after all this');
    my $bad = join ' | ', grep { /\[(?:core|mpm_event|nodeproxy):(?:crit|alert|emerg)\]|AH00052|segfault|Segmentation/ }
              split /\n/, $httpd->log_since(0);
    ok t_cmp($bad, '', 'no crash and no crit/alert in the error log');
    lap('TLS/h2');
}

$httpd->stop;
$_->stop for $sa, $sg, $sb1, $sb2;
lap('done');
