# The reactor relays a streaming body itself (issue 19): a response whose
# body pauses (Server-Sent Events) is suspended, and when its output filters
# only pass bytes through (plain HTTP/1.1: chunking, the core) the reactor
# thread reads Node and writes the client without handing each pause to an
# MPM worker. Through a DEDICATED httpd (t/lib/NPAsync.pm: 2 children x 25
# threads, mod_deflate and mod_ssl loaded), backend t/backends/slow.js:
#  - 200 SSE streams x 10 events: every event arrives, whole and in order,
#    and the access log says the reactor relayed them (relayed=N > 0);
#  - a slow client: a 48 MiB body (pattern bytes, in pauses) to a client
#    that reads nothing for 4 s: meanwhile 50 other SSE streams get every
#    event in time and httpd does not buffer the body (children's RSS grows
#    by less than 16 MiB); then the client reads it all, byte-exact;
#  - a client that closes an endless stream: Node sees the close (its
#    request aborted) within 5 s, and the children's fds go back down;
#  - mod_deflate (SetOutputFilter DEFLATE) and mod_ssl clients: the body
#    takes the worker path (relayed=0), events in order, gzip decodes.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Select ();
use IO::Socket::INET ();
use Compress::Raw::Zlib qw(WANT_GZIP Z_OK Z_STREAM_END);
use List::Util qw(max sum0);
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPAsync ();

plan tests => 6 + 7 + 4 + 4 + 3, need_module('nodeproxy', 'ssl');

my $T0 = time;
sub lap { t_debug(sprintf "%s: %.2f s", $_[0], time - $T0) }
sub enc { $NPAsync::JSON->encode($_[0]) }
sub summary { my %h = %{ $_[0] }; delete $h{records}; enc(\%h) }
sub relayed { my ($l) = @_; return ($l // '') =~ / relayed=(\d+) / ? $1 : -1 }

my ($port, $tport, $ba) = NPAsync::free_ports(3);
my $sa = NPAsync::backend('rla', $ba);
my $ssl = Apache::Test::vars('t_conf') . '/np-ssl';
my $mods = '/usr/lib/apache2/modules';
my $httpd = NPAsync::Httpd->start(tag => 'relay', port => $port, extra_listen => [$tport], ssl => 1,
                                  conf => <<"EOC");
LoadModule deflate_module $mods/mod_deflate.so
NodeProxyPass /a/ http://127.0.0.1:$ba/
<Location /z/>
    NodeProxyPass http://127.0.0.1:$ba/z/
    SetOutputFilter DEFLATE
</Location>
<VirtualHost 127.0.0.1:$tport>
    SSLEngine on
    SSLCertificateFile $ssl/server.crt
    SSLCertificateKeyFile $ssl/server.key
    NodeProxyPass /a/ http://127.0.0.1:$ba/
</VirtualHost>
EOC
my $base = "http://127.0.0.1:$port";
t_debug("dedicated httpd pid " . $httpd->pid . ", children " . join(' ', $httpd->children) .
        ", port $port, TLS $tport, backend $ba");
lap('start');
NPAsync::load({ url => "$base/a/fast?id=w{i}", n => 20, check_id => 1 });

sub sum_rss { my %r = $httpd->child_rss; return sum0(map { $_ // 0 } values %r) }
sub sum_fds { my %f = $httpd->child_fds; return sum0(map { $_ // 0 } values %f) }

# ---- 200 SSE streams through the reactor (6) -------------------------------------
{
    my ($N, $EV) = (200, 10);
    my $r = NPAsync::load({ url => "$base/a/sse?n=$EV&every=200&id=r{i}", n => $N, mode => 'sse',
                            sse_n => $EV, check_id => 1, timeout_ms => 20000, hard_ms => 25000 });
    t_debug('200 SSE: ' . summary($r));
    ok t_cmp($r->{ok} // 0, $N, "200 SSE: all $N streams complete, 200 (" . enc($r->{statuses} || {}) .
             ', errors ' . enc($r->{errors} || {}) . ')');
    ok t_cmp($r->{sse}{events} // 0, $N * $EV, "200 SSE: every stream received all $EV events");
    ok t_cmp($r->{sse}{bad_order} // -1, 0, '200 SSE: in order, each carrying its stream id');
    ok t_cmp($r->{bad_body} // -1, 0, '200 SSE: no bad stream (events whole)');
    ok t_cmp(($r->{sse}{max_lag_ms} // 1e9) < 2000 ? 1 : 0, 1,
             "200 SSE: each event relayed within 2 s of being sent (max lag $r->{sse}{max_lag_ms} ms)");
    my @l = $httpd->access_lines(qr/sse\?.*id=r\d+$/, $N, 10);
    my $by_reactor = grep { relayed($_) > 0 } @l;
    ok t_cmp($by_reactor, $N, "200 SSE: the reactor relayed the body of all $N (access log relayed=N>0; " .
             'e.g. ' . ($l[0] // '-') . ')');
    lap('200 SSE');
}

# ---- a client that reads nothing for 4 s (7) ---------------------------------------
{
    my $size = 48 << 20;
    my $rss0 = sum_rss();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    # a small receive buffer: what the client does not read stays upstream
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 65536);
    binmode $s;
    print $s "GET /a/big?size=$size&pieces=192&every=25&pattern=1&id=stall HTTP/1.1\r\nHost: localhost\r\n" .
             "Connection: close\r\n\r\n";
    # other streams meanwhile
    my $bg = NPAsync::load_bg({ url => "$base/a/sse?n=10&every=200&id=o{i}", n => 50, mode => 'sse',
                                sse_n => 10, check_id => 1, timeout_ms => 20000, hard_ms => 25000 });
    my $peak = $rss0;
    my $t_end = time + 4;
    while (time < $t_end) { $peak = max($peak, sum_rss()); sleep 0.25; }
    my $st = NPAsync::stats($sa);
    t_debug('stall: backend ' . NPAsync::fmt({ map { $_ => (ref $st->{$_} ? enc($st->{$_}) : $st->{$_}) } keys %$st }));
    my $grew = ($peak - $rss0) / 1024;
    ok t_cmp($grew < 16 ? 1 : 0, 1, sprintf('stall: httpd children grew by %.1f MiB (< 16) while the client read ' .
             'nothing of a 48 MiB body: the relay waits for the client, it does not buffer', $grew));
    my $o = $bg->wait(30);
    t_debug('stall: other streams ' . summary($o));
    ok t_cmp(($o->{ok} // 0) . ' ' . ($o->{sse}{events} // 0) . ' ' . ($o->{sse}{bad_order} // -1), '50 500 0',
             'stall: 50 other SSE streams meanwhile: all complete, every event, in order');
    ok t_cmp(($o->{sse}{max_lag_ms} // 1e9) < 2000 ? 1 : 0, 1,
             "stall: ... each event within 2 s of being sent (max lag $o->{sse}{max_lag_ms} ms): the stalled client blocks nobody");
    # now read it all
    my ($buf, $deadline) = ('', time + 60);
    my $sel = IO::Select->new($s);
    while (time < $deadline) {
        last unless $sel->can_read(10);
        my $n = sysread $s, my $chunk, 1 << 20;
        last unless $n;
        $buf .= $chunk;
    }
    close $s;
    my $end = index $buf, "\r\n\r\n";
    my $head = $end >= 0 ? substr($buf, 0, $end) : '';
    my $body = $end >= 0 ? substr($buf, $end + 4) : '';
    my $want = join '', map { chr($_ % 251) } 0 .. 250;
    $want = substr($want x (int($size / 251) + 1), 0, $size);
    ok t_cmp(($head =~ m{^HTTP/1\.1 (\d{3})})[0] // 0, 200, 'stall: 200');
    ok t_cmp(length($body), $size, 'stall: all 48 MiB arrived');
    my $first_bad = -1;
    if ($body ne $want) {
        for (my $i = 0; $i < length($body); $i += 4096) {
            if (substr($body, $i, 4096) ne substr($want, $i, 4096)) { $first_bad = $i; last; }
        }
        $first_bad = length($body) if $first_bad < 0;
    }
    ok t_cmp($first_bad, -1, 'stall: byte-exact (no byte lost, repeated or reordered)');
    my ($l) = $httpd->access_lines(qr/id=stall$/, 1, 10);
    ok t_cmp(relayed($l) > 0 ? 1 : 0, 1, "stall: relayed by the reactor (" . ($l // 'no log line') . ')');
    lap('stall');
}

# ---- a client closes an endless stream (4) -------------------------------------------
{
    NPAsync::reset_stats($sa);
    my $fds0 = sum_fds();
    my @socks;
    for my $i (1 .. 20) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5)
            or die "connect: $!";
        print $s "GET /a/sse?n=100000&every=100&id=cl$i HTTP/1.1\r\nHost: localhost\r\n\r\n";
        push @socks, $s;
    }
    # each has seen at least 3 events (so the reactor relays them)
    my $seen = 0;
    for my $s (@socks) {
        my ($buf, $deadline) = ('', time + 10);
        my $sel = IO::Select->new($s);
        while (time < $deadline && (() = $buf =~ /^data: /mg) < 3) {
            last unless $sel->can_read(5);
            sysread($s, my $chunk, 65536) or last;
            $buf .= $chunk;
        }
        $seen++ if $buf =~ /^id: 3$/m;
    }
    ok t_cmp($seen, 20, 'close: 20 endless streams, each 3 events in');
    close $_ for @socks;
    my $st = {};
    wait_until(8, sub { $st = NPAsync::stats($sa); scalar(keys %{ $st->{aborted} || {} }) >= 20 }, 0.1);
    ok t_cmp(scalar(grep { /^cl\d+$/ } keys %{ $st->{aborted} || {} }), 20,
             'close: Node saw each of the 20 requests aborted (the backend connection freed)');
    my @l = $httpd->access_lines(qr/id=cl\d+$/, 20, 10);
    ok t_cmp(scalar(grep { relayed($_) > 0 } @l), 20, 'close: all 20 had been relayed by the reactor');
    my $fds = $fds0;
    wait_until(8, sub { $fds = sum_fds(); $fds <= $fds0 + 2 }, 0.2);
    ok t_cmp($fds <= $fds0 + 2 ? 1 : 0, 1, "close: children's fds back to $fds0 (+2) ($fds)");
    lap('close');
}

# ---- mod_deflate, mod_ssl: the worker path (4 + 3) ------------------------------------
{
    my $r = curl_req('--compressed', '--http1.1', "$base/z/sse?n=5&every=200&id=zs");
    my @ev = $r->{body} =~ /^data: zs (\d+) \d+$/mg;
    ok t_cmp(hdr($r, 'Content-Encoding') // '', 'gzip', 'deflate: the SSE stream is gzipped');
    ok t_cmp(join(',', @ev), '1,2,3,4,5', 'deflate: all 5 events, in order, after gunzip');
    my ($l) = $httpd->access_lines(qr/id=zs$/, 1, 5);
    ok t_cmp($l // '', qr/ async=[1-9]\d* relayed=0 /, 'deflate: suspended, relayed by workers (relayed=0)');
    # a gzip member per flush: what came by the first 3 events decodes alone
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5);
    print $s "GET /z/sse?n=4&every=1000&id=zf HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n";
    my ($buf, $deadline) = ('', time + 2.5);
    my $sel = IO::Select->new($s);
    while (time < $deadline) {
        last unless $sel->can_read(max(0.05, $deadline - time));
        sysread($s, my $chunk, 65536) or last;
        $buf .= $chunk;
    }
    close $s;
    my $end = index $buf, "\r\n\r\n";
    my $raw = $end >= 0 ? substr($buf, $end + 4) : '';
    my $gz = '';
    while ($raw =~ s/^([0-9a-fA-F]+)\r\n//) { my $n = hex $1; last if !$n; $gz .= substr($raw, 0, $n, ''); $raw =~ s/^\r\n//; }
    # inflate what came (a stream not yet ended: no gunzip of a whole file)
    my $plain = '';
    my ($inf) = Compress::Raw::Zlib::Inflate->new(-WindowBits => WANT_GZIP, -ConsumeInput => 1);
    $inf->inflate($gz, $plain) if $inf;
    my @early = $plain =~ /^data: zf (\d+) \d+$/mg;
    ok t_cmp(scalar(@early) >= 2 ? 1 : 0, 1, 'deflate: events flushed as they come (' . scalar(@early) .
             ' of 4 decoded within 2.5 s; the 4th comes at 3 s)');

    my $rt = curl_req('-k', '--http1.1', "https://127.0.0.1:$tport/a/sse?n=5&every=200&id=ts");
    my @tev = $rt->{body} =~ /^data: ts (\d+) \d+$/mg;
    ok t_cmp($rt->{code} . ' ' . join(',', @tev), '200 1,2,3,4,5', 'TLS: all 5 events in order');
    ($l) = $httpd->access_lines(qr/id=ts$/, 1, 5);
    ok t_cmp($l // '', qr/ async=[1-9]\d* relayed=0 /, 'TLS: suspended, relayed by workers (mod_ssl: relayed=0)');
    my $bad = join ' | ', grep { /\[(?:core|mpm_event|nodeproxy):(?:crit|alert|emerg)\]|AH00052|segfault|Segmentation/ }
              split /\n/, $httpd->log_since(0);
    ok t_cmp($bad, '', 'no crash and no crit/alert in the error log');
    lap('deflate/TLS');
}

$httpd->stop;
$sa->stop;
lap('done');
