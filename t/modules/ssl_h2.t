# TLS and HTTP/2: X-Forwarded-Proto https over TLS; requests over h2 (TLS,
# ALPN) and h2c (prior knowledge) are proxied (HTTP/1.1 to the backend).
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();

plan tests => 18, need_module('nodeproxy', 'ssl', 'http2');

my $echo = NPBackend::start('echo', 'echo.js', NPTest::ECHO_PORT);
my $sport = vhost_port('np_ssl');
my $cport = vhost_port('np_h2c');

# --- HTTP/1.1 over TLS
{
    my $r = curl_req('-k', '--http1.1', "https://localhost:$sport/echo/tls?q=1");
    my $j = json_body($r) || {};
    my $h = $j->{headers} || {};
    ok t_cmp($r->{code}, 200, 'TLS: 200');
    ok t_cmp(hdr($r, 'X-Backend'), 'echo', 'TLS: proxied to echo');
    ok t_cmp($j->{url}, '/tls?q=1', 'TLS: request-target');
    ok t_cmp($h->{'x-forwarded-proto'}, 'https', 'TLS: X-Forwarded-Proto https');
    ok t_cmp($h->{forwarded} // '', qr/proto=https/, 'TLS: Forwarded proto=https');
    ok t_cmp($h->{'x-forwarded-port'}, $sport, 'TLS: X-Forwarded-Port');
}

# --- HTTP/2 over TLS (ALPN h2)
{
    my $r = curl_req('-k', '--http2', "https://localhost:$sport/echo/h2?x=2");
    my $j = json_body($r) || {};
    ok t_cmp($r->{http_version}, '2', 'h2: the client spoke HTTP/2');
    ok t_cmp($r->{code}, 200, 'h2: 200');
    ok t_cmp(hdr($r, 'X-Backend'), 'echo', 'h2: proxied to echo');
    ok t_cmp($j->{url}, '/h2?x=2', 'h2: request-target');
    ok t_cmp($j->{httpVersion}, '1.1', 'h2: HTTP/1.1 towards the backend');
    ok t_cmp(($j->{headers} || {})->{'x-forwarded-proto'}, 'https', 'h2: X-Forwarded-Proto https');

    $r = curl_req('-k', '--http2', '--data-binary', 'hello h2 body', "https://localhost:$sport/echo/h2post");
    $j = json_body($r) || {};
    ok t_cmp($r->{code}, 200, 'h2 POST: 200');
    ok t_cmp($j->{body_length}, 13, 'h2 POST: body reached the backend');

    $r = curl_req('-k', '--http2', "https://localhost:$sport/echo/sse");
    ok t_cmp(scalar(() = $r->{body} =~ /^data: /mg), 5, 'h2: SSE stream relayed');
}

# --- h2c with prior knowledge
{
    my $r = curl_req('--http2-prior-knowledge', "http://localhost:$cport/echo/h2c");
    my $j = json_body($r) || {};
    ok t_cmp($r->{http_version}, '2', 'h2c: the client spoke HTTP/2');
    ok t_cmp(hdr($r, 'X-Backend'), 'echo', 'h2c: proxied to echo');
    ok t_cmp(($j->{headers} || {})->{'x-forwarded-proto'}, 'http', 'h2c: X-Forwarded-Proto http');
}
