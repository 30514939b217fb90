package NPBackend;

# Start and stop the Node.js test backends (t/backends/*.js) as real processes.
#
#   my $echo = NPBackend::start('echo', 'echo.js', 29101);
#   my $sock = NPBackend::start('sock', 'echo.js', '/path/app.sock');
#   my $ka   = NPBackend::start('ka', 'echo.js', 29103, keepalive => 1000);
#   ...
#   $echo->stop;          # or let it go out of scope (DESTROY stops it)
#
# echo.js control endpoints (see its header), sent to the backend directly:
#   $b->health('fail');   # /healthz answers 503 ('ok', 'fail', 'hang')
#   $b->delay(200);       # every other request answered 200 ms late
#   $b->reset;            # zero the per-path counters
#   my $st = $b->stats;   # {counts => {path => n}, first => {path => ms}, ...}
#   $b->count('/healthz') # requests seen on that path since the last reset
#   $b->kill9;            # SIGKILL, like a crashed Node process
#   $b = $b->restart;     # a new process on the same port/socket (a new object)
#
# https backends (echo.js, ws.js): tls => {cert => F, key => F[, ca => F,
# require_client_cert => 1][, client_cert => F, client_key => F]}; the control
# endpoints are then asked over TLS too (with client_cert/client_key when the
# backend requires one). host => '127.0.0.2' listens there instead of 127.0.0.1.
#
# start() waits (at most 10 s, option wait => N) until the backend accepts
# connections and dies with the backend's log when it does not. A port that
# already accepts connections before the start is an error (a stale backend
# would silently answer instead of ours). Logs: t/logs/backend-NAME.log.

use strict;
use warnings FATAL => 'all';

use File::Basename qw(dirname);
use File::Spec ();
use Cwd qw(abs_path);
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use IO::Select ();
use JSON::PP ();
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

our $T_DIR = abs_path(File::Spec->catdir(dirname(__FILE__), File::Spec->updir));

sub _connect {
    my ($where, $host) = @_;
    if ($where =~ m{/}) {
        return IO::Socket::UNIX->new(Peer => $where, Type => IO::Socket::UNIX::SOCK_STREAM());
    }
    return IO::Socket::INET->new(PeerAddr => $host || '127.0.0.1', PeerPort => $where,
                                 Proto => 'tcp', Timeout => 1);
}

sub _tail {
    my $file = shift;
    open my $fh, '<', $file or return "(no log $file)";
    local $/;
    my $s = <$fh>;
    $s = substr($s, -2000) if length $s > 2000;
    return $s;
}

sub start {
    shift if @_ && defined $_[0] && $_[0] eq __PACKAGE__;
    my ($name, $script, $where, %opt) = @_;

    $script .= '.js' unless $script =~ /\.js$/;
    my $path = $script =~ m{/} ? $script : "$T_DIR/backends/$script";
    die "NPBackend: no such backend script $path\n" unless -f $path;

    my $is_sock = $where =~ m{/};
    if (!$is_sock) {
        if (my $s = _connect($where, $opt{host})) {
            close $s;
            die "NPBackend: 127.0.0.1:$where already accepts connections " .
                "before backend '$name' starts (stale backend?)\n";
        }
    }

    my @args = ('--name', $name, $is_sock ? ('--socket', $where) : ('--port', $where));
    push @args, '--keep-alive-timeout', $opt{keepalive} if defined $opt{keepalive};
    push @args, '--host', $opt{host} if $opt{host};
    if (my $tls = $opt{tls}) {
        push @args, '--tls-cert', $tls->{cert}, '--tls-key', $tls->{key};
        push @args, '--tls-ca', $tls->{ca} if $tls->{ca};
        push @args, '--tls-require-client-cert' if $tls->{require_client_cert};
    }

    my $node = $ENV{NODE} || 'node';
    mkdir "$T_DIR/logs" unless -d "$T_DIR/logs";
    my $log = "$T_DIR/logs/backend-$name.log";
    my $parent = $$;

    my $pid = fork;
    die "NPBackend: fork: $!\n" unless defined $pid;
    if (!$pid) {
        $ENV{NP_PARENT_PID} = $parent;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        { exec $node, $path, @args; }
        print STDERR "exec $node: $!\n";
        POSIX::_exit(127);
    }

    my $self = bless { name => $name, pid => $pid, where => $where,
                       owner => $$, log => $log, script => $script,
                       opt => \%opt }, __PACKAGE__;

    my $deadline = time + ($opt{wait} || 10);
    while (1) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{pid} = 0;
            die "NPBackend: backend '$name' ($path @args) exited with status $? " .
                "before accepting connections:\n" . _tail($log) . "\n";
        }
        # A unix socket is connectable (by root, this process) as soon as the
        # backend listens, but httpd's children can use it only once the
        # backend has made it world-writable: wait for that too.
        if (my $s = _connect($where, $opt{host})) {
            close $s;
            last if !$is_sock || ((stat $where)[2] // 0) & 0002;
        }
        if (time > $deadline) {
            $self->stop;
            die "NPBackend: backend '$name' did not accept connections on $where " .
                "within " . ($opt{wait} || 10) . " s:\n" . _tail($log) . "\n";
        }
        sleep 0.05;
    }
    return $self;
}

sub pid   { $_[0]->{pid} }
sub where { $_[0]->{where} }
sub name  { $_[0]->{name} }

sub stop {
    my $self = shift;
    my $pid = $self->{pid} or return;
    return unless $self->{owner} == $$;   # never from a forked child
    $self->{pid} = 0;
    kill 'TERM', $pid;
    my $deadline = time + 5;
    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        return if $r == $pid || $r == -1;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

# SIGKILL (no clean-up in the backend, its connections are reset)
sub kill9 {
    my $self = shift;
    my $pid = $self->{pid} or return;
    return unless $self->{owner} == $$;
    $self->{pid} = 0;
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

# start the same backend again (same name, script, port or socket, options)
sub restart {
    my $self = shift;
    $self->stop;
    return start($self->{name}, $self->{script}, $self->{where}, %{ $self->{opt} });
}

# GET a control path of echo.js directly (not through httpd); decoded JSON
sub ctl {
    my ($self, $path) = @_;
    my $s = _connect($self->{where}, $self->{opt}{host})
        or die "NPBackend: cannot reach backend '$self->{name}' at $self->{where}: $!\n";
    if (my $tls = $self->{opt}{tls}) {
        require IO::Socket::SSL;
        IO::Socket::SSL->start_SSL($s, SSL_verify_mode => 0, SSL_hostname => 'localhost',
            ($tls->{client_cert} ? (SSL_cert_file => $tls->{client_cert},
                                    SSL_key_file => $tls->{client_key}) : ()))
            or die "NPBackend: TLS to backend '$self->{name}' failed: " .
                   IO::Socket::SSL::errstr() . "\n";
    }
    $s->autoflush(1);
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    my $raw = '';
    my $deadline = time + 5;
    my $sel = IO::Select->new($s);
    while (time < $deadline) {
        last unless (ref($s) =~ /SSL/ && $s->pending) || $sel->can_read(1);
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    die "NPBackend: control $path of '$self->{name}' failed: " . ($head // '(no answer)') . "\n"
        unless defined $head && $head =~ m{^HTTP/1\.1 200};
    return JSON::PP->new->decode($body);
}

sub stats  { $_[0]->ctl('/__np/stats') }
sub reset  { $_[0]->ctl('/__np/reset') }
sub health { $_[0]->ctl("/__np/health?mode=$_[1]") }
sub delay  { $_[0]->ctl("/__np/delay?ms=$_[1]") }
sub count  { $_[0]->stats->{counts}{ $_[1] } || 0 }

sub DESTROY { local ($@, $!, $?); $_[0]->stop }

1;
