# mod_status sees what waits without a thread (issue 14, item 6): Apache's
# own server-status, from Debian's mod_status, gets a mod_nodeproxy section
# through mod_status' status_hook. DEDICATED httpd (t/lib/NPAsync.pm, event
# MPM, exactly 2 children x 25 threads), backends t/backends/slow.js
# (long-polls, through a balancer) and t/backends/ws.js (WebSockets), clients
# t/backends/loadclient.js and t/backends/wsclient.js. Ports 29600-29619.
#  - server-status?auto: NodeProxyWaiting 20 and NodeProxyTunnels 10 while
#    20 long-polls and 10 WebSockets are open, summed over both children
#    (whichever child answers), the per-child lines adding up to the same;
#    the balancer member shows the 20 pending; the scoreboard's busy workers
#    do not count them;
#  - the counts return to 0 once they have ended;
#  - an idle keep-alive connection the module carries after an async
#    response shows as NodeProxyKeepAlive 1, then 0 when the client closes;
#  - 4 Server-Sent Events streams count as waiting, then 0 when they end;
#  - the HTML page has the section (a table with the sums, the balancer);
#  - the same with ExtendedStatus Off (a second dedicated httpd), and after
#    a graceful restart the old child that still holds a tunnel is listed
#    (Stopping 1) beside the new generation, its tunnel still counted.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use List::Util qw(sum0);
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();
use NPAsync ();
use NPWs ();

my $MOD_STATUS = '/usr/lib/apache2/modules/mod_status.so';

# (mod_status.so is part of Debian's apache2 package, as mod_nodeproxy's
# test setup needs it anyway)
plan tests => 25, need_module('nodeproxy');

sub enc { $NPAsync::JSON->encode($_[0]) }

# this file's own port range (t/modules/modstatus.t: 29600-29619)
my ($port, $bport, $wsport, $port2) = do {
    local @NPAsync::PORT_RANGE = (29600 .. 29619);
    NPAsync::free_ports(4);
};
my $sb = NPAsync::backend('msl', $bport);
my $wsb = NPBackend::start('msw', 'ws.js', $wsport);

sub conf {
    my ($extended) = @_;
    return <<"EOC";
LoadModule status_module $MOD_STATUS
ExtendedStatus $extended
<Location /server-status>
    SetHandler server-status
</Location>
KeepAliveTimeout 30
<NodeBalancer msb>
    NodeMember http://127.0.0.1:$bport
</NodeBalancer>
NodeProxyPass /lp/ balancer://msb/
NodeProxyPass /ws/ http://127.0.0.1:$wsport/
EOC
}

my $httpd = NPAsync::Httpd->start(tag => 'modstatus', port => $port, conf => conf('On'));
my $base = "http://127.0.0.1:$port";
t_debug("dedicated httpd pid " . $httpd->pid . ", children " . join(' ', $httpd->children));

# server-status?auto as {Key => value}
sub auto {
    my ($p) = @_;
    my $r = eval { NPTest::http_req(port => $p || $port, path => '/server-status?auto', timeout => 5) };
    return {} unless $r && $r->{status} == 200;
    my %k;
    for (split /\n/, $r->{body}) { $k{$1} = $2 if /^([^:]+): (.*)$/; }
    return \%k;
}
sub per_child_sum {
    my ($a, $what) = @_;
    return sum0(map { $a->{$_} } grep { /^NodeProxyChild\[\d+\]\Q$what\E$/ } keys %$a);
}
# wait (bounded) until server-status says what $want says
sub wait_auto {
    my ($timeout, %want) = @_;
    my $a = {};
    NPTest::wait_until($timeout, sub {
        $a = auto();
        for (keys %want) { return 0 unless ($a->{$_} // -1) == $want{$_}; }
        return 1;
    }, 0.1);
    return $a;
}

# ---- idle: both children there, nothing held (2) ---------------------------------
my $a0 = wait_auto(10, NodeProxyChildren => 2, NodeProxyWaiting => 0, NodeProxyTunnels => 0);
t_debug('idle: ' . enc({ map { $_ => $a0->{$_} } grep { /^NodeProxy/ } keys %$a0 }));
ok t_cmp($a0->{NodeProxyChildren} // -1, 2, 'server-status?auto: NodeProxyChildren 2 (both children have a record)');
ok t_cmp(join(',', map { $a0->{$_} // '-' } qw(NodeProxyWaiting NodeProxyTunnels NodeProxyQueued NodeProxyKeepAlive)),
         '0,0,0,0', 'idle: Waiting, Tunnels, Queued, KeepAlive all 0');

# ---- 20 long-polls and 10 WebSockets open (8) -------------------------------------
NPAsync::reset_stats($sb);
my $lp = NPAsync::load_bg({ url => "$base/lp/slow?ms=120000&id=lp{i}", n => 20,
                            timeout_ms => 150000, hard_ms => 150000 });
my $s = NPWs::Session->new;
my $o = $s->cmd({ cmd => 'open', url => "ws://127.0.0.1:$port/ws/echo/m", n => 10, concurrency => 10 });
t_debug('ws open: ' . enc($o));
NPTest::wait_until(20, sub { (NPAsync::stats($sb)->{inflight} // 0) >= 20 }, 0.1);
my $st = NPAsync::stats($sb);
ok t_cmp(($o->{opened} // 0) . '/' . ($st->{inflight} // 0), '10/20',
         'setup: 10 WebSockets opened, the backend holds 20 long-polls');

my $a1 = wait_auto(20, NodeProxyWaiting => 20, NodeProxyTunnels => 10);
t_debug('open: ' . enc({ map { $_ => $a1->{$_} } grep { /^(NodeProxy|BusyWorkers|IdleWorkers|ConnsAsync)/ } keys %$a1 }));
ok t_cmp($a1->{NodeProxyWaiting} // -1, 20, 'NodeProxyWaiting: 20 (the long-polls, over both children)');
ok t_cmp($a1->{NodeProxyTunnels} // -1, 10, 'NodeProxyTunnels: 10');
ok t_cmp(per_child_sum($a1, 'Waiting') . '/' . per_child_sum($a1, 'Tunnels'), '20/10',
         'the per-child lines add up to the same (NodeProxyChild[N]Waiting / Tunnels)');
my @pids = sort map { $a1->{$_} } grep { /^NodeProxyChild\[\d+\]Pid$/ } keys %$a1;
ok t_cmp("@pids", join(' ', sort $httpd->children), 'one NodeProxyChild[N] per httpd child, by pid');
ok t_cmp($a1->{NodeProxyQueued} // -1, 0, 'NodeProxyQueued: 0 (no max=)');
ok t_cmp(($a1->{'NodeProxyBalancer[0]Name'} // '') . ' ' . ($a1->{'NodeProxyBalancer[0]Member[0]State'} // '') .
         ' pending=' . ($a1->{'NodeProxyBalancer[0]Member[0]Pending'} // '-'),
         'msb usable pending=20', 'the balancer member: usable, 20 pending');
ok t_cmp(($a1->{BusyWorkers} // 99) < 10 ? 1 : 0, 1,
         "mod_status' own BusyWorkers ($a1->{BusyWorkers}) does not count the 30: no thread holds them");

# ---- the HTML page (2) -------------------------------------------------------------
{
    my $r = NPTest::http_req(port => $port, path => '/server-status', timeout => 5);
    my $b = $r->{body} // '';
    ok t_cmp(($b =~ m{<h1>mod_nodeproxy</h1>} ? 1 : 0) . ($b =~ m{<tr><td>Sum</td><td>2</td><td>&nbsp;</td><td>20</td><td>10</td>} ? 1 : 0),
             '11', 'HTML: the mod_nodeproxy section with the sums (2 children, 20 waiting, 10 tunnels)');
    ok t_cmp($b =~ m{<h2>NodeBalancer msb</h2>.*<td>http://127\.0\.0\.1:$bport</td><td>usable</td><td>ready</td><td>20</td>}s ? 1 : 0,
             1, 'HTML: the balancer table (member, state, admin, pending)');
}

# ---- they end: back to 0 (2) ---------------------------------------------------------
my $c = $s->cmd({ cmd => 'close' });
t_debug('ws close: ' . enc($c));
kill 'KILL', $lp->pid;       # the long-polls' clients go away
$lp->wait(10);
my $a2 = wait_auto(30, NodeProxyWaiting => 0, NodeProxyTunnels => 0);
t_debug('ended: ' . enc({ map { $_ => $a2->{$_} } grep { /^NodeProxy/ } keys %$a2 }));
ok t_cmp($a2->{NodeProxyWaiting} // -1, 0, 'after the long-polls ended: NodeProxyWaiting 0');
ok t_cmp($a2->{NodeProxyTunnels} // -1, 0, 'after the WebSockets closed: NodeProxyTunnels 0');

# ---- an idle keep-alive connection the module carries (3) -----------------------------
{
    my $k = NPTest::Conn->new($port);
    my $r = $k->request(path => '/lp/slow?ms=400&id=ka');
    ok t_cmp(($r->{status} // 0) . ' ' . ($k->reconnects), '200 0', 'an async request (400 ms) on a kept-alive connection');
    my $a3 = wait_auto(10, NodeProxyKeepAlive => 1);
    ok t_cmp($a3->{NodeProxyKeepAlive} // -1, 1, 'the connection waits for its next request in the module: NodeProxyKeepAlive 1');
    close $k->{sock};
    my $a4 = wait_auto(10, NodeProxyKeepAlive => 0);
    ok t_cmp($a4->{NodeProxyKeepAlive} // -1, 0, 'the client closed it: NodeProxyKeepAlive 0');
}
# ---- Server-Sent Events streams wait too (2) ------------------------------------------
{
    # one event at once, then one a second: each stream waits between events
    my $sse = NPAsync::load_bg({ url => "$base/lp/sse?n=1000&every=1000&first=0&id=sse{i}", n => 4,
                                 mode => 'sse', timeout_ms => 150000, hard_ms => 150000 });
    my $a5 = wait_auto(20, NodeProxyWaiting => 4);
    ok t_cmp($a5->{NodeProxyWaiting} // -1, 4, '4 SSE streams open: NodeProxyWaiting 4');
    kill 'KILL', $sse->pid;
    $sse->wait(10);
    my $a6 = wait_auto(30, NodeProxyWaiting => 0);
    ok t_cmp($a6->{NodeProxyWaiting} // -1, 0, 'the SSE clients left: NodeProxyWaiting 0');
}
$s->stop;
$httpd->stop;

# ---- ExtendedStatus Off, graceful restart (6) --------------------------------------
{
    # room for a new generation beside the old one (graceful restart below)
    my $h2 = NPAsync::Httpd->start(tag => 'modstatus-off', port => $port2,
                                   conf => "ServerLimit 4\n" . conf('Off'));
    my $s2 = NPWs::Session->new;
    my $o2 = $s2->cmd({ cmd => 'open', url => "ws://127.0.0.1:$port2/ws/echo/off", n => 1 });
    my $a = {};
    NPTest::wait_until(10, sub { $a = auto($port2); ($a->{NodeProxyTunnels} // -1) == 1 }, 0.1);
    t_debug('ExtendedStatus Off: ' . enc({ map { $_ => $a->{$_} } grep { /^NodeProxy/ } keys %$a }));
    ok t_cmp(($o2->{opened} // 0) . ' ' . ($a->{NodeProxyTunnels} // -1) . ' ' . ($a->{NodeProxyChildren} // -1),
             '1 1 2', 'ExtendedStatus Off: ?auto still has the section (1 tunnel, 2 children)');
    my $r = NPTest::http_req(port => $port2, path => '/server-status', timeout => 5);
    ok t_cmp(($r->{body} // '') =~ m{<h1>mod_nodeproxy</h1>} ? 1 : 0, 1, 'ExtendedStatus Off: the HTML section');
    my $rn = NPTest::http_req(port => $port2, path => '/server-status?notable', timeout => 5);
    ok t_cmp(($rn->{body} // '') =~ m{Slot \d+ \(pid \d+\): \d+ waiting for Node, \d+ WebSocket tunnels} ? 1 : 0, 1,
             '?notable: plain lines instead of tables');
    # a graceful restart: the old child keeps its tunnel and still shows,
    # as stopping, beside the new generation
    kill 'USR1', $h2->pid;
    my $g = {};
    NPTest::wait_until(30, sub {
        $g = auto($port2);
        return ($g->{NodeProxyChildren} // 0) >= 3 && ($g->{NodeProxyTunnels} // -1) == 1;
    }, 0.2);
    t_debug('after graceful: ' . enc({ map { $_ => $g->{$_} } grep { /^NodeProxy/ } keys %$g }));
    my @holder = grep { ($g->{"NodeProxyChild[$_]Tunnels"} // 0) == 1 }
                 map { /^NodeProxyChild\[(\d+)\]Pid$/ ? $1 : () } keys %$g;
    ok t_cmp(($g->{NodeProxyChildren} // 0) >= 3 ? ($g->{NodeProxyTunnels} // -1) : 'children < 3', 1,
             'graceful restart: the old and the new generation are listed, the open tunnel still counted');
    ok t_cmp(@holder == 1 ? $g->{"NodeProxyChild[$holder[0]]Stopping"} : 'no single holder', 1,
             'the child that holds it is an old-generation one (Stopping 1)');
    $s2->cmd({ cmd => 'close' });
    my $a5 = {};
    NPTest::wait_until(10, sub { $a5 = auto($port2); ($a5->{NodeProxyTunnels} // -1) == 0 }, 0.1);
    ok t_cmp($a5->{NodeProxyTunnels} // -1, 0, 'ExtendedStatus Off: back to 0 tunnels');
    $s2->stop;
    $h2->stop;
}
