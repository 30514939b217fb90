# Mapping: longest prefix, '!' exclusions, /api vs /apiary, prefix
# replacement, query strings, dot-segments, the <Location> form, unix sockets.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();

plan tests => 85, need_module('nodeproxy');

my $echo  = NPBackend::start('echo',  'echo.js', NPTest::ECHO_PORT);
my $echo2 = NPBackend::start('echo2', 'echo.js', NPTest::ECHO2_PORT);
my $sock  = NPBackend::start('sock',  'echo.js', Apache::Test::vars('np_sock'));

# proxied($path, $backend, $url): the request reaches $backend as $url
sub proxied {
    my ($path, $backend, $url, $what) = @_;
    my $r = http_req(path => $path);
    my $j = json_body($r) || {};
    ok t_cmp($r->{status}, 200, "$what: status for $path");
    ok t_cmp(hdr($r, 'X-Backend'), $backend, "$what: backend for $path");
    ok t_cmp($j->{url}, $url, "$what: backend request-target for $path");
}

# not_proxied($path, $status): Apache answers itself
sub not_proxied {
    my ($path, $status, $what) = @_;
    my $r = http_req(path => $path);
    ok t_cmp(hdr($r, 'X-Backend'), undef, "$what: $path must not reach a backend");
    ok t_cmp($r->{status}, $status, "$what: status for $path");
    return $r;
}

# plain mapping, query unchanged
proxied('/echo/x?y=1', 'echo', '/x?y=1', 'basic');
proxied('/echo/', 'echo', '/', 'basic, the prefix itself');

# '!' exclusion, declared after the broader mapping
{
    my $r = not_proxied('/echo/static/hello.txt', 200, 'exclusion');
    ok t_cmp($r->{body}, qr/served by Apache itself/, 'exclusion: file from htdocs');
}
proxied('/echo/staticx', 'echo', '/staticx', 'exclusion is a path prefix, not a string prefix');

# longest prefix wins whatever the order (/lp/, /lp/a/b/, /lp/a/, /lp/a/b/excluded/ !)
proxied('/lp/q', 'echo', '/lp-short/q', 'longest prefix: /lp/');
proxied('/lp/a/q', 'echo2', '/lp-mid/q', 'longest prefix: /lp/a/');
proxied('/lp/a/b/q', 'echo2', '/lp-long/q', 'longest prefix: /lp/a/b/');
proxied('/lp/a/bq', 'echo2', '/lp-mid/bq', 'longest prefix: /lp/a/b/ is not a string prefix');
not_proxied('/lp/a/b/excluded/file.txt', 200, 'longest prefix: ! wins when longer');

# /api matches /api and /api/..., not /apiary
proxied('/api', 'echo', '/apiroot', '/api itself');
proxied('/api/x', 'echo', '/apiroot/x', '/api/x');
proxied('/api?q=1', 'echo', '/apiroot?q=1', '/api?q');
not_proxied('/apiary', 404, '/apiary');
# /slash/ matches only /slash/...
proxied('/slash/x', 'echo', '/s/x', '/slash/x');
{
    my $r = http_req(path => '/slash');
    ok t_cmp(hdr($r, 'X-Backend'), undef, '/slash/ mapping does not take /slash');
}

# prefix replacement, query string passed unchanged
proxied('/pfx/a/b?x=1', 'echo', '/base/a/b?x=1', 'prefix replacement');
proxied('/pfx/q?a=%20b+c&d=%2F&e&f=%C3%A9', 'echo', '/base/q?a=%20b+c&d=%2F&e&f=%C3%A9',
        'query verbatim');
proxied('/pfx/a%20b', 'echo', '/base/a%20b', 'encoded path stays encoded');
proxied('/pfx/a/../b', 'echo', '/base/b', 'dot-segments resolved inside the mapping');

# dot-segments, plain and encoded, never leave the mapped prefix
for my $path ('/echo/../secret', '/echo/%2e%2e/secret', '/echo/%2E%2E/secret',
              '/echo/.%2e/secret', '/pfx/../secret', '/pfx/%2e%2e/secret',
              '/pfx/a/../../secret', '/pfx/a/%2e%2e/%2e%2e/secret') {
    my $r = http_req(path => $path);
    my $j = json_body($r) || {};
    my $b = hdr($r, 'X-Backend');
    ok t_cmp($b, undef, "dot-segments: $path normalises to /secret: not proxied");
}
for my $path ('/pfx/%2e%2e%2fsecret', '/pfx/..%2fsecret', '/pfx/%252e%252e/secret',
              '/pfx/a/..%5c..%5csecret') {
    my $r = http_req(path => $path);
    my $j = json_body($r) || {};
    if (hdr($r, 'X-Backend')) {
        ok t_cmp(url_inside($j->{url} // '', '/base'), 1,
                 "dot-segments: $path reached the backend as " . ($j->{url} // '?') .
                 ": must stay inside /base");
    }
    else {
        ok t_cmp($r->{status}, qr/^[34]\d\d$/, "dot-segments: $path refused by Apache");
    }
}

# Location form
proxied('/loc', 'echo', '/l', '<Location>');
proxied('/loc/x?y=2', 'echo', '/l/x?y=2', '<Location>');
not_proxied('/loc/off/x', 404, '<Location> NodeProxyPass !');

# unix-domain socket target
proxied('/sock/x?z=3', 'sock', '/x?z=3', 'unix socket');

# Apache convention (mod_proxy, mod_alias): server-level mappings are
# inherited by a <VirtualHost> that defines mappings of its own
{
    my $r = http_req(path => '/pfx/inherited', port => vhost_port('np_trusted'));
    my $j = json_body($r) || {};
    ok t_cmp(hdr($r, 'X-Backend'), 'echo', 'vhost inherits the server-level /pfx mapping');
    ok t_cmp($j->{url}, '/base/inherited', 'vhost: inherited mapping replaces the prefix');
}

# other methods
{
    my $r = http_req(path => '/echo/head', method => 'HEAD');
    ok t_cmp($r->{status}, 200, 'HEAD: 200');
    ok t_cmp(hdr($r, 'X-Backend'), 'echo', 'HEAD: proxied');
    ok t_cmp($r->{raw} =~ /\r\n\r\n(.*)$/s ? length $1 : -1, 0, 'HEAD: no body');
    for my $m (qw(PUT DELETE PATCH OPTIONS)) {
        $r = http_req(path => '/echo/m', method => $m, body => 'abc');
        my $j = json_body($r) || {};
        ok t_cmp($j->{method}, $m, "$m proxied with its method");
    }
}
