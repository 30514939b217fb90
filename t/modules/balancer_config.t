# Config-time validation of the balancer directives (configtest.t style):
# every bad NodeMember / NodeBalancerMethod / NodeSticky / NodeHealthCheck /
# NodeRetry / NodeFailTimeout value is refused by `apache2 -t` with a message
# naming the directive (and the bad value); a good balancer passes.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);

# one balancer around the line(s) under test
sub bal { return ['<NodeBalancer app>', map({ "    $_" } @_), '</NodeBalancer>'] }
my $m = 'NodeMember http://127.0.0.1:29111';

my @bad = (
    ['weight 0', bal('NodeMember http://127.0.0.1:29111 weight=0'), qr/NodeMember/, qr/weight/],
    ['weight not a number', bal('NodeMember http://127.0.0.1:29111 weight=abc'), qr/NodeMember/, qr/abc/],
    ['weight too big', bal('NodeMember http://127.0.0.1:29111 weight=1000'), qr/NodeMember/, qr/1000/],
    ['reversed port range', bal('NodeMember http://127.0.0.1:29115-29111'), qr/NodeMember/, qr/29115-29111/],
    ['unknown member option', bal('NodeMember http://127.0.0.1:29111 speed=fast'), qr/NodeMember/, qr/speed=fast/],
    ['bad route', bal('NodeMember http://127.0.0.1:29111 route=a/b'), qr/NodeMember/, qr{a/b}],
    ['member URL scheme', bal('NodeMember ftp://127.0.0.1:29111'), qr/NodeMember/, qr/ftp/],
    ['member is a balancer', bal('NodeMember balancer://other'), qr/NodeMember/, qr/balancer/],
    ['member without URL', bal('NodeMember'), qr/NodeMember/, undef],
    ['member outside a balancer', 'NodeMember http://127.0.0.1:29111', qr/NodeMember/, qr/NodeBalancer/],
    ['member listed twice', bal($m, $m), qr/NodeBalancer|NodeMember/, qr/29111/],
    ['balancer without members', bal('NodeBalancerMethod round-robin'), qr/NodeBalancer/, qr/NodeMember/],
    ['unknown method', bal($m, 'NodeBalancerMethod fastest'), qr/NodeBalancerMethod/, qr/fastest/],
    ['sticky without cookie', bal($m, 'NodeSticky session NPROUTE'), qr/NodeSticky/, qr/session/],
    ['sticky cookie name', bal($m, 'NodeSticky cookie bad/name'), qr/NodeSticky/, qr{bad/name}],
    ['sticky cookie missing name', bal($m, 'NodeSticky cookie'), qr/NodeSticky/, undef],
    ['health interval', bal($m, 'NodeHealthCheck /healthz interval=5x'), qr/NodeHealthCheck/, qr/5x/],
    ['health interval too short', bal($m, 'NodeHealthCheck /healthz interval=10ms'), qr/NodeHealthCheck/, qr/10ms/],
    ['health timeout', bal($m, 'NodeHealthCheck /healthz timeout=soon'), qr/NodeHealthCheck/, qr/soon/],
    ['health passes 0', bal($m, 'NodeHealthCheck /healthz passes=0'), qr/NodeHealthCheck/, qr/passes/],
    ['health fails', bal($m, 'NodeHealthCheck /healthz fails=many'), qr/NodeHealthCheck/, qr/many/],
    ['health expect', bal($m, 'NodeHealthCheck /healthz expect=700'), qr/NodeHealthCheck/, qr/700/],
    ['health unknown key', bal($m, 'NodeHealthCheck /healthz color=red'), qr/NodeHealthCheck/, qr/color/],
    ['health without path', bal($m, 'NodeHealthCheck'), qr/NodeHealthCheck/, undef],
    ['retry negative', bal($m, 'NodeRetry -1'), qr/NodeRetry/, qr/-1/],
    ['fail timeout', bal($m, 'NodeFailTimeout 5x'), qr/NodeFailTimeout/, qr/5x/],
);

plan tests => 2 * @bad + 2, need_module('nodeproxy');

configtest_bad(@bad);

{
    my ($rc, $out) = configtest(
        '<NodeBalancer good>',
        '    NodeMember http://127.0.0.1:29111 weight=3 route=one',
        '    NodeMember http://127.0.0.1:29112-29113',
        '    NodeMember unix:/tmp/np-no-such.sock|http://localhost/ standby',
        '    NodeBalancerMethod p2c',
        '    NodeSticky cookie NP_ROUTE',
        '    NodeRetry 1',
        '    NodeFailTimeout 1500ms',
        '    NodeHealthCheck /healthz interval=500ms timeout=300ms passes=1 fails=1 expect=200,204 method=HEAD',
        '</NodeBalancer>',
        'NodeProxyPass /app/ balancer://good/',
    );
    ok t_cmp($rc, 0, "a good balancer configuration passes configtest: $out");
    ok t_cmp($out, qr/Syntax OK/, 'Syntax OK');
}
