# SetHandler nodeproxy-status in a <Location> under a proxied "/" (vhost
# np_status, balancer np_stat used only here: s1 29128, s2 29129,
# round-robin): HTML, JSON and Prometheus; the JSON request counts match the
# traffic exactly; `promtool check metrics` accepts the Prometheus text;
# after kill -9 of a member and one request, its nodeproxy_member_up is 0;
# the access log carries the member, upstream time and attempts notes; the
# HTML page rendered by headless Chromium shows every member (and
# a screenshot is kept in t/logs/status.png).
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();
use NPTestRun ();

plan tests => 31, need_module('nodeproxy');

my $port = vhost_port('np_status');
my %url = (s1 => 'http://127.0.0.1:29128', s2 => 'http://127.0.0.1:29129');
my %be = map { $_ => NPBackend::start($_, 'echo.js', $url{$_} =~ /(\d+)$/) } qw(s1 s2);

sub get { http_req(port => $port, path => $_[0]) }
sub prom_value {
    my ($text, $metric, $member) = @_;
    return $text =~ /^\Q$metric\E\{balancer="np_stat",member="\Q$member\E"\} (\S+)$/m ? $1 : undef;
}

# ---- traffic: 20 requests, round-robin alternates ------------------------------
my $N = 20;
my @seq;
for my $i (1 .. $N) {
    my $r = get("/page/$i");
    push @seq, $r->{status} == 200 ? (hdr($r, 'X-Backend') // '-') : "status$r->{status}";
}
my %count;
$count{$_}++ for @seq;
ok t_cmp(join(' ', map { "$_=" . ($count{$_} // 0) } qw(s1 s2)), 's1=10 s2=10',
         "$N requests through the proxied /: 10 each");
my $alternates = !grep { $seq[$_] eq $seq[$_ - 1] } 1 .. $#seq;
ok t_cmp($alternates ? 1 : 0, 1, "round-robin alternates (@seq)");

# ---- the three formats, from the Location under the proxied / --------------------
{
    my $before = $be{s1}->stats->{counts};
    my $h = get('/np-status');
    ok t_cmp($h->{status}, 200, 'HTML: 200');
    ok t_cmp(hdr($h, 'Content-Type') // '', qr{^text/html}, 'HTML: text/html');
    ok t_cmp(hdr($h, 'X-Backend') // 'none', 'none', 'HTML: served by the handler, not proxied');
    ok t_cmp(($h->{body} =~ /\Q$url{s1}\E/ && $h->{body} =~ /\Q$url{s2}\E/) ? 1 : 0, 1,
             'HTML: both member URLs');
    ok t_cmp($h->{body}, qr/np_stat/, 'HTML: the balancer name');
    my $hr = get('/np-status?refresh=5');
    ok t_cmp($hr->{body}, qr/<meta[^>]+http-equiv="?refresh"?[^>]+5/i, 'HTML ?refresh=5: a refresh meta tag');

    my $jr = get('/np-status?format=json');
    ok t_cmp(hdr($jr, 'Content-Type') // '', qr{^application/json}, 'JSON: application/json');
    my $j = json_body($jr);
    ok t_cmp(ref $j, 'HASH', 'JSON parses');
    my ($b) = grep { $_->{name} eq 'np_stat' } @{ $j->{balancers} || [] };
    ok t_cmp($b ? $b->{method} : 'none', 'round-robin', 'JSON: balancer np_stat, method round-robin');
    for my $n (qw(s1 s2)) {
        my $m = status_member($j, 'np_stat', $url{$n}) || {};
        ok t_cmp(join(' ', map { "$_=" . ($m->{$_} // 'null') } qw(state requests pending failures weight)),
                 "state=usable requests=$count{$n} pending=0 failures=0 weight=1",
                 "JSON: member $n matches the traffic sent");
    }
    ok t_cmp(join(',', map { $_->{url} } @{ $b->{members} || [] }), "$url{s1},$url{s2}", 'JSON: member URLs as configured');

    my $p = get('/np-status?format=prometheus');
    ok t_cmp(hdr($p, 'Content-Type') // '', qr{^text/plain; version=0\.0\.4}, 'Prometheus: text/plain; version=0.0.4');
    ok t_cmp(join(' ', map { prom_value($p->{body}, 'nodeproxy_member_requests_total', $url{$_}) // 'none' } qw(s1 s2)),
             "$count{s1} $count{s2}", 'Prometheus: nodeproxy_member_requests_total matches the traffic');
    ok t_cmp(join(' ', map { prom_value($p->{body}, 'nodeproxy_member_up', $url{$_}) // 'none' } qw(s1 s2)),
             '1 1', 'Prometheus: nodeproxy_member_up 1 for both');
    my $dir = tempdir('np-prom-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $fh, '>', "$dir/metrics.txt" or die; print $fh $p->{body}; close $fh;
    my $out = `promtool check metrics < '$dir/metrics.txt' 2>&1`;
    my $rc = $? >> 8;
    ok t_cmp($rc, 0, "promtool check metrics passes: $out");
    my $after = $be{s1}->stats->{counts};
    ok t_cmp(join(',', map { "$_=$after->{$_}" } sort keys %$after),
             join(',', map { "$_=$before->{$_}" } sort keys %$before),
             'the status requests never reached a backend');
}

# ---- access log: member, upstream time, attempts -----------------------------------
{
    my $log = t_path('logs', 'np_access_log');
    my $probe = '/probe-' . int(rand(1e9));
    my $r = get($probe);
    my $who = hdr($r, 'X-Backend') // '-';
    my $line;
    wait_until(3, sub {
        open my $fh, '<', $log or return 0;
        ($line) = grep { /\Q$probe\E/ } <$fh>;
        return defined $line;
    }, 0.1);
    $line //= '';
    chomp $line;
    t_debug("access log: $line");
    ok t_cmp($line, qr/member=\Q$url{$who}\E /, "access log: %{nodeproxy-member}n is the member that answered ($who)");
    ok t_cmp($line, qr/upstream_ms=\d+(\.\d+)? /, 'access log: %{nodeproxy-upstream-ms}n is a number');
    ok t_cmp($line, qr/attempts=1$/, 'access log: %{nodeproxy-attempts}n is 1');
}

# ---- the HTML page in headless Chromium -------------------------------------------------
{
    my $chromium = (grep { -x } map { "$_/chromium" } split /:/, $ENV{PATH})[0];
    ok t_cmp($chromium ? 1 : 0, 1,
             'chromium is installed (scripts/test.sh installs it; apt-get install chromium)');
    my $url = "http://localhost:$port/np-status";
    my @flags = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run',
                 '--disable-dev-shm-usage');
    my $dom = '';
    my $png = Apache::Test::vars("t_logs") . "/status.png";
    if ($chromium) {
        my $ud = tempdir('np-chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
        $dom = `timeout 90 '$chromium' @flags --user-data-dir='$ud' --dump-dom '$url' 2>/dev/null`;
        my $ud2 = tempdir('np-chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
        unlink $png;
        system("timeout 90 '$chromium' @flags --user-data-dir='$ud2' --hide-scrollbars " .
               "--window-size=1200,800 --screenshot='$png' '$url' >/dev/null 2>&1");
    }
    my $j = status_json(port => $port) || {};
    my @all = map { $_->[1]{url} } status_members($j);
    my @missing = grep { index($dom, $_) < 0 } @all;
    ok t_cmp(@all && $dom =~ /<table/i ? scalar(@missing) : -1, 0,
             'Chromium renders the page with every member of every balancer (' . scalar(@all) .
             ' members; missing: ' . join(' ', @missing) . ')');
    my $sig = '';
    if (open my $fh, '<', $png) { binmode $fh; read $fh, $sig, 8; }
    ok t_cmp(($sig eq "\x89PNG\r\n\x1a\n" && -s $png > 10000) ? 1 : 0, 1,
             'Chromium screenshot t/logs/status.png (' . (-s $png // 0) . ' bytes)');
}

# ---- kill -9 of a member, one request: its nodeproxy_member_up is 0 -------------------
{
    # round-robin alternates: the request after this one goes to the other
    # member, which is killed (Chromium's own requests, e.g. a favicon,
    # went through the balancer too, so count from here)
    my $other = hdr(get('/before-kill'), 'X-Backend') // 's1';
    my ($victim) = grep { $_ ne $other } qw(s1 s2);
    $be{$victim}->kill9;
    my $r = get('/after-kill');
    ok t_cmp($r->{status} . ' ' . (hdr($r, 'X-Backend') // '-'), "200 $other",
             "kill -9 of $victim, one request: answered by $other");
    my $p = get('/np-status?format=prometheus')->{body};
    ok t_cmp(prom_value($p, 'nodeproxy_member_up', $url{$victim}) // 'none', '0',
             "Prometheus: nodeproxy_member_up of the killed $victim is 0");
    ok t_cmp(prom_value($p, 'nodeproxy_member_up', $url{$other}) // 'none', '1',
             "Prometheus: nodeproxy_member_up of $other is 1");
    ok t_cmp(prom_value($p, 'nodeproxy_member_failures_total', $url{$victim}) // 'none', '1',
             "Prometheus: nodeproxy_member_failures_total of $victim is 1");
    my $m = status_member(status_json(port => $port) || {}, 'np_stat', $url{$victim}) || {};
    ok t_cmp(($m->{state} // '') . ' / ' . ($m->{reason} // ''), 'failed / connect refused',
             'JSON: the killed member is failed, connect refused');
}

{
    my @bad = pending_nonzero(3);
    ok t_cmp(join('; ', @bad), '', 'pending is 0 for every member');
}
