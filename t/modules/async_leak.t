# Async proxying: no leak. Through a DEDICATED httpd (one child of 25
# threads, t/lib/NPAsync.pm), 10,000 requests that each suspend
# (NodeAsyncDelay 0, the backend answers after 20 ms; 200 at a time, each on
# a new connection) leave the child's fds and RSS at their baseline, with
# the same child before and after.
#
# What is measured is a leak PER REQUEST, with the idle backend pool taken
# out of it, so that the result does not depend on the machine's load:
# - The pool's size is made deterministic: its idle connections never expire
#   during the test (NodeBackendKeepAlive 590s, the backend's keepAliveTimeout
#   600 s), so the pool only grows, to the most backend connections the
#   child ever had in use at once, and never shrinks. ONE child takes all
#   200 concurrent clients (with two, how the kernel spreads them over the
#   children varies with load, and so did each child's pool: by 111
#   connections, 1.8 MiB, on a busy box). Warm-up bursts run until the pool
#   stops growing (its steady size for 200 concurrent clients).
# - What growth is left (a few connections) is subtracted explicitly, per
#   child and per sample, before the RSS floors are compared: a pooled
#   connection costs about 12 KiB of RSS here (the touched part of its 32 KiB
#   read buffer, its own APR pool), counted as $POOL_KIB.
# - Whether a request waited without a thread is counted from the
#   nodeproxy-async note in the access log, after waiting for all 10,000
#   lines (the log is written just after the client has its response). With
#   NodeAsyncDelay 0 a request whose answer is already there when the
#   handler first looks (the box paused the thread for 20 ms) is served
#   synchronously, which is right: at most 1% may do so.
#
# fds: each child's fds are counted by kind (t/lib/NPAsync.pm fd_kinds):
# client sockets (must be 0 once idle), sockets to the backend (each a live
# pooled connection: ESTABLISHED, and as many as the backend has open), and
# everything else (files, pipes, listeners: back at the baseline, small
# tolerance). The total must not exceed the baseline by more than the
# pool's growth.
# RSS moves by some 100s of KiB either way without any leak (glibc's
# per-thread arenas); a leak of 10,000 x a request raises the floor: each
# child's (RSS - pool) is taken as its minimum over 4 samples, each after 500
# more requests, before and after; worker threads keep little free memory
# (MaxMemFree 64).
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

plan tests => 13, need_module('nodeproxy');

my $T0 = time;
sub lap { t_debug(sprintf "%s: %.2f s", $_[0], time - $T0) }
sub enc { $NPAsync::JSON->encode($_[0]) }

my $MANY = 10000;
my ($port, $bport) = NPAsync::free_ports(2);
# the backend keeps idle connections for 10 min: the pool never loses one
my $sz = NPAsync::backend('sz', $bport, keepalive => 600000);
# one pooled backend connection's RSS (KiB): the touched part of its 32 KiB
# read buffer, its own APR pool (measured: about 12 KiB)
my $POOL_KIB = 16;
my $SERVERS = 1;
my $httpd = NPAsync::Httpd->start(tag => 'leak', port => $port, servers => $SERVERS, conf => <<"EOC");
NodeBackendKeepAlive 590s
# worker threads' allocators keep at most 64 KiB of free memory each (the
# default, 2 MiB each, makes RSS wander by MiBs with which thread ran what)
MaxMemFree 64
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

# each child's floor of (RSS - its pooled backend connections x $POOL_KIB)
# over 4 samples, each after 500 more requests
sub rss_floor {
    my $tag = shift;
    my %min;
    for my $round (1 .. 4) {
        burst(500, "$tag$round");
        my %k = settle();
        my %r = $httpd->child_rss;
        my %adj = map { $_ => $r{$_} - ($k{$_} ? $k{$_}{backend} : 0) * $POOL_KIB } keys %r;
        t_debug("rss KiB $tag $round: " . NPAsync::fmt(\%r) . '; pool ' .
                join(' ', map { "$_=" . ($k{$_} ? $k{$_}{backend} : '-') } sort keys %r) .
                '; rss - pool x ' . $POOL_KIB . ' KiB: ' . NPAsync::fmt(\%adj));
        $min{$_} = min($min{$_} // $adj{$_}, $adj{$_}) for keys %adj;
    }
    return %min;
}

sub pool_total { my %k = @_; return sum0(map { $k{$_}{backend} } keys %k); }

# warm-up: pools, arenas and the reactor's structures at their working size
# ... until the pool has its steady size (at most 5 more connections than
# after the previous warm-up; at most 4 warm-ups)
my ($wok, $wn, $pool_prev, @pools) = (0, 0, -1);
for my $i (1 .. 4) {
    my $w = burst(2000, "w$i");
    $wok += $w->{ok} // 0;
    $wn += 2000;
    my $p = pool_total(settle());
    push @pools, $p;
    last if $pool_prev >= 0 && $p - $pool_prev <= 5;
    $pool_prev = $p;
}
ok t_cmp($wok, $wn, "warm-up: $wn suspended requests answered; idle pool after each 2000: @pools");
my %rss0 = rss_floor('base');
my %k0 = settle();
t_debug('baseline fds: ' . kinds_str(%k0) . '; rss floor KiB ' . NPAsync::fmt(\%rss0));
lap('baseline');

my $r = burst($MANY, 'm');
t_debug("$MANY: " . enc($r));
ok t_cmp($r->{ok} // 0, $MANY, "$MANY requests of 20 ms, 200 at a time: all 200 with their own body (" .
         enc($r->{statuses} || {}) . ', errors ' . enc($r->{errors} || {}) . ", $r->{wall_ms} ms)");
my @lines = $httpd->access_lines(qr/id=m\d+-\d+$/, $MANY, 60);
ok t_cmp(scalar(@lines), $MANY, "$MANY: every one in the access log");
my $nasync = grep { / async=[1-9]/ } @lines;
ok t_cmp($nasync >= $MANY * 0.99 ? 1 : 0, 1,
         "$MANY: at least 99% waited without a thread (NodeAsyncDelay 0; note nodeproxy-async): $nasync");
lap($MANY);

my %k1 = settle();
t_debug('after fds: ' . kinds_str(%k1));
my @common = grep { exists $k1{$_} } keys %k0;
ok t_cmp(join(',', sort keys %k1), join(',', sort { $a <=> $b } @kids0),
         "the same $SERVERS httpd child(ren) before and after (" . join(',', sort keys %k1) . ')');
ok t_cmp(scalar(@common), $SERVERS, 'fd counts of the children readable from /proc');
ok t_cmp(sum0(map { $k1{$_}{client} } @common), 0, 'no client socket left open in the children');
my $dother = sum0(map { $k1{$_}{other} - $k0{$_}{other} } @common);
ok t_cmp($dother <= 2 ? 1 : 0, 1, "non-socket fds (files, pipes, listeners...) back at the baseline (delta $dother; before " .
         join(' ', map { "$_=$k0{$_}{other}" } @common) . ', after ' . join(' ', map { "$_=$k1{$_}{other}" } @common) . ')');
my $bk_httpd = sum0(map { $k1{$_}{backend} } @common);
my $bk_node = (NPAsync::stats($sz)->{open} // -1) - 1;   # minus the stats request's own connection
my $not_est = sum0(map { my $s = $k1{$_}{backend_states}; sum0(map { $s->{$_} } grep { $_ ne '01' } keys %$s) } @common);
ok t_cmp($not_est, 0, 'every backend socket the children hold is ESTABLISHED (pooled, none half-closed)');
ok t_cmp($bk_httpd, $bk_node, "the children's backend sockets ($bk_httpd) are exactly the connections the backend has open ($bk_node)");
ok t_cmp(max(map { $k1{$_}{backend} } @common) <= 256 ? 1 : 0, 1, 'a child keeps at most 256 idle backend connections');
my $dtotal = sum0(map { $k1{$_}{total} - $k0{$_}{total} } @common);
my $dpool = sum0(map { $k1{$_}{backend} - $k0{$_}{backend} } @common);
ok t_cmp($dtotal <= max($dpool, 0) + 2 ? 1 : 0, 1,
         "total fds: before " . join(' ', map { "$_=$k0{$_}{total}" } @common) . ', after ' .
         join(' ', map { "$_=$k1{$_}{total}" } @common) . " (delta $dtotal, of which idle pool $dpool)");

my %rss1 = rss_floor('after');
my $drss = sum0(map { ($rss1{$_} // 0) - ($rss0{$_} // 0) } @common);
my $per_req = $drss * 1024 / ($MANY + 2000);
t_debug(sprintf 'leak per request, idle pool excluded: %.1f bytes', $per_req);
ok t_cmp($drss <= 2048 ? 1 : 0, 1, "sum of the children's (RSS - idle pool) floors back at the baseline (delta $drss KiB, " .
         sprintf('%.0f bytes a request', $per_req) . ', tolerance 2048 KiB, i.e. ~180 bytes a request; ' .
         "each pooled connection counted as $POOL_KIB KiB; before " . NPAsync::fmt(\%rss0) . ', after ' . NPAsync::fmt(\%rss1) . ')');
lap('done');

$httpd->stop;
$sz->stop;
