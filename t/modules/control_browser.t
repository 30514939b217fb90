# The status page's control buttons in a real headless Chromium (issue 15):
# Debian's chromium package (scripts/lib.sh installs it), driven by
# puppeteer-core (t/backends/package.json) through t/backends/browser_ctl.js.
# The browser opens /np-admin (NodeStatusControl on), clicks the member's
# "drain" button, then "ready", then sets weight 3: each form post carries
# the page's token and the browser's own Origin, is accepted (303 back to
# the page), and the page then shows the new state; the server's shared
# state and log agree. A missing chromium FAILS this test (no skip).
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use NPTest qw(:all);
use NPBackend ();
use NPAsync ();
use NPControl ();

plan tests => 10, need_module('nodeproxy');

my $PORT = 29445;
my $P1 = 29446;
my $U1 = "http://127.0.0.1:$P1";
my $b1 = NPBackend::start('br1', 'echo.js', $P1);
my $h = NPControl::httpd('browser', $PORT, <<"EOC");
<NodeBalancer brw>
    NodeMember $U1
</NodeBalancer>
NodeProxyPass /app/ balancer://brw/
EOC

my $chromium = $ENV{CHROMIUM} || (grep { -x } map { "$_/chromium" } split /:/, $ENV{PATH})[0];
ok t_cmp($chromium ? 1 : 0, 1, 'chromium is installed (scripts/test.sh installs it: apt-get install chromium)');
my $pc = -d "$NPControl::TOP/t/backends/node_modules/puppeteer-core";
ok t_cmp($pc ? 1 : 0, 1, 'puppeteer-core is installed (npm ci in t/backends)');
my $res = {};
if ($chromium && $pc) {
    my $plan = JSON::PP->new->encode({ url => "http://127.0.0.1:$PORT/np-admin", member => $U1,
                                       chromium => $chromium });
    $plan =~ s/'/'\\''/g;
    my $outp = `timeout 150 node '$NPControl::TOP/t/backends/browser_ctl.js' '$plan' 2>&1`;
    $res = eval { JSON::PP->new->decode((grep { /^\{/ } split /\n/, $outp)[-1] // '') } || { error => $outp };
}
t_debug('browser: ' . JSON::PP->new->canonical->encode($res));
my %step = map { $_->{click} => $_ } @{ $res->{steps} || [] };
ok t_cmp($res->{error} // '', '', 'the browser ran the page without an error');
ok t_cmp(($step{open}{admin} // '') . ' ' . ($step{open}{status} // ''), 'ready 200', 'the page opened: the member is ready');
ok t_cmp(($step{drain}{status} // 0) . ' ' . ($step{drain}{url} // ''), qr{^200 http://127\.0\.0\.1:$PORT/np-admin$},
         'clicking "drain" posts the form and comes back to the page');
ok t_cmp($step{drain}{admin} // '', 'drain', '... which shows the member drained');
ok t_cmp($step{ready}{admin} // '', 'ready', 'clicking "ready" puts it back');
ok t_cmp($step{weight}{weight} // '', '3', 'the weight field and "set weight" set weight 3');
my $m = NPControl::member($h, 'brw', $U1);
ok t_cmp(($m->{admin} // '') . ' w' . ($m->{weight} // ''), 'ready w3', 'the shared state agrees');
my @log = $h->wait_log(0, qr/NP00400: .*admin state (ready -> drain|drain -> ready), set by 127\.0\.0\.1/, 3);
ok t_cmp(scalar(@log), 2, 'both clicks are logged with the client address');
$h->stop;
