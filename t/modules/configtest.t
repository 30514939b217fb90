# Config-time validation: `apache2 -t` on small generated configurations
# that load the built module. Every bad value must be refused (non-zero
# exit) with a message naming the directive and the bad value; a good
# configuration must pass.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use File::Temp qw(tempdir);
use NPTest qw(:all);

my @bad = (
    # [what, config lines, directive regex, bad value regex]
    ['missing target', 'NodeProxyPass /x', qr/NodeProxyPass/, undef],
    ['unknown scheme', 'NodeProxyPass /x ftp://127.0.0.1/', qr/NodeProxyPass/, qr/ftp/],
    ['bad duration', 'NodeTimeout 5x', qr/NodeTimeout/, qr/5x/],
    ['bad duration in a key', 'NodeProxyPass /x http://127.0.0.1:29101/ timeout=5x',
     qr/NodeProxyPass|timeout/, qr/5x/],
    ['bad CIDR prefix length', 'NodeTrustedProxy 10.0.0.0/33', qr/NodeTrustedProxy/, qr{10\.0\.0\.0/33}],
    ['bad CIDR address', 'NodeTrustedProxy not-an-ip', qr/NodeTrustedProxy/, qr/not-an-ip/],
    ['unknown key', 'NodeProxyPass /x http://127.0.0.1:29101/ foo=bar', qr/NodeProxyPass/, qr/foo/],
    ['undefined balancer', 'NodeProxyPass /x balancer://nope', qr/NodeProxyPass|balancer/, qr/nope/],
    ['missing maintenance page', 'NodeMaintenancePage /nonexistent/np-maint-page.html',
     qr/NodeMaintenancePage/, qr/np-maint-page\.html/],
);

plan tests => 2 * @bad + 4, need_module('nodeproxy');

my $httpd = Apache::Test::vars('httpd');
my $so    = Apache::Test::config()->{modules}{'mod_nodeproxy.c'};
my $mods  = '/usr/lib/apache2/modules';

my $n = 0;
sub configtest {
    my @lines = @_;
    my $dir = tempdir('np-configtest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $fh, '>', "$dir/maint.html" or die; print $fh "<h1>maintenance</h1>\n"; close $fh;
    my $conf = "$dir/httpd.conf";
    open $fh, '>', $conf or die "$conf: $!";
    print $fh <<"EOC";
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:29150
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
DefaultRuntimeDir "$dir"
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule slotmem_shm_module $mods/mod_slotmem_shm.so
LoadModule nodeproxy_module "$so"
EOC
    print $fh map { (my $l = $_) =~ s/\@DIR\@/$dir/g; "$l\n" } @lines;
    close $fh;
    my $out = `'$httpd' -t -f '$conf' 2>&1`;
    my $rc = $? >> 8;
    # the error log is used when the message comes from a hook
    if (open my $el, '<', "$dir/error_log") { local $/; $out .= <$el> // ''; }
    return ($rc, $out);
}

for my $case (@bad) {
    my ($what, $line, $dre, $vre) = @$case;
    my ($rc, $out) = configtest($line);
    t_debug("'$line' gives (exit $rc):\n$out");
    ok t_cmp($rc != 0 ? 1 : 0, 1, "$what ($line): configtest fails (exit $rc)");
    my $named = $out =~ $dre && (!$vre || $out =~ $vre);
    ok t_cmp($named ? 1 : 0, 1, "$what: the message names the directive" .
             ($vre ? ' and the bad value' : '') . ": " . join(' | ', grep { /\S/ } split /\n/, $out));
}

# good configurations
{
    my ($rc, $out) = configtest(
        'NodeTrustedProxy 10.0.0.0/8 127.0.0.1 ::1',
        'NodeTimeout 30s',
        'NodeConnectTimeout 500ms',
        'NodeBackendKeepAlive 4s',
        'NodeForwardedHeaders on',
        'NodePreserveHost on',
        'NodeProxyPass /api/ http://127.0.0.1:29101/ timeout=2m connecttimeout=1s preservehost=off reverse=on websocket=off',
        'NodeProxyPass /api/static/ !',
        'NodeProxyPass /sock/ unix:/tmp/np-no-such.sock|http://localhost/',
        '<Location /loc>',
        '    NodeProxyPass http://127.0.0.1:29101/l',
        '    NodeForwardedHeaders off',
        '</Location>',
        '<Location /locoff>',
        '    NodeProxyPass !',
        '</Location>',
        '<VirtualHost 127.0.0.1:29150>',
        '    NodeProxyPass / http://127.0.0.1:29101/',
        '</VirtualHost>',
        'NodeMaintenancePage @DIR@/maint.html retry-after=60',
    );
    ok t_cmp($rc, 0, "a good configuration passes configtest: $out");
    ok t_cmp($out, qr/Syntax OK/, 'Syntax OK');
}
{
    my ($rc, $out) = configtest(
        '<NodeBalancer app>',
        '    NodeMember http://127.0.0.1:29101 weight=2',
        '    NodeMember http://127.0.0.1:29105-29106',
        '    NodeMember http://127.0.0.1:29107 standby',
        '    NodeBalancerMethod round-robin',
        '    NodeSticky cookie NPROUTE',
        '    NodeHealthCheck /health interval=5s timeout=2s passes=2 fails=3 expect=200-399',
        '</NodeBalancer>',
        'NodeProxyPass /app/ balancer://app/',
    );
    ok t_cmp($rc, 0, "a good balancer configuration passes configtest: $out");
    ok t_cmp($out, qr/Syntax OK/, 'Syntax OK (balancer)');
}
