# Admission control and WebSocket tunnels: a tunnel holds its member's
# max= slot for its whole life and gives it back when it ends; an upgrade
# does not queue (503 at once when every member is full). DEDICATED httpd
# (t/lib/NPAsync.pm, event MPM), backend t/backends/ws.js, clients
# t/backends/wsclient.js (t/lib/NPWs.pm):
#  - max=2: two tunnels open -> the member shows 2 slots in use; a third
#    upgrade is refused with 503;
#  - the client closes both -> slots back to 0; a new tunnel opens.
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
use NPWs ();

plan tests => 6, need_module('nodeproxy');

sub enc { $NPAsync::JSON->encode($_[0]) }

my ($port, $wsport) = NPAsync::free_ports(2);
my $wsb = NPBackend::start('qws', 'ws.js', $wsport);
my $httpd = NPAsync::Httpd->start(tag => 'queue-ws', port => $port, conf => <<"EOC");
<NodeBalancer wsq>
    NodeMember http://127.0.0.1:$wsport max=2
</NodeBalancer>
NodeProxyPass /wsq/ balancer://wsq/
EOC
my $ws = "ws://127.0.0.1:$port";

sub pending {
    my $r = eval { NPTest::http_req(port => $port, path => '/np-status?format=json', timeout => 5) };
    my $st = ($r && $r->{status} == 200) ? (eval { $NPAsync::JSON->decode($r->{body}) } || {}) : {};
    my ($b) = grep { $_->{name} eq 'wsq' } @{ $st->{balancers} || [] };
    return $b ? $b->{members}[0]{pending} : -1;
}

my $s = NPWs::Session->new;
my $o = $s->cmd({ cmd => 'open', url => "$ws/wsq/echo/a", n => 2, concurrency => 2 });
t_debug('open: ' . enc($o));
ok t_cmp($o->{opened} // 0, 2, 'two tunnels open');
ok t_cmp(pending(), 2, 'the member shows 2 slots in use (max=2)');
my $h = NPWs::run({ op => 'handshake', url => "$ws/wsq/echo/c" });
ok t_cmp($h->{status} // 0, 503, 'a third upgrade is refused at once (503, upgrades do not queue)');
my $c = $s->cmd({ cmd => 'close' });
t_debug('close: ' . enc($c));
my $back = NPTest::wait_until(5, sub { pending() == 0 }, 0.1);
ok t_cmp(pending(), 0, 'tunnels closed: slots given back');
my $h2 = NPWs::run({ op => 'handshake', url => "$ws/wsq/echo/d" });
ok t_cmp($h2->{status} // 0, 101, 'a new tunnel opens');
NPTest::wait_until(5, sub { pending() == 0 }, 0.1);
ok t_cmp(pending(), 0, 'and its slot is back after it closed');
$s->stop;
