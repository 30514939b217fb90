# NodeNextRequestWait: after a response the worker waits a moment for the
# client's next request on the same connection (so that the event MPM serves
# it on the same thread), and stops waiting for a client that does not come
# back in time. Through a DEDICATED httpd (1 x 25 threads, t/lib/NPAsync.pm)
# with NodeNextRequestWait 400ms (long, to be measurable) on one port and
# off on another; backend t/backends/slow.js. The wait shows in the access
# log's %D (microseconds from the request to its log line, which comes after
# the wait):
#  - the response reaches the client at once, not after the wait;
#  - a client that idles between requests: its first two requests are
#    waited on (%D >= 400 ms), the next ones are not (%D < 350 ms);
#  - a client that sends its next request as soon as it has the answer:
#    no request is waited on for long (%D < 350 ms) and all are answered;
#  - a client that comes back after 100 ms each time: every request is
#    waited on, not only every other one (the MPM's "pipelined input" flag
#    still describes the previous request while the handler runs);
#  - three requests pipelined in one write: none waits (they are in
#    httpd's buffer, not in the socket);
#  - while more than three quarters of the child's threads are in the
#    module's handler (19 of 25 held by NodeAsyncDelay off), nobody is waited
#    on: the MPM may need the thread for another connection (with 12 held,
#    still waited on);
#  - NodeNextRequestWait off: never waited on.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Socket::INET ();
use IO::Select ();
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPAsync ();

plan tests => 17, need_module('nodeproxy');

my ($port, $oport, $bport) = NPAsync::free_ports(3);
my $sa = NPAsync::backend('nx', $bport);
my $httpd = NPAsync::Httpd->start(tag => 'next', port => $port, extra_listen => [$oport], servers => 1, conf => <<"EOC");
CustomLog "\@DIR\@/timing_log" "%{remote}p %D \\"%r\\""
NodeNextRequestWait 400ms
NodeProxyPass /a/ http://127.0.0.1:$bport/
<Location /hold/>
    NodeAsyncDelay off
</Location>
NodeProxyPass /hold/ http://127.0.0.1:$bport/
<VirtualHost 127.0.0.1:$oport>
    CustomLog "\@DIR\@/timing_log" "%{remote}p %D \\"%r\\""
    NodeNextRequestWait off
    NodeProxyPass /a/ http://127.0.0.1:$bport/
</VirtualHost>
EOC
my $tlog = $httpd->dir . '/timing_log';
truncate $tlog, 0 if -e $tlog;   # an earlier run's lines

sub conn {
    my $p = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p, Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    binmode $s;
    $s->autoflush(1);
    return $s;
}
# GET on $s, read one Content-Length response: (status, seconds taken)
sub get {
    my ($s, $path) = @_;
    my $t = time;
    syswrite $s, "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my $buf = '';
    my $sel = IO::Select->new($s);
    while (1) {
        my $end = index $buf, "\r\n\r\n";
        if ($end >= 0 && $buf =~ /Content-Length:\s*(\d+)/i && length($buf) >= $end + 4 + $1) {
            last;
        }
        last unless $sel->can_read(5);
        my $n = sysread $s, my $chunk, 65536;
        last unless $n;
        $buf .= $chunk;
    }
    my ($st) = $buf =~ m{^HTTP/1\.1 (\d{3})};
    return ($st // 0, time - $t);
}
# %D (ms) of the requests whose target matches $re, in log order
sub timings {
    my ($re, $want) = @_;
    my @d;
    wait_until(5, sub {
        open my $fh, '<', $tlog or return 0;
        @d = ();
        for (<$fh>) {
            my ($us, $target) = /^\d+ (\d+) "GET (\S+)/ or next;
            push @d, int($us / 1000) if $target =~ $re;
        }
        @d >= $want;
    }, 0.1);
    return @d;
}

# ---- a client that idles between requests (4) ---------------------------------------------
{
    my $s = conn($port);
    my @took;
    for my $i (1 .. 4) {
        my ($st, $dt) = get($s, "/a/fast?id=idle$i");
        push @took, $dt;
        sleep 0.8;
    }
    close $s;
    ok t_cmp((grep { $_ < 0.35 } @took) == 4 ? 1 : 0, 1,
             'idle client: every answer arrived at once (' . join(', ', map { sprintf '%.0f ms', $_ * 1000 } @took) . ')');
    my @d = timings(qr/id=idle\d$/, 4);
    t_debug("idle client: %D ms @d");
    ok t_cmp(scalar(@d), 4, 'idle client: four log lines');
    ok t_cmp(($d[0] // 0) >= 390 && ($d[1] // 0) >= 390 ? 1 : 0, 1,
             "idle client: the first two were waited on ($d[0], $d[1] ms >= 400)");
    ok t_cmp(($d[2] // 1e9) < 350 && ($d[3] // 1e9) < 350 ? 1 : 0, 1,
             "idle client: then no more waiting ($d[2], $d[3] ms)");
}

# ---- a client that comes straight back (2) -------------------------------------------------
{
    my $s = conn($port);
    my $ok = 0;
    for my $i (1 .. 20) {
        my ($st) = get($s, "/a/fast?id=loop$i");
        $ok++ if $st == 200;
    }
    close $s;
    ok t_cmp($ok, 20, 'looping client: 20 answers on one connection');
    my @d = timings(qr/id=loop\d+$/, 20);
    my @slow = grep { $_ >= 350 } @d[0 .. 18];
    t_debug("looping client: %D ms @d");
    ok t_cmp(scalar(@slow), 0, 'looping client: none of the first 19 waited long (its next request came at once)');
}

# ---- a client that comes back after 100 ms (2) ---------------------------------------------
{
    my $s = conn($port);
    my $ok = 0;
    for my $i (1 .. 6) {
        my ($st) = get($s, "/a/fast?id=gap$i");
        $ok++ if $st == 200;
        sleep 0.1;
    }
    close $s;
    ok t_cmp($ok, 6, 'client back after 100 ms: 6 answers');
    my @d = timings(qr/id=gap\d$/, 6);
    t_debug("client back after 100 ms: %D ms @d");
    # each of the first five waited for the next request (about 100 ms)
    my @short = grep { $_ < 80 } @d[0 .. 4];
    ok t_cmp(scalar(@short), 0, "client back after 100 ms: each of the first five was waited on (@d[0 .. 4] ms)");
}

# ---- three requests pipelined in one write (2) ----------------------------------------------
{
    my $s = conn($port);
    my $t = time;
    syswrite $s, join '', map { "GET /a/fast?id=pipe$_ HTTP/1.1\r\nHost: localhost\r\n\r\n" } 1 .. 3;
    my ($buf, $got) = ('', 0);
    my $sel = IO::Select->new($s);
    while ($got < 3 && $sel->can_read(5)) {
        my $n = sysread $s, my $chunk, 65536;
        last unless $n;
        $buf .= $chunk;
        while ((my $end = index $buf, "\r\n\r\n") >= 0) {
            my ($len) = substr($buf, 0, $end) =~ /Content-Length:\s*(\d+)/i;
            last unless defined $len && length($buf) >= $end + 4 + $len;
            $got++ if $buf =~ m{^HTTP/1\.1 200};
            substr($buf, 0, $end + 4 + $len) = '';
        }
    }
    my $took = time - $t;
    close $s;
    ok t_cmp($got, 3, 'pipelined: three answers');
    ok t_cmp($took < 0.3 ? 1 : 0, 1, sprintf('pipelined: all three within 300 ms (%.0f ms; the wait is 400 ms)', $took * 1000));
}

# ---- threads scarce: 12, then 19 of the 25 threads held (4) ---------------------------------
{
    my @hold;
    my $hold = sub {
        for (1 .. shift) {
            my $h = conn($port);
            syswrite $h, "GET /hold/slow?ms=4000&id=hold HTTP/1.1\r\nHost: localhost\r\n\r\n";
            push @hold, $h;
        }
        sleep 0.5;                               # they are all in the handler now
    };
    my $one = sub {
        my $id = shift;
        my $s = conn($port);
        my ($st) = get($s, "/a/fast?id=$id");
        sleep 0.6;                               # waited on (400 ms) if there are threads to spare
        close $s;
        my @d = timings(qr/id=$id$/, 1);
        return ($st, $d[0] // -1);
    };
    $hold->(12);
    my ($st0, $d0) = $one->('busy0');
    $hold->(7);
    my ($st1, $d1) = $one->('busy1');
    ok t_cmp("$st0 $st1", '200 200', 'threads scarce: answered');
    ok t_cmp($d0 >= 390 ? 1 : 0, 1, "12 of 25 threads held: still waited on (%D $d0 ms)");
    ok t_cmp($d1 >= 0 && $d1 < 350 ? 1 : 0, 1, "19 of 25 threads held: not waited on (%D $d1 ms; the wait is 400 ms)");
    my $ok = 0;
    for my $h (@hold) {
        my $sel = IO::Select->new($h);
        my $buf = '';
        while ($buf !~ /\r\n\r\n/ && $sel->can_read(8)) {
            my $n = sysread $h, my $chunk, 65536;
            last unless $n;
            $buf .= $chunk;
        }
        $ok++ if $buf =~ m{^HTTP/1\.1 200};
        close $h;
    }
    ok t_cmp($ok, 19, 'threads scarce: the 19 held requests answered');
}

# ---- NodeNextRequestWait off (2) -----------------------------------------------------------
{
    my $s = conn($oport);
    my @st;
    for my $i (1 .. 2) {
        my ($st) = get($s, "/a/fast?id=off$i");
        push @st, $st;
        sleep 0.8;
    }
    close $s;
    ok t_cmp("@st", '200 200', 'off: two answers');
    my @d = timings(qr/id=off\d$/, 2);
    ok t_cmp(($d[0] // 1e9) < 350 && ($d[1] // 1e9) < 350 ? 1 : 0, 1, "off: never waited on (@d ms)");
}

# ---- nothing broke (1) ----------------------------------------------------------------------
{
    my $log = do { open my $fh, '<', $httpd->error_log or die; local $/; <$fh> };
    my @bad = grep { /\[(crit|alert|emerg)\]|segfault|exit signal/ } split /\n/, $log;
    ok t_cmp(scalar(@bad), 0, 'no crash in the error log' . (@bad ? ": $bad[0]" : ''));
}

$httpd->stop;
$sa->stop;
