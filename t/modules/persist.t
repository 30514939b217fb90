# NodeBalancerPersist (issue 15): admin states and weights changed through
# the control API are written to the file at once (by the child, temp file
# + rename) and restored after a FULL stop and start of a dedicated httpd;
# a corrupt file gives a warning and the configured states, and the server
# starts anyway.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use File::Path qw(make_path);
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();
use NPAsync ();
use NPControl ();

plan tests => 15, need_module('nodeproxy');

my $PORT = 29430;
my ($P1, $P2) = (29431, 29432);
my ($U1, $U2) = ("http://127.0.0.1:$P1", "http://127.0.0.1:$P2");
my $b1 = NPBackend::start('ps1', 'echo.js', $P1);
my $b2 = NPBackend::start('ps2', 'echo.js', $P2);
my $tag = 'persist';
my $state_dir = "$NPAsync::T_DIR/logs/np-async-$tag/state";
make_path($state_dir);
chmod 0777, $state_dir;   # the children (User nobody when root) write there
my $file = "$state_dir/admin-states";
unlink $file;
my $conf = <<"EOC";
NodeBalancerPersist \@DIR\@/state/admin-states
<NodeBalancer pst>
    NodeBalancerMethod round-robin
    NodeMember $U1
    NodeMember $U2 weight=2
</NodeBalancer>
NodeProxyPass /app/ balancer://pst/
EOC
sub slurp { open my $fh, '<', $_[0] or return ''; local $/; my $s = <$fh>; return $s // ''; }
sub states {
    my $h = shift;
    my ($m1, $m2) = (NPControl::member($h, 'pst', $U1), NPControl::member($h, 'pst', $U2));
    return join ' / ', map { ($_->{admin} // '?') . ' w' . ($_->{weight} // '?') } $m1, $m2;
}

my $h = NPControl::httpd($tag, $PORT, $conf);
ok t_cmp(states($h), 'ready w1 / ready w2', 'no file yet: configured states');
ok t_cmp(scalar($h->wait_log(0, qr/NP00402: NodeBalancerPersist .*no file yet/, 3)) ? 1 : 0, 1,
         'a missing file is noted (NP00402), not an error');
my ($st) = NPControl::api($h, { balancer => 'pst', member => $U1, action => 'drain' });
my ($st2) = NPControl::api($h, { balancer => 'pst', member => $U2, weight => 5 });
ok t_cmp("$st $st2", '200 200', 'drain one member, weight 5 for the other');
my $text = slurp($file);
ok t_cmp($text, qr/^np-admin-states 1$/m, 'the file is written at once, by the child that made the change');
ok t_cmp($text, qr/^pst\t\Q$U1\E\tdrain\t-$/m, '... with the drained member');
ok t_cmp($text, qr/^pst\t\Q$U2\E\tready\t5$/m, '... and the runtime weight');
ok t_cmp(scalar(grep { /admin-states\.tmp/ } glob("$state_dir/*")), 0, 'no temp file left behind');

# ---- full stop, then start ----------------------------------------------------
$h->stop;
$h = NPControl::httpd($tag, $PORT, $conf);
ok t_cmp(states($h), 'drain w1 / ready w5', 'after a full stop/start the states and weights are back');
ok t_cmp(scalar($h->wait_log(0, qr/NP00406: .*member \Q$U1\E\): admin state drain, weight 1 restored/, 3)) ? 1 : 0, 1,
         'the restore is logged (NP00406)');
my $c = NPControl::spread($h, 10, '/app/x');
ok t_cmp(NPControl::fmt($c), 'ps2=10', '... and honoured: the drained member gets nothing');
NPControl::api($h, { balancer => 'pst', member => $U1, action => 'ready' });
$h->stop;
ok t_cmp(slurp($file), qr/^pst\t\Q$U1\E\tready\t-$/m, 'ready is saved too');

# ---- a corrupt file --------------------------------------------------------------
for my $bad ([ 'garbage', "\x00\x01 not a state file \xff\n" ],
             [ 'a bad line', "np-admin-states 1\npst\t$U1\tstopped\t1\n" ]) {
    open my $fh, '>', $file or die "$file: $!";
    print $fh $bad->[1];
    close $fh;
    $h = NPControl::httpd($tag, $PORT, $conf);
    ok t_cmp(states($h), 'ready w1 / ready w2', "corrupt file ($bad->[0]): the server starts, with the configured states");
    ok t_cmp(scalar($h->wait_log(0, qr/\[nodeproxy:warn\].*NP00404: NodeBalancerPersist .*ignored, the file is not valid/, 3))
             ? 1 : 0, 1, '... and a warning (NP00404) names the file and the problem');
    $h->stop;
}
