package NPRedis;
# A redis-server of a test's own (Debian's package redis-server, in
# NP_APT_PACKAGES), for the NodeRateLimitStore redis:// tests: started with
# a command-line config (no persistence, not daemonized, never the system
# service), waited for with the test's own "is it up" check, stopped by
# pid (TERM, then KILL after 5 s), and stopped at exit whatever happened.
# Also the request and error-log helpers those tests share.
use strict;
use warnings FATAL => 'all';

use File::Path qw(make_path);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use NPTest ();
use Exporter 'import';
our @EXPORT_OK = qw(get n200 log_count log_lines);

my @started;    # every server object, for the END block

# NPRedis->new(dir => DIR, args => [...], up => sub { 1 when it answers })
sub new {
    my ($class, %a) = @_;
    my $self = bless { %a, pid => 0 }, $class;
    $self->{bin} = (grep { -x } '/usr/bin/redis-server', '/usr/sbin/redis-server')[0];
    make_path($self->{dir});
    push @started, $self;
    return $self;
}

sub bin { $_[0]{bin} }

# Start it and wait (10 s at most) until up() says it answers: 1 or 0.
sub start {
    my $self = shift;
    die "no redis-server (install the Debian package redis-server)\n" unless $self->{bin};
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$self->{dir}/redis.log";
        open STDERR, '>&', \*STDOUT;
        { exec $self->{bin}, @{ $self->{args} }, '--save', '', '--appendonly', 'no',
               '--dir', $self->{dir}, '--daemonize', 'no'; }
        POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    for (1 .. 100) {
        return 1 if $self->{up}->();
        sleep 0.1;
    }
    return 0;
}

sub stop {
    my $self = shift;
    my $pid = $self->{pid} or return;
    kill 'TERM', $pid;
    for (1 .. 100) { last if waitpid($pid, WNOHANG) == $pid; sleep 0.05; }
    if (kill 0, $pid) { kill 'KILL', $pid; waitpid($pid, 0); }
    $self->{pid} = 0;
}

END { local ($?, $!, $@); $_->stop for @started; }

# GET path from 127.0.0.1:port; never dies (status 0 when it failed), and
# says how long it took (ms).
sub get {
    my ($port, $path) = @_;
    my $t = time;
    my $r = eval { NPTest::http_req(port => $port, path => $path, timeout => 10) }
        || { status => 0, headers => {}, body => '' };
    $r->{ms} = (time - $t) * 1000;
    return $r;
}

sub n200 { scalar grep { $_->{status} == 200 } @_ }

# Lines of a dedicated httpd's (t/lib/NPAsync.pm) error log matching re:
# how many, or all of them as one string.
sub log_matches {
    my ($h, $re) = @_;
    open my $fh, '<', $h->error_log or return ();
    return grep { $_ =~ $re } <$fh>;
}
sub log_count { my @l = log_matches(@_); return scalar @l }
sub log_lines { return join '', log_matches(@_) }

1;
