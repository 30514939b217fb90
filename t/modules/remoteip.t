# Behind a load balancer: mod_remoteip (RemoteIPHeader X-Forwarded-For,
# RemoteIPTrustedProxy 127.0.0.1) establishes the client; a real Express app
# with `trust proxy` sees that client in req.ip, with and without
# NodeTrustedProxy for the balancer; a forged header from an untrusted peer
# (127.0.0.2) is still dropped; Forwarded and X-Forwarded-* agree; ip-hash
# and the error log use the same client address.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();

plan tests => 33, need_module('nodeproxy', 'remoteip');

my $exp = NPBackend::start('exp', 'express.js', 29350);
my @iph = map { NPBackend::start("iph$_", 'express.js', 29350 + $_) } 1 .. 3;
my $lb_port = vhost_port('np_remoteip');          # balancer not a NodeTrustedProxy
my $tr_port = vhost_port('np_remoteip_trusted');  # balancer also a NodeTrustedProxy

die "cannot bind 127.0.0.2 (loopback must be 127.0.0.0/8)\n" unless local_addr_ok('127.0.0.2');

sub whoami {
    my %a = @_;
    my $r = http_req(path => '/app/whoami', %a);
    my $j = json_body($r) || {};
    return ($r, $j, $j->{headers} || {});
}

# the last element of a Forwarded list, as a hash of its parameters
sub last_elem {
    my $f = shift // '';
    my @e = split /,\s*/, $f;
    my %p;
    for (split /;/, $e[-1] // '') {
        my ($k, $v) = /^\s*([^=]+)=(.*)$/ or next;
        $v =~ s/^"(.*)"$/$1/;
        $p{lc $k} = $v;
    }
    return \%p;
}

for my $case (['without NodeTrustedProxy', $lb_port], ['with NodeTrustedProxy', $tr_port]) {
    my ($what, $port) = @$case;
    my ($r, $j, $h) = whoami(port => $port, headers => ['X-Forwarded-For' => '203.0.113.9']);
    ok t_cmp($r->{status}, 200, "$what: 200 from Express");
    ok t_cmp($j->{ip}, '203.0.113.9', "$what: req.ip is the client the balancer named");
    ok t_cmp($h->{'x-forwarded-for'}, '203.0.113.9', "$what: X-Forwarded-For carries it, not the balancer");
    ok t_cmp(last_elem($h->{forwarded})->{for}, '203.0.113.9', "$what: Forwarded for= is the same client");
}

# a trusted balancer's proto and host: Express and both header families agree
{
    my ($r, $j, $h) = whoami(port => $tr_port,
        headers => ['X-Forwarded-For' => '203.0.113.9', 'X-Forwarded-Proto' => 'https',
                    'X-Forwarded-Host' => 'app.example']);
    my $e = last_elem($h->{forwarded});
    ok t_cmp($j->{protocol}, 'https', 'trusted balancer: req.protocol https');
    ok t_cmp($j->{hostname}, 'app.example', 'trusted balancer: req.hostname from X-Forwarded-Host');
    ok t_cmp($h->{'x-forwarded-proto'}, 'https', 'trusted balancer: X-Forwarded-Proto kept');
    ok t_cmp($e->{proto}, 'https', 'trusted balancer: Forwarded proto= agrees (https)');
    ok t_cmp($e->{host}, 'app.example', 'trusted balancer: Forwarded host= agrees');
    ok t_cmp($e->{for}, '203.0.113.9', 'trusted balancer: Forwarded for= agrees with req.ip');
}

# the same headers while the balancer is not a NodeTrustedProxy: its proto
# and host are ours in BOTH families (the client address still comes from
# mod_remoteip)
{
    my ($r, $j, $h) = whoami(port => $lb_port,
        headers => ['X-Forwarded-For' => '203.0.113.9', 'X-Forwarded-Proto' => 'https',
                    'X-Forwarded-Host' => 'app.example']);
    my $e = last_elem($h->{forwarded});
    ok t_cmp($j->{ip}, '203.0.113.9', 'untrusted proto/host: req.ip still the client');
    ok t_cmp($h->{'x-forwarded-proto'}, 'http', 'untrusted proto/host: X-Forwarded-Proto is ours');
    ok t_cmp($e->{proto}, 'http', 'untrusted proto/host: Forwarded proto= agrees (http)');
    ok t_cmp($e->{host}, $h->{'x-forwarded-host'}, 'untrusted proto/host: Forwarded host= agrees with X-Forwarded-Host');
    ok t_cmp($j->{hostname}, 'localhost', 'untrusted proto/host: req.hostname is the Host the client sent');
}

# a trusted balancer that names a chain: mod_remoteip takes the rightmost
# untrusted entry, the rest is passed on before it
{
    my ($r, $j, $h) = whoami(port => $tr_port,
        headers => ['X-Forwarded-For' => '198.51.100.7, 203.0.113.9']);
    ok t_cmp($j->{ip}, '203.0.113.9', 'chain: req.ip is the rightmost entry');
    ok t_cmp($h->{'x-forwarded-for'}, '198.51.100.7, 203.0.113.9', 'chain: X-Forwarded-For as mod_proxy_http sends it');
}

# a peer that neither module trusts (127.0.0.2) forges everything
for my $case (['without NodeTrustedProxy', $lb_port], ['with NodeTrustedProxy', $tr_port]) {
    my ($what, $port) = @$case;
    my ($r, $j, $h) = whoami(port => $port, local_addr => '127.0.0.2',
        headers => ['X-Forwarded-For' => '6.6.6.6', 'X-Forwarded-Proto' => 'https',
                    'X-Forwarded-Host' => 'evil.example',
                    'Forwarded' => 'for=6.6.6.6;proto=https;host=evil.example']);
    ok t_cmp($j->{ip}, '127.0.0.2', "forged, $what: req.ip is the real peer");
    ok t_cmp($h->{'x-forwarded-for'}, '127.0.0.2', "forged, $what: forged X-Forwarded-For dropped");
    ok t_cmp($h->{forwarded} // '', qr/^for=127\.0\.0\.2;proto=http;host=/, "forged, $what: forged Forwarded dropped");
    ok t_cmp($j->{protocol}, 'http', "forged, $what: forged proto dropped");
}

# ip-hash hashes the client mod_remoteip established: one client always on
# the same member, different clients spread
{
    my (%member_of, %used);
    my $stable = 1;
    for my $i (1 .. 12) {
        my $ip = "203.0.113.$i";
        for (1 .. 2) {
            my $r = http_req(port => $lb_port, path => '/hash/whoami',
                             headers => ['X-Forwarded-For' => $ip]);
            my $b = hdr($r, 'X-Backend') // 'none';
            $stable = 0 if defined $member_of{$ip} && $member_of{$ip} ne $b;
            $member_of{$ip} = $b;
            $used{$b}++;
        }
    }
    ok t_cmp($stable, 1, 'ip-hash: each balancer-named client stays on one member');
    ok t_cmp(scalar(grep { /^iph\d$/ } keys %used) > 1 ? 1 : 0, 1,
             'ip-hash: 12 clients behind one balancer are spread (' . join(',', sort keys %used) . ')');
}

# the module's error log lines name the same client
{
    my $mark = log_mark();
    my $r = http_req(port => $lb_port, path => '/down/x',
                     headers => ['X-Forwarded-For' => '203.0.113.77']);
    ok t_cmp($r->{status}, 503, 'down backend: 503');
    my @l = wait_log($mark, qr/NP00040/, 5);
    ok t_cmp($l[0] // '', qr/\[client 203\.0\.113\.77[:\]]/, 'error log names the client mod_remoteip established');
}
