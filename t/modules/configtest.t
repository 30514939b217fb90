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
    ['bad NodeAsyncDelay', 'NodeAsyncDelay soon', qr/NodeAsyncDelay/, qr/soon/],
    ['bad NodeNextRequestWait', 'NodeNextRequestWait 2xs', qr/NodeNextRequestWait/, qr/2xs/],
    ['negative NodeNextRequestWait', 'NodeNextRequestWait -1', qr/NodeNextRequestWait/, qr/-1/],
    # admission control (issue 17)
    ['bad max=', ['<NodeBalancer adm1>', 'NodeMember http://127.0.0.1:29500 max=0', '</NodeBalancer>'],
     qr/NodeMember/, qr/max "0"/],
    ['max= twice', ['<NodeBalancer adm2>', 'NodeMember http://127.0.0.1:29500 max=2 max=3', '</NodeBalancer>'],
     qr/NodeMember/, qr/max= is given twice/],
    ['NodeQueueLimit outside a balancer', 'NodeQueueLimit 10', qr/NodeQueueLimit/, qr/NodeBalancer/],
    ['bad NodeQueueLimit', ['<NodeBalancer adm3>', 'NodeMember http://127.0.0.1:29500 max=2',
                            'NodeQueueLimit lots', '</NodeBalancer>'], qr/NodeQueueLimit/, qr/lots/],
    ['bad NodeQueueTimeout', ['<NodeBalancer adm4>', 'NodeMember http://127.0.0.1:29500 max=2',
                              'NodeQueueTimeout 5q', '</NodeBalancer>'], qr/NodeQueueTimeout/, qr/5q/],
    ['bad NodeRateLimit rate', 'NodeRateLimit rate=10/h', qr/NodeRateLimit/, qr{10/h}],
    ['bad NodeRateLimit key', 'NodeRateLimit rate=10/s key=host', qr/NodeRateLimit/, qr/host/],
    ['bad NodeRateLimit burst', 'NodeRateLimit rate=10/s burst=0', qr/NodeRateLimit/, qr/burst "0"/],
    ['bad NodeRateLimitStore', 'NodeRateLimitStore memcache', qr/NodeRateLimitStore/, qr/memcache/],
    ['bad NodeRateLimitStore size', 'NodeRateLimitStore shm size=10', qr/NodeRateLimitStore/, qr/size "10"/],
    ['NodeRateLimitStore TLS option without TLS', 'NodeRateLimitStore redis://127.0.0.1:29549 ca=/etc/ssl/certs',
     qr/NodeRateLimitStore/, qr/ca= is a TLS option: use rediss:\/\/ \(or tls=on\)/],
    ['NodeRateLimitStore user= without password=', 'NodeRateLimitStore redis://127.0.0.1:29549 user=np',
     qr/NodeRateLimitStore/, qr/user= needs password=/],
    ['bad NodeRateLimitStore redis port', 'NodeRateLimitStore redis://127.0.0.1:0', qr/NodeRateLimitStore/, qr/bad port/],
    ['NodeRateLimitStore in a vhost', ['<VirtualHost 127.0.0.1:29548>', 'NodeRateLimitStore shm', '</VirtualHost>'],
     qr/NodeRateLimitStore/, qr/VirtualHost|not allowed|cannot occur/],
    ['zero NodeQueueTimeout', ['<NodeBalancer adm5>', 'NodeMember http://127.0.0.1:29500 max=2',
                               'NodeQueueTimeout 0', '</NodeBalancer>'], qr/NodeQueueTimeout/, qr/more than 0/],
    # runtime control (issue 15)
    ['NodeStatusControl outside a Location', 'NodeStatusControl on', qr/NodeStatusControl/, qr/not allowed here|Location/],
    ['bad NodeStatusControl', ['<Location /s>', 'NodeStatusControl maybe', '</Location>'],
     qr/NodeStatusControl/, qr/On or Off|on or off/i],
    ['NodeBalancerPersist in a directory that does not exist', 'NodeBalancerPersist /nonexistent-np/states',
     qr/NodeBalancerPersist/, qr{/nonexistent-np}],
    ['NodeBalancerPersist naming a directory', 'NodeBalancerPersist @DIR@', qr/NodeBalancerPersist/, qr/is a directory/],
    ['NodeBalancerPersist in a virtual host', ['<VirtualHost 127.0.0.1:29449>', 'NodeBalancerPersist @DIR@/st', '</VirtualHost>'],
     qr/NodeBalancerPersist/, qr/main server/],
    ['bad NodeSlowStart', ['<NodeBalancer ss>', 'NodeMember http://127.0.0.1:29401', 'NodeSlowStart 10q', '</NodeBalancer>'],
     qr/NodeSlowStart/, qr/10q/],
    ['NodeSlowStart too long', ['<NodeBalancer ss>', 'NodeMember http://127.0.0.1:29401', 'NodeSlowStart 61m', '</NodeBalancer>'],
     qr/NodeSlowStart/, qr/61m.*too long/],
    ['NodeSlowStart outside NodeBalancer', 'NodeSlowStart 10s', qr/NodeSlowStart/, qr/NodeBalancer/],
    # NodeErrorOverride (issue 14)
    ['NodeErrorOverride not on/off', 'NodeErrorOverride yes', qr/NodeErrorOverride/, qr/"yes" is not on or off/],
    ['NodeErrorOverride non-error code', 'NodeErrorOverride on 500 200', qr/NodeErrorOverride/, qr/"200" is not an error status/],
    ['NodeErrorOverride bad code', 'NodeErrorOverride on 5xx', qr/NodeErrorOverride/, qr/"5xx"/],
    ['NodeErrorOverride off with codes', 'NodeErrorOverride off 500', qr/NodeErrorOverride/, qr/off takes no status codes/],
);

# https:// backends and re-resolved names (issue 16): bad TLS files and
# names, bad NodeResolveInterval values. The PKI is made by
# t/lib/NPTestRun.pm before the server starts.
my $pki = t_path('conf', 'np-pki');
my @bad_tls = (
    ['unreadable CA file', 'NodeBackendCA /nonexistent/np-ca.pem', qr/NodeBackendCA/,
     qr{cannot read "/nonexistent/np-ca\.pem"}],
    ['CA file without certificates', 'NodeBackendCA @DIR@/maint.html', qr/NodeBackendCA/,
     qr/maint\.html" holds no usable PEM certificate/],
    ['unreadable client certificate', 'NodeBackendClientCert /nonexistent/np-client.pem',
     qr/NodeBackendClientCert/, qr{cannot read "/nonexistent/np-client\.pem"}],
    ['unreadable client key', "NodeBackendClientCert $pki/client.crt /nonexistent/np-client.key",
     qr/NodeBackendClientCert/, qr{cannot read "/nonexistent/np-client\.key"}],
    ['client certificate file that is not one', 'NodeBackendClientCert @DIR@/maint.html',
     qr/NodeBackendClientCert/, qr/maint\.html" is not a PEM certificate/],
    ['key that does not match the certificate', "NodeBackendClientCert $pki/client.crt $pki/other.key",
     qr/NodeBackendClientCert/, qr/other\.key" does not match the certificate ".*client\.crt"/],
    ['sni= on an http:// target', 'NodeProxyPass /x http://127.0.0.1:29101/ sni=app.test',
     qr/NodeProxyPass/, qr/sni=app\.test: only https/],
    ['sni= that is an IP address', 'NodeProxyPass /x https://127.0.0.1:29450/ sni=10.0.0.1',
     qr/NodeProxyPass/, qr/sni="10\.0\.0\.1": a TLS server name cannot be an IP address/],
    ['bad sni= on a member', ['<NodeBalancer b>', 'NodeMember https://127.0.0.1:29450 sni=a_b', '</NodeBalancer>'],
     qr/NodeMember/, qr/'_' is not allowed/],
    # NodeRateLimitStore rediss:// (issue 17): the files are read at configtest
    ['unreadable Redis CA', 'NodeRateLimitStore rediss://127.0.0.1:29500 ca=/nonexistent/np-redis-ca.pem',
     qr/NodeRateLimitStore/, qr{ca=: cannot read "/nonexistent/np-redis-ca\.pem"}],
    ['Redis CA file without certificates', 'NodeRateLimitStore rediss://127.0.0.1:29500 ca=@DIR@/maint.html',
     qr/NodeRateLimitStore/, qr/ca=: .*maint\.html" holds no usable PEM certificate/],
    ['unreadable Redis client certificate', 'NodeRateLimitStore rediss://127.0.0.1:29500 cert=/nonexistent/np-rc.pem',
     qr/NodeRateLimitStore/, qr{cert=: cannot read "/nonexistent/np-rc\.pem"}],
    ['unreadable Redis client key',
     "NodeRateLimitStore rediss://127.0.0.1:29500 cert=$pki/client.crt key=/nonexistent/np-rc.key",
     qr/NodeRateLimitStore/, qr{cert=/key=: cannot read "/nonexistent/np-rc\.key"}],
    ['Redis client key that does not match the certificate',
     "NodeRateLimitStore rediss://127.0.0.1:29500 cert=$pki/client.crt key=$pki/other.key",
     qr/NodeRateLimitStore/, qr/other\.key" does not match the certificate ".*client\.crt"/],
    ['Redis key= without cert=', "NodeRateLimitStore rediss://127.0.0.1:29500 key=$pki/client.key",
     qr/NodeRateLimitStore/, qr/key= needs cert=/],
    ['NodeBackendVerify not a flag', 'NodeBackendVerify maybe', qr/NodeBackendVerify/, qr/On or Off/i],
    ['bad NodeResolveInterval', 'NodeResolveInterval soon', qr/NodeResolveInterval/, qr/soon/],
    ['too short NodeResolveInterval', 'NodeResolveInterval 100ms', qr/NodeResolveInterval/,
     qr/"100ms" is too short: use 0 \(resolve at start only\) or at least 1s/],
    ['negative NodeResolveInterval', 'NodeResolveInterval -5s', qr/NodeResolveInterval/, qr/-5s/],
    ['NodeResolveInterval in a virtual host',
     ['<VirtualHost 127.0.0.1:29150>', '    NodeResolveInterval 10s', '</VirtualHost>'],
     qr/NodeResolveInterval/, qr/only in the main server/],
);

plan tests => 2 * (@bad + @bad_tls) + 8, need_module('nodeproxy');

# configtest(@lines) is in NPTest: apache2 -t on a generated configuration

configtest_bad(@bad);
configtest_bad(@bad_tls);

# good configurations
{
    my ($rc, $out) = configtest(
        'NodeTrustedProxy 10.0.0.0/8 127.0.0.1 ::1',
        'NodeTimeout 30s',
        'NodeConnectTimeout 500ms',
        'NodeBackendKeepAlive 4s',
        'NodeForwardedHeaders on',
        'NodePreserveHost on',
        'NodeErrorOverride on 500 502 503',
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
        '    NodeMember http://127.0.0.1:29500 max=4',
        '    NodeQueueLimit 0',
        '    NodeQueueTimeout 1500ms',
        'NodeRateLimitStore redis://127.0.0.1:29549/1 password=x timeout=20ms',
        'NodeRateLimit rate=100/m burst=20 key=header:X-Api-Key',
        '    NodeBalancerMethod round-robin',
        '    NodeSticky cookie NPROUTE',
        '    NodeHealthCheck /health interval=5s timeout=2s passes=2 fails=3 expect=200-399',
        '    NodeSlowStart 30s',
        '</NodeBalancer>',
        'NodeProxyPass /app/ balancer://app/',
        'NodeBalancerPersist @DIR@/np-admin-states',
        '<Location /np-admin>',
        '    SetHandler nodeproxy-status',
        '    NodeStatusControl on',
        '</Location>',
    );
    ok t_cmp($rc, 0, "a good balancer configuration passes configtest: $out");
    ok t_cmp($out, qr/Syntax OK/, 'Syntax OK (balancer)');
}
{
    my ($rc, $out) = configtest(
        "NodeBackendCA $pki/ca.crt",
        "NodeBackendClientCert $pki/client.crt $pki/client.key",
        'NodeBackendVerify on',
        'NodeResolveInterval 45s',
        'NodeProxyPass /s/ https://localhost:29450/ sni=alt.np.test',
        '<VirtualHost 127.0.0.1:29150>',
        '    NodeBackendVerify off',
        '    <NodeBalancer tb>',
        '        NodeMember https://127.0.0.1:29455-29456 sni=localhost',
        '        NodeMember http://127.0.0.1:29453',
        '    </NodeBalancer>',
        '    NodeProxyPass / balancer://tb/',
        '</VirtualHost>',
    );
    ok t_cmp($rc, 0, "a good https:// configuration passes configtest: $out");
    ok t_cmp($out, qr/Syntax OK/, 'Syntax OK (https)');
}
{
    my ($rc, $out) = configtest(
        "NodeRateLimitStore rediss://localhost:29500/1 user=np password=x ca=$pki/ca.crt " .
        "cert=$pki/client.crt key=$pki/client.key sni=alt.np.test timeout=100ms",
        'NodeRateLimit rate=100/m burst=20',
    );
    ok t_cmp($rc, 0, "a good rediss:// configuration passes configtest: $out");
    ok t_cmp($out, qr/Syntax OK/, 'Syntax OK (rediss)');
}
