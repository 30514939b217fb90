# Backend keep-alive: requests spaced 1.1 s apart to a Node backend whose
# keepAliveTimeout is 1 s (it closes idle pooled connections just before
# the proxy reuses them): every request must succeed. GET and POST alternate
# (a POST may only be re-sent when nothing of it had been sent yet).
# Takes about 14 s.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(sleep time);
use NPTest qw(:all);
use NPBackend ();

my $n = 12;
plan tests => 4, need_module('nodeproxy');

my $ka = NPBackend::start('ka', 'echo.js', NPTest::KA_PORT, keepalive => 1000);

# one client connection (Apache's KeepAliveTimeout is 5 s): every request
# goes to the same httpd child, hence to the same backend connection pool
my $conn = NPTest::Conn->new(port());
my @errors;
my $fresh = 0;
for my $i (1 .. $n) {
    my $post = $i % 2 == 0;
    my $body = "request $i " . ('x' x 100);
    my $r = $conn->request(path => "/ka/req$i", $post ? (method => 'POST', body => $body) : (),
                           timeout => 10);
    my $j = json_body($r) || {};
    my $ok = $r->{status} == 200 && (hdr($r, 'X-Backend') // '') eq 'ka'
          && ($j->{url} // '') eq "/req$i"
          && (!$post || ($j->{body_length} // -1) == length $body);
    push @errors, sprintf('request %d (%s): status %s, backend %s, url %s, body_length %s',
                          $i, $post ? 'POST' : 'GET', $r->{status}, hdr($r, 'X-Backend') // '-',
                          $j->{url} // '-', $j->{body_length} // '-')
        unless $ok;
    $fresh++ if (($j->{conn} || {})->{seq} // 0) == 1;
    sleep 1.1 if $i < $n;
}
t_debug($_) for @errors;
t_debug('client reconnects: ' . $conn->reconnects .
        ", requests on a fresh backend connection: $fresh of $n");
ok t_cmp(scalar(@errors), 0, "$n requests 1.1 s apart to a backend with keepAliveTimeout 1 s: no errors");
# precondition of the test: the backend did close every idle connection
# before the next request came (so each pooled connection was stale)
ok t_cmp($fresh >= $n - 1 ? 1 : 0, 1,
         "test precondition: the backend closed its idle connections ($fresh of $n requests on a fresh connection)");

# a quick burst over one client connection: no errors, and the backend
# connection is reused (kept alive in the pool)
my ($fails, $reused) = (0, 0);
for my $i (1 .. 20) {
    my $r = $conn->request(path => "/ka/burst$i");
    $fails++ unless $r->{status} == 200;
    my $j = json_body($r) || {};
    $reused++ if (($j->{conn} || {})->{seq} // 0) > 1;
}
ok t_cmp($fails, 0, '20 back-to-back requests: no errors');
ok t_cmp($reused > 0 ? 1 : 0, 1, "backend connections are kept alive and reused ($reused of 20 on a reused connection)");
