# Async proxying: no leak. Through a DEDICATED httpd (2 children x 25
# threads, t/lib/NPAsync.pm), 10,000 requests that each suspend
# (NodeAsyncDelay 0, the backend answers after 20 ms; 200 at a time, each on
# a new connection) leave the children's fds and RSS at their baseline, with
# the same two children before and after.
#
# fds: the backend connection pool legitimately keeps up to 256 idle
# connections per child, more or fewer depending on the last burst, so each
# child's fds are counted by kind (t/lib/NPAsync.pm fd_kinds): client
# sockets (must be 0 once idle), sockets to the backend (each must be a live
# pooled connection: ESTABLISHED, and as many as the backend has open), and
# everything else (files, pipes, listeners: back at the baseline exactly,
# small tolerance). The total is reported too, and must not exceed the
# baseline by more than the pool's growth.
# RSS moves by some 100s of KiB either way without any leak (glibc's per-thread
# arenas); a leak of 10,000 x a request raises the floor: each child's RSS
# is taken as its minimum over 3 samples, each after 500 more requests,
# before and after.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use List::Util qw(max min sum0);
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPAsync ();

plan tests => 12, need_module('nodeproxy');

my $T0 = time;
sub lap { t_debug(sprintf "%s: %.2f s", $_[0], time - $T0) }
sub enc { $NPAsync::JSON->encode($_[0]) }

my $MANY = 10000;
my ($port, $bport) = NPAsync::free_ports(2);
my $sz = NPAsync::backend('sz', $bport);
my $httpd = NPAsync::Httpd->start(tag => 'leak', port => $port, conf => <<"EOC");
<Location /z/>
    NodeProxyPass http://127.0.0.1:$bport/z/
    NodeAsyncDelay 0
</Location>
EOC
my $base = "http://127.0.0.1:$port";
my @kids0 = $httpd->children;
t_debug("dedicated httpd pid " . $httpd->pid . ", children @kids0, port $port, backend $bport");

my $seq = 0;
sub burst {
    my ($n, $tag) = @_;
    $seq++;
    return NPAsync::load({ url => "$base/z/slow?ms=20&id=$tag$seq-{i}", n => $n, concurrency => 200,
                           check_id => 1, timeout_ms => 10000, hard_ms => 60000 });
}

# idle: nothing in progress at the backend, no client socket left in the
# children, fd counts stable over 200 ms; returns {pid => fd_kinds}
sub settle {
    my %k;
    my $prev = '';
    wait_until(5, sub {
        return 0 if (NPAsync::stats($sz)->{inflight} // 1) != 0;
        %k = map { my $p = $_; ($p => NPAsync::fd_kinds($p, $port, $bport)) } $httpd->children;
        my $now = join ' ', map { "$_:$k{$_}{total}:$k{$_}{client}" } sort keys %k;
        my $same = $now eq $prev && !grep { $k{$_}{client} } keys %k;
        $prev = $now;
        return $same;
    }, 0.2);
    return %k;
}

sub kinds_str {
    my %k = @_;
    return join '; ', map { "$_: total $k{$_}{total}, client $k{$_}{client}, backend $k{$_}{backend} " .
                            enc($k{$_}{backend_states}) . ", other $k{$_}{other}" } sort keys %k;
}

# each child's RSS floor over 3 samples, each after 500 more requests
sub rss_floor {
    my $tag = shift;
    my %min;
    for my $round (1 .. 3) {
        burst(500, "$tag$round");
        settle();
        my %r = $httpd->child_rss;
        t_debug("rss KiB $tag $round: " . NPAsync::fmt(\%r));
        $min{$_} = min($min{$_} // $r{$_}, $r{$_}) for keys %r;
    }
    return %min;
}

# warm-up: pools, arenas and the reactor's structures at their working size
my $w = burst(2000, 'w');
ok t_cmp($w->{ok} // 0, 2000, 'warm-up: 2000 suspended requests answered (' . ($w->{wall_ms} // '-') . ' ms)');
my %rss0 = rss_floor('base');
my %k0 = settle();
t_debug('baseline fds: ' . kinds_str(%k0) . '; rss floor KiB ' . NPAsync::fmt(\%rss0));
lap('baseline');

my $r = burst($MANY, 'm');
t_debug("$MANY: " . enc($r));
ok t_cmp($r->{ok} // 0, $MANY, "$MANY requests of 20 ms, 200 at a time: all 200 with their own body (" .
         enc($r->{statuses} || {}) . ', errors ' . enc($r->{errors} || {}) . ", $r->{wall_ms} ms)");
ok t_cmp($httpd->async_count(qr/id=m\d+-\d+$/, $MANY, 10), $MANY, "$MANY: every one waited without a thread (NodeAsyncDelay 0; access log async=1)");
lap($MANY);

my %k1 = settle();
t_debug('after fds: ' . kinds_str(%k1));
my @common = grep { exists $k1{$_} } keys %k0;
ok t_cmp(join(',', sort keys %k1), join(',', sort { $a <=> $b } @kids0),
         'the same 2 httpd children before and after (' . join(',', sort keys %k1) . ')');
ok t_cmp(scalar(@common), 2, 'fd counts of both children readable from /proc');
ok t_cmp(sum0(map { $k1{$_}{client} } @common), 0, 'no client socket left open in the children');
my $dother = sum0(map { $k1{$_}{other} - $k0{$_}{other} } @common);
ok t_cmp($dother <= 2 ? 1 : 0, 1, "non-socket fds (files, pipes, listeners...) back at the baseline (delta $dother; before " .
         join(' ', map { "$_=$k0{$_}{other}" } @common) . ', after ' . join(' ', map { "$_=$k1{$_}{other}" } @common) . ')');
my $bk_httpd = sum0(map { $k1{$_}{backend} } @common);
my $bk_node = (NPAsync::stats($sz)->{open} // -1) - 1;   # minus the stats request's own connection
my $not_est = sum0(map { my $s = $k1{$_}{backend_states}; sum0(map { $s->{$_} } grep { $_ ne '01' } keys %$s) } @common);
ok t_cmp($not_est, 0, 'every backend socket the children hold is ESTABLISHED (pooled, none half-closed)');
ok t_cmp($bk_httpd, $bk_node, "the children's backend sockets ($bk_httpd) are exactly the connections the backend has open ($bk_node)");
ok t_cmp(max(map { $k1{$_}{backend} } @common) <= 256 ? 1 : 0, 1, 'each child keeps at most 256 idle backend connections');
my $dtotal = sum0(map { $k1{$_}{total} - $k0{$_}{total} } @common);
my $dpool = sum0(map { $k1{$_}{backend} - $k0{$_}{backend} } @common);
ok t_cmp($dtotal <= max($dpool, 0) + 2 ? 1 : 0, 1,
         "total fds: before " . join(' ', map { "$_=$k0{$_}{total}" } @common) . ', after ' .
         join(' ', map { "$_=$k1{$_}{total}" } @common) . " (delta $dtotal, of which idle pool $dpool)");

my %rss1 = rss_floor('after');
my $drss = sum0(map { ($rss1{$_} // 0) - ($rss0{$_} // 0) } @common);
ok t_cmp($drss <= 1536 ? 1 : 0, 1, "sum of the children's RSS floors back at the baseline (delta $drss KiB, tolerance 1536 KiB, i.e. ~150 bytes a request; " .
         'before ' . NPAsync::fmt(\%rss0) . ', after ' . NPAsync::fmt(\%rss1) . ')');
lap('done');

$httpd->stop;
$sz->stop;
