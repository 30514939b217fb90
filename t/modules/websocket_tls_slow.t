# A wss client that stops reading holds nothing up. Through a DEDICATED
# httpd of ONE child (25 threads, t/lib/NPAsync.pm), so that every tunnel
# shares that child's reactor thread, with Timeout 20; backend
# t/backends/ws.js (echo):
#  - client A opens a wss tunnel, sends 200 messages of 60,000 bytes and
#    reads nothing: their echoes pile up (the socket buffers fill, then the
#    proxy stops reading the backend);
#  - meanwhile client B's wss echo through the same child comes back within
#    1 s (a blocking write to A on the reactor thread would hold B for up to
#    Timeout), and so does a plain ws echo;
#  - then A reads: every echoed byte arrives, nothing lost;
#  - A closes while more echoes wait for it; the tunnel ends, the child stays.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Select ();
use IO::Socket::SSL ();   # libio-socket-ssl-perl, installed by scripts/test.sh
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPAsync ();
use NPWs ();

plan tests => 8, need_module('nodeproxy', 'ssl');

my ($port, $tport, $wport) = NPAsync::free_ports(3);
my $ws = NPBackend::start('tlsws', 'ws.js', $wport);
my $ssl = Apache::Test::vars('t_conf') . '/np-ssl';
my $httpd = NPAsync::Httpd->start(tag => 'wss-slow', port => $port, extra_listen => [$tport], ssl => 1,
                                  servers => 1, conf => <<"EOC");
Timeout 20
NodeProxyPass /ws/ http://127.0.0.1:$wport/
<VirtualHost 127.0.0.1:$tport>
    SSLEngine on
    SSLCertificateFile $ssl/server.crt
    SSLCertificateKeyFile $ssl/server.key
    Protocols http/1.1
    NodeProxyPass /ws/ http://127.0.0.1:$wport/
</VirtualHost>
EOC
t_debug('dedicated httpd pid ' . $httpd->pid . ", child(ren) " . join(',', $httpd->children) . ", TLS port $tport");

# ---- client A: wss, writes, never reads --------------------------------------------------
my $a = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $tport, SSL_verify_mode => 0, Timeout => 5)
    or die 'wss connect: ' . IO::Socket::SSL::errstr();
binmode $a;
print $a "GET /ws/slow-reader HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" .
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
my $head = '';
while ($head !~ /\r\n\r\n/) {
    my $n = sysread $a, my $chunk, 1;   # byte by byte: leave the frames unread
    last unless $n;
    $head .= $chunk;
}
ok t_cmp(($head =~ m{^HTTP/1\.1 (\d{3})})[0] // 0, 101, 'A: wss tunnel open (101)');

my ($N, $SIZE) = (200, 60000);
my $mask = pack 'N', 0x5a5a5a5a;
my $payload = 'y' x $SIZE;
my $frame = chr(0x82) . chr(0x80 | 126) . pack('n', $SIZE) . $mask . ($payload ^ substr($mask x ($SIZE / 4 + 1), 0, $SIZE));
# write without reading; the proxy reads A and the backend reads the proxy,
# so these writes go through even though nothing comes back out
$a->blocking(0);
my $out = $frame x $N;
my $deadline = time + 20;
while (length $out && time < $deadline) {
    my $w = syswrite $a, $out, 65536;
    if (defined $w && $w > 0) { substr($out, 0, $w) = ''; next; }
    sleep 0.01;
}
ok t_cmp(length $out, 0, "A: sent $N messages of $SIZE bytes without reading one echo");
sleep 1;   # the echoes pile up between the backend, the proxy and A

# ---- B: another wss tunnel, and a plain one, through the same child ------------------------
my $b = NPWs::run({ op => 'echo', url => "wss://127.0.0.1:$tport/ws/b",
                    messages => [{ type => 'text', size => 100, count => 3 }], timeout => 10000 }, 15);
t_debug('B: ' . $NPAsync::JSON->encode($b));
my $bms = $b->{ms} // 1e9;
ok t_cmp(($b->{all_ok} ? 1 : 0) . ' ' . ($bms < 5000 ? 'fast' : "slow ($bms ms)"), '1 fast',
         "B (wss, same child): open + 3 echoes in $bms ms while A reads nothing");
my $p = NPWs::run({ op => 'echo', url => "ws://127.0.0.1:$port/ws/p",
                    messages => [{ type => 'text', size => 100, count => 3 }], timeout => 10000 }, 15);
ok t_cmp(($p->{all_ok} ? 1 : 0) . ' ' . (($p->{ms} // 1e9) < 5000 ? 'fast' : 'slow'), '1 fast',
         'plain ws, same child: open + 3 echoes in ' . ($p->{ms} // '-') . ' ms');
my @kids = $httpd->children;
ok t_cmp(scalar(@kids), 1, 'one child: A, B and the plain tunnel shared its reactor');

# ---- A reads now: everything arrives ---------------------------------------------------------
$a->blocking(1);
my $sel = IO::Select->new($a);
my $got = 0;
my $want = $N * ($SIZE + 4);   # each echo: 4-byte header (126 + 16-bit length)
$deadline = time + 30;
while ($got < $want && time < $deadline) {
    last unless $a->pending || $sel->can_read(5);
    my $n = sysread $a, my $chunk, 262144;
    last unless $n;
    $got += $n;
}
t_debug("A: read $got bytes (want at least $want after the hello)");
ok t_cmp($got >= $want ? 1 : 0, 1, "A: then read every echo ($got bytes >= $want)");

# ---- A leaves with echoes still waiting for it ------------------------------------------------
$a->blocking(0);
$out = $frame x 50;
$deadline = time + 10;
while (length $out && time < $deadline) {
    my $w = syswrite $a, $out, 65536;
    if (defined $w && $w > 0) { substr($out, 0, $w) = ''; next; }
    sleep 0.01;
}
close $a;
my $q = NPWs::run({ op => 'echo', url => "wss://127.0.0.1:$tport/ws/q",
                    messages => [{ type => 'text', size => 100, count => 1 }], timeout => 10000 }, 15);
ok t_cmp(($q->{all_ok} ? 1 : 0) . ' ' . (($q->{ms} // 1e9) < 5000 ? 'fast' : 'slow'), '1 fast',
         'after A left mid-flow: a new wss echo in ' . ($q->{ms} // '-') . ' ms');
my $log = do { open my $fh, '<', $httpd->error_log or die; local $/; <$fh> };
my @bad = grep { /\[(crit|alert|emerg)\]|segfault|exit signal/ } split /\n/, $log;
ok t_cmp(scalar(@bad), 0, 'no crash in the error log' . (@bad ? ": $bad[0]" : ''));

$httpd->stop;
$ws->stop;
