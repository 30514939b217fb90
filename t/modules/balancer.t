# <NodeBalancer>: weighted round robin, least-pending under load, sticky
# cookies across children and new connections, standby members, ip-hash,
# NodeRetry 0, a unix-socket member, a main-server balancer used from a
# vhost; pending is back to 0 for every member at the end.
# (kill -9 under load: balancer_kill.t; bad values: balancer_config.t)
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();

plan tests => 40, need_module('nodeproxy');

my %be = map { $_->[0] => NPBackend::start(@$_) }
    (['b1', 'echo.js', 29111], ['b2', 'echo.js', 29112], ['b3', 'echo.js', 29113]);
my $DEAD = 'http://127.0.0.1:29119';

# ---- weighted round robin: weights 1,1,2 -> exactly 10/10/20 of 40 ---------
{
    my ($by, $st) = count_backends(40, path => '/bal/rr/x');
    ok t_cmp($st->{200} // 0, 40, 'round-robin: 40 of 40 answered 200');
    ok t_cmp(join(' ', map { "$_=" . ($by->{$_} // 0) } qw(b1 b2 b3)), 'b1=10 b2=10 b3=20',
             'round-robin weights 1,1,2: X-Backend counts exactly 10/10/20 of 40');
}

# ---- least-pending: a slow member gets clearly fewer requests -------------
{
    $be{b3}->delay(200);
    my $res = run_load(clients => 8, seconds => 3, path => '/bal/lp/x');
    $be{b3}->delay(0);
    my %by;
    my $errors = 0;
    for (@{ $res->{records} }) { $_->[2] == 200 ? $by{ $_->[3] }++ : $errors++; }
    my ($f1, $f2, $slow) = map { $by{$_} // 0 } qw(b1 b2 b3);
    t_debug("least-pending, 8 clients 3 s, b3 sleeps 200 ms: b1=$f1 b2=$f2 b3=$slow errors=$errors");
    ok t_cmp($errors, 0, 'least-pending under load: no errors');
    ok t_cmp($slow * 3 < ($f1 < $f2 ? $f1 : $f2) ? 1 : 0, 1,
             "least-pending: the slow member (200 ms) gets < 1/3 of a fast one's requests (round robin: as many) " .
             "(b1=$f1 b2=$f2 slow b3=$slow)");
    ok t_cmp($slow > 0 ? 1 : 0, 1, 'least-pending: the slow member still gets some');
}

# ---- sticky sessions --------------------------------------------------------
{
    my @kids = httpd_children();
    ok t_cmp(scalar(@kids) >= 2 ? 1 : 0, 1, 'httpd runs at least 2 children (' . scalar(@kids) . ')');

    my $r = http_req(path => '/bal/sticky/first');
    my @sc = grep { /^NPROUTE=/ } hdrs($r, 'Set-Cookie');
    ok t_cmp($r->{status}, 200, 'sticky: first request 200');
    ok t_cmp(scalar(@sc), 1, 'sticky: first response sets one NPROUTE cookie');
    my $sc = $sc[0] // '';
    ok t_cmp($sc, qr/^NPROUTE=[A-Za-z0-9._~-]+; Path=\/; HttpOnly; SameSite=Lax$/,
             'sticky: Set-Cookie NAME=ROUTE; Path=/; HttpOnly; SameSite=Lax');
    my ($route) = $sc =~ /^NPROUTE=([^;]+)/;
    $route //= 'none';
    my $member = hdr($r, 'X-Backend') // '-';

    my (%seen, $set_again, $ok);
    for my $i (1 .. 50) {
        my $q = http_req(path => "/bal/sticky/n$i", headers => [Cookie => "other=1; NPROUTE=$route"]);
        $ok++ if $q->{status} == 200;
        $seen{ hdr($q, 'X-Backend') // '-' }++;
        $set_again++ if grep { /^NPROUTE=/ } hdrs($q, 'Set-Cookie');
    }
    ok t_cmp($ok, 50, 'sticky: 50 requests with the cookie, new connections, all 200');
    ok t_cmp(join(',', sort keys %seen), $member, "sticky: all 50 on the first member ($member)");
    ok t_cmp($set_again // 0, 0, 'sticky: a valid cookie is not set again');

    # the route in the cookie is the member's route in the status JSON
    my $j = status_json();
    my ($bal) = grep { $_->{name} eq 'np_sticky' } @{ $j->{balancers} || [] };
    my %route_of = map { $_->{route} => $_->{url} } @{ $bal->{members} || [] };
    my %port = (b1 => 29111, b2 => 29112, b3 => 29113);
    ok t_cmp($route_of{$route} // '', 'http://127.0.0.1:' . ($port{$member} // 0),
             'sticky: the cookie value is the route of the member that answered');
    ok t_cmp($bal->{sticky_cookie} // '', 'NPROUTE', 'status JSON: sticky_cookie');

    # a cookie naming a dead member: re-routed and re-set
    my $d = http_req(path => '/bal/sticky/dead', headers => [Cookie => 'NPROUTE=gone']);
    ok t_cmp($d->{status}, 200, 'sticky: cookie naming a dead member: 200 from another member');
    ok t_cmp(hdr($d, 'X-Backend') // '-', qr/^b[123]$/, 'sticky: re-routed to a live member');
    my ($reset) = grep { /^NPROUTE=/ } hdrs($d, 'Set-Cookie');
    my $want = { b1 => 29111, b2 => 29112, b3 => 29113 }->{ hdr($d, 'X-Backend') // '' } // 0;
    my %url_route = reverse %route_of;
    my $new_route = $url_route{"http://127.0.0.1:$want"} // 'x';
    ok t_cmp($reset // '', qr/^NPROUTE=\Q$new_route\E; Path=\//,
             'sticky: the cookie is re-set to the new member');
    # an unknown route: treated as no cookie
    my $u = http_req(path => '/bal/sticky/unknown', headers => [Cookie => 'NPROUTE=nosuchroute']);
    ok t_cmp(scalar(grep { /^NPROUTE=/ } hdrs($u, 'Set-Cookie')), 1, 'sticky: an unknown route gets a new cookie');
}

# ---- ip-hash: one client address, one member ----------------------------------
{
    my ($by) = count_backends(20, path => '/bal/iphash/x');
    ok t_cmp(join(',', map { "$_=$by->{$_}" } sort keys %$by), qr/^b[123]=20$/,
             'ip-hash: 20 requests from 127.0.0.1 all on one member');
    my ($seen, $spread) = (0, 0);
    my %members;
    for my $n (2 .. 9) {
        my $addr = "127.0.0.$n";
        next unless local_addr_ok($addr);
        $seen++;
        my ($b) = count_backends(6, path => '/bal/iphash/x', local_addr => $addr);
        $spread++ if keys %$b == 1;
        $members{$_}++ for keys %$b;
    }
    ok t_cmp($seen ? $spread : -1, $seen || 1, "ip-hash: each of $seen other client addresses stays on one member");
    t_debug('ip-hash members used by 127.0.0.2-9: ' . join(',', sort keys %members));
}

# ---- NodeRetry 0 ------------------------------------------------------------------
{
    my $mark = log_mark();
    my $t0 = time;
    my $r = http_req(path => '/bal/noretry/x');
    ok t_cmp($r->{status}, 503, 'NodeRetry 0: the first (refused) member gives 503, no other member tried');
    ok t_cmp(time - $t0 < 2 ? 1 : 0, 1, 'NodeRetry 0: 503 at once');
    my @l = wait_log($mark, qr/NP\d{5}.*np_noretry.*1 member\(s\) tried/, 2);
    ok t_cmp(scalar(@l), 1, 'NodeRetry 0: logged "1 member(s) tried"') or t_debug(log_since($mark));
    my $r2 = http_req(path => '/bal/noretry/x');
    ok t_cmp($r2->{status} . ' ' . (hdr($r2, 'X-Backend') // '-'), '200 b1',
             'NodeRetry 0: the next request skips the failed member');
    # the same balancer without NodeRetry tries the next member
    my $r3 = http_req(path => '/bal/retry/x');
    ok t_cmp($r3->{status} . ' ' . (hdr($r3, 'X-Backend') // '-'), '200 b1',
             'default retry: the refused member is skipped, the next one answers');
}

# ---- standby: unused until all others are down ----------------------------------
{
    my %sb = map { $_->[0] => NPBackend::start(@$_) }
        (['sb1', 'echo.js', 29114], ['sb2', 'echo.js', 29115], ['sbs', 'echo.js', 29116]);
    my ($by, $st) = count_backends(20, path => '/bal/standby/x');
    ok t_cmp(($by->{sb1} // 0) + ($by->{sb2} // 0), 20, 'standby: 20 requests all on the regular members');
    ok t_cmp($sb{sbs}->count('/x'), 0, 'standby: the standby member got no request');
    $sb{sb1}->stop;
    ($by) = count_backends(10, path => '/bal/standby/x');
    ok t_cmp(join(',', map { "$_=$by->{$_}" } sort keys %$by), 'sb2=10',
             'standby: one regular member down: the other takes all, standby still unused');
    $sb{sb2}->stop;
    ($by, $st) = count_backends(10, path => '/bal/standby/x');
    ok t_cmp(join(',', map { "$_=$by->{$_}" } sort keys %$by), 'sbs=10',
             'standby: all regular members down: the standby member answers every request');
    my $j = status_json();
    my $m = status_member($j, 'np_standby', 'http://127.0.0.1:29116') || {};
    ok t_cmp(($m->{standby} ? 'true' : 'false'), 'true', 'status JSON: standby true');
    # a regular member back: traffic leaves the standby within NodeFailTimeout (2 s) + 1 s
    $sb{sb1} = $sb{sb1}->restart;
    my $t0 = time;
    my $last = '';
    my $dt = wait_until(4, sub {
        my $r = http_req(path => '/bal/standby/x');
        $last = hdr($r, 'X-Backend') // '-';
        return $last eq 'sb1';
    });
    ok t_cmp(defined $dt && $dt <= 3 ? 1 : 0, 1,
             'standby: a regular member back gets traffic within NodeFailTimeout + 1 s (' .
             (defined $dt ? sprintf('%.2f s', $dt) : "not in 4 s, last $last") . ')');
    ($by) = count_backends(10, path => '/bal/standby/x');
    ok t_cmp(join(',', map { "$_=$by->{$_}" } sort keys %$by), 'sb1=10',
             'standby: unused again once a regular member is back');
}

# ---- a unix-socket member ------------------------------------------------------------
{
    my $sock = NPBackend::start('bsock', 'echo.js', Apache::Test::vars('np_sock'));
    my ($by, $st) = count_backends(5, path => '/bal/unix/u?q=1');
    ok t_cmp(join(',', map { "$_=$by->{$_}" } sort keys %$by), 'bsock=5', 'unix-socket member answers');
    my $r = http_req(path => '/bal/unix/u?q=1');
    ok t_cmp((json_body($r) || {})->{url} // '', '/u?q=1', 'unix-socket member: path mapped');
    $sock->stop;
}

# ---- a balancer of the main server used from a virtual host ---------------------
{
    my $port = vhost_port('np_balvh');
    my $r = http_req(port => $port, path => '/vh/abc');
    ok t_cmp($r->{status}, 200, 'main-server balancer from a vhost: 200');
    ok t_cmp(hdr($r, 'X-Backend') // '-', qr/^b[12]$/, 'main-server balancer from a vhost: a member answers');
    ok t_cmp((json_body($r) || {})->{url} // '', '/abc', 'main-server balancer from a vhost: path mapped');
}

# ---- the status JSON lists the members as configured (port range expanded) ----
{
    my $j = status_json();
    my ($lp) = grep { $_->{name} eq 'np_lp' } @{ $j->{balancers} || [] };
    ok t_cmp(join(' ', map { $_->{url} } @{ $lp->{members} || [] }),
             'http://127.0.0.1:29111 http://127.0.0.1:29112 http://127.0.0.1:29113',
             'NodeMember port range: one member per port');
    ok t_cmp($lp->{method} // '', 'least-pending', 'default method: least-pending');
}

# ---- after all that, nothing is left pending ------------------------------------------
{
    my @bad = pending_nonzero(3);
    ok t_cmp(join('; ', @bad), '', 'pending is 0 for every member after the tests');
}
