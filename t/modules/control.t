# Runtime control (issue 15) through a real httpd of 2 children and real
# Node backends: the control API on the status page (NodeStatusControl),
# what drain / maint / ready / weight do to routing and sticky sessions,
# a weight change seen at once by both children, states kept over a
# graceful restart, and what is refused: GET, cross-site form posts,
# bad requests, and POST with the control off.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();
use NPAsync ();
use NPControl ();
use POSIX ();

plan tests => 57, need_module('nodeproxy');

my ($P1, $P2, $PORT) = (29401, 29402, 29410);
my $U1 = "http://127.0.0.1:$P1";
my $U2 = "http://127.0.0.1:$P2";
my $b1 = NPBackend::start('c1', 'echo.js', $P1);
my $b2 = NPBackend::start('c2', 'echo.js', $P2);
my $h = NPControl::httpd('control', $PORT, <<"EOC");
<NodeBalancer ctl>
    NodeBalancerMethod round-robin
    NodeSticky cookie NPCTL
    NodeMember $U1
    NodeMember $U2
</NodeBalancer>
NodeProxyPass /app/ balancer://ctl/
EOC

sub api { NPControl::api($h, @_) }
sub uesc { my $x = shift; $x =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge; $x }
sub admin_of { NPControl::member($h, 'ctl', $_[0])->{admin} // '' }

my $m1 = NPControl::member($h, 'ctl', $U1);
my $route1 = $m1->{route};
ok t_cmp($m1->{admin}, 'ready', 'status JSON shows the admin state (ready at start)');
ok t_cmp("$m1->{weight}/$m1->{configured_weight}/" . sprintf('%.2f', $m1->{effective_weight}), '1/1/1.00',
         'weight, configured weight and effective weight shown');
my $c = NPControl::spread($h, 20, '/app/x');
ok t_cmp(NPControl::fmt($c), 'c1=10 c2=10', 'round robin over both members');

# ---- control off: the common read-only /np-status --------------------------
my ($st, $j) = api({ balancer => 'ctl', member => $U1, action => 'drain' }, path => '/np-status');
ok t_cmp($st, 403, 'POST to a status page without NodeStatusControl: 403');
ok t_cmp(($j || {})->{error} // '', qr/add "NodeStatusControl on" to its <Location>/,
         '... with a message saying how to enable it');
ok t_cmp(admin_of($U1), 'ready', '... and nothing changed');

# ---- GET never changes state ------------------------------------------------
my $r = http_req(port => $PORT, path => "/np-admin?balancer=ctl&member=$U1&action=drain&format=json");
ok t_cmp($r->{status}, 200, 'GET with change parameters answers the status page');
ok t_cmp(admin_of($U1), 'ready', '... and changes nothing');

# ---- drain ---------------------------------------------------------------------
my $mark = $h->log_mark;
($st, $j) = api({ balancer => 'ctl', member => $U1, action => 'drain' });
ok t_cmp($st, 200, 'POST JSON drain: 200');
ok t_cmp(($j || {})->{member}{admin} // '', 'drain', '... the answer is the member with its new state');
ok t_cmp(scalar($h->wait_log($mark, qr/NP00400: .*member \Q$U1\E\): admin state ready -> drain, set by 127\.0\.0\.1/, 5)), 1,
         'the change is logged (NOTICE, NP00400) with client address and old -> new');
$c = NPControl::spread($h, 20, '/app/x');
ok t_cmp(NPControl::fmt($c), 'c2=20', 'drained: no new unsticky request reaches it');
$c = NPControl::spread($h, 10, '/app/x', Cookie => "NPCTL=$route1");
ok t_cmp(NPControl::fmt($c), 'c1=10', 'drained: requests whose sticky cookie names it still go there');

# ---- maint -----------------------------------------------------------------------
($st, $j) = api({ balancer => 'ctl', member => $U1, action => 'maint' });
ok t_cmp($st, 200, 'POST JSON maint: 200');
my ($be, $s2, $rr) = NPControl::get($h, '/app/x', Cookie => "NPCTL=$route1");
ok t_cmp($be, 'c2', 'maint: a sticky client is re-routed');
ok t_cmp(hdr($rr, 'Set-Cookie') // '', qr/^NPCTL=(?!\Q$route1\E)/, '... and its cookie re-set to the other member');
$c = NPControl::spread($h, 10, '/app/x', Cookie => "NPCTL=$route1");
ok t_cmp(NPControl::fmt($c), 'c2=10', 'maint: nothing reaches it');

# ---- ready ------------------------------------------------------------------------
($st) = api({ balancer => 'ctl', member => $U1, action => 'ready' });
ok t_cmp($st, 200, 'POST JSON ready: 200');
$c = NPControl::spread($h, 20, '/app/x');
ok t_cmp(($c->{c1} // 0) >= 9 && ($c->{c1} // 0) <= 11 ? 1 : 0, 1,
         'ready: traffic returns (' . NPControl::fmt($c) . ')');

# ---- nodeproxyctl: its commands and exit codes ----------------------------------------
{
    my ($rc, $out) = NPControl::ctl($h, 'status');
    ok t_cmp("$rc " . ($out =~ /^ctl\s+\Q$U1\E\s+usable\s+ready\s+weight 1/m ? 'listed' : $out), '0 listed',
             'nodeproxyctl status lists the members');
    ($rc, $out) = NPControl::ctl($h, 'weight', 'ctl', $U2, '2');
    ok t_cmp("$rc " . (NPControl::member($h, 'ctl', $U2)->{weight} // ''), '0 2', 'nodeproxyctl weight: exit 0, weight set');
    NPControl::ctl($h, 'weight', 'ctl', $U2, '1');
    ($rc, $out) = NPControl::ctl($h, 'drain', 'nope', $U1);
    ok t_cmp("$rc $out", qr/^1 .*refused \(404\): unknown balancer "nope"/, 'refused by the server: exit 1 with its message');
    ($rc, $out) = NPControl::ctl($h, 'frob', 'ctl', $U1);
    ok t_cmp("$rc $out", qr/^2 .*unknown command "frob"/, 'usage error: exit 2');
    ($rc, $out) = NPControl::ctl($h, 'weight', 'ctl', $U1, '101');
    ok t_cmp($rc, 2, 'a bad weight is a usage error (exit 2)');
    my ($rc3) = `$^X $NPControl::CTL --url http://127.0.0.1:29449/np-admin status 2>&1`;
    ok t_cmp($? >> 8, 3, 'server unreachable: exit 3');
    # a request in flight on c1 (its sticky cookie) for 3 s
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        http_req(port => $PORT, path => '/app/slow?ms=3000', headers => [ Cookie => "NPCTL=$route1" ], timeout => 20);
        POSIX::_exit(0);
    }
    my $seen = wait_until(5, sub { (NPControl::member($h, 'ctl', $U1)->{pending} // 0) > 0 });
    ok t_cmp(defined $seen ? 1 : 0, 1, 'a slow request is in flight on c1 (pending 1)');
    ($rc, $out) = NPControl::ctl($h, 'drain', 'ctl', $U1, '--wait', '--timeout', '0.5');
    ok t_cmp("$rc $out", qr/^4 .*still has 1 request\(s\) in flight after 0\.5 s/s, 'drain --wait --timeout 0.5: exit 4 while it is in flight');
    ($rc, $out) = NPControl::ctl($h, 'drain', 'ctl', $U1, '--wait', '--timeout', '20');
    ok t_cmp("$rc $out", qr/^0 .*has no request in flight/s, 'drain --wait: exit 0 once the request has ended (pending 0)');
    waitpid($pid, 0);
    NPControl::ctl($h, 'ready', 'ctl', $U1);
}

# ---- bad requests: 4xx JSON naming what is wrong ------------------------------------
my @bad = (
    [ { balancer => 'nope', member => $U1, action => 'drain' }, 404, qr/unknown balancer "nope"/ ],
    [ { balancer => 'ctl', member => 'http://127.0.0.1:1', action => 'drain' }, 404,
      qr{unknown member "http://127\.0\.0\.1:1" in balancer "ctl"} ],
    [ { balancer => 'ctl', member => $U1, action => 'stop' }, 400, qr/unknown action "stop"/ ],
    [ { balancer => 'ctl', member => $U1, weight => 101 }, 400, qr/bad weight "101"/ ],
    [ '{"balancer":"ctl",', 400, qr/malformed JSON/ ],
);
for my $b (@bad) {
    ($st, $j) = api($b->[0]);
    ok t_cmp("$st " . (($j || {})->{error} // ''), qr/^$b->[1] .*$b->[2]/,
             "bad request answered $b->[1] naming it");
}
($st, $j) = api('balancer=ctl', type => 'text/plain');
ok t_cmp($st, 415, 'other content types: 415');

# ---- cross-site protection of the form posts ---------------------------------------
my $page = http_req(port => $PORT, path => '/np-admin');
my ($token) = $page->{body} =~ /name="token" value="([^"]+)"/;
ok t_cmp(defined $token ? 1 : 0, 1, 'the control page carries a token in its forms');
my $ro = http_req(port => $PORT, path => '/np-status');
ok t_cmp($ro->{body} =~ /<form/ ? 1 : 0, 0, 'the read-only status page has no forms');
my $self = "http://localhost:$PORT";
sub form { my ($tok, @h) = @_;
    my $body = "balancer=ctl&member=" . uesc($U1) . "&action=drain" .
               (defined $tok ? "&token=$tok" : '');
    return api($body, type => 'application/x-www-form-urlencoded', headers => \@h);
}
($st) = form($token, Origin => 'http://evil.example');
ok t_cmp($st, 403, 'cross-site form post (foreign Origin, valid token): 403');
($st) = form($token, Referer => 'http://evil.example/page');
ok t_cmp($st, 403, 'cross-site form post (foreign Referer, no Origin): 403');
($st) = form(undef, Origin => $self);
ok t_cmp($st, 403, 'form post without the token: 403');
($st) = form('5f000000.0000000000000000000000000000000000000000', Origin => $self);
ok t_cmp($st, 403, 'form post with a forged token: 403');
($st) = form($token);
ok t_cmp($st, 403, 'form post with neither Origin nor Referer: 403');
($st, $j) = api({ balancer => 'ctl', member => $U1, action => 'drain' },
                headers => [ Origin => 'http://evil.example' ]);
ok t_cmp($st, 403, 'JSON post with a foreign Origin: 403');
ok t_cmp(admin_of($U1), 'ready', 'none of them changed anything');
my $resp;
($st, $j, $resp) = form($token, Origin => $self, Referer => "$self/np-admin");
ok t_cmp($st, 303, 'the page\'s own form post (token, same Origin): 303 back to the page');
ok t_cmp(hdr($resp, 'Location') // '', qr{/np-admin$}, '... Location is the page');
ok t_cmp(admin_of($U1), 'drain', '... and the member is drained');
($st) = api("balancer=ctl&member=" . uesc($U1) . "&action=weight&weight=5&token=$token",
            type => 'application/x-www-form-urlencoded', headers => [ Referer => "$self/np-admin?refresh=5" ]);
ok t_cmp($st . '/' . NPControl::member($h, 'ctl', $U1)->{weight}, '303/5', 'the weight field (form, same-origin Referer) sets the weight');
api({ balancer => 'ctl', member => $U1, action => 'ready' });
api({ balancer => 'ctl', member => $U1, weight => 1 });

# ---- a weight change takes effect at once in both children -------------------------
# keep-alive connections until two of them are served by different children
my (%conn_of_pid, @conns);
for my $i (1 .. 40) {
    my $cn = NPTest::Conn->new($PORT);
    $cn->request(path => "/app/probe$i");
    push @conns, $cn;
}
sleep 0.5;
my %pid_of_port;
if (open my $fh, '<', $h->dir . '/pid_log') {
    while (<$fh>) { $pid_of_port{$2} = $1 if /^(\d+) (\d+) \d+ GET \/app\/probe/; }
}
for my $cn (@conns) {
    my $pid = $pid_of_port{ $cn->{sock}->sockport } or next;
    $conn_of_pid{$pid} ||= $cn;
}
my @pids = sort keys %conn_of_pid;
ok t_cmp(scalar(@pids), 2, 'two kept-alive client connections served by the two children (' . "@pids" . ')');
my ($ca, $cb) = @conn_of_pid{@pids[0, 1]};
my $wr = $ca->request(method => 'POST', path => '/np-admin', headers => [ 'Content-Type' => 'application/json' ],
                      body => $NPControl::JSON->encode({ balancer => 'ctl', member => $U1, weight => 3 }));
ok t_cmp($wr->{status}, 200, 'weight 3 for c1, set through child ' . $pids[0]);
my (%per, %tot);
for my $i (1 .. 20) {
    for my $k ([$pids[0], $ca], [$pids[1], $cb]) {
        my $x = $k->[1]->request(path => "/app/w$i");
        my $be2 = hdr($x, 'X-Backend') // 'none';
        $per{ $k->[0] }{$be2}++;
        $tot{$be2}++;
    }
}
ok t_cmp(($tot{c1} // 0) >= 28 && ($tot{c1} // 0) <= 32 ? 1 : 0, 1,
         'weights 3:1 over both children at once (c1 ' . ($tot{c1} // 0) . ' of 40, expected 30)');
ok t_cmp(($per{ $pids[1] }{c1} // 0) >= 12 ? 1 : 0, 1,
         'the other child ' . $pids[1] . ' follows it at once (c1 ' . ($per{ $pids[1] }{c1} // 0) . ' of 20, 10 before)');
$wr = $cb->request(method => 'POST', path => '/np-admin', headers => [ 'Content-Type' => 'application/json' ],
                   body => $NPControl::JSON->encode({ balancer => 'ctl', member => $U1, weight => 0 }));
my %zero;
for my $i (1 .. 10) {
    for my $k ($ca, $cb) { $zero{ hdr($k->request(path => "/app/z$i"), 'X-Backend') // 'none' }++; }
}
ok t_cmp(NPControl::fmt(\%zero), 'c2=20', 'weight 0 (set through the other child): no new requests in either child');
@conns = (); %conn_of_pid = (); ($ca, $cb) = ();

# ---- states survive a graceful restart ------------------------------------------------
api({ balancer => 'ctl', member => $U1, action => 'drain' });
api({ balancer => 'ctl', member => $U2, weight => 7 });
$mark = $h->log_mark;
kill 'USR1', $h->pid;
my @gr = $h->wait_log($mark, qr/resuming normal operations/, 15);
ok t_cmp(scalar(@gr) ? 1 : 0, 1, 'graceful restart done');
sleep 0.5;
my $g1 = NPControl::member($h, 'ctl', $U1);
my $g2 = NPControl::member($h, 'ctl', $U2);
ok t_cmp("$g1->{admin} w$g1->{weight} / $g2->{admin} w$g2->{weight}", 'drain w0 / ready w7',
         'admin states and weights kept over the graceful restart');
$c = NPControl::spread($h, 10, '/app/x');
ok t_cmp(NPControl::fmt($c), 'c2=10', '... and still honoured');
my $prom = http_req(port => $PORT, path => '/np-admin?format=prometheus')->{body};
ok t_cmp($prom, qr/nodeproxy_member_admin_state\{balancer="ctl",member="\Q$U1\E",state="drain"\} 1\n/,
         'Prometheus shows the admin state');
my $html = http_req(port => $PORT, path => '/np-admin')->{body};
ok t_cmp($html, qr{<tr data-member="\Q$U1\E">.*<span class="admin-drain">drain</span>}s, 'the HTML page shows it');

$h->stop;
