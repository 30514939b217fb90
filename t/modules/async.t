# Async proxying under load, through a DEDICATED httpd with exactly 2
# children x 25 threads (MaxRequestWorkers 50; t/lib/NPAsync.pm starts it
# and stops it by pid at the end), backend t/backends/slow.js, clients
# t/backends/loadclient.js (every request on its own new connection):
#  - 200 concurrent requests that the backend answers after 1 s each all
#    complete within 2.5 s of their own start (stock Apache: 4.2 s);
#  - 1,000 long-polls of 10 s open at once (the backend holds all 1,000): a
#    new plain request is answered within 2 s, and all 1,000 get their
#    answer;
#  - 500 concurrent SSE streams (10 events, 200 ms apart) each receive every
#    event, in order and as sent (not batched), while 10 new plain requests
#    are answered within 2 s each;
#  - NodeAsyncDelay off keeps requests on their thread: 60 concurrent 1 s
#    requests take >= 2 s with off (50 threads), at most 1.9 s with the default.
# Single plain requests are timed from this (Perl) process, not from inside
# the loaded Node client.
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

plan tests => 10 + 12 + 12 + 9, need_module('nodeproxy');

my $T0 = time;
sub lap { t_debug(sprintf "%s: %.2f s", $_[0], time - $T0) }
sub enc { $NPAsync::JSON->encode($_[0]) }
# the answer of the load client without its records
sub summary { my %h = %{ $_[0] }; delete $h{records}; enc(\%h) }

my ($port, $bport) = NPAsync::free_ports(2);
my $sa = NPAsync::backend('sa', $bport);
my $httpd = NPAsync::Httpd->start(tag => 'load', port => $port, conf => <<"EOC");
NodeProxyPass /a/ http://127.0.0.1:$bport/
<Location /off/>
    NodeProxyPass http://127.0.0.1:$bport/off/
    NodeAsyncDelay off
</Location>
EOC
my $base = "http://127.0.0.1:$port";
my @kids0 = $httpd->children;
t_debug("dedicated httpd pid " . $httpd->pid . ", children @kids0, port $port, backend $bport");
lap('start');

# warm-up: both children have connected to the backend once
NPAsync::load({ url => "$base/a/fast?id=w{i}", n => 40, check_id => 1 });

# ---- 200 concurrent requests, 1 s each (9) ---------------------------------------
{
    NPAsync::reset_stats($sa);
    my $r = NPAsync::load({ url => "$base/a/slow?ms=1000&id=c{i}", n => 200, check_id => 1,
                            records => 1, timeout_ms => 10000, hard_ms => 20000 });
    t_debug('200x1s: ' . summary($r));
    my $st = NPAsync::stats($sa);
    ok t_cmp($r->{ok} // 0, 200, '200x1s: all 200 answered 200 with their own body (' .
             enc($r->{statuses} || {}) . ', errors ' . enc($r->{errors} || {}) . ')');
    ok t_cmp($st->{max_inflight} // 0, 200, '200x1s: the backend held all 200 at once');
    ok t_cmp(($r->{max_ms} // 1e9) <= 2500 ? 1 : 0, 1,
             "200x1s: per-request max $r->{max_ms} ms (from its connection's connect) <= 2500 ms (on 50 threads: 4 s) " .
             "(min $r->{min_ms}, p50 $r->{p50_ms} ms)");
    ok t_cmp(($r->{min_ms} // 0) >= 990 ? 1 : 0, 1, "200x1s: none faster than the backend's 1 s ($r->{min_ms} ms)");
    t_debug("200x1s: wall time $r->{wall_ms} ms (first issue to last end), per-request max from issue " .
            "$r->{max_issue_ms} ms, slowest client connect $r->{max_connect_ms} ms");
    ok t_cmp(($r->{wall_ms} // 1e9) < 3500 ? 1 : 0, 1,
             "200x1s: wall time $r->{wall_ms} ms (client connects up to $r->{max_connect_ms} ms) < 3500 ms " .
             "(stock Apache: 4200 ms)");
    # when each was answered: no batches of 50 (the first and last end
    # within 1.5 s of each other (by 50: 3 s), relative to their starts)
    my @rec = grep { $_ && defined $_->[4] } @{ $r->{records} || [] };
    my @ends = map { $_->[4] } @rec;
    my $spread = @ends ? max(@ends) - min(@ends) : 1e9;
    ok t_cmp($spread < 1500 ? 1 : 0, 1, sprintf('200x1s: all 200 ended within 1.5 s of each other (%.0f ms) (no queueing by 50)', $spread));
    ok t_cmp($httpd->async_count(qr/id=c\d+$/, 200), 200,
             '200x1s: all 200 waited for Node without a thread (access log: async=1)');
    my $closed = grep { ($_->[8] // '') =~ /close/i } @rec;
    ok t_cmp($closed, 0, '200x1s: none said Connection: close (async responses keep the connection alive)');
    ok t_cmp(join(',', $httpd->children), join(',', @kids0), '200x1s: still the same 2 children');
    my ($s, $ms) = NPAsync::timed_get($port, '/a/fast?id=after');
    ok t_cmp($s, 200, sprintf('200x1s: a plain request afterwards: 200 (%.0f ms)', $ms));
    lap('200x1s');
}

# ---- 1,000 long-polls of 10 s (12) ---------------------------------------------
{
    my $N = 1000;
    NPAsync::reset_stats($sa);
    my $t_start = time;
    my $bg = NPAsync::load_bg({ url => "$base/a/slow?ms=10000&id=lp{i}", n => $N, check_id => 1,
                                timeout_ms => 25000, hard_ms => 30000 });
    my $st = {};
    my $took = wait_until(8, sub { $st = NPAsync::stats($sa); ($st->{inflight} // 0) >= $N }, 0.05);
    ok t_cmp($st->{inflight} // 0, $N, sprintf('1000 long-polls: the backend has all %d waiting (%s)', $N,
             defined $took ? sprintf('%.2f s after the start', $took) : 'not within 8 s'));
    my %fd = $httpd->child_fds;
    t_debug('1000 long-polls: httpd children fds ' . NPAsync::fmt(\%fd) . '; backend open conns ' . ($st->{open} // '-'));
    my @plain;
    for my $i (1 .. 3) {
        my ($s, $ms, $r) = NPAsync::timed_get($port, "/a/fast?id=p$i");
        push @plain, [$s, $ms, $r];
    }
    my $pmax = max(map { $_->[1] } @plain);
    ok t_cmp(join(',', map { $_->[0] } @plain), '200,200,200', '1000 long-polls: 3 new plain proxied requests: 200');
    ok t_cmp($pmax < 2000 ? 1 : 0, 1, sprintf('1000 long-polls: ... each within 2 s (blocked: 10 s) (%s ms)',
             join(', ', map { sprintf '%.0f', $_->[1] } @plain)));
    ok t_cmp(json_body($plain[0][2])->{id} // '', 'p1', '1000 long-polls: ... with the right body');
    my ($ss, $sms) = NPAsync::timed_get($port, '/index.html');
    ok t_cmp($ss, 200, sprintf('1000 long-polls: a static file: 200 (%.0f ms)', $sms));
    ok t_cmp($sms < 2000 ? 1 : 0, 1, sprintf('1000 long-polls: ... within 2 s (%.0f ms)', $sms));
    $st = NPAsync::stats($sa);
    ok t_cmp($st->{inflight} // 0, $N, '1000 long-polls: all still waiting after the plain requests');
    ok t_cmp(time - $t_start < 9.5 ? 1 : 0, 1, sprintf('1000 long-polls: checks done %.1f s after the start (before the answers)', time - $t_start));
    my $r = $bg->wait(35);
    t_debug('1000 long-polls: ' . summary($r));
    ok t_cmp($r->{ok} // 0, $N, '1000 long-polls: all answered 200 with their own body (' .
             enc($r->{statuses} || {}) . ', errors ' . enc($r->{errors} || {}) . ", bad bodies " . ($r->{bad_body} // '-') . ')');
    ok t_cmp(($r->{min_ms} // 0) >= 9990 ? 1 : 0, 1, "1000 long-polls: none answered before its 10 s ($r->{min_ms} ms)");
    ok t_cmp(($r->{max_ms} // 1e9) < 16000 ? 1 : 0, 1,
             "1000 long-polls: each answered within 16 s of its connect (max $r->{max_ms} ms, wall $r->{wall_ms} ms)");
    my $ab = NPAsync::stats($sa)->{aborted} || {};
    ok t_cmp(scalar(keys %$ab), 0, '1000 long-polls: the backend saw no request aborted' .
             (%$ab ? ' (' . join(' ', (sort keys %$ab)[0 .. min(9, keys(%$ab) - 1)]) . ' ...)' : ''));
    lap('1000 long-polls');
}

# ---- 500 SSE streams (11) ---------------------------------------------------------
{
    my ($N, $EV) = (500, 10);
    NPAsync::reset_stats($sa);
    my $bg = NPAsync::load_bg({ url => "$base/a/sse?n=$EV&every=200&id=s{i}", n => $N, mode => 'sse',
                                sse_n => $EV, check_id => 1, timeout_ms => 20000, hard_ms => 25000 });
    my $st = {};
    my $took = wait_until(20, sub { $st = NPAsync::stats($sa); ($st->{total} // 0) >= $N }, 0.05);
    ok t_cmp($st->{total} // 0, $N, sprintf('500 SSE: all %d streams reached the backend (%s)', $N,
             defined $took ? sprintf('%.2f s', $took) : 'not within 20 s'));
    my @plain;
    for my $i (1 .. 10) {
        my ($s, $ms, $r) = NPAsync::timed_get($port, "/a/fast?id=sp$i");
        push @plain, [$s, $ms, json_body($r) ? json_body($r)->{id} // '' : ''];
    }
    my $during = NPAsync::stats($sa);
    my $pmax = max(map { $_->[1] } @plain);
    ok t_cmp(join(',', map { $_->[0] } @plain), join(',', (200) x 10), '500 SSE: 10 new plain requests during the streams: 200');
    ok t_cmp($pmax < 2000 ? 1 : 0, 1, sprintf('500 SSE: ... each within 2 s (%s ms)',
             join(', ', map { sprintf '%.0f', $_->[1] } @plain)));
    ok t_cmp(join(',', map { $_->[2] } @plain), join(',', map { "sp$_" } 1 .. 10), '500 SSE: ... each with its own body');
    # the streams ran at once (how many are still running after the plain
    # requests depends on how long those took on a busy box)
    ok t_cmp(($during->{max_inflight} // 0) >= 400 ? 1 : 0, 1,
             "500 SSE: the backend had the streams open at once (at most " . ($during->{max_inflight} // '-') .
             ', ' . ($during->{inflight} // '-') . ' still running after the plain requests)');
    my $r = $bg->wait(30);
    t_debug('500 SSE: ' . summary($r));
    ok t_cmp($r->{ok} // 0, $N, '500 SSE: all 500 streams complete, 200 (' . enc($r->{statuses} || {}) .
             ', errors ' . enc($r->{errors} || {}) . ')');
    ok t_cmp($r->{sse}{events} // 0, $N * $EV, "500 SSE: every stream received all $EV events (" .
             ($r->{sse}{events} // 0) . ' in all)');
    ok t_cmp($r->{sse}{bad_order} // -1, 0, '500 SSE: in order (ids 1..10), each carrying its stream id');
    ok t_cmp($r->{bad_body} // -1, 0, '500 SSE: no bad stream');
    ok t_cmp(($r->{sse}{max_lag_ms} // 1e9) < 2000 ? 1 : 0, 1,
             "500 SSE: each event relayed within 2 s of being sent (max lag $r->{sse}{max_lag_ms} ms)");
    ok t_cmp(($r->{sse}{min_span_ms} // 0) >= 1000 ? 1 : 0, 1,
             "500 SSE: streamed, not batched: first to last event >= 1000 ms in every stream (min $r->{sse}{min_span_ms} ms; sent over 1800 ms)");
    ok t_cmp(($r->{max_ms} // 1e9) < 12000 ? 1 : 0, 1,
             "500 SSE: no stream waited for a thread: each complete within 12 s of its connect (max $r->{max_ms} ms, " .
             "wall $r->{wall_ms} ms; 1.8 s of events; 500 streams on 50 threads would take ~18 s)");
    t_debug("500 SSE: backend max streams at once " . ($during->{max_inflight} // '-') . ", wall $r->{wall_ms} ms; " .
            $httpd->async_count(qr/sse\?.*id=s\d+$/, $N) . " of $N streams waited without a thread at least once; " .
            "$r->{conn_close} said Connection: close");
    lap('500 SSE');
}

# ---- NodeAsyncDelay off: the request keeps its thread (8) ---------------------------------
{
    my $N = 60;
    my $def = NPAsync::load({ url => "$base/a/slow?ms=1000&id=d{i}", n => $N, check_id => 1, timeout_ms => 10000 });
    my $off = NPAsync::load({ url => "$base/off/slow?ms=1000&id=o{i}", n => $N, check_id => 1, timeout_ms => 10000 });
    t_debug('60x1s default: ' . summary($def));
    t_debug('60x1s off: ' . summary($off));
    ok t_cmp($def->{ok} // 0, $N, '60x1s default: all 200 with their own body');
    ok t_cmp($off->{ok} // 0, $N, '60x1s NodeAsyncDelay off: all 200 with their own body');
    ok t_cmp(($def->{max_ms} // 1e9) <= 1900 ? 1 : 0, 1, "60x1s default: per-request max $def->{max_ms} ms <= 1900 ms (wall $def->{wall_ms})");
    ok t_cmp(($off->{max_ms} // 0) >= 1950 ? 1 : 0, 1,
             "60x1s off: per-request max $off->{max_ms} ms >= 2 s: 50 threads, 10 requests wait for one (wall $off->{wall_ms})");
    ok t_cmp(($off->{wall_ms} // 0) - ($def->{wall_ms} // 0) >= 500 ? 1 : 0, 1,
             "60x1s: off takes clearly longer (wall $off->{wall_ms} vs $def->{wall_ms} ms)");

    # one keep-alive request each: both keep the connection; only the
    # default one waited without a thread
    my $ra = http_req(port => $port, path => '/a/slow?ms=100&id=ka', keepalive => 1, timeout => 3);
    my $ro = http_req(port => $port, path => '/off/slow?ms=100&id=ko', keepalive => 1, timeout => 3);
    ok t_cmp((json_body($ro) || {})->{id} // '', 'ko', 'off: 100 ms response correct');
    ok t_cmp(($httpd->access_lines(qr/id=ko$/))[0] // '', qr/ async=- /, 'off: it kept its thread (access log: async=-)');
    ok t_cmp($httpd->async_count(qr/id=ka$/), 1, 'default: the 100 ms response waited without a thread (async=1)');
    ok t_cmp(join(' ', map { hdr($_, 'Connection') // 'keep-alive' } $ra, $ro), qr/^keep-alive keep-alive$/i,
             'both kept the connection alive');
    lap('off');
}

$httpd->stop;
$sa->stop;
lap('done');
