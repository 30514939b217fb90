# mod_cache (mod_cache_disk) in front of a NodeSticky balancer: a response
# on which the proxy sets the sticky cookie gets Cache-Control "private" and
# is not stored, so four cookieless clients are not pinned to one member;
# a client that holds a valid cookie still gets cache hits, and the stored
# response never hands anyone a sticky cookie.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();
use File::Path qw(make_path remove_tree);

plan tests => 22, need_module('nodeproxy', 'cache', 'cache_disk');

my @b = map { NPBackend::start("cs$_", 'express.js', 29353 + $_) } 1 .. 3;
my $port = vhost_port('np_cache');

# an empty cache (a previous run's entry would be a hit); children run as
# nobody and create the cache's subdirectories
my $root = t_path('run', 'np-cache');
remove_tree($root);
make_path($root);
chmod 0777, $root;

sub get {
    my (@h) = @_;
    return http_req(port => $port, path => '/x/cacheable', headers => \@h);
}

sub route_of {
    my $r = shift;
    for (hdrs($r, 'Set-Cookie')) { return $1 if /^NPCACHE=([^;]+)/; }
    return undef;
}

sub xcache { hdr($_[0], 'X-Cache') // '' }

# --- four cookieless clients: each is balanced and gets its own cookie
my (%members, @routes, $private, $hits);
for my $i (1 .. 4) {
    my $r = get();
    my $route = route_of($r);
    $members{ hdr($r, 'X-Backend') // 'none' }++;
    push @routes, $route;
    $private++ if (join(', ', hdrs($r, 'Cache-Control'))) =~ /(^|,\s*)private(\s*,|$)/;
    $hits++ if xcache($r) =~ /HIT/;
    ok t_cmp($r->{status}, 200, "cookieless client $i: 200");
    ok t_cmp(defined $route ? 1 : 0, 1, "cookieless client $i: gets a sticky cookie");
}
ok t_cmp(scalar(keys %members), 3,
         'four cookieless clients are balanced over the three members, not pinned to one (' .
         join(',', map { "$_=$members{$_}" } sort keys %members) . ')');
ok t_cmp($private // 0, 4, 'each response that sets the sticky cookie is Cache-Control: private');
ok t_cmp($hits // 0, 0, 'none of them was served from the cache');
{
    my %r = map { $_ => 1 } grep { defined } @routes;
    ok t_cmp(scalar(keys %r) > 1 ? 1 : 0, 1, 'they were given different routes');
}
ok t_cmp(hdr(get(), 'Cache-Control'), qr/public, max-age=300/, "the app's own Cache-Control is kept beside private");

# --- a client holding a valid cookie: the response carries no Set-Cookie of
# ours, stays cacheable, and the next one is a cache hit
my $cookie = "NPCACHE=$routes[0]";
my $first = get(Cookie => $cookie);
ok t_cmp($first->{status}, 200, 'client with a cookie: 200');
ok t_cmp(route_of($first), undef, 'client with a valid cookie: no Set-Cookie');
ok t_cmp(hdr($first, 'Cache-Control') // '', qr/^public, max-age=300$/, 'client with a cookie: Cache-Control untouched');
my $member = hdr($first, 'X-Backend');
my $mport = 29353 + (($member // 'cs1') =~ /(\d)$/ ? $1 : 1);
my $count0 = backend_count($mport) // -1;

my $second;
my $hit = wait_until(10, sub { $second = get(Cookie => $cookie); xcache($second) =~ /HIT/ }, 0.2);
ok t_cmp(defined $hit ? 1 : 0, 1, 'client with a cookie: a later request is a cache hit (X-Cache: ' . xcache($second) . ')');
ok t_cmp($second->{body}, "cacheable from $member\n", 'the hit is the stored answer of its member');
ok t_cmp(route_of($second), undef, 'the hit carries no sticky cookie');
my $count1 = backend_count($mport) // -2;
ok t_cmp($count1, $count0, 'the hit did not reach Node');

# --- the stored response, served to a new cookieless client, hands it no
# one else's cookie
{
    my $r = get();
    ok t_cmp(xcache($r), qr/HIT/, 'a new client now gets the cached response');
    ok t_cmp(route_of($r), undef, 'and no sticky cookie of another client with it');
}
