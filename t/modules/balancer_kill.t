# A member killed (kill -9) under load: 16 keep-alive clients send requests
# to a balancer of three members for 10 s; one member is killed 1.5 s in.
# Client-visible errors: at most the requests in flight on it at the kill
# (bounded by the 16 clients), none once the kill has been noticed (none in
# the last 8 s), and none at all when the member was already dead before
# the requests started. Once it listens again it gets traffic (after
# NodeFailTimeout, 2 s; waited for up to 15 s, required within 10 s: a
# member never retried fails). How many requests the load makes depends on
# the machine: it must be enough that the "after the kill" checks see some.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();

plan tests => 12, need_module('nodeproxy');

my $PATH = '/bal/kill/slow?ms=20';
my %be = map { $_->[0] => NPBackend::start(@$_) }
    (['k1', 'echo.js', 29117], ['k2', 'echo.js', 29118]);

sub summary {
    my $recs = shift;
    my (%by, @err);
    for (@$recs) { $_->[2] == 200 ? $by{ $_->[3] }++ : push @err, $_; }
    return (\%by, \@err);
}

# ---- k3 dead before the requests start: no client ever sees an error -------
# (4 s: longer than NodeFailTimeout, so the dead member is tried again)
{
    my $res = run_load(clients => 16, seconds => 4, path => $PATH);
    my ($by, $err) = summary($res->{records});
    my $n = @{ $res->{records} };
    t_debug("k3 dead from the start: $n requests, " . join(' ', map { "$_=$by->{$_}" } sort keys %$by));
    ok t_cmp($n > 100 ? 1 : 0, 1, "dead member from the start: the load ran ($n requests)");
    ok t_cmp(scalar(@$err), 0, 'dead member from the start: no client-visible error')
        or t_debug(join "\n", map { "@$_" } @$err[0 .. ($#$err < 9 ? $#$err : 9)]);
}

# ---- k3 up, then killed under load ----------------------------------------------------
{
    $be{k3} = NPBackend::start('k3', 'echo.js', 29120);
    # it gets traffic again within NodeFailTimeout + 1 s after it listens
    my $last = '';
    my $dt = wait_until(15, sub {
        my $r = http_req(path => $PATH);
        $last = hdr($r, 'X-Backend') // '-';
        return $last eq 'k3';
    });
    ok t_cmp(defined $dt && $dt <= 10 ? 1 : 0, 1,
             'a member that starts listening gets traffic (NodeFailTimeout 2 s; within 10 s) (' .
             (defined $dt ? sprintf('%.2f s', $dt) : "not in 15 s, last $last") . ')');

    my ($t_kill, $pending_before);
    my $res = run_load(clients => 16, seconds => 10, path => $PATH, during => sub {
        sleep 1.5;
        my $j = status_json();
        my $m = $j ? status_member($j, 'np_kill', 'http://127.0.0.1:29120') : undef;
        $pending_before = $m ? $m->{pending} : -1;
        $t_kill = time;
        $be{k3}->kill9;
        return 1;
    });
    my $recs = $res->{records};
    my ($by, $err) = summary($recs);
    my $t_end = @$recs ? $recs->[-1][0] : 0;
    my $t_first = @$recs ? $recs->[0][0] : 0;
    my $k3_before = grep { $_->[3] eq 'k3' && $_->[0] < $t_kill } @$recs;
    my $k3_after = grep { $_->[3] eq 'k3' && $_->[0] > $t_kill } @$recs;
    my @late = grep { $_->[0] > $t_kill + 0.5 } @$err;
    t_debug(sprintf("kill at +%.2f s; %d requests (%s); %d errors: %s; k3 pending just before the kill: %s",
                    $t_kill - $t_first, scalar(@$recs),
                    join(' ', map { "$_=$by->{$_}" } sort keys %$by), scalar(@$err),
                    join(', ', map { sprintf('%d at +%.2f', $_->[2], $_->[0] - $t_kill) }
                         @$err[0 .. ($#$err < 19 ? $#$err : 19)]), $pending_before // '?'));
    ok t_cmp($k3_before > 0 ? 1 : 0, 1, "k3 took requests before the kill ($k3_before)");
    my $after = grep { $_->[0] > $t_kill + 0.5 } @$recs;
    ok t_cmp(scalar(@$recs) >= 100 && $after >= 50 ? 1 : 0, 1, 'the load ran (' . scalar(@$recs) .
             " requests, $after of them started 0.5 s or more after the kill: at least 100 and 50)");
    ok t_cmp(scalar(@$err) <= 16 ? 1 : 0, 1,
             'kill -9 under load: client-visible errors (' . scalar(@$err) .
             ') no more than the requests in flight (16 clients)');
    ok t_cmp(scalar(@late), 0,
             'kill -9 under load: no error for requests started 0.5 s or more after the kill ' .
             sprintf('(the last %.1f s)', $t_end - $t_kill - 0.5))
        or t_debug(join "\n", map { "@$_" } @late[0 .. ($#late < 9 ? $#late : 9)]);
    ok t_cmp($k3_after, 0, 'no answer from the killed member after the kill');
    my $j = status_json();
    my $m = status_member($j, 'np_kill', 'http://127.0.0.1:29120') || {};
    ok t_cmp(($m->{failures} // 0) > 0 ? 1 : 0, 1,
             'status JSON: the killed member has connect failures (' . ($m->{failures} // 'none') . ')');

    # back: traffic within NodeFailTimeout + 1 s after it listens again
    $be{k3} = NPBackend::start('k3', 'echo.js', 29120);
    $last = '';
    $dt = wait_until(15, sub {
        my $r = http_req(path => $PATH);
        $last = hdr($r, 'X-Backend') // '-';
        return $last eq 'k3';
    });
    ok t_cmp(defined $dt && $dt <= 10 ? 1 : 0, 1,
             'the killed member gets traffic again after it listens (NodeFailTimeout 2 s; within 10 s) (' .
             (defined $dt ? sprintf('%.2f s', $dt) : "not in 15 s, last $last") . ')');
    my ($b2) = count_backends(9, path => $PATH);
    ok t_cmp(join(',', sort keys %$b2), 'k1,k2,k3', 'all three members share the traffic again');
}

{
    my @bad = pending_nonzero(3);
    ok t_cmp(join('; ', @bad), '', 'pending is 0 for every member after the kill');
}
