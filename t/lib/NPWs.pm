package NPWs;

# WebSocket test helpers for t/modules/websocket*.t: run the Node `ws`
# client t/backends/wsclient.js (see its header for the plans and commands).
#
#   my $r = NPWs::run({op => 'echo', url => ..., messages => [...]});
#   my $s = NPWs::Session->new;                # interactive client
#   my $a = $s->cmd({cmd => 'open', url => ..., n => 100});
#   $s->kill9;                                 # or let DESTROY stop it
#   my $st = NPWs::ws_stats($backend);         # ws.js /__np/stats
#   my %fd = NPWs::child_fds();                # {pid => open fds}
#
# Client output on stderr goes to t/logs/wsclient.log.

use strict;
use warnings FATAL => 'all';

use File::Basename qw(dirname);
use File::Spec ();
use Cwd qw(abs_path);
use IO::Select ();
use JSON::PP ();
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

our $T_DIR = abs_path(File::Spec->catdir(dirname(__FILE__), File::Spec->updir));
our $CLIENT = "$T_DIR/backends/wsclient.js";
our $JSON = JSON::PP->new->canonical;

sub node { $ENV{NODE} || 'node' }

sub _spawn {
    my ($plan, $stdin) = @_;
    pipe(my $pr, my $cw) or die "pipe: $!";
    my ($cr, $pw);
    if ($stdin) { pipe($cr, $pw) or die "pipe: $!"; }
    my $parent = $$;
    my $log = "$T_DIR/logs/wsclient.log";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $pr;
        if ($stdin) { close $pw; open STDIN, '<&', $cr or POSIX::_exit(126); }
        else { open STDIN, '<', '/dev/null'; }
        open STDOUT, '>&', $cw or POSIX::_exit(126);
        open STDERR, '>>', $log or POSIX::_exit(126);
        $ENV{NP_PARENT_PID} = $parent;
        { exec node(), $CLIENT, $JSON->encode($plan); }
        POSIX::_exit(127);
    }
    close $cw;
    close $cr if $stdin;
    if ($pw) { my $old = select $pw; $| = 1; select $old; }
    return ($pid, $pr, $pw);
}

# Read one line from $fh within $timeout s; '' on timeout/EOF.
sub _read_line {
    my ($fh, $bufref, $timeout) = @_;
    my $deadline = time + $timeout;
    my $sel = IO::Select->new($fh);
    while (index($$bufref, "\n") < 0) {
        my $left = $deadline - time;
        last if $left <= 0;
        last unless $sel->can_read($left);
        my $n = sysread($fh, my $chunk, 65536);
        last unless $n;
        $$bufref .= $chunk;
    }
    my $i = index($$bufref, "\n");
    return '' if $i < 0;
    my $line = substr($$bufref, 0, $i + 1, '');
    chomp $line;
    return $line;
}

sub _decode {
    my $line = shift;
    return { error => 'no answer from wsclient.js (see t/logs/wsclient.log)' } if $line eq '';
    my $r = eval { $JSON->decode($line) };
    return $r || { error => "bad JSON from wsclient.js: $line" };
}

# One-shot plan: returns the decoded result (a hash; {error => ...} when the
# client failed). $timeout (s) bounds the whole run (default 60).
sub run {
    my ($plan, $timeout) = @_;
    $timeout ||= 60;
    $plan->{hard_timeout} ||= int($timeout * 1000);
    my ($pid, $out) = _spawn($plan, 0);
    my $buf = '';
    my $line = _read_line($out, \$buf, $timeout + 5);
    close $out;
    my $deadline = time + 5;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last; }
        sleep 0.02;
    }
    return _decode($line);
}

# ws.js statistics, asked directly (not through httpd)
sub ws_stats { $_[0]->ctl('/__np/stats') }

# {pid => number of open fds} of the httpd children
sub child_fds {
    my %n;
    for my $p (NPTest::httpd_children()) {
        opendir my $d, "/proc/$p/fd" or next;
        $n{$p} = scalar grep { /^\d+$/ } readdir $d;
    }
    return %n;
}

# {pid => VmRSS KiB} of the httpd children
sub child_rss {
    my %n;
    for my $p (NPTest::httpd_children()) {
        open my $fh, '<', "/proc/$p/status" or next;
        while (<$fh>) { if (/^VmRSS:\s+(\d+)/) { $n{$p} = $1; last; } }
    }
    return %n;
}

# {pid => soft open-files limit} of the httpd children
sub child_nofile {
    my %n;
    for my $p (NPTest::httpd_children()) {
        open my $fh, '<', "/proc/$p/limits" or next;
        while (<$fh>) { if (/^Max open files\s+(\S+)/) { $n{$p} = $1; last; } }
    }
    return %n;
}

package NPWs::Session;

use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

sub new {
    my $class = shift;
    my ($pid, $out, $in) = NPWs::_spawn({ op => 'session' }, 1);
    my $self = bless { pid => $pid, out => $out, in => $in, buf => '', owner => $$ }, $class;
    my $hello = NPWs::_decode(NPWs::_read_line($out, \$self->{buf}, 10));
    die "wsclient.js session did not start: " . ($hello->{error} // '?') . "\n"
        unless $hello->{ready};
    return $self;
}

sub pid { $_[0]->{pid} }

# send a command, wait (at most $timeout s, default 30) for its answer
sub cmd {
    my ($self, $c, $timeout) = @_;
    return { error => 'session gone' } unless $self->{pid};
    # an earlier command timed out: its late answer would be taken for ours
    return { error => 'session out of step (an earlier command timed out)' } if $self->{broken};
    local $SIG{PIPE} = 'IGNORE';
    print { $self->{in} } $NPWs::JSON->encode($c) . "\n"
        or return { error => "write to wsclient.js: $!" };
    my $line = NPWs::_read_line($self->{out}, \$self->{buf}, $timeout || 30);
    if ($line eq '') {
        $self->{broken} = 1;
        return { error => "no answer to $c->{cmd} within " . ($timeout || 30) . ' s' };
    }
    return NPWs::_decode($line);
}

sub kill9 {
    my $self = shift;
    my $pid = $self->{pid} or return;
    $self->{pid} = 0;
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub stop {
    my $self = shift;
    my $pid = $self->{pid} or return;
    return unless $self->{owner} == $$;
    $self->{pid} = 0;
    close $self->{in};
    kill 'TERM', $pid;
    my $deadline = time + 5;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last; }
        sleep 0.02;
    }
}

sub DESTROY { local ($@, $!, $?); $_[0]->stop }

1;
