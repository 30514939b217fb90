package NPControl;

# Helpers for the runtime-control tests (t/modules/control*.t,
# rolling_deploy.t, slow_start.t, persist.t): a DEDICATED httpd
# (NPAsync::Httpd, 2 children) whose status page at /np-admin has
# "NodeStatusControl on" (the common /np-status stays read-only), backends
# on the issue-15 ports 29400-29449, the control API spoken directly and
# through bin nodeproxyctl (control/nodeproxyctl, run from the tree).
#
#   my $h = NPControl::httpd('tag', $port, $conf);   # $conf: balancers etc.
#   NPControl::api($h, {balancer => 'b', member => $url, action => 'drain'})
#       -> (status, decoded JSON or undef, raw response)
#   NPControl::member($h, 'b', $url)                  # its status JSON object
#   NPControl::ctl($h, @args)                         # nodeproxyctl: (exit, output)

use strict;
use warnings FATAL => 'all';

use File::Basename qw(dirname);
use File::Spec ();
use Cwd qw(abs_path);
use JSON::PP ();
use Time::HiRes qw(time sleep);
use NPTest ();
use NPAsync ();
use POSIX ();

our $TOP = abs_path(File::Spec->catdir(dirname(__FILE__), File::Spec->updir, File::Spec->updir));
our $CTL = "$TOP/control/nodeproxyctl";
our $JSON = JSON::PP->new->canonical;

# the control Location, added to every dedicated server of these tests
our $ADMIN_LOC = <<'EOC';
<Location /np-admin>
    SetHandler nodeproxy-status
    NodeStatusControl on
</Location>
CustomLog "@DIR@/pid_log" "%P %{remote}p %>s %r"
EOC

sub httpd {
    my ($tag, $port, $conf, %a) = @_;
    return NPAsync::Httpd->start(tag => $tag, port => $port,
                                 conf => $ADMIN_LOC . $conf, %a);
}

sub api {
    my ($h, $body, %a) = @_;
    my $r = NPTest::http_req(port => $h->port, method => 'POST', path => $a{path} || '/np-admin',
                             headers => [ 'Content-Type' => $a{type} || 'application/json',
                                          @{ $a{headers} || [] } ],
                             body => ref $body ? $JSON->encode($body) : $body, timeout => 10);
    my $j = eval { $JSON->decode($r->{body}) };
    return ($r->{status}, $j, $r);
}

sub status { my $h = shift; return $h->status_json || {}; }

sub member {
    my ($h, $bal, $url) = @_;
    for my $b (@{ status($h)->{balancers} || [] }) {
        next unless $b->{name} eq $bal;
        for my $m (@{ $b->{members} }) { return $m if $m->{url} eq $url; }
    }
    return {};
}

# nodeproxyctl from the tree against the server's /np-admin; (exit code, output)
sub ctl {
    my ($h, @args) = @_;
    my $url = 'http://127.0.0.1:' . $h->port . '/np-admin';
    my $cmd = join ' ', map { my $x = $_; $x =~ s/'/'\\''/g; "'$x'" } $^X, $CTL, '--url', $url, @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# a GET through the server: (X-Backend, status, response)
sub get {
    my ($h, $path, @headers) = @_;
    my $r = NPTest::http_req(port => $h->port, path => $path, headers => \@headers, timeout => 10);
    return (NPTest::hdr($r, 'X-Backend') // '', $r->{status}, $r);
}

# $n GETs; {backend => count}
sub spread {
    my ($h, $n, $path, @headers) = @_;
    my %c;
    for (1 .. $n) { my ($b) = get($h, $path, @headers); $c{$b || 'none'}++; }
    return \%c;
}

sub fmt { my $c = shift; join ' ', map { "$_=$c->{$_}" } sort keys %$c }

# t/backends/deployload.js in the background (see its header for the plan);
# ->wait gives its decoded answer (NPAsync::Load)
sub load_bg {
    my ($plan) = @_;
    my $T = "$TOP/t";
    my $out = "$T/logs/np-ctl-load-$$-" . int(rand(1e9)) . '.json';
    my $parent = $$;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        $ENV{NP_PARENT_PID} = $parent;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>>', "$T/logs/deployload.log" or POSIX::_exit(126);
        { exec $ENV{NODE} || 'node', "$T/backends/deployload.js", $JSON->encode($plan); }
        POSIX::_exit(127);
    }
    return bless { pid => $pid, out => $out, owner => $$,
                   deadline => time + ($plan->{seconds} || 20) + 45 }, 'NPAsync::Load';
}

# the lines deploy.js wrote at exit (t/logs/deploy-NAME.jsonl), summed
sub deploy_stats {
    my @names = @_;
    my %sum = (lives => 0);
    for my $n (@names) {
        open my $fh, '<', "$TOP/t/logs/deploy-$n.jsonl" or next;
        while (my $l = <$fh>) {
            my $j = eval { $JSON->decode($l) } or next;
            $sum{lives}++;
            $sum{$_} += $j->{$_} // 0 for qw(gets posts bad_bodies aborted in_flight_at_term);
        }
    }
    return \%sum;
}
sub deploy_stats_reset { unlink map { "$TOP/t/logs/deploy-$_.jsonl" } @_; }

1;
