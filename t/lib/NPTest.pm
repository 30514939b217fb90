package NPTest;

# Small helpers shared by t/modules/*.t: raw HTTP over IO::Socket, response
# parsing, the JSON the echo backend answers with, the error log, httpd's
# memory, curl.

use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Apache::TestRequest ();
use IO::Socket::INET ();
use IO::Select ();
use JSON::PP ();
use Time::HiRes qw(time sleep);
use POSIX ();
use Exporter 'import';

our @EXPORT_OK = qw(
    port hostport raw_http parse_response hdr hdrs json_body echo_get
    backend_count log_mark log_since wait_log httpd_pids httpd_rss_kib
    curl pattern_sha256 t_path vhost_port http_req curl_req url_inside
    local_addr_ok wait_until count_backends run_load status_json status_member
    status_members pending_nonzero configtest configtest_bad httpd_children httpd_graceful
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# ports of the fixed backends (t/conf/extra.conf.in uses the same numbers)
use constant {
    ECHO_PORT  => 29101,
    BAD_PORT   => 29102,
    KA_PORT    => 29103,
    ECHO2_PORT => 29104,
    DOWN_PORT  => 29199,
};

sub port { Apache::Test::vars('port') }

sub vhost_port {
    my $name = shift;
    my $p = Apache::Test::vars("${name}_port");
    die "no vhost $name in the config" unless $p;
    return $p;
}

# host:port the tests send in Host (what Apache::TestRequest sends as well)
sub hostport {
    my $port = shift || port();
    return "localhost:$port";
}

sub t_path { join '/', Apache::Test::vars('t_dir'), @_ }

# Send $req (a complete request text) to 127.0.0.1:$port and read the answer
# until the server closes the connection or nothing arrives for $opt{timeout}
# seconds (default 10). Returns the raw bytes; in list context also whether
# the read ended by EOF (1) or by the timeout (0).
sub raw_http {
    my ($port, $req, %opt) = @_;
    my $timeout = $opt{timeout} || 10;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                     Proto => 'tcp', Timeout => 5,
                                     ($opt{local_addr} ? (LocalAddr => $opt{local_addr}) : ()))
        or die "connect 127.0.0.1:$port: $!";
    binmode $sock;
    $sock->autoflush(1);
    print $sock $req;
    shutdown($sock, 1) if $opt{shutdown_write};
    my $sel = IO::Select->new($sock);
    my ($buf, $eof) = ('', 0);
    my $deadline = time + ($opt{total} || 60);
    while (time < $deadline) {
        last unless $sel->can_read($timeout);
        my $n = sysread($sock, my $chunk, 65536);
        if (!$n) { $eof = 1; last; }
        $buf .= $chunk;
    }
    close $sock;
    return wantarray ? ($buf, $eof) : $buf;
}

# Parse a raw HTTP/1.x response. Returns a hash:
#   status, reason, proto, headers => { lc name => [values] }, body (de-chunked),
#   framing => 'length'|'chunked'|'close', complete => 1 when the body is
#   complete by its framing (all Content-Length bytes / the last chunk seen).
sub parse_response {
    my $raw = shift;
    my %r = (status => 0, headers => {}, body => '', complete => 0, raw => $raw);
    my $end = index($raw, "\r\n\r\n");
    return \%r if $end < 0;
    my $head = substr($raw, 0, $end);
    my $rest = substr($raw, $end + 4);
    my @lines = split /\r\n/, $head;
    my $sl = shift @lines;
    if ($sl =~ m{^(HTTP/\d\.\d)\s+(\d{3})\s*(.*)$}) {
        @r{qw(proto status reason)} = ($1, $2, $3);
    }
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        push @{ $r{headers}{lc $k} }, $v;
    }
    my $te = join ',', @{ $r{headers}{'transfer-encoding'} || [] };
    my $cl = $r{headers}{'content-length'};
    if ($te =~ /chunked/i) {
        $r{framing} = 'chunked';
        my $body = '';
        while (1) {
            my $i = index($rest, "\r\n");
            last if $i < 0;
            my $size_line = substr($rest, 0, $i);
            (my $hex = $size_line) =~ s/;.*//;
            last unless $hex =~ /^\s*([0-9a-fA-F]+)\s*$/;
            my $size = hex $1;
            if ($size == 0) { $r{complete} = 1; last; }
            last if length($rest) < $i + 2 + $size + 2;
            $body .= substr($rest, $i + 2, $size);
            $rest = substr($rest, $i + 2 + $size + 2);
        }
        $r{body} = $body;
    }
    elsif ($cl) {
        $r{framing} = 'length';
        my $len = $cl->[0];
        $r{content_length} = $len;
        $r{body} = substr($rest, 0, $len);
        $r{complete} = length($rest) >= $len ? 1 : 0;
    }
    else {
        $r{framing} = 'close';
        $r{body} = $rest;
        $r{complete} = ($r{status} == 204 || $r{status} == 304) ? 1 : 0;
    }
    return \%r;
}

# One request over a fresh connection, parsed.
#   http_req(method => 'GET', path => '/echo/x', headers => [Name => value, ...],
#            body => '...', port => N, host => 'localhost:N', keepalive => 0,
#            timeout => 10, local_addr => '127.0.0.2')
# Sends Host (unless host => undef is given explicitly with no_host => 1) and
# Connection: close (unless keepalive => 1), and Content-Length for a body
# unless the headers already give Content-Length or Transfer-Encoding.
sub http_req {
    my %a = @_;
    my $port = $a{port} || port();
    my $method = $a{method} || 'GET';
    my @h = @{ $a{headers} || [] };
    my %have;
    for (my $i = 0; $i < @h; $i += 2) { $have{ lc $h[$i] } = 1; }
    my $req = "$method $a{path} HTTP/1.1\r\n";
    $req .= "Host: " . ($a{host} || hostport($port)) . "\r\n" unless $a{no_host} || $have{host};
    while (my ($k, $v) = splice @h, 0, 2) { $req .= "$k: $v\r\n"; }
    $req .= "Connection: close\r\n" unless $a{keepalive} || $have{connection};
    if (defined $a{body} && !$have{'content-length'} && !$have{'transfer-encoding'}) {
        $req .= "Content-Length: " . length($a{body}) . "\r\n";
    }
    $req .= "\r\n";
    $req .= $a{body} if defined $a{body};
    my ($raw, $eof) = raw_http($port, $req, timeout => $a{timeout} || 10,
                               local_addr => $a{local_addr});
    my $r = parse_response($raw);
    $r->{eof} = $eof;
    return $r;
}

# curl with headers and body kept apart:
#   my $r = curl_req('-sk', '--http2', $url)
# returns {rc, code, http_version, headers => {lc => [..]}, body, stderr}
my $curl_seq = 0;
sub curl_req {
    my @args = @_;
    my $dir = Apache::Test::vars('t_logs');
    my $base = "$dir/curl-$$-" . $curl_seq++;
    my ($hf, $bf, $ef) = ("$base.h", "$base.b", "$base.e");
    my $cmd = join ' ', 'curl', '-s', '-D', $hf, '-o', $bf,
        '-w', "'%{http_code} %{http_version}'",
        map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } @args;
    my $w = `$cmd 2>$ef`;
    my %r = (rc => $? >> 8, headers => {}, body => '', stderr => '');
    @r{qw(code http_version)} = split ' ', ($w || '0 0');
    if (open my $fh, '<', $hf) {
        local $/;
        my $h = <$fh> // '';
        # the last header block (after any 1xx)
        my @blocks = grep { /\S/ } split /\r?\n\r?\n/, $h;
        for (split /\r?\n/, $blocks[-1] // '') {
            my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
            push @{ $r{headers}{lc $k} }, $v;
        }
    }
    if (open my $fh, '<', $bf) { local $/; binmode $fh; $r{body} = <$fh> // ''; }
    if (open my $fh, '<', $ef) { local $/; $r{stderr} = <$fh> // ''; }
    unlink $hf, $bf, $ef;
    return \%r;
}

# Is the (percent-encoded) request-target $url confined to $prefix?
# Percent-decodes once (as the backend does), then requires $prefix at the start and no '..' segment.
sub url_inside {
    my ($url, $prefix) = @_;
    (my $p = $url) =~ s/\?.*//s;
    $p =~ s/%([0-9a-fA-F]{2})/chr hex $1/ge;   # what the backend decodes
    return 0 if $p =~ m{(^|/)\.\.?(/|$)};
    return $p eq $prefix || index($p, $prefix eq '/' ? '/' : "$prefix/") == 0 ? 1 : 0;
}

# first value of a header (HTTP::Response or a parse_response hash)
sub hdr {
    my ($res, $name) = @_;
    if (ref $res && UNIVERSAL::can($res, 'header')) {
        return scalar $res->header($name);
    }
    my $v = $res->{headers}{lc $name};
    return $v ? $v->[0] : undef;
}

# all values of a header
sub hdrs {
    my ($res, $name) = @_;
    if (ref $res && UNIVERSAL::can($res, 'header')) {
        return $res->headers->header($name);
    }
    return @{ $res->{headers}{lc $name} || [] };
}

# the echo backend's JSON (from HTTP::Response or parse_response), or undef
sub json_body {
    my $res = shift;
    my $body = ref $res && UNIVERSAL::can($res, 'content') ? $res->content : $res->{body};
    my $j = eval { JSON::PP->new->decode($body) };
    return $j;
}

# GET through httpd with Apache::TestRequest; returns (HTTP::Response, json)
sub echo_get {
    my ($path, @headers) = @_;
    my $res = Apache::TestRequest::GET($path, @headers);
    return ($res, json_body($res));
}

# number of requests a backend has seen (asked directly, not through httpd)
sub backend_count {
    my $port = shift;
    my $raw = raw_http($port, "GET /count HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                       timeout => 5);
    my $j = json_body(parse_response($raw));
    return $j ? $j->{count} : undef;
}

sub error_log { Apache::Test::vars('t_logs') . '/error_log' }

sub log_mark { -s error_log() || 0 }

sub log_since {
    my $mark = shift;
    open my $fh, '<', error_log() or return '';
    seek $fh, $mark, 0;
    local $/;
    my $s = <$fh>;
    return defined $s ? $s : '';
}

# wait (at most $timeout s) for the error log to get a line matching $re
# after $mark; returns the matching lines (possibly none)
sub wait_log {
    my ($mark, $re, $timeout) = @_;
    $timeout ||= 3;
    my $deadline = time + $timeout;
    while (1) {
        my @m = grep { /$re/ } split /\n/, log_since($mark);
        return @m if @m || time > $deadline;
        sleep 0.1;
    }
}

# pids of the httpd parent (t/logs/httpd.pid) and all its children
sub httpd_pids {
    my $pidfile = Apache::Test::vars('t_pid_file');
    open my $fh, '<', $pidfile or die "no pid file $pidfile: $!";
    chomp(my $ppid = <$fh>);
    my @pids = ($ppid);
    opendir my $d, '/proc' or die "/proc: $!";
    for my $p (grep { /^\d+$/ } readdir $d) {
        open my $s, '<', "/proc/$p/stat" or next;
        my $stat = <$s>;
        next unless $stat && $stat =~ /\)\s+\S+\s+(\d+)/;
        push @pids, $p if $1 == $ppid;
    }
    return @pids;
}

# sum of VmRSS (KiB) over httpd and its children
sub httpd_rss_kib {
    my $sum = 0;
    for my $p (httpd_pids()) {
        open my $fh, '<', "/proc/$p/status" or next;
        while (<$fh>) {
            if (/^VmRSS:\s+(\d+)\s+kB/) { $sum += $1; last; }
        }
    }
    return $sum;
}

# run curl; returns (exit status, stdout). stderr goes to stdout when $merge.
sub curl {
    my @args = @_;
    my $cmd = join ' ', 'curl', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# sha256 of N bytes of the backend's pattern (see t/backends/common.js)
sub pattern_sha256 {
    my $n = shift;
    require Digest::SHA;
    my $block = join '', map { chr(($_ * 31 + 7) & 0xff) } 0 .. 65535;
    my $sha = Digest::SHA->new(256);
    while ($n >= 65536) { $sha->add($block); $n -= 65536; }
    $sha->add(substr($block, 0, $n)) if $n;
    return $sha->hexdigest;
}

# ---- balancer helpers -------------------------------------------------------

# Poll $cond (a sub) every $step s (default 0.05) until it returns true or
# $timeout s have passed. Returns the seconds it took, or undef on timeout.
sub wait_until {
    my ($timeout, $cond, $step) = @_;
    my $t0 = time;
    while (1) {
        return time - $t0 if $cond->();
        return undef if time - $t0 > $timeout;
        sleep($step || 0.05);
    }
}

# $n requests (each on a new connection) to $a{path}; returns
# ({X-Backend => count}, {status => count}). Other keys as http_req.
sub count_backends {
    my ($n, %a) = @_;
    my (%by, %st);
    for (1 .. $n) {
        my $r = http_req(%a);
        $st{ $r->{status} }++;
        $by{ hdr($r, 'X-Backend') // '-' }++ if $r->{status} == 200;
    }
    return (\%by, \%st);
}

# Concurrent load: $a{clients} forked clients (default 8), each sending
# requests to $a{path} for $a{seconds} s over a keep-alive connection
# (NPTest::Conn, reconnecting when httpd closes it; keepalive => 0 for a new
# connection per request). $a{during}, when given, runs in this process
# while the load runs (its return value is returned as {during}).
# Returns {records => [[start, end, status, backend], ...] sorted by start
# (status 0: no answer), during => ...}. Times are absolute (Time::HiRes).
sub run_load {
    my %a = @_;
    my $clients = $a{clients} || 8;
    my $secs = $a{seconds} || 3;
    my $port = $a{port} || port();
    my $dir = Apache::Test::vars('t_logs');
    my $t_end = time + $secs;
    my @kids;
    for my $c (1 .. $clients) {
        my $file = "$dir/load-$$-$c.txt";
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            my @out;
            my $conn;
            my $n = 0;
            while (time < $t_end && $n++ < 100000) {
                my $t0 = time;
                my $r = eval {
                    if ($a{keepalive} // 1) {
                        $conn ||= NPTest::Conn->new($port);
                        $conn->request(path => $a{path}, timeout => 10);
                    }
                    else {
                        http_req(port => $port, path => $a{path}, timeout => 10);
                    }
                };
                if (!$r) { undef $conn; $r = { status => 0, headers => {} }; }
                push @out, sprintf("%.4f %.4f %d %s", $t0, time, $r->{status},
                                   hdr($r, 'X-Backend') // '-');
                sleep 0.05 unless $r->{status};   # no busy loop on errors
            }
            open my $fh, '>', $file or POSIX::_exit(1);
            print $fh "$_\n" for @out;
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, [$pid, $file];
    }
    my $during = $a{during} ? $a{during}->() : undef;
    my @rec;
    my $deadline = $t_end + 30;
    for my $k (@kids) {
        my ($pid, $file) = @$k;
        while (waitpid($pid, POSIX::WNOHANG()) == 0) {
            if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last; }
            sleep 0.05;
        }
        open my $fh, '<', $file or next;
        while (<$fh>) { chomp; push @rec, [split / /]; }
        close $fh;
        unlink $file;
    }
    @rec = sort { $a->[0] <=> $b->[0] } @rec;
    return { records => \@rec, during => $during };
}

# The nodeproxy-status JSON (default: /np-status?format=json on the main
# server); undef when it does not parse.
sub status_json {
    my %a = @_;
    my $r = http_req(port => $a{port} || port(),
                     path => ($a{path} || '/np-status') . '?format=json');
    return undef unless $r->{status} == 200;
    return eval { JSON::PP->new->decode($r->{body}) };
}

# one member ({url, state, pending, requests ...}) of a balancer in the JSON
sub status_member {
    my ($j, $bal, $url) = @_;
    for my $b (@{ $j->{balancers} || [] }) {
        next unless $b->{name} eq $bal;
        for my $m (@{ $b->{members} }) {
            return $m if $m->{url} eq $url;
        }
    }
    return undef;
}

# all members of all balancers: (["balancer", {member}], ...)
sub status_members {
    my $j = shift;
    return map { my $b = $_; map { [$b->{name}, $_] } @{ $b->{members} } }
           @{ $j->{balancers} || [] };
}

# Members whose pending count is not 0, waiting up to $timeout s (default
# 3) for requests in flight to end: ("balancer member=N", ...), or () when
# every member is at 0; ('no status JSON') when the page did not answer.
sub pending_nonzero {
    my $timeout = shift // 3;
    my @bad;
    wait_until($timeout, sub {
        my $j = status_json();
        @bad = $j ? map { "$_->[0] $_->[1]{url} pending=$_->[1]{pending}" }
                    grep { $_->[1]{pending} != 0 } status_members($j)
                  : ('no status JSON');
        return !@bad;
    }, 0.2);
    return @bad;
}

# pids of the httpd children (not the parent)
sub httpd_children {
    my @p = httpd_pids();
    shift @p;
    return @p;
}

# `apachectl -k graceful`: SIGUSR1 to the parent; waits (at most $timeout s,
# default 15) until the restart is logged and the server answers again.
# Returns 1 when it did.
sub httpd_graceful {
    my $timeout = shift || 15;
    my ($ppid) = httpd_pids();
    my $mark = log_mark();
    kill 'USR1', $ppid or return 0;
    my $logged = wait_log($mark, qr/AH00493|graceful restart/i, $timeout);
    return 0 unless $logged;
    return defined wait_until($timeout, sub {
        my $r = eval { http_req(path => '/np-status?format=json', timeout => 2) };
        return $r && $r->{status} == 200;
    }, 0.1) ? 1 : 0;
}

# ---- configtest -------------------------------------------------------------

# `apache2 -t` on a small generated configuration that loads the built
# module plus @lines (@DIR@ in a line is the configuration's directory,
# which holds maint.html). Returns (exit status, output + error log).
sub configtest {
    my @lines = @_;
    require File::Temp;
    my $httpd = Apache::Test::vars('httpd');
    my $so    = Apache::Test::config()->{modules}{'mod_nodeproxy.c'};
    my $mods  = '/usr/lib/apache2/modules';
    my $dir = File::Temp::tempdir('np-configtest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $fh, '>', "$dir/maint.html" or die; print $fh "<h1>maintenance</h1>\n"; close $fh;
    my $conf = "$dir/httpd.conf";
    open $fh, '>', $conf or die "$conf: $!";
    print $fh <<"EOC";
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:29150
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
DefaultRuntimeDir "$dir"
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule slotmem_shm_module $mods/mod_slotmem_shm.so
LoadModule nodeproxy_module "$so"
EOC
    print $fh map { (my $l = $_) =~ s/\@DIR\@/$dir/g; "$l\n" } @lines;
    close $fh;
    my $out = `'$httpd' -t -f '$conf' 2>&1`;
    my $rc = $? >> 8;
    # the error log is used when the message comes from a hook
    if (open my $el, '<', "$dir/error_log") { local $/; $out .= <$el> // ''; }
    return ($rc, $out);
}

# Two tests per case [what, config lines (string or array), directive
# regex, bad value regex or undef]: configtest fails, and its message names
# the directive (and the bad value).
sub configtest_bad {
    require Apache::TestUtil;
    for my $case (@_) {
        my ($what, $lines, $dre, $vre) = @$case;
        my @lines = ref $lines ? @$lines : ($lines);
        my $shown = join ' / ', map { s/^\s+//r } @lines;
        my ($rc, $out) = configtest(@lines);
        Apache::TestUtil::t_debug("'$shown' gives (exit $rc):\n$out");
        Apache::Test::ok(Apache::TestUtil::t_cmp($rc != 0 ? 1 : 0, 1,
            "$what ($shown): configtest fails (exit $rc)"));
        my $named = $out =~ $dre && (!$vre || $out =~ $vre);
        Apache::Test::ok(Apache::TestUtil::t_cmp($named ? 1 : 0, 1,
            "$what: the message names the directive" . ($vre ? ' and the bad value' : '') .
            ": " . join(' | ', grep { /\S/ } split /\n/, $out)));
    }
}

# Can the client bind to $addr (e.g. 127.0.0.2) to reach the test server?
sub local_addr_ok {
    my $addr = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => port(),
                                  Proto => 'tcp', Timeout => 2, LocalAddr => $addr);
    return 0 unless $s;
    close $s;
    return 1;
}

1;

# A persistent (keep-alive) client connection, so consecutive requests go to
# the same httpd child (and the same backend connection pool).
#   my $c = NPTest::Conn->new($port);
#   my $r = $c->request(method => 'GET', path => '/x', headers => [...], body => '...');
package NPTest::Conn;

use IO::Socket::INET ();
use IO::Select ();

sub new {
    my ($class, $port) = @_;
    my $self = bless { port => $port || NPTest::port(), reconnects => 0 }, $class;
    $self->_connect;
    return $self;
}

sub _connect {
    my $self = shift;
    $self->{sock} = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                          Proto => 'tcp', Timeout => 5)
        or die "connect 127.0.0.1:$self->{port}: $!";
    binmode $self->{sock};
    $self->{sock}->autoflush(1);
}

sub reconnects { $_[0]->{reconnects} }

sub request {
    my ($self, %a) = @_;
    my $method = $a{method} || 'GET';
    my @h = @{ $a{headers} || [] };
    my $req = "$method $a{path} HTTP/1.1\r\nHost: " . NPTest::hostport($self->{port}) . "\r\n";
    while (my ($k, $v) = splice @h, 0, 2) { $req .= "$k: $v\r\n"; }
    $req .= "Content-Length: " . length($a{body}) . "\r\n" if defined $a{body};
    $req .= "\r\n";
    $req .= $a{body} if defined $a{body};

    # a connection the server closed while idle: reconnect before sending
    my $sel = IO::Select->new($self->{sock});
    if ($sel->can_read(0)) {
        my $n = sysread($self->{sock}, my $junk, 1);
        if (!$n) { close $self->{sock}; $self->_connect; $self->{reconnects}++; }
    }
    my $sock = $self->{sock};
    print $sock $req;

    $sel = IO::Select->new($sock);
    my $buf = '';
    my $r;
    my $timeout = $a{timeout} || 10;
    while (1) {
        last unless $sel->can_read($timeout);
        my $n = sysread($sock, my $chunk, 65536);
        if (!$n) { $r = NPTest::parse_response($buf); $r->{eof} = 1; last; }
        $buf .= $chunk;
        $r = NPTest::parse_response($buf);
        last if $r->{status} && ($r->{complete} || $method eq 'HEAD');
    }
    $r ||= NPTest::parse_response($buf);
    if ($r->{eof} || !$r->{complete}
        || (NPTest::hdr($r, 'Connection') // '') =~ /close/i) {
        close $sock;
        $self->_connect;
        $self->{reconnects}++;
    }
    return $r;
}

1;
