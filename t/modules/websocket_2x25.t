# 5,000 idle WebSocket tunnels through an httpd of exactly 2 children x 25
# threads (MaxRequestWorkers 50, a DEDICATED server from t/lib/NPAsync.pm,
# event MPM, AsyncRequestWorkerFactor 200): new requests are still answered
# within 500 ms and a sample of 50 tunnels still echo. With a worker thread
# per tunnel (mod_proxy_wstunnel) the 51st would already wait.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use List::Util qw(max);
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();
use NPAsync ();
use NPWs ();

plan tests => 8, need_module('nodeproxy');

my $MANY = 5000;
my ($port, $wsport) = NPAsync::free_ports(2);
my $wsb = NPBackend::start('ws2x25', 'ws.js', $wsport);
my $h = NPAsync::Httpd->start(tag => 'ws2x25', port => $port, conf => <<"EOC");
NodeProxyPass /ws/ http://127.0.0.1:$wsport/
EOC

my @kids = $h->children;
ok t_cmp(scalar(@kids), 2, 'the server runs 2 children (x 25 threads, MaxRequestWorkers 50)');

my $s = NPWs::Session->new;
my $o = $s->cmd({ cmd => 'open', url => "ws://127.0.0.1:$port/ws/many", n => $MANY, concurrency => 200,
                  timeout => 10000, budget => 40000 }, 60);
ok t_cmp($o->{opened} // 0, $MANY, "$MANY tunnels open at once (" . ($o->{ms} // '-') . ' ms' .
         (%{ $o->{errors} || {} } ? ', errors ' . $NPWs::JSON->encode($o->{errors}) : '') . ')');
my $j = $h->status_json || {};
ok t_cmp($j->{websocket}{tunnels_open} // -1, $o->{opened} // -2,
         'the status page counts them (' . ($j->{websocket}{tunnels_open} // '-') . ' open)');

my (@plain, @static);
for my $i (1 .. 5) {
    my ($st, $ms) = NPAsync::timed_get($port, "/ws/plain$i");
    push @plain, [$st, $ms];
    ($st, $ms) = NPAsync::timed_get($port, '/index.html');
    push @static, [$st, $ms];
}
ok t_cmp(join(',', map { $_->[0] } @plain), '200,200,200,200,200', 'new proxied requests answered 200');
ok t_cmp(max(map { $_->[1] } @plain) < 500 ? 1 : 0, 1,
         sprintf('... each within 500 ms (%s ms)', join(', ', map { sprintf '%.0f', $_->[1] } @plain)));
ok t_cmp(join(',', map { $_->[0] } @static), '200,200,200,200,200', 'new static requests answered 200 within '
         . sprintf('%.0f ms', max(map { $_->[1] } @static)));
my $e = $s->cmd({ cmd => 'echo', sample => 50, size => 64 }, 30);
ok t_cmp($e->{ok} // 0, 50, 'a sample of 50 tunnels still echo (' . ($e->{ms} // '-') . ' ms)');
$s->cmd({ cmd => 'close' }, 30);
$s->stop;
my $took = wait_until(15, sub { (($h->status_json || {})->{websocket}{tunnels_open} // -1) == 0 }, 0.1);
ok t_cmp(defined $took ? 1 : 0, 1, 'all closed again (tunnels_open 0)');
$h->stop;
