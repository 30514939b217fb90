# NodeSlowStart (issue 15): a member that comes back (here: out of maint)
# starts at a tenth of its weight and ramps to full over DURATION (8 s).
# Round-robin, 2 members of weight 1, sequential requests: in the first
# half of DURATION the returning member gets clearly less than its steady
# half (expected ~25%), afterwards its half; the status page shows it.
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

plan tests => 7, need_module('nodeproxy');

my $PORT = 29440;
my ($P1, $P2) = (29441, 29442);
my ($U1, $U2) = ("http://127.0.0.1:$P1", "http://127.0.0.1:$P2");
my $b1 = NPBackend::start('ss1', 'echo.js', $P1);
my $b2 = NPBackend::start('ss2', 'echo.js', $P2);
my $h = NPControl::httpd('slowstart', $PORT, <<"EOC");
<NodeBalancer ss>
    NodeBalancerMethod round-robin
    NodeSlowStart 8s
    NodeMember $U1
    NodeMember $U2
</NodeBalancer>
NodeProxyPass /app/ balancer://ss/
EOC

my $c = NPControl::spread($h, 20, '/app/x');
ok t_cmp(NPControl::fmt($c), 'ss1=10 ss2=10', 'steady: an even split');
NPControl::api($h, { balancer => 'ss', member => $U1, action => 'maint' });
sleep 0.5;
my ($st) = NPControl::api($h, { balancer => 'ss', member => $U1, action => 'ready' });
my $t_back = time;
my $m = NPControl::member($h, 'ss', $U1);
ok t_cmp(($m->{slow_start_percent} // 100) < 40 ? 1 : 0, 1,
         "status shows the ramp right after it came back (slow_start_percent $m->{slow_start_percent}, " .
         "effective_weight $m->{effective_weight})");
my $conn = NPTest::Conn->new($PORT);
my %first;
while (time < $t_back + 4) {
    my $r = $conn->request(path => '/app/ramp');
    $first{ hdr($r, 'X-Backend') // 'none' }++;
}
my $n1 = ($first{ss1} // 0) + ($first{ss2} // 0);
my $share1 = $n1 ? ($first{ss1} // 0) / $n1 : 1;
ok t_cmp($n1 >= 40 ? 1 : 0, 1, "first half of the ramp: $n1 requests");
ok t_cmp($share1 < 0.38 ? 1 : 0, 1, sprintf('first half: the returning member got clearly less than its steady 50%% (%.0f%%, ~25%% expected)', 100 * $share1));
ok t_cmp($share1 > 0.03 ? 1 : 0, 1, sprintf('... but some (%.0f%%, from a tenth of its weight up)', 100 * $share1));
sleep 0.1 while time < $t_back + 8.5;
my %after;
for (1 .. 100) { $after{ hdr($conn->request(path => '/app/full'), 'X-Backend') // 'none' }++; }
my $share2 = ($after{ss1} // 0) / 100;
ok t_cmp($share2 >= 0.40 && $share2 <= 0.60 ? 1 : 0, 1, sprintf('after DURATION: its full share (%.0f%% of 100)', 100 * $share2));
$m = NPControl::member($h, 'ss', $U1);
ok t_cmp(($m->{slow_start_percent} // 0) . '/' . sprintf('%.2f', $m->{effective_weight} // 0), '100/1.00',
         'status: the ramp is over');
$h->stop;
