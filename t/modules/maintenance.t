# The maintenance response: all members down -> 503 with the
# NodeMaintenancePage body, Retry-After and Cache-Control: no-store, at once;
# the JSON variant; HEAD; traffic back within 1 s of a passing health check
# (or NodeFailTimeout + 1 s without checks); NodeMaintenanceFlag on and off
# within 2 s; the page re-read after it changes; the classic ErrorDocument
# 503 pattern without NodeMaintenancePage.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();
use NPTestRun ();

plan tests => 37, need_module('nodeproxy');

my $PAGE_FILE = t_path('run', 'np-maint.html');
my $FLAG_FILE = t_path('run', 'np-maint.flag');
my $PAGE = $NPTestRun::MAINT_PAGE_HTML;
unlink $FLAG_FILE;
{   # the page as configured (an earlier interrupted run may have changed it)
    open my $fh, '>', $PAGE_FILE or die "$PAGE_FILE: $!";
    print $fh $PAGE;
    close $fh;
}

# the maintenance response checks: status, body, headers, time
sub maint_ok {
    my ($what, $r, $dt, $retry) = @_;
    ok t_cmp($r->{status}, 503, "$what: 503");
    ok t_cmp($r->{body}, $PAGE, "$what: the NodeMaintenancePage body");
    ok t_cmp(hdr($r, 'Content-Type') // '', qr{^text/html}, "$what: the page's content type");
    ok t_cmp(hdr($r, 'Retry-After') // '', $retry, "$what: Retry-After $retry");
    ok t_cmp(hdr($r, 'Cache-Control') // '', 'no-store', "$what: Cache-Control: no-store");
    ok t_cmp($dt < 1 ? 1 : 0, 1, sprintf("$what: answered within 1 s (%.3f s)", $dt));
}

sub timed_req {
    my $t0 = time;
    my $r = http_req(@_);
    return ($r, time - $t0);
}

# ---- balancer with health checks (m1, m2; passes=1 fails=1, 500 ms) ----------
{
    my %be = map { $_->[0] => NPBackend::start(@$_) }
        (['m1', 'echo.js', 29124], ['m2', 'echo.js', 29125]);
    my $dt = wait_until(5, sub { http_req(path => '/maint/x')->{status} == 200 });
    ok t_cmp(defined $dt ? 1 : 0, 1, 'maintenance balancer answers 200 while its members run');

    $_->stop for values %be;
    my ($r, $t) = timed_req(path => '/maint/x');
    maint_ok('all members down (just stopped)', $r, $t, 17);

    # with the checks failing too (unhealthy): still the page, at once
    sleep 1.2;
    ($r, $t) = timed_req(path => '/maint/x');
    maint_ok('all members unhealthy', $r, $t, 17);

    # JSON for a client that prefers it
    ($r, $t) = timed_req(path => '/maint/x', headers => [Accept => 'application/json']);
    ok t_cmp($r->{status}, 503, 'Accept: application/json: 503');
    ok t_cmp(hdr($r, 'Content-Type') // '', qr{^application/json}, 'Accept: application/json: JSON content type');
    my $j = eval { JSON::PP->new->decode($r->{body}) } || {};
    ok t_cmp(join(',', map { "$_=" . ($j->{$_} // 'null') } qw(status error retry_after)),
             'status=503,error=service unavailable,retry_after=17',
             'Accept: application/json: {"status":503,"error":"service unavailable","retry_after":17}');
    ok t_cmp(hdr($r, 'Retry-After') // '', 17, 'JSON variant: Retry-After too');

    # HEAD: headers only
    my $raw = raw_http(port(), "HEAD /maint/x HTTP/1.1\r\nHost: " . hostport() . "\r\nConnection: close\r\n\r\n");
    my $end = index($raw, "\r\n\r\n");
    my $h = parse_response($raw);
    ok t_cmp($h->{status}, 503, 'HEAD: 503');
    ok t_cmp(hdr($h, 'Retry-After') // '', 17, 'HEAD: Retry-After');
    ok t_cmp($end >= 0 ? length($raw) - $end - 4 : -1, 0, 'HEAD: headers only, no body bytes');

    # back within 1 s of the first passing health check
    $be{m1} = NPBackend::start('m1', 'echo.js', 29124);
    my $t_start = time;
    my $last = 0;
    $dt = wait_until(5, sub { $last = http_req(path => '/maint/x')->{status}; $last == 200 }, 0.02);
    my $t_ok = time;
    my $first = ($be{m1}->stats->{first} || {})->{'/healthz'};
    my $since_check = defined $first ? $t_ok - $first / 1000 : undef;
    ok t_cmp(defined $dt && defined $since_check && $since_check <= 1 ? 1 : 0, 1,
             'traffic back within 1 s of the first passing health check (' .
             (defined $since_check ? sprintf('%.2f s after it, %.2f s after the restart', $since_check, $dt // -1)
                                   : "no check seen, last status $last") . ')');
}

# ---- balancer without health checks (m3, NodeFailTimeout 2s) -----------------------
{
    my $m3 = NPBackend::start('m3', 'echo.js', 29126);
    ok t_cmp(http_req(path => '/nohc-maint/x')->{status}, 200, 'no-check balancer answers 200');
    $m3->stop;
    my ($r, $t) = timed_req(path => '/nohc-maint/x');
    ok t_cmp($r->{status} . ' ' . (hdr($r, 'Retry-After') // '-'), '503 30',
             'no-check balancer down: 503 with the default Retry-After 30');
    ok t_cmp($r->{body}, $PAGE, 'no-check balancer down: the page');
    $m3 = NPBackend::start('m3', 'echo.js', 29126);
    my $last = 0;
    my $dt = wait_until(5, sub { $last = http_req(path => '/nohc-maint/x')->{status}; $last == 200 });
    ok t_cmp(defined $dt && $dt <= 3 ? 1 : 0, 1,
             'without health checks: traffic back within NodeFailTimeout + 1 s (' .
             (defined $dt ? sprintf('%.2f s', $dt) : "not in 5 s, last $last") . ')');
    $m3->stop;
}

# ---- NodeMaintenanceFlag on and off, page re-read ------------------------------------
# "settled": 10 requests in a row (new connections, so any child) answer $want
sub settle {
    my ($want, $max) = @_;
    my ($run, $t_run) = (0, undef);
    my $t0 = time;
    wait_until($max + 1, sub {
        my $t = time;
        my $s = http_req(path => '/flag-maint/x')->{status};
        if ($s == $want) { $t_run //= $t; $run++; } else { ($run, $t_run) = (0, undef); }
        return $run >= 10;
    }, 0.01);
    return $run >= 10 ? $t_run - $t0 : undef;
}
{
    my $m4 = NPBackend::start('m4', 'echo.js', 29127);
    ok t_cmp(settle(200, 2) // -1, qr/^\d/, 'flag absent: 200');
    open my $fh, '>', $FLAG_FILE or die; close $fh;
    my $dt = settle(503, 2);
    ok t_cmp(defined $dt && $dt <= 2 ? 1 : 0, 1, 'flag file created: every request 503 within 2 s (' .
             (defined $dt ? sprintf('%.2f s', $dt) : 'not in 3 s') . ')');
    # Each child looks at the flag at most once a second, on its next
    # request: ten 503s in a row may all have come from children that had
    # already looked. Past one more second every child has.
    sleep 1.2;
    my $r = http_req(path => '/flag-maint/x');
    ok t_cmp($r->{body} . (hdr($r, 'Retry-After') // '-'), $PAGE . '5', 'flag on: the page, Retry-After 5');
    my $before = $m4->count('/x');
    http_req(path => '/flag-maint/x') for 1 .. 5;
    ok t_cmp($m4->count('/x'), $before, 'flag on: requests do not reach the backend');

    # the page changes: re-read without a reload
    my $new = "<!doctype html>\n<h1>np-maint-page v2: changed at " . time . "</h1>\n";
    open $fh, '>', $PAGE_FILE or die; print $fh $new; close $fh;
    my $t0 = time;
    my $n = 0;
    $dt = wait_until(4, sub {
        my $b = http_req(path => '/flag-maint/x')->{body};
        $n = $b eq $new ? $n + 1 : 0;
        return $n >= 10;
    }, 0.01);
    ok t_cmp(defined $dt && $dt <= 2.5 ? 1 : 0, 1, 'changed page served without a reload within ~2 s (' .
             (defined $dt ? sprintf('%.2f s', $dt) : 'not in 4 s') . ')');
    open $fh, '>', $PAGE_FILE or die; print $fh $PAGE; close $fh;

    unlink $FLAG_FILE;
    $dt = settle(200, 2);
    ok t_cmp(defined $dt && $dt <= 2 ? 1 : 0, 1, 'flag file removed: every request 200 within 2 s (' .
             (defined $dt ? sprintf('%.2f s', $dt) : 'not in 3 s') . ')');
    $m4->stop;
}

# ---- the classic pattern: ErrorDocument 503 + NodeProxyPass /maintenance.html ! --
{
    my $port = vhost_port('np_classic');
    my $page = do { open my $fh, '<', t_path('htdocs', 'maintenance.html') or die; local $/; <$fh> };
    my $s = http_req(port => $port, path => '/maintenance.html');
    ok t_cmp($s->{status}, 200, 'classic: /maintenance.html is served by Apache (excluded with !)');
    my ($r, $t) = timed_req(port => $port, path => '/app/x');
    ok t_cmp($r->{status}, 503, 'classic: backend down: 503');
    ok t_cmp($r->{body}, $page, 'classic: the ErrorDocument page is the body');
    ok t_cmp(hdr($r, 'Retry-After') // '', 30, 'classic: Retry-After 30 (default)');
    ok t_cmp($t < 1 ? 1 : 0, 1, sprintf('classic: answered within 1 s (%.3f s)', $t));
}

{
    my @bad = pending_nonzero(3);
    ok t_cmp(join('; ', @bad), '', 'pending is 0 for every member');
}
