# Keep-alive after an async response. A request that waited for Node
# without a thread leaves its connection suspended in the event MPM; once the
# response is complete the module keeps the connection alive itself (write
# completion, then KeepAliveTimeout, then the next request). Through a
# DEDICATED httpd of 2 children x 25 threads (t/lib/NPAsync.pm), backend
# t/backends/slow.js:
#  - one connection, several requests in turn, slow (async) and fast: every
#    answer right, none says Connection: close, all on the one connection
#    (the access log's client port), async=1 for the slow ones only;
#  - pipelined slow/fast/slow in one write: three answers, in order;
#  - an idle connection after an async response is closed after
#    KeepAliveTimeout (2 s here), not before and long before the 60 s Timeout;
#  - a 4 MiB async response to a client that reads nothing for 2 s, then all
#    of it: complete and exact, and the connection serves the next request;
#  - 60 clients that request 4 MiB each and read nothing (more than the 50
#    threads) hold no thread: once all 60 are at the backend, a new request
#    is answered before any of them reads (a thread blocked on a client
#    write would hold it for the 60 s Timeout); then each reads its
#    response, complete and exact;
#  - a WebSocket upgrade on a connection whose previous request went async;
#  - 100 keep-alive connections x 3 requests (300 requests on 50 threads),
#    each held by the backend until all 100 of its round are there (a
#    barrier in slow.js): all answered, on exactly 100 connections;
#  - with NodeAsyncDelay 60s, 100 requests held by the backend: once three
#    quarters of a child's threads wait on Node, the others suspend at once:
#    all 100 reach the backend, a new request is answered while they are
#    held, at most 36 kept a thread;
#  - a graceful restart closes connections idling in this keep-alive well
#    before their KeepAliveTimeout (30 s on that port), requests held by the
#    backend across the restart are answered, the old children exit, and
#    the server answers afterwards.
# Durations are compared only with configured timeouts, with wide margins;
# the rest are counts taken while slow.js holds the requests (a busy 2-core
# machine must pass).
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Socket::INET ();
use IO::Select ();
use List::Util qw(max);
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPAsync ();

plan tests => 7 + 3 + 2 + 4 + 4 + 4 + 4 + 6 + 3, need_module('nodeproxy');

my $T0 = time;
sub lap { t_debug(sprintf "%s: %.2f s", $_[0], time - $T0) }

my ($port, $gport, $bport, $wport) = NPAsync::free_ports(4);
my $sa = NPAsync::backend('ka', $bport);
my $ws = NPBackend::start('kaws', 'ws.js', $wport);
my $httpd = NPAsync::Httpd->start(tag => 'keepalive', port => $port, extra_listen => [$gport], conf => <<"EOC");
KeepAliveTimeout 2
NodeProxyPass /a/ http://127.0.0.1:$bport/
NodeProxyPass /ws/ http://127.0.0.1:$wport/
<Location /long/>
    NodeProxyPass http://127.0.0.1:$bport/long/
    NodeAsyncDelay 60s
</Location>
<VirtualHost 127.0.0.1:$gport>
    KeepAliveTimeout 30
    NodeProxyPass /a/ http://127.0.0.1:$bport/
</VirtualHost>
EOC
t_debug("dedicated httpd pid " . $httpd->pid . ", port $port (+$gport), backend $bport, ws $wport");

# ---- one connection, read a response at a time ---------------------------------------
sub conn {
    my $p = shift || $port;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p, Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    binmode $s;
    $s->autoflush(1);
    return { sock => $s, buf => '', sel => IO::Select->new($s) };
}
sub send_get {
    my ($c, @paths) = @_;
    my $req = join '', map { "GET $_ HTTP/1.1\r\nHost: localhost\r\n\r\n" } @paths;
    syswrite $c->{sock}, $req;
}
sub fill {
    my ($c, $deadline) = @_;
    return 0 unless $c->{sel}->can_read(max(0.01, $deadline - time));
    my $n = sysread $c->{sock}, my $chunk, 262144;
    if (!$n) { $c->{eof} = 1; return 0; }
    $c->{buf} .= $chunk;
    return 1;
}
# one response (Content-Length or chunked), or undef by $timeout
sub read_resp {
    my ($c, $timeout) = @_;
    my $deadline = time + ($timeout || 10);
    while (1) {
        my $end = index $c->{buf}, "\r\n\r\n";
        if ($end >= 0) {
            my $head = substr $c->{buf}, 0, $end;
            my %h;
            for (split /\r\n/, $head) { $h{lc $1} = $2 if /^([^:]+):\s*(.*?)\s*$/ }
            my ($status) = $head =~ m{^HTTP/1\.\d (\d{3})};
            my $rest = substr $c->{buf}, $end + 4;
            if (defined $h{'content-length'}) {
                if (length $rest >= $h{'content-length'}) {
                    my $body = substr $rest, 0, $h{'content-length'};
                    $c->{buf} = substr $rest, $h{'content-length'};
                    return { status => $status, h => \%h, body => $body };
                }
            }
            elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
                my ($body, $pos) = ('', 0);
                while (1) {
                    my $le = index $rest, "\r\n", $pos;
                    last if $le < 0;
                    my $len = hex substr($rest, $pos, $le - $pos);
                    last if length($rest) < $le + 2 + $len + 2;
                    if ($len == 0) {
                        $c->{buf} = substr $rest, $le + 4;
                        return { status => $status, h => \%h, body => $body };
                    }
                    $body .= substr $rest, $le + 2, $len;
                    $pos = $le + 2 + $len + 2;
                }
            }
            else {
                $c->{buf} = $rest;
                return { status => $status, h => \%h, body => '' };
            }
        }
        return undef if time > $deadline || $c->{eof};
        fill($c, $deadline);
    }
}
sub id_of { my $r = shift; my $j = eval { $NPAsync::JSON->decode($r->{body}) } || {}; $j->{id} // '' }

# ---- several requests in turn on one connection (7) ------------------------------------
{
    my $c = conn();
    my (@ids, @conn);
    # the slow ones take 1 s: a worker descheduled for longer than
    # NodeAsyncDelay (50 ms) on a busy machine would find a 100 ms answer
    # already there and not go async
    for my $p ('/a/slow?ms=1000&id=t1', '/a/slow?ms=1000&id=t2', '/a/fast?id=t3', '/a/slow?ms=1000&id=t4') {
        send_get($c, $p);
        my $r = read_resp($c, 30) || {};
        push @ids, ($r->{status} // 0) . ':' . id_of($r);
        push @conn, $r->{h}{connection} // 'keep-alive';
    }
    ok t_cmp(join(' ', @ids), '200:t1 200:t2 200:t3 200:t4', 'in turn: four answers, each its own');
    ok t_cmp(join(' ', @conn), 'keep-alive keep-alive keep-alive keep-alive', 'in turn: none said Connection: close');
    my @l = $httpd->access_lines(qr/id=t\d$/, 4);
    t_debug("in turn: $_") for @l;
    my %cports = map { / cport=(\d+)$/ ? ($1 => 1) : () } @l;
    ok t_cmp(scalar(@l), 4, 'in turn: four access-log lines');
    ok t_cmp(scalar(keys %cports), 1, 'in turn: all four on the one connection (one client port)');
    ok t_cmp(join(' ', map { / async=(\S+)/ ? $1 : '?' } @l), '1 1 - 1',
             'in turn: the slow ones waited without a thread (async=1), the fast one did not');
    # the connection still works after that
    send_get($c, '/a/fast?id=t5');
    my $r = read_resp($c, 30) || {};
    ok t_cmp(($r->{status} // 0) . ':' . id_of($r), '200:t5', 'in turn: and a fifth request after them');
    # idle now: closed after KeepAliveTimeout (2 s)
    my $t = time;
    1 while !$c->{eof} && fill($c, $t + 40);
    my $idle = time - $t;
    ok t_cmp($c->{eof} && $idle >= 1.5 && $idle < 30 ? 1 : 0, 1,
             sprintf('in turn: the idle connection closed by the server after %.2f s (KeepAliveTimeout 2: ' .
                     'not before 1.5 s, and long before the 60 s Timeout)', $idle));
    lap('in turn');
}

# ---- pipelined (3) -----------------------------------------------------------------
{
    my $c = conn();
    send_get($c, '/a/slow?ms=1000&id=p1', '/a/fast?id=p2', '/a/slow?ms=1000&id=p3');
    my @got = map { my $r = read_resp($c, 30) || {}; ($r->{status} // 0) . ':' . id_of($r) } 1 .. 3;
    ok t_cmp(join(' ', @got), '200:p1 200:p2 200:p3', 'pipelined: three answers in order');
    my @l = $httpd->access_lines(qr/id=p\d$/, 3);
    ok t_cmp(join(' ', map { / async=(\S+)/ ? $1 : '?' } @l), '1 - 1', 'pipelined: the slow ones went async');
    my %cports = map { / cport=(\d+)$/ ? ($1 => 1) : () } @l;
    ok t_cmp(scalar(keys %cports), 1, 'pipelined: one connection');
    close $c->{sock};
    lap('pipelined');
}

# ---- a big response to a client that does not read (2) ----------------------------------
{
    my $size = 4 << 20;
    # on the port with KeepAliveTimeout 30: the server may finish writing
    # into the socket buffers during the 2 s pause, and a busy client may
    # then take more than 2 s to read 4 MiB before its next request
    my $c = conn($gport);
    send_get($c, "/a/big?ms=200&size=$size&id=big1");
    sleep 2;
    my $r = read_resp($c, 20) || {};
    my $body = $r->{body} // '';
    my $exact = length($body) == $size && substr($body, 0, 5) eq 'big1:' && substr($body, 5) !~ /[^x]/;
    ok t_cmp(($r->{status} // 0) . ' ' . length($body) . ' ' . ($exact ? 'exact' : 'wrong'), "200 $size exact",
             'slow reader: the 4 MiB async response arrives whole after 2 s of not reading');
    send_get($c, '/a/slow?ms=100&id=big2');
    my $r2 = read_resp($c, 30) || {};
    ok t_cmp(($r2->{status} // 0) . ':' . id_of($r2), '200:big2', 'slow reader: the connection then serves the next request');
    close $c->{sock};
    lap('slow reader');
}

# ---- 60 clients that do not read 4 MiB responses hold no thread (3) ----------------------
{
    my $size = 4 << 20;
    my $N = 60;
    # half whose head comes at once (the synchronous path starts the body),
    # half whose head comes after 200 ms (async from the start)
    NPAsync::reset_stats($sa);
    my @c = map { conn() } 1 .. $N;
    send_get($c[$_], "/a/big?ms=" . ($_ % 2 ? 200 : 0) . "&size=$size&id=sr$_") for 0 .. $N - 1;
    # all 60 at the backend: with threads blocked on client writes only 50 get there
    my $got = 0;
    my $took = wait_until(60, sub { $got = NPAsync::stats($sa)->{counts}{big} // 0; $got >= $N }, 0.1);
    ok t_cmp($got, $N, sprintf('%d non-reading clients: all %d requests reached the backend (%s)', $N, $N,
             defined $took ? sprintf('%.1f s', $took) : 'not within 60 s'));
    # a thread blocked writing to a client that reads nothing would hold it
    # for the 60 s Timeout: a 20 s client timeout tells the two apart
    my ($s, $ms) = NPAsync::timed_get($port, '/a/fast?id=sr-new', timeout => 20);
    ok t_cmp($s, 200,
             sprintf('%d non-reading clients (50 threads): a new request answered before any of them reads (%.0f ms)', $N, $ms));
    my $exact = 0;
    for my $i (0 .. $N - 1) {
        my $r = read_resp($c[$i], 60) || {};
        my $body = $r->{body} // '';
        $exact++ if ($r->{status} // 0) == 200 && length($body) == $size
                    && substr($body, 0, length "sr$i:") eq "sr$i:" && substr($body, length "sr$i:") !~ /[^x]/;
        close $c[$i]{sock};
    }
    ok t_cmp($exact, $N, "$N non-reading clients: then each read its 4 MiB, complete and exact");
    ok t_cmp($httpd->async_count(qr/id=sr\d+$/, $N, 30), $N, "$N non-reading clients: all waited without a thread");
    lap('non-reading clients');
}

# ---- a WebSocket after an async request on the same connection (4) -------------------------
{
    my $c = conn();
    send_get($c, '/a/slow?ms=200&id=w1');
    my $r = read_resp($c, 30) || {};
    ok t_cmp(($r->{status} // 0) . ':' . id_of($r), '200:w1', 'websocket after async: the async answer first');
    syswrite $c->{sock}, "GET /ws/chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" .
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    my $deadline = time + 30;
    fill($c, $deadline) while index($c->{buf}, "\r\n\r\n") < 0 && !$c->{eof} && time < $deadline;
    my ($st) = $c->{buf} =~ m{^HTTP/1\.1 (\d{3})};
    ok t_cmp($st // 0, 101, 'websocket after async: 101 on the same connection');
    $c->{buf} = substr $c->{buf}, index($c->{buf}, "\r\n\r\n") + 4;
    # the backend's hello, then our masked "ping-np" echoed back
    my $msg = 'ping-np';
    my $mask = pack 'N', 0x11223344;
    my $masked = $msg ^ substr($mask x 2, 0, length $msg);
    syswrite $c->{sock}, chr(0x81) . chr(0x80 | length $msg) . $mask . $masked;
    $deadline = time + 30;
    fill($c, $deadline) while index($c->{buf}, $msg) < 0 && !$c->{eof} && time < $deadline;
    ok t_cmp(index($c->{buf}, '"hello"') >= 0 ? 1 : 0, 1, 'websocket after async: the backend greeting arrived');
    ok t_cmp(index($c->{buf}, $msg) >= 0 ? 1 : 0, 1, 'websocket after async: a message echoed through the tunnel');
    close $c->{sock};
    lap('websocket');
}

# ---- 100 keep-alive connections x 3 requests held at a barrier (4) ------------------------------------
{
    # barrier=100: each request is held until 100 wait at the backend at
    # once (then all 100 go on); with fewer at once they end 504 after 60 s.
    # ms=1000: answered 1 s after the barrier opens, so the last ones to
    # reach it wait past NodeAsyncDelay too (with ms=0 they were answered
    # at once, on their thread: 252 of 300 async on a quiet machine)
    NPAsync::reset_stats($sa);
    my $r = NPAsync::load({ url => "http://127.0.0.1:$port/a/slow?gate=k&barrier=100&ms=1000&cap=60000&id=k{i}", n => 300,
                            per_conn => 3, check_id => 1, timeout_ms => 90000, hard_ms => 200000 });
    my %h = %$r; delete $h{records};
    t_debug('100x3: ' . $NPAsync::JSON->encode(\%h));
    ok t_cmp($r->{ok} // 0, 300, '100x3: all 300 answered with their own body, in 3 rounds of 100 held at once (' .
             $NPAsync::JSON->encode($r->{statuses} || {}) . ', errors ' . $NPAsync::JSON->encode($r->{errors} || {}) . ')');
    ok t_cmp(($r->{sockets} // 0) . ' ' . ($r->{conn_close} // -1), '100 0',
             '100x3: the client used 100 connections for the 300, none said Connection: close');
    ok t_cmp(NPAsync::stats($sa)->{passed}{k} // 0, 300,
             "100x3: the backend let all 300 through its barrier of 100 (wall $r->{wall_ms} ms)");
    my @l = $httpd->access_lines(qr/id=k\d+$/, 300, 30);
    my %cports = map { / cport=(\d+)$/ ? ($1 => 1) : () } @l;
    my $async = grep { / async=1 / } @l;
    ok t_cmp(scalar(@l) . ' lines, ' . scalar(keys %cports) . " connections, $async async", '300 lines, 100 connections, 300 async',
             '100x3: the server saw 100 connections, each request waiting without a thread');
    lap('100x3');
}

# ---- most threads waiting on Node: the rest suspend at once (4) ------------------------------
{
    # NodeAsyncDelay 60s: each held request would keep its thread, but once
    # three quarters of a child's 25 threads wait so, the others suspend
    my $N = 100;
    NPAsync::reset_stats($sa);
    my $bg = NPAsync::load_bg({ url => "http://127.0.0.1:$port/long/slow?gate=b&cap=100000&id=b{i}", n => $N,
                                check_id => 1, timeout_ms => 110000, hard_ms => 115000 });
    my $held = 0;
    my $took = NPAsync::wait_held($sa, 'b', $N, 50, \$held);
    ok t_cmp($held, $N, sprintf('threads scarce: all %d held by the backend at once (50 threads) (%s)', $N,
             defined $took ? sprintf('%.1f s', $took) : 'not within 50 s'));
    # with every thread waiting on Node this would wait for the gate
    my ($s, $ms) = NPAsync::timed_get($port, '/a/fast?id=b-new', timeout => 20);
    ok t_cmp($s, 200, sprintf('threads scarce: a new request answered while all %d are held (%.0f ms)', $N, $ms));
    NPAsync::release($sa, 'b');
    my $r = $bg->wait(115);
    my %h = %$r; delete $h{records};
    t_debug('threads scarce: ' . $NPAsync::JSON->encode(\%h));
    ok t_cmp($r->{ok} // 0, $N, "threads scarce: all $N answered with their own body");
    my @l = $httpd->access_lines(qr/id=b\d+$/, $N, 30);
    my $async = grep { / async=1 / } @l;
    my $sync = @l - $async;
    ok t_cmp($sync >= 1 && $sync <= 36 && $async + $sync == $N ? 1 : 0, 1,
             "threads scarce: $sync kept their thread (at most 3/4 of 2 x 25), $async waited without one");
    lap('threads scarce');
}

my @old;
# ---- a graceful restart closes connections idling in our keep-alive (6) ------------------------
{
    my @c = map { conn($gport) } 1 .. 20;
    send_get($c[$_], "/a/slow?ms=1000&id=g$_") for 0 .. $#c;
    my $ok = grep { my $r = read_resp($_, 30) || {}; ($r->{status} // 0) == 200 } @c;
    ok t_cmp($ok, 20, 'graceful: 20 async answers on the 30 s keep-alive port');
    ok t_cmp($httpd->async_count(qr/id=g\d+$/, 20, 30), 20, 'graceful: ... all 20 went async');
    sleep 0.3;
    my $open = grep { !$_->{sel}->can_read(0) } @c;
    ok t_cmp($open, 20, 'graceful: all 20 idle and open');
    # and 10 requests still waiting for Node (1.5 s) when the restart comes
    # and 10 requests held by the backend when the restart comes
    my @f = map { conn($gport) } 1 .. 10;
    send_get($f[$_], "/a/slow?gate=gf&cap=100000&id=gf$_") for 0 .. $#f;
    my $held = 0;
    NPAsync::wait_held($sa, 'gf', 10, 30, \$held);
    t_debug("graceful: $held of 10 held by the backend at the restart");
    @old = $httpd->children;
    my $t = time;
    kill 'USR1', $httpd->pid;
    my $closed = 0;
    for my $c (@c) { 1 while !$c->{eof} && fill($c, $t + 40); $closed++ if $c->{eof}; }
    my $took = time - $t;
    # the only other thing that closes them is their KeepAliveTimeout (30 s)
    ok t_cmp($closed == 20 && $took < 20 ? 1 : 0, 1,
             sprintf('graceful: the server closed all %d idle connections after %.2f s (< 20 s; KeepAliveTimeout 30)', $closed, $took));
    NPAsync::release($sa, 'gf');
    my @fin = map { my $r = read_resp($f[$_], 60) || {}; ($r->{status} // 0) . ':' . id_of($r) } 0 .. $#f;
    ok t_cmp(join(' ', @fin), join(' ', map { "200:gf$_" } 0 .. 9),
             'graceful: the 10 requests waiting without a thread across the restart are all answered');
    my $s = 0;
    wait_until(30, sub { ($s) = NPAsync::timed_get($gport, '/a/fast?id=after'); $s == 200 }, 0.2);
    ok t_cmp($s, 200, 'graceful: the new generation answers');
    lap('graceful');
}

# ---- afterwards (3) ----------------------------------------------------------------------------
{
    my ($s, $ms) = NPAsync::timed_get($port, '/a/slow?ms=100&id=end', timeout => 30);
    ok t_cmp($s, 200, sprintf('afterwards: an async request answers (%.0f ms)', $ms));
    my $log = do { open my $fh, '<', $httpd->error_log or die; local $/; <$fh> };
    my @bad = grep { /\[(crit|alert|emerg)\]|AH00052|segfault|child pid \d+ exit signal/ } split /\n/, $log;
    ok t_cmp(scalar(@bad), 0, 'no crash, no crit/alert in the error log' . (@bad ? ": $bad[0]" : ''));
    my @left;
    wait_until(30, sub { @left = grep { kill 0, $_ } @old; !@left }, 0.2);
    ok t_cmp(scalar(@left), 0, "the old generation's children (@old) have exited");
}

$httpd->stop;
$sa->stop;
$ws->stop;
lap('done');
