package NPAsync;

# Helpers for the async proxying tests (t/modules/async*.t).
#
# Those tests need an httpd with exactly 2 children x 25 threads
# (MaxRequestWorkers 50), not the suite's shared server (3 children,
# MaxRequestWorkers 100): each test file starts a DEDICATED httpd with a
# configuration generated into t/logs/np-async-TAG/ (the built module, the
# event MPM, its own Listen ports in 29171-29190), and stops it by pid when
# it ends (END block, whatever happened).
#
#   my @p = NPAsync::free_ports(3);                     # ports in 29171-29190
#   my $sa = NPAsync::backend('sa', $p[1]);             # slow.js (NPBackend object)
#   my $h = NPAsync::Httpd->start(tag => 'load', port => $p[0], conf => $text);
#   $h->children; $h->child_fds; $h->child_rss; $h->log_mark; $h->log_since($m)
#   my $res = NPAsync::load({url => ..., n => 200});     # loadclient.js, waits
#   my $bg  = NPAsync::load_bg({...}); ...; my $res = $bg->wait(30);
#   my $st  = NPAsync::stats($sa);                       # slow.js /__np/stats (dies if it cannot)
#   NPAsync::wait_held($sa, 'g', 1000, 60); NPAsync::release($sa, 'g');  # slow.js gates
#   my ($status, $ms, $r) = NPAsync::timed_get($port, '/a/fast');
#
# The Node processes (backends, load client) are started through a small
# wrapper that raises the open-files limit (ulimit -n 20000, the hard limit
# on these machines) before exec'ing node.

use strict;
use warnings FATAL => 'all';

use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec ();
use Cwd qw(abs_path);
use IO::Socket::INET ();
use JSON::PP ();
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use List::Util qw(min);

use NPTest ();
use NPBackend ();

our $T_DIR = abs_path(File::Spec->catdir(dirname(__FILE__), File::Spec->updir));
our $JSON = JSON::PP->new->canonical;
our $NOFILE = 20000;
our @PORT_RANGE = (29171 .. 29190);

my %taken;   # ports handed out by this process

# $n ports of 29171-29190 on which nothing listens and that can be bound
sub free_ports {
    my $n = shift;
    my @p;
    for my $port (@PORT_RANGE) {
        next if $taken{$port};
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 1);
        if ($c) { close $c; next; }
        my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                      Proto => 'tcp', Listen => 1, ReuseAddr => 1) or next;
        close $l;
        $taken{$port} = 1;
        push @p, $port;
        last if @p == $n;
    }
    die "NPAsync: fewer than $n free ports in 29171-29190\n" unless @p == $n;
    return @p;
}

# a shell wrapper that raises the open-files limit and execs node
sub node_wrapper {
    my $node = $ENV{NP_ASYNC_REAL_NODE} || $ENV{NODE} || 'node';
    my $w = "$T_DIR/logs/np-async-node.sh";
    open my $fh, '>', $w or die "$w: $!";
    print $fh "#!/bin/sh\nulimit -n $NOFILE 2>/dev/null || ulimit -n \$(ulimit -Hn)\nexec '$node' \"\$@\"\n";
    close $fh;
    chmod 0755, $w;
    return $w;
}

# a slow.js backend (an NPBackend object: stop, kill9, DESTROY)
sub backend {
    my ($name, $port, %opt) = @_;
    local $ENV{NP_ASYNC_REAL_NODE} = $ENV{NODE} || 'node';
    local $ENV{NODE} = node_wrapper();
    return NPBackend::start($name, 'slow.js', $port, %opt);
}

# A control request to slow.js (asked directly). A backend busy with
# thousands of connections on a loaded machine may miss one answer: try
# up to 4 times, then die naming the backend and the error (an empty answer
# taken for "0 waiting" made a slow machine look like a wrong proxy).
sub ctl_retry {
    my ($b, $path) = @_;
    my $err;
    for my $try (1 .. 4) {
        my $r = eval {
            # NPBackend::ctl gives up after 1 s of silence: too short for a
            # Node process writing hundreds of MiB on a loaded machine
            return $b->ctl($path) if $b->{where} !~ /^\d+$/ || $b->{opt}{tls};
            my $res = NPTest::http_req(port => $b->{where}, path => $path, timeout => 15);
            die 'status ' . ($res->{status} // '-') . "\n" unless ($res->{status} // 0) == 200;
            $JSON->decode($res->{body});
        };
        return $r if ref $r eq 'HASH';
        $err = $@ || 'no JSON';
        sleep 0.5;
    }
    die "NPAsync: control $path of backend '$b->{name}' failed 4 times (15 s each): $err\n";
}
sub stats { ctl_retry($_[0], '/__np/stats') }
sub reset_stats { ctl_retry($_[0], '/__np/reset') }
# open gate $g of slow.js (requests with &gate=$g go on)
sub release { ctl_retry($_[0], "/__np/release?gate=$_[1]") }
# how many requests wait on gate $g of slow.js now
sub held { my ($b, $g) = @_; return (stats($b)->{held} || {})->{$g} // 0; }
# wait (at most $timeout s) until $n requests wait on gate $g: the time
# taken, or undef (the last count in $$last)
sub wait_held {
    my ($b, $g, $n, $timeout, $last) = @_;
    my $c = 0;
    my $t = NPTest::wait_until($timeout, sub { $c = held($b, $g); $c >= $n }, 0.1);
    $$last = $c if $last;
    return $t;
}

# client-side TCP connections to 127.0.0.1:$port that are ESTABLISHED (the
# kernel completes them whether or not httpd has accepted them yet)
sub established_to {
    my $port = shift;
    my $n = 0;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        <$fh>;
        while (my $l = <$fh>) {
            my @c = split ' ', $l;
            my ($rp) = $c[2] =~ /:([0-9A-F]+)$/;
            $n++ if hex($rp) == $port && $c[3] eq '01';
        }
    }
    return $n;
}

# ---- the load client ---------------------------------------------------------

sub load_bg {
    my ($plan) = @_;
    $plan->{hard_ms} ||= 60000;
    mkdir "$T_DIR/logs" unless -d "$T_DIR/logs";
    my $out = "$T_DIR/logs/np-async-load-$$-" . int(rand(1e9)) . '.json';
    my $wrap = node_wrapper();
    my $parent = $$;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        $ENV{NP_PARENT_PID} = $parent;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>>', "$T_DIR/logs/loadclient.log" or POSIX::_exit(126);
        { exec $wrap, "$T_DIR/backends/loadclient.js", $JSON->encode($plan); }
        POSIX::_exit(127);
    }
    return bless { pid => $pid, out => $out, owner => $$,
                   deadline => time + $plan->{hard_ms} / 1000 + 10 }, 'NPAsync::Load';
}

# run a plan and wait for its answer (a hash; {error => ...} on failure)
sub load {
    my ($plan) = @_;
    return load_bg($plan)->wait;
}

# ---- plain requests from this process ----------------------------------------

# GET $path on 127.0.0.1:$port over a new connection: (status, ms, response)
sub timed_get {
    my ($port, $path, %a) = @_;
    my $t = time;
    my $r = eval { NPTest::http_req(port => $port, path => $path, timeout => $a{timeout} || 5,
                                    headers => $a{headers} || []) }
        || { status => 0, headers => {}, body => '', error => $@ };
    return ($r->{status}, (time - $t) * 1000, $r);
}

# /proc helpers ----------------------------------------------------------------

sub proc_children {
    my $ppid = shift;
    my @kids;
    opendir my $d, '/proc' or return;
    for my $p (grep { /^\d+$/ } readdir $d) {
        open my $s, '<', "/proc/$p/stat" or next;
        my $stat = <$s>;
        next unless $stat && $stat =~ /\)\s+\S+\s+(\d+)/;
        push @kids, $p if $1 == $ppid;
    }
    @kids = sort { $a <=> $b } @kids;
    return @kids;
}

sub fd_count {
    my $p = shift;
    opendir my $d, "/proc/$p/fd" or return undef;
    return scalar grep { /^\d+$/ } readdir $d;
}

sub rss_kib {
    my $p = shift;
    open my $fh, '<', "/proc/$p/status" or return undef;
    while (my $l = <$fh>) { return $1 if $l =~ /^VmRSS:\s+(\d+)/; }
    return undef;
}

# The fds of process $pid by kind: {total, client (TCP sockets whose local
# port is $lport: client connections), backend (TCP sockets whose remote port
# is one of @rports), other (files, pipes, listeners, the rest)} and
# backend_states {TCP state => n} (01 ESTABLISHED, 08 CLOSE_WAIT ...).
sub fd_kinds {
    my ($pid, $lport, @rports) = @_;
    my %tcp;   # inode => [local port, remote port, state]
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        my $hdr = <$fh>;
        while (my $line = <$fh>) {
            my @c = split ' ', $line;
            my ($lp) = $c[1] =~ /:([0-9A-F]+)$/;
            my ($rp) = $c[2] =~ /:([0-9A-F]+)$/;
            $tcp{ $c[9] } = [hex $lp, hex $rp, $c[3]];
        }
    }
    my %rp = map { $_ => 1 } @rports;
    my %k = (total => 0, client => 0, backend => 0, other => 0, backend_states => {});
    opendir my $d, "/proc/$pid/fd" or return \%k;
    for my $fd (grep { /^\d+$/ } readdir $d) {
        my $l = readlink "/proc/$pid/fd/$fd" // next;
        $k{total}++;
        my ($ino) = $l =~ /^socket:\[(\d+)\]$/;
        my $t = defined $ino ? $tcp{$ino} : undef;
        if ($t && $t->[0] == $lport && $t->[1] != 0) { $k{client}++; }
        elsif ($t && $rp{ $t->[1] }) { $k{backend}++; $k{backend_states}{ $t->[2] }++; }
        else { $k{other}++; }
    }
    return \%k;
}

sub fmt { my $h = shift; join ' ', map { "$_=" . ($h->{$_} // '-') } sort keys %$h }

package NPAsync::Load;

use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

sub pid { $_[0]{pid} }

# wait for the client (at most until its hard timeout + 10 s); the decoded answer
sub wait {
    my ($self, $timeout) = @_;
    my $deadline = $timeout ? time + $timeout : $self->{deadline};
    if ($self->{pid}) {
        while (waitpid($self->{pid}, WNOHANG) == 0) {
            if (time > $deadline) { kill 'KILL', $self->{pid}; waitpid($self->{pid}, 0); last; }
            sleep 0.05;
        }
        $self->{pid} = 0;
    }
    open my $fh, '<', $self->{out} or return { error => "no output ($self->{out})" };
    local $/;
    my $s = <$fh> // '';
    close $fh;
    unlink $self->{out};
    my $r = eval { $NPAsync::JSON->decode($s) };
    return $r || { error => "loadclient.js gave no JSON (see t/logs/loadclient.log): " . substr($s, 0, 200) };
}

sub DESTROY {
    my $self = shift;
    local ($@, $!, $?);
    return unless $self->{owner} == $$;
    if ($self->{pid}) { kill 'KILL', $self->{pid}; waitpid($self->{pid}, 0); }
    unlink $self->{out};
}

# ---- the dedicated httpd -------------------------------------------------------

package NPAsync::Httpd;

use File::Path qw(make_path);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use IO::Socket::INET ();

my @RUNNING;   # every httpd started by this process, stopped in END

# The configuration: the common part (modules, 2 x 25 threads, logs) and
# then $a{conf} (mappings etc.; @DIR@ is the server's directory).
#   tag => 'load', port => N, conf => '...', loglevel => 'info nodeproxy:trace1',
#   ssl => 1 (loads mod_ssl and mod_http2), extra_listen => [ports],
#   servers => N (children of 25 threads; default 2)
#   hosts => FILE: httpd runs in a mount namespace of its own where FILE is
#     bind-mounted on /etc/hosts (needs root); rewrite FILE in place (same
#     inode) to change what names resolve to for that httpd only
sub start {
    my ($class, %a) = @_;
    my $tag = $a{tag} or die 'tag';
    my $dir = "$NPAsync::T_DIR/logs/np-async-$tag";
    make_path($dir, { mode => 0755 });
    chmod 0755, $dir;
    unlink "$dir/error_log", "$dir/access_log", "$dir/httpd.pid";
    my $httpd = Apache::Test::vars('httpd') || '/usr/sbin/apache2';
    my $so = Apache::Test::vars('np_module_so')
        || Apache::Test::config()->{modules}{'mod_nodeproxy.c'};
    my $mods = '/usr/lib/apache2/modules';
    my $user = $> == 0 ? "User nobody\nGroup nogroup\n" : '';
    my $ssl = $a{ssl} ? "LoadModule ssl_module $mods/mod_ssl.so\n" .
                        "LoadModule http2_module $mods/mod_http2.so\n" : '';
    my $listen = join '', map { "Listen 127.0.0.1:$_\n" } $a{port}, @{ $a{extra_listen} || [] };
    my $loglevel = $a{loglevel} || 'info';
    my $htdocs = "$NPAsync::T_DIR/htdocs";
    (my $conf = $a{conf} || '') =~ s/\@DIR\@/$dir/g;
    # the MPM: event (2 children x 25 threads) unless mpm => worker|prefork
    my $mpm = $a{mpm} || 'event';
    my $servers = $a{servers} || 2;   # children of 25 threads (event, worker)
    my $mpm_conf = $mpm eq 'prefork' ? <<"EOP" : <<"EOT";
LoadModule mpm_prefork_module $mods/mod_mpm_prefork.so
StartServers             4
MinSpareServers          2
MaxSpareServers          8
ServerLimit             16
MaxRequestWorkers       16
MaxConnectionsPerChild   0
EOP
LoadModule mpm_${mpm}_module $mods/mod_mpm_${mpm}.so
# exactly $servers children x 25 threads
StartServers             $servers
ServerLimit              $servers
ThreadsPerChild         25
ThreadLimit             25
MinSpareThreads         25
MaxSpareThreads         @{[ 25 * $servers ]}
MaxRequestWorkers       @{[ 25 * $servers ]}
MaxConnectionsPerChild   0
@{[ $mpm eq 'event' ? 'AsyncRequestWorkerFactor 200' : '' ]}
EOT
    my $text = <<"EOC";
# generated by t/lib/NPAsync.pm for t/modules/async*.t
ServerRoot "$dir"
ServerName localhost
$listen
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
DefaultRuntimeDir "$dir"
LogLevel $loglevel
$mpm_conf
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule slotmem_shm_module $mods/mod_slotmem_shm.so
$ssl
LoadModule nodeproxy_module "$so"
$user
KeepAlive On
MaxKeepAliveRequests 0
ListenBacklog 4096
Timeout 60

DocumentRoot "$htdocs"
<Directory />
    Require all granted
</Directory>
CustomLog "$dir/access_log" "%>s \\"%r\\" member=%{nodeproxy-member}n upstream_ms=%{nodeproxy-upstream-ms}n attempts=%{nodeproxy-attempts}n async=%{nodeproxy-async}n relayed=%{nodeproxy-relayed}n cport=%{remote}p"
<Location /np-status>
    SetHandler nodeproxy-status
</Location>

$conf
EOC
    my $cf = "$dir/httpd.conf";
    open my $fh, '>', $cf or die "$cf: $!";
    print $fh $text;
    close $fh;
    chmod 0644, $cf;

    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        # Its own session: prefork's shutdown signals its whole process
        # group, which must not include this test.
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/stdout.log";
        open STDERR, '>&', \*STDOUT;
        my $run = "exec '$httpd' -f '$cf' -D FOREGROUND";
        # unshare -m makes the new namespace's mounts private: the bind
        # mount is seen by this httpd only
        $run = "exec unshare -m /bin/sh -c \"mount --bind '$a{hosts}' /etc/hosts && $run\""
            if $a{hosts};
        { exec '/bin/sh', '-c', "ulimit -n $NPAsync::NOFILE 2>/dev/null || ulimit -n \$(ulimit -Hn); " .
                $run; }
        POSIX::_exit(127);
    }
    my $self = bless { pid => $pid, dir => $dir, port => $a{port}, conf => $cf,
                       owner => $$ }, $class;
    push @RUNNING, $self;

    # up: both children there and the port answers
    my $deadline = time + 15;
    while (1) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{pid} = 0;
            die "NPAsync: httpd ($cf) exited at start-up:\n" . $self->tail . "\n";
        }
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $a{port},
                                      Proto => 'tcp', Timeout => 1);
        if ($s) {
            close $s;
            my @c = $self->children;
            last if @c >= ($a{mpm} && $a{mpm} eq 'prefork' ? 2 : $servers);
        }
        if (time > $deadline) {
            $self->stop;
            die "NPAsync: httpd ($cf) did not come up within 15 s:\n" . $self->tail . "\n";
        }
        sleep 0.05;
    }
    return $self;
}

sub pid  { $_[0]{pid} }
sub dir  { $_[0]{dir} }
sub port { $_[0]{port} }
sub error_log  { "$_[0]{dir}/error_log" }
sub access_log { "$_[0]{dir}/access_log" }

sub tail {
    my $self = shift;
    my $out = '';
    for my $f ("$self->{dir}/stdout.log", $self->error_log) {
        open my $fh, '<', $f or next;
        local $/;
        my $s = <$fh> // '';
        $s = substr($s, -3000) if length $s > 3000;
        $out .= "--- $f\n$s";
    }
    return $out;
}

sub children {
    my $self = shift;
    my @c = $self->{pid} ? NPAsync::proc_children($self->{pid}) : ();
    return @c;
}

sub child_fds { my $self = shift; return map { my $p = $_; ($p => NPAsync::fd_count($p)) } $self->children; }
sub child_rss { my $self = shift; return map { my $p = $_; ($p => NPAsync::rss_kib($p)) } $self->children; }

sub log_mark { -s $_[0]->error_log || 0 }

# access-log lines whose request target matches $re (waits up to $timeout s,
# default 3, for at least $want of them: the log is written when a request
# ends, which may come just after its client saw the response)
sub access_lines {
    my ($self, $re, $want, $timeout) = @_;
    my $deadline = time + ($timeout || 3);
    $want ||= 1;
    while (1) {
        my @m;
        if (open my $fh, '<', $self->access_log) {
            @m = grep { /^\d+ "\S+ (\S+) / && $1 =~ $re } <$fh>;
            chomp @m;
        }
        return @m if @m >= $want || time > $deadline;
        sleep 0.1;
    }
}

# how many of those waited for their backend without a thread (async=N>0)
sub async_count {
    my ($self, $re, $want, $timeout) = @_;
    return scalar grep { / async=[1-9]/ } $self->access_lines($re, $want, $timeout);
}

sub log_since {
    my ($self, $mark) = @_;
    open my $fh, '<', $self->error_log or return '';
    seek $fh, $mark, 0;
    local $/;
    return <$fh> // '';
}

# wait (at most $timeout s) for error-log lines matching $re after $mark
sub wait_log {
    my ($self, $mark, $re, $timeout) = @_;
    my $deadline = time + ($timeout || 3);
    while (1) {
        my @m = grep { /$re/ } split /\n/, $self->log_since($mark);
        return @m if @m || time > $deadline;
        sleep 0.1;
    }
}

# the status JSON of this server
sub status_json {
    my $self = shift;
    my $r = eval { NPTest::http_req(port => $self->{port}, path => '/np-status?format=json', timeout => 5) };
    return undef unless $r && $r->{status} == 200;
    return eval { JSON::PP->new->decode($r->{body}) };
}

sub stop {
    my $self = shift;
    my $pid = $self->{pid} or return;
    return unless $self->{owner} == $$;
    my @kids = $self->children;
    $self->{pid} = 0;
    kill 'TERM', $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        last if $r == $pid || $r == -1;
        sleep 0.05;
    }
    if (kill 0, $pid) { kill 'KILL', $pid; waitpid($pid, 0); }
    # children that outlived their parent
    for my $k (@kids) {
        next unless kill 0, $k;
        sleep 0.5;
        kill 'KILL', $k if kill 0, $k;
    }
}

sub DESTROY { local ($@, $!, $?); $_[0]->stop }

END {
    local ($@, $!, $?);
    $_->stop for grep { $_ } @RUNNING;
    @RUNNING = ();
}

1;
