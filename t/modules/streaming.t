# Streaming: SSE events are passed on at once; a 256 MiB download and a
# 64 MiB chunked upload go through in constant memory (httpd RSS growth,
# parent + children, sampled during the transfer, < 48 MiB).
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Digest::SHA ();
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();

plan tests => 17, need_module('nodeproxy');

my $echo = NPBackend::start('echo', 'echo.js', NPTest::ECHO_PORT);
my $port = port();
my $limit_kib = 48 * 1024;

# --- Server-Sent Events: first event within 500 ms
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5)
        or die "connect: $!";
    $s->autoflush(1);
    my $t0 = time;
    print $s "GET /echo/sse HTTP/1.1\r\nHost: " . hostport() . "\r\nAccept: text/event-stream\r\n" .
             "Connection: close\r\n\r\n";
    my $sel = IO::Select->new($s);
    my ($buf, $first, $last_t) = ('', undef, undef);
    my @times;
    while (time - $t0 < 10) {
        last unless $sel->can_read(5);
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
        my $events = () = $buf =~ /^data: /mg;
        push @times, time - $t0 while @times < $events;
        last if $events >= 5 && $buf =~ /\r\n0\r\n\r\n$|event 5[^\n]*\n\n/;
    }
    close $s;
    my $r = parse_response($buf);
    ok t_cmp($r->{status}, 200, 'SSE: 200');
    ok t_cmp(hdr($r, 'Content-Type'), qr{^text/event-stream}, 'SSE: content type');
    ok t_cmp(defined $times[0] && $times[0] < 0.5 ? 1 : 0, 1,
             sprintf('SSE: first event after %.3f s (< 0.5 s)', $times[0] // -1));
    ok t_cmp(scalar(@times), 5, 'SSE: all 5 events arrived');
    # events are sent 200 ms apart: they must arrive spread out, not at once
    ok t_cmp(@times == 5 && $times[4] - $times[0] > 0.5 ? 1 : 0, 1,
             'SSE: events arrive as they are sent (' .
             join(', ', map { sprintf '%.2f', $_ } @times) . ')');
}

# --- a chunked backend response is relayed whole
{
    my $r = http_req(path => '/echo/chunked', keepalive => 1, timeout => 3);
    ok t_cmp($r->{status}, 200, 'chunked response: 200');
    ok t_cmp($r->{body}, "chunk-one\nchunk-two\nchunk-three\n", 'chunked response: body');
}

# --- Expect: 100-continue (curl's default for a large body)
{
    my $file = t_path('logs', "expect-$$.bin");
    open my $fh, '>', $file or die; binmode $fh;
    print $fh 'e' x (2 * 1024 * 1024); close $fh;
    my $r = curl_req('--max-time', '30', '-H', 'Expect: 100-continue', '--data-binary', "\@$file",
                     "http://127.0.0.1:$port/echo/expect");
    unlink $file;
    my $j = json_body($r) || {};
    ok t_cmp($r->{code}, 200, 'Expect: 100-continue upload: 200');
    ok t_cmp($j->{body_length}, 2 * 1024 * 1024, 'Expect: 100-continue upload: body complete');
}

sub sample_peak {
    my ($peak, $base) = @_;
    my $now = httpd_rss_kib();
    return $now > $peak ? $now : $peak;
}

# --- 256 MiB download
{
    my $bytes = 256 * 1024 * 1024;
    my $before = httpd_rss_kib();
    my $peak = $before;
    open my $fh, '-|', 'curl', '-s', '--max-time', '300',
        "http://127.0.0.1:$port/echo/big?bytes=$bytes" or die "curl: $!";
    binmode $fh;
    my $sha = Digest::SHA->new(256);
    my ($got, $next) = (0, 0);
    while (1) {
        my $n = read($fh, my $buf, 1 << 20);
        last unless $n;
        $got += $n;
        $sha->add($buf);
        if ($got >= $next) { $peak = sample_peak($peak); $next += 8 << 20; }
    }
    close $fh;
    my $rc = $? >> 8;
    my $after = httpd_rss_kib();
    $peak = $after if $after > $peak;
    ok t_cmp($rc, 0, 'download: curl exit 0');
    ok t_cmp($got, $bytes, 'download: 256 MiB received');
    ok t_cmp($sha->hexdigest, pattern_sha256($bytes), 'download: content intact');
    my $growth = $peak - $before;
    ok t_cmp($growth < $limit_kib ? 1 : 0, 1,
             sprintf('download: httpd RSS %d KiB before, peak %d KiB, after %d KiB: growth %d KiB < %d KiB',
                     $before, $peak, $after, $growth, $limit_kib));
}

# --- 64 MiB chunked upload (curl -T - sends Transfer-Encoding: chunked)
{
    my $bytes = 64 * 1024 * 1024;
    my $out = t_path('logs', "upload-$$.json");
    my $before = httpd_rss_kib();
    my $peak = $before;
    open my $fh, '|-', 'curl', '-s', '--max-time', '300', '-X', 'POST', '-T', '-',
        '-H', 'Expect:', '-H', 'Content-Type: application/octet-stream', '-o', $out,
        "http://127.0.0.1:$port/echo/upload" or die "curl: $!";
    binmode $fh;
    my $block = join '', map { chr(($_ * 31 + 7) & 0xff) } 0 .. 65535;
    for my $i (1 .. $bytes / 65536) {
        print $fh $block or last;
        $peak = sample_peak($peak) if $i % 128 == 0;
    }
    close $fh;
    my $rc = $? >> 8;
    my $after = httpd_rss_kib();
    $peak = $after if $after > $peak;
    open my $in, '<', $out;
    my $j = json_body({ body => do { local $/; <$in> // '' } }) || {};
    unlink $out;
    ok t_cmp($rc, 0, 'upload: curl exit 0');
    ok t_cmp($j->{body_length}, $bytes, 'upload: 64 MiB reached the backend');
    ok t_cmp($j->{body_sha256}, pattern_sha256($bytes), 'upload: content intact');
    my $growth = $peak - $before;
    ok t_cmp($growth < $limit_kib ? 1 : 0, 1,
             sprintf('upload: httpd RSS %d KiB before, peak %d KiB, after %d KiB: growth %d KiB < %d KiB',
                     $before, $peak, $after, $growth, $limit_kib));
}
