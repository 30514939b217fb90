# Backend names re-resolved in the background (NodeResolveInterval). A
# dedicated httpd runs in a mount namespace of its own, with a private
# /etc/hosts that this test rewrites (t/lib/NPAsync.pm hosts =>; no network
# involved): np-dns-app.test moves from 127.0.0.2 (backend dnsA) to
# 127.0.0.3 (dnsB) while requests keep coming; both backends stay up.
# Requests started more than interval + 1 s after the change must all reach
# dnsB (pooled connections to dnsA retired), none may fail; a lookup that
# fails keeps the last good address (warned once); a name with an address
# where nothing listens before the good one still answers.
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

plan tests => 13, need_module('nodeproxy');

my $NAME = 'np-dns-app.test';
my $BPORT = 29460;
my $dir = t_path('logs', 'np-dns');
make_path($dir, { mode => 0755 });
my $hosts = "$dir/hosts";

# rewrite in place: the bind mount follows the inode, not the name
sub write_hosts {
    my @ips = @_;
    open my $fh, '>', $hosts or die "$hosts: $!";
    print $fh "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";
    print $fh "$_ $NAME\n" for @ips;
    close $fh;
    chmod 0644, $hosts;
}
write_hosts('127.0.0.2');

my $a = NPBackend::start('dnsA', 'echo.js', $BPORT, host => '127.0.0.2');
my $b = NPBackend::start('dnsB', 'echo.js', $BPORT, host => '127.0.0.3');
my ($port) = NPAsync::free_ports(1);
my $httpd = NPAsync::Httpd->start(tag => 'dns', port => $port, hosts => $hosts, conf => <<"EOC");
NodeResolveInterval 1s
<NodeBalancer dns>
    NodeMember http://$NAME:$BPORT
</NodeBalancer>
NodeProxyPass /d/ balancer://dns/
EOC

# sequential requests for $secs seconds: [start, status, backend]
sub traffic {
    my ($secs, $tag) = @_;
    my @rec;
    my $end = time + $secs;
    my $i = 0;
    while (time < $end) {
        my $t0 = time;
        my $r = http_req(port => $port, path => "/d/$tag" . $i++, keepalive => 0, timeout => 10);
        push @rec, [$t0, $r->{status}, hdr($r, 'X-Backend') // '-'];
        sleep 0.02;
    }
    return @rec;
}
sub slurp_since {
    my ($file, $mark) = @_;
    open my $fh, '<', $file or return '';
    seek $fh, $mark, 0;
    local $/;
    return <$fh> // '';
}
sub by_backend { my %n; $n{ $_->[2] }++ for @_; join ',', map { "$_=$n{$_}" } sort keys %n }

# ---- resolved at start (2)
{
    my @r = traffic(1.5, 'start');
    ok t_cmp(scalar(grep { $_->[1] != 200 } @r), 0, 'at start: no failed request (' . scalar(@r) . ')');
    ok t_cmp(by_backend(@r), 'dnsA=' . scalar(@r), "at start: $NAME (127.0.0.2) answers: dnsA");
}

# ---- the name moves: traffic follows within interval + 1 s, nothing fails (5)
{
    my $mark = $httpd->log_mark;
    my $t_change = time;
    write_hosts('127.0.0.3');
    my @r = traffic(4, 'move');
    my @late = grep { $_->[0] > $t_change + 2.0 } @r;
    my ($first_b) = grep { $_->[2] eq 'dnsB' } @r;
    t_debug(sprintf('first dnsB answer %.2f s after the change; %s', $first_b ? $first_b->[0] - $t_change : -1,
                    by_backend(@r)));
    ok t_cmp(scalar(grep { $_->[1] != 200 } @r), 0, 'moving: 0 failed requests of ' . scalar(@r));
    ok t_cmp(scalar(@late) > 20 ? 1 : 0, 1, 'moving: ' . scalar(@late) . ' requests started after interval + 1 s');
    ok t_cmp(by_backend(@late), 'dnsB=' . scalar(@late),
             'moving: every request started more than interval + 1 s after the change went to the new address');
    ok t_cmp($first_b && $first_b->[0] - $t_change <= 2.0 ? 1 : 0, 1,
             sprintf('moving: the first answer from the new address came %.2f s after the change (<= 2 s)',
                     $first_b ? $first_b->[0] - $t_change : -1));
    ok t_cmp(slurp_since($httpd->error_log, $mark),
             qr/NP00460: nodeproxy\(http:\/\/$NAME:$BPORT\): $NAME now resolves to 127\.0\.0\.3 \(was 127\.0\.0\.2\)/,
             'moving: the change is logged (NP00460)');
}

# ---- the lookup fails: the last good address stays in use, warned once (4)
{
    my $mark = $httpd->log_mark;
    write_hosts();
    my @r = traffic(3.5, 'fail');
    ok t_cmp(scalar(grep { $_->[1] != 200 } @r), 0, 'lookup failing: 0 failed requests of ' . scalar(@r));
    ok t_cmp(by_backend(@r), 'dnsB=' . scalar(@r), 'lookup failing: the last good address (dnsB) keeps answering');
    my $log = slurp_since($httpd->error_log, $mark);
    my $warned = () = $log =~ /NP00461: nodeproxy\(http:\/\/$NAME:$BPORT\): cannot resolve $NAME; keeping 127\.0\.0\.3/g;
    ok t_cmp($warned, 1, 'lookup failing: warned once over 3 intervals (NP00461)');
    $mark = $httpd->log_mark;
    write_hosts('127.0.0.3');
    my $back = wait_until(5, sub { slurp_since($httpd->error_log, $mark) =~ /NP00462: .*resolves again/ }, 0.1);
    ok t_cmp(defined $back ? 1 : 0, 1, 'resolves again: logged once it does (NP00462)');
}

# ---- several addresses: the next one is tried on connect failure (1)
{
    # 127.0.0.4: nothing listens there
    write_hosts('127.0.0.4', '127.0.0.3');
    sleep 2.5;
    my @r = traffic(1.5, 'multi');
    ok t_cmp(by_backend(@r), 'dnsB=' . scalar(@r),
             'two addresses, the first refusing: every request answered by the other (' . scalar(@r) . ')');
}

# ---- the status page shows the address in use (1)
{
    write_hosts('127.0.0.3');
    my $got = '';
    wait_until(5, sub {
        my $r = http_req(port => $port, path => '/np-status?format=json');
        $got = $r->{body} // '';
        return $got =~ /"address":"127\.0\.0\.3"/;
    }, 0.2);
    ok t_cmp($got, qr/"url":"http:\/\/$NAME:$BPORT","address":"127\.0\.0\.3"/,
             'status page: the member named by DNS and the address in use');
}

$httpd->stop;
