# Header handling: hop-by-hop headers are not forwarded (either way),
# Host preservation on/off, reverse rewriting of Location and Set-Cookie Path.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();

plan tests => 38, need_module('nodeproxy');

my $echo = NPBackend::start('echo', 'echo.js', NPTest::ECHO_PORT);
my $port = port();
my $hp   = hostport();

# --- hop-by-hop request headers
{
    my $r = http_req(path => '/echo/hop', headers => [
        'Connection'          => 'close, X-Custom-Hop',
        'X-Custom-Hop'        => '1',
        'Keep-Alive'          => 'timeout=5, max=100',
        'TE'                  => 'trailers',
        'Trailer'             => 'X-Trailer',
        'Upgrade'             => 'foo/1',
        'Proxy-Connection'    => 'keep-alive',
        'Proxy-Authorization' => 'Basic Zm9vOmJhcg==',
        'X-End-To-End'        => 'yes',
    ]);
    my $j = json_body($r) || {};
    my $h = $j->{headers} || {};
    ok t_cmp($r->{status}, 200, 'hop-by-hop request: status');
    for my $n (qw(x-custom-hop keep-alive te trailer upgrade proxy-connection proxy-authorization)) {
        ok t_cmp($h->{$n}, undef, "hop-by-hop request header $n not forwarded");
    }
    ok t_cmp(($h->{connection} // '') !~ /x-custom-hop|close/i ? 1 : 0, 1,
             "client's Connection not forwarded (backend saw: " . ($h->{connection} // 'none') . ")");
    ok t_cmp($h->{'x-end-to-end'}, 'yes', 'end-to-end header forwarded');
}

# --- Connection naming several headers, multiple Connection headers
{
    my $r = http_req(path => '/echo/hop2', headers => [
        'Connection' => 'X-A',
        'Connection' => 'x-b , close',
        'X-A' => 'a', 'X-B' => 'b', 'X-C' => 'c',
    ]);
    my $h = (json_body($r) || {})->{headers} || {};
    ok t_cmp($h->{'x-a'}, undef, 'header named in first Connection not forwarded');
    ok t_cmp($h->{'x-b'}, undef, 'header named in second Connection not forwarded');
    ok t_cmp($h->{'x-c'}, 'c', 'other header forwarded');
}

# --- request framing headers are redone, not copied
{
    my $r = http_req(path => '/echo/body', method => 'POST', body => 'hello');
    my $j = json_body($r) || {};
    ok t_cmp($j->{body_length}, 5, 'POST body forwarded');
}

# --- hop-by-hop response headers (Node sends Connection/Keep-Alive)
{
    my $r = http_req(path => '/echo/resp', keepalive => 1, timeout => 3);
    ok t_cmp($r->{status}, 200, 'response: status');
    ok t_cmp(hdr($r, 'Keep-Alive') // '', qr/^(|timeout=\d+, max=\d+)$/,
             "backend's Keep-Alive: timeout=5 not relayed");
    ok t_cmp(hdr($r, 'X-Backend'), 'echo', 'response: X-Backend relayed');
}

# --- Host: preserved by default, backend's own with preservehost=off
{
    my $r = http_req(path => '/echo/host', host => "example.test:$port");
    my $h = (json_body($r) || {})->{headers} || {};
    ok t_cmp($h->{host}, "example.test:$port", 'preservehost on (default): client Host');
    ok t_cmp($h->{'x-forwarded-host'}, "example.test:$port", 'X-Forwarded-Host is the client Host');

    $r = http_req(path => '/nohost/host', host => "example.test:$port");
    $h = (json_body($r) || {})->{headers} || {};
    ok t_cmp($h->{host}, '127.0.0.1:29101', 'preservehost=off: the target host');
    ok t_cmp($h->{'x-forwarded-host'}, "example.test:$port", 'preservehost=off: X-Forwarded-Host still the client Host');
}

# --- reverse=on rewrites Location pointing at the target
sub location_for {
    my ($path, $to) = @_;
    (my $q = $to) =~ s/([^A-Za-z0-9\-._~\/:])/sprintf('%%%02X', ord $1)/ge;
    my $r = http_req(path => "$path?to=$q");
    return ($r->{status}, hdr($r, 'Location'));
}
{
    my ($st, $loc) = location_for('/echo/redirect', 'http://127.0.0.1:29101/x');
    ok t_cmp($st, 302, 'redirect status relayed');
    ok t_cmp($loc, "http://$hp/echo/x", 'Location to the target rewritten to the client-facing URL');

    ($st, $loc) = location_for('/echo/redirect', 'http://127.0.0.1:29101/x/y?q=1');
    ok t_cmp($loc, "http://$hp/echo/x/y?q=1", 'Location with path and query rewritten');

    ($st, $loc) = location_for('/pfx/redirect', 'http://127.0.0.1:29101/base/x');
    ok t_cmp($loc, "http://$hp/pfx/x", 'Location under a replaced prefix rewritten');

    ($st, $loc) = location_for('/echo/redirect', 'http://elsewhere.example/x');
    ok t_cmp($loc, 'http://elsewhere.example/x', 'foreign Location untouched');

    ($st, $loc) = location_for('/norev/redirect', 'http://127.0.0.1:29101/x');
    ok t_cmp($loc, 'http://127.0.0.1:29101/x', 'reverse=off: Location untouched');
}

# --- Set-Cookie Path re-prefixed
sub cookies {
    my $r = http_req(path => shift);
    my %c;
    for (hdrs($r, 'Set-Cookie')) {
        my ($name) = /^\s*([^=;]+)=/;
        my ($path) = /;\s*Path=([^;]*)/i;
        $c{$name} = $path if defined $name;
    }
    return \%c;
}
{
    my $c = cookies('/echo/cookie');
    ok t_cmp($c->{a}, qr{^/echo/?$}, 'Set-Cookie Path=/ becomes the mapped path');
    ok t_cmp($c->{b}, '/echo/sub', 'Set-Cookie Path=/sub becomes /echo/sub');

    $c = cookies('/pfx/cookie?root=/base&p=/base/sub');
    ok t_cmp($c->{a}, '/pfx', 'Set-Cookie Path=/base becomes /pfx');
    ok t_cmp($c->{b}, '/pfx/sub', 'Set-Cookie Path=/base/sub becomes /pfx/sub');

    $c = cookies('/norev/cookie');
    ok t_cmp($c->{a}, '/', 'reverse=off: Set-Cookie Path=/ untouched');
    ok t_cmp($c->{b}, '/sub', 'reverse=off: Set-Cookie Path=/sub untouched');
}

# --- other statuses relayed as they are
{
    my $r = http_req(path => '/echo/status/404');
    ok t_cmp($r->{status}, 404, 'backend 404 relayed');
    ok t_cmp(hdr($r, 'X-Backend'), 'echo', 'backend 404 body from the backend');
    $r = http_req(path => '/echo/status/204');
    ok t_cmp($r->{status}, 204, 'backend 204 relayed');
    $r = http_req(path => '/echo/status/500');
    ok t_cmp($r->{status}, 500, 'backend 500 relayed');
    ok t_cmp(hdr($r, 'X-Backend'), 'echo', 'backend 500 from the backend');
}
