# NodeErrorOverride: a 4xx/5xx from Node is replaced by Apache's own error
# handling (ErrorDocument local and remote, the default page); an unlisted
# code and a non-error answer pass through; the backend body is dropped
# with the connection kept when it was read whole (reused by the next
# request), closed when it was not.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();

plan tests => 27, need_module('nodeproxy');

my $eo = NPBackend::start('eo', 'express.js', 29357);
my $port = vhost_port('np_errover');

sub get { http_req(port => $port, path => $_[0]) }
my $trace = qr/stack trace from eo/;

# --- replaced
{
    my $r = get('/fail/500');
    ok t_cmp($r->{status}, 500, 'Node 500: status kept');
    ok t_cmp($r->{body}, qr/np-errordoc-500/, 'Node 500: ErrorDocument 500 (local) replaces the body');
    ok t_cmp($r->{body} =~ $trace ? 1 : 0, 0, "Node 500: Node's stack trace never reaches the client");

    $r = get('/failchunked/500');
    ok t_cmp($r->{status}, 500, 'chunked Node 500: status kept');
    ok t_cmp($r->{body}, qr/np-errordoc-500/, 'chunked Node 500: ErrorDocument replaces it');

    $r = get('/fail/502');
    ok t_cmp($r->{status}, 302, 'Node 502 with a remote ErrorDocument: redirect');
    ok t_cmp(hdr($r, 'Location'), 'http://errors.example/bad-gateway', 'remote ErrorDocument: Location');

    $r = get('/fail/410');
    ok t_cmp($r->{status}, 410, 'Node 410 without ErrorDocument: status kept');
    ok t_cmp($r->{body} =~ $trace ? 1 : 0, 0, "Node 410: Apache's default page, not Node's body");

    $r = get('/fail/404');
    ok t_cmp($r->{status}, 404, 'Node 404: status kept');
    ok t_cmp($r->{body}, qr/np-errordoc-404/, 'Node 404: ErrorDocument 404');
}

# --- passes through
{
    my $r = get('/listed/fail/500');
    ok t_cmp($r->{body}, qr/np-errordoc-500/, 'listed code 500: replaced');
    $r = get('/listed/fail/404');
    ok t_cmp($r->{status}, 404, 'unlisted code 404: status');
    ok t_cmp($r->{body}, $trace, "unlisted code 404: Node's own body passes through");
    ok t_cmp(hdr($r, 'X-Backend'), 'eo', "unlisted code 404: Node's headers too");

    $r = get('/off/fail/500');
    ok t_cmp($r->{body}, $trace, 'NodeErrorOverride off in a Location: Node\'s 500 passes');

    $r = get('/whoami');
    my $j = json_body($r) || {};
    ok t_cmp($r->{status}, 200, 'a 200 is never touched');
    ok t_cmp($j->{name}, 'eo', 'a 200 keeps its body');
}

# --- the backend connection: reused after a complete error body, closed
# after one it did not read whole (one keep-alive client connection, so
# one httpd child and its pool)
{
    my $c = NPTest::Conn->new($port);
    my $w1 = json_body($c->request(path => '/whoami')) || {};
    my $mark = log_mark();
    my $e = $c->request(path => '/fail/404');
    ok t_cmp($e->{body}, qr/np-errordoc-404/, 'keep-alive: error replaced');
    my $w2 = json_body($c->request(path => '/whoami')) || {};
    ok t_cmp($c->reconnects, 0, 'keep-alive: one client connection throughout');
    ok t_cmp($w2->{port}, $w1->{port}, 'after a complete error body the same backend connection is reused');
    ok t_cmp($w2->{seq}, ($w1->{seq} // 0) + 2, '... and it carried the error response in between');
    ok t_cmp($w2->{conns}, $w1->{conns}, '... and Node accepted no new connection');
    my @l = wait_log($mark, qr/NP00350/, 5);
    ok t_cmp($l[0] // '', qr/answered 404.*read whole, connection kept/, 'log: body read whole, connection kept');

    $mark = log_mark();
    my $big = $c->request(path => '/failbig/404');
    ok t_cmp($big->{body}, qr/np-errordoc-404/, 'keep-alive: 2 MiB error body replaced');
    my $w3 = json_body($c->request(path => '/whoami')) || {};
    ok t_cmp($w3->{port} && $w3->{port} != $w2->{port} ? 1 : 0, 1,
             'an error body not read whole costs its connection (the next request uses another)');
    @l = wait_log($mark, qr/NP00350/, 5);
    ok t_cmp($l[0] // '', qr/answered 404.*not read whole, connection closed/, 'log: connection closed');
}
