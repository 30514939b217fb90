# mod_proxy beside mod_nodeproxy: with `ProxyPass /` and `NodeProxyPass
# /api/` in one vhost, /api/ is served by mod_nodeproxy and the rest by
# mod_proxy, although mod_proxy is loaded first (the suite loads it before
# mod_nodeproxy); configtest warns about the overlap, naming both lines, and
# stays quiet when the paths do not overlap or mod_proxy is not loaded.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();

plan tests => 13, need_module('nodeproxy', 'proxy', 'proxy_http');

my $mpx = NPBackend::start('mpx', 'express.js', 29358);
my $npx = NPBackend::start('npx', 'express.js', 29359);
my $port = vhost_port('np_coexist');

# --- deterministic routing on the running server
for my $i (1 .. 3) {
    my $r = http_req(port => $port, path => "/api/whoami?i=$i");
    ok t_cmp(hdr($r, 'X-Backend'), 'npx', "/api/ (try $i): served by mod_nodeproxy");
}
{
    my $r = http_req(port => $port, path => '/other/whoami');
    ok t_cmp(hdr($r, 'X-Backend'), 'mpx', '/other/: served by mod_proxy');
    my $j = json_body(http_req(port => $port, path => '/api/whoami')) || {};
    ok t_cmp(($j->{headers} || {})->{'x-forwarded-prefix'}, '/api', '/api/: mod_nodeproxy headers (X-Forwarded-Prefix)');
}

# --- configtest: the warning names both lines
my $mods = '/usr/lib/apache2/modules';
my @proxy = ("LoadModule proxy_module $mods/mod_proxy.so",
             "LoadModule proxy_http_module $mods/mod_proxy_http.so");
{
    # the generated file has 10 lines before these (see NPTest::configtest)
    my ($rc, $out) = configtest(@proxy,
        'ProxyPass / http://127.0.0.1:29358/',            # line 13
        'NodeProxyPass /api/ http://127.0.0.1:29359/');   # line 14
    t_debug($out);
    ok t_cmp($rc, 0, 'overlap: configtest still passes');
    my ($w) = grep { /NP00351/ } split /\n/, $out;
    ok t_cmp($w // '', qr/warn/i, 'overlap: a warning (NP00351)');
    ok t_cmp($w // '', qr{NodeProxyPass /api/ http://127\.0\.0\.1:29359/ \(\S*httpd\.conf:14\)}, 'the warning names the NodeProxyPass line');
    ok t_cmp($w // '', qr{ProxyPass / http://127\.0\.0\.1:29358/ \(\S*httpd\.conf:13\)}, 'the warning names the ProxyPass line');
    ok t_cmp($w // '', qr/served by mod_nodeproxy/, 'the warning says which module serves what');
}
{
    my ($rc, $out) = configtest(@proxy,
        '<VirtualHost 127.0.0.1:29150>',
        '    ProxyPass /legacy/ http://127.0.0.1:29358/',
        '    NodeProxyPass /api/ http://127.0.0.1:29359/',
        '</VirtualHost>',
        '<VirtualHost 127.0.0.1:29151>',
        '    NodeProxyPass /legacy/ http://127.0.0.1:29359/',
        '</VirtualHost>');
    ok t_cmp($rc, 0, 'no overlap: configtest passes');
    ok t_cmp(join('|', grep { /NP00351/ } split /\n/, $out), '',
             'no overlap in one server (same paths in two vhosts): no warning');
}
{
    my ($rc, $out) = configtest(@proxy,
        '<VirtualHost 127.0.0.1:29150>',
        '    <Location /app>',
        '        ProxyPass http://127.0.0.1:29358/app',
        '    </Location>',
        '    NodeProxyPass /app/api/ http://127.0.0.1:29359/',
        '</VirtualHost>');
    my ($w) = grep { /NP00351/ } split /\n/, $out;
    ok t_cmp($w // '', qr{NodeProxyPass /app/api/ .*ProxyPass /app http://127\.0\.0\.1:29358/app .*<VirtualHost 127\.0\.0\.1:29150>},
             'a <Location> ProxyPass in a vhost: warned, naming the vhost');
}
