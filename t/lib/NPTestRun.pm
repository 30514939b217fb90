package NPTestRun;

# Apache::TestRun subclass for the mod_nodeproxy suite (used by t/TEST).
#
# - refuses to run as root unless NODEPROXY_TEST_ALLOW_ROOT=1 (Apache::TestRun
#   itself refuses with exit status 0, which looks green);
# - always regenerates the configuration and registers the freshly built
#   module (.libs/mod_nodeproxy.so, or $NODEPROXY_SO) after
#   SUPER::configure_opts, so need_module('nodeproxy') never skips silently;
# - loads the event MPM, mod_ssl, mod_http2, mod_slotmem_shm, mod_headers and
#   the modules of issue 14's set-ups (mod_remoteip, mod_cache, mod_cache_disk,
#   mod_proxy and mod_proxy_http);
# - makes the self-signed certificate for the TLS vhost;
# - runs the tests with TAP::Harness and exits non-zero when any test fails,
#   when the server does not start, or when fewer than $MIN_FILES test files
#   actually ran (a skip of the whole suite must never look green).

use strict;
use warnings FATAL => 'all';

use Apache::TestRun ();
use Apache::TestConfig ();
use Apache::TestTrace;
use Apache::TestHarness ();
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec ();
use Cwd qw(abs_path);
use IO::Socket::INET ();
use Digest::MD5 qw(md5_hex);

our @ISA = qw(Apache::TestRun);

# the repository top, from this file's location (t/lib/NPTestRun.pm)
our $TOP = abs_path(File::Spec->catdir(dirname(__FILE__), File::Spec->updir,
                                       File::Spec->updir));
our $T_DIR = "$TOP/t";

our $MIN_FILES = defined $ENV{NODEPROXY_TEST_MIN_FILES}
    ? $ENV{NODEPROXY_TEST_MIN_FILES} : 5;

# fixed loopback ports used by the backends (see t/conf/extra.conf.in)
our @BACKEND_PORTS = (29101 .. 29149);

sub module_so {
    return $ENV{NODEPROXY_SO} || "$TOP/.libs/mod_nodeproxy.so";
}

sub fatal {
    my $msg = join '', @_;
    my $line = '!' x 72;
    print STDERR "\n$line\n!!! mod_nodeproxy test suite: $msg\n$line\n\n";
    exit 1;
}

sub pre_configure {
    my $self = shift;

    # -apxs on the command line wins; otherwise Debian's apxs
    $ENV{APACHE_TEST_APXS} ||= '/usr/bin/apxs';

    # never inherit an installed copy, mod_perl (not needed, keeps children
    # small for the memory tests) or another MPM than event
    Apache::TestConfig::autoconfig_skip_module_add(
        qw(mod_nodeproxy.c mod_perl.c mod_mpm_prefork.c mod_mpm_worker.c));

    # always regenerate the configuration: a cached one could name another
    # .so or lose the module registration. Without configuration options on
    # the command line Apache::TestRun asks to thaw the cached config
    # object (preambles included), which would load every module twice.
    delete $self->{conf_opts}->{thaw};
    $self->{conf_opts}->{save} = 1;

    $self->SUPER::pre_configure(@_);
}

sub check_module_so {
    my $so = module_so();
    fatal("the module is not built: $so does not exist.\n" .
          "!!! Build it first (cd $TOP && make) or set NODEPROXY_SO=/path/to/mod_nodeproxy.so")
        unless -f $so;
    fatal("$so is not readable") unless -r $so;
}

sub socket_path {
    my $p = "$T_DIR/run/np-echo.sock";
    # sun_path holds 108 bytes; stay well below it
    return $p if length($p) < 100;
    return "/tmp/np-test-$>-" . substr(md5_hex($T_DIR), 0, 10) . ".sock";
}

sub make_cert {
    my $dir = "$T_DIR/conf/np-ssl";
    my ($crt, $key) = ("$dir/server.crt", "$dir/server.key");
    return if -s $crt && -s $key;
    make_path($dir, { mode => 0755 });
    my @cmd = ('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
               '-days', '3650', '-subj', '/CN=localhost',
               '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
               '-keyout', $key, '-out', $crt);
    my $out = `@{[join ' ', map { "'$_'" } @cmd]} 2>&1`;
    fatal("openssl failed to make the test certificate:\n$out") if $? != 0;
    chmod 0644, $crt;
}

# The PKI of the https:// backend tests (https_backend.t), made with openssl
# into t/conf/np-pki (not in git): it must exist before httpd reads
# NodeBackendCA / NodeBackendClientCert.
#   ca.crt        the CA httpd trusts (NodeBackendCA)
#   server.*      signed by it: CN localhost, SAN localhost, alt.np.test, 127.0.0.1
#   other-ca.crt, other.*   another CA and a server certificate it signed
#                 (same names): "unknown CA" for httpd
#   client-ca.crt, client.*   the client certificate httpd presents
#                 (NodeBackendClientCert), signed by the CA the Node backend
#                 that requires one trusts
our $PKI_DIR = "$T_DIR/conf/np-pki";

sub _openssl {
    my @cmd = @_;
    my $out = `@{[join ' ', 'openssl', map { "'$_'" } @cmd]} 2>&1`;
    fatal("openssl @cmd failed:\n$out") if $? != 0;
}

sub make_backend_pki {
    my $d = $PKI_DIR;
    return if -s "$d/client.key" && -s "$d/other.crt";
    make_path($d, { mode => 0755 });
    my @ec = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes');
    for my $ca (['ca', 'np test CA'], ['other-ca', 'np other CA'], ['client-ca', 'np client CA']) {
        _openssl('req', '-x509', @ec, '-days', '3650', '-subj', "/CN=$ca->[1]",
                 '-addext', 'basicConstraints=critical,CA:TRUE',
                 '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
                 '-keyout', "$d/$ca->[0].key", '-out', "$d/$ca->[0].crt");
    }
    my %ext = (
        server => "subjectAltName=DNS:localhost,DNS:alt.np.test,IP:127.0.0.1\n" .
                  "extendedKeyUsage=serverAuth\n",
        client => "extendedKeyUsage=clientAuth\n",
    );
    for my $leaf (['server', 'ca', 'localhost', 'server'], ['other', 'other-ca', 'localhost', 'server'],
                  ['client', 'client-ca', 'np-proxy-client', 'client']) {
        my ($name, $ca, $cn, $kind) = @$leaf;
        open my $fh, '>', "$d/$name.ext" or fatal("$d/$name.ext: $!");
        print $fh "basicConstraints=CA:FALSE\n$ext{$kind}";
        close $fh;
        _openssl('req', @ec, '-subj', "/CN=$cn", '-keyout', "$d/$name.key", '-out', "$d/$name.csr");
        _openssl('x509', '-req', '-in', "$d/$name.csr", '-CA', "$d/$ca.crt", '-CAkey', "$d/$ca.key",
                 '-CAcreateserial', '-days', '3650', '-extfile', "$d/$name.ext",
                 '-out', "$d/$name.crt");
    }
    chmod 0644, glob("$d/*");
}

sub check_ports_free {
    for my $port (@BACKEND_PORTS, 29199) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 1);
        next unless $s;
        close $s;
        fatal("something already listens on 127.0.0.1:$port (a stale test backend?).\n" .
              "!!! The suite needs ports 29100-29199 free; find it with: ss -ltnp 'sport = :$port'");
    }
}

# The NodeMaintenancePage file (it must exist for the configuration to
# load; maintenance.t rewrites it): written afresh at every configuration,
# with no maintenance flag file left behind by an interrupted run.
our $MAINT_PAGE_HTML = "<!doctype html>\n<title>Down for maintenance</title>\n" .
    "<h1>np-maint-page: back soon</h1>\n";

sub make_maint_files {
    my $page = "$T_DIR/run/np-maint.html";
    open my $fh, '>', $page or fatal("cannot write $page: $!");
    print $fh $MAINT_PAGE_HTML;
    close $fh;
    chmod 0644, $page;
    unlink "$T_DIR/run/np-maint.flag";
}

sub configure {
    my $self = shift;
    check_module_so();
    make_path("$T_DIR/run", { mode => 0755 });
    chmod 0755, "$T_DIR/run";
    make_cert();
    make_backend_pki();
    make_maint_files();
    $self->SUPER::configure(@_);
}

sub load_system_module {
    my ($cfg, $name, $sym) = @_;
    my $path = $cfg->find_apache_module("mod_$name.so");
    fatal("cannot find mod_$name.so (apache2 package incomplete?)")
        unless $path && -e $path;
    $cfg->{modules}->{"mod_$name.c"} = $path;
    $cfg->preamble(IfModule => "!${sym}_module",
                   qq{LoadModule ${sym}_module "$path"\n});
}

sub configure_opts {
    my $self = shift;
    my $save = shift;

    $self->SUPER::configure_opts($save, @_);

    # registrations made before SUPER::configure_opts can be thrown away
    # with a refreshed config object: do them here
    my $cfg = $self->{test_config};
    my $so  = module_so();

    load_system_module($cfg, 'mpm_event', 'mpm_event');
    load_system_module($cfg, 'slotmem_shm', 'slotmem_shm');
    load_system_module($cfg, 'ssl', 'ssl');
    load_system_module($cfg, 'http2', 'http2');
    load_system_module($cfg, 'headers', 'headers');
    # issue 14: the modules admins combine with a Node proxy (inert unless
    # a vhost configures them)
    load_system_module($cfg, 'remoteip', 'remoteip');
    load_system_module($cfg, 'cache', 'cache');
    load_system_module($cfg, 'cache_disk', 'cache_disk');
    # loaded BEFORE mod_nodeproxy on purpose: coexist.t shows that
    # mod_nodeproxy's mappings still win
    load_system_module($cfg, 'proxy', 'proxy');
    load_system_module($cfg, 'proxy_http', 'proxy_http');

    $cfg->{modules}->{'mod_nodeproxy.c'} = $so;
    # no <IfModule>: when the module does not load, the server must not start
    $cfg->preamble(qq{LoadModule nodeproxy_module "$so"\n});

    $cfg->{vars}->{np_sock} = socket_path();
    $cfg->{vars}->{np_module_so} = $so;
}

sub check_runtime_user {
    my $self = shift;
    return 1 if $> != 0;

    if (($ENV{NODEPROXY_TEST_ALLOW_ROOT} || '') ne '1') {
        fatal("refusing to run as root.\n" .
              "!!! httpd children would run as 'nobody'; run as an unprivileged user,\n" .
              "!!! or set NODEPROXY_TEST_ALLOW_ROOT=1 with a world-readable tree (scripts/test.sh does).");
    }

    # as root the children run as nobody: every directory down to t/ must be
    # searchable by others, or every request gets 403 (AH00035)
    my @parts = File::Spec->splitdir($T_DIR);
    my $p = '';
    for my $part (@parts) {
        $p = $p eq '' ? ($part eq '' ? '/' : $part) : File::Spec->catdir($p, $part);
        my $mode = (stat $p)[2];
        next unless defined $mode;
        fatal("running as root with NODEPROXY_TEST_ALLOW_ROOT=1, but $p is not\n" .
              "!!! searchable by others (mode " . sprintf('%04o', $mode & 07777) .
              "): httpd children (nobody) would get 403. chmod o+rx it or copy the tree.")
            unless $mode & 01;
    }
    warning "running as root (NODEPROXY_TEST_ALLOW_ROOT=1): httpd children run as nobody";
    return 1;
}

sub start {
    my $self = shift;
    check_ports_free() if $self->{opts}->{'start-httpd'};
    # Apache::TestServer sends itself SIGTERM when httpd dies at start-up
    local $SIG{TERM} = sub {
        fatal("httpd did not start or died at start-up: does the module load?\n" .
              "!!! See the messages above and $T_DIR/logs/error_log");
    };
    $self->SUPER::start(@_);
}

# Run the test files with TAP::Harness and keep the verdict for run().
sub run_tests {
    my $self = shift;
    my $opts = $self->{opts};

    if (grep { exists $opts->{$_} } qw(get post head)) {
        return $self->SUPER::run_tests(@_);
    }
    return unless $opts->{'run-tests'};

    if (my @subtests = @{ $self->{subtests} || [] }) {
        $ENV{HTTPD_TEST_SUBTESTS} = "@subtests";
    }

    my @tests = Apache::TestHarness->get_tests({
        verbose  => $opts->{verbose},
        tests    => $self->{tests},
        order    => $opts->{order},
        subtests => $self->{subtests} || [],
    });

    require TAP::Harness;
    my $harness = TAP::Harness->new({
        verbosity => $opts->{verbose} ? 1 : 0,
        lib       => ["$T_DIR/lib"],
        color     => 0,
        timer     => 1,
        merge     => 0,
    });
    my $agg = $harness->runtests(@tests);

    my ($passed, $failed, $skipped, @skip_all, @bad) = (0, 0, 0);
    my $ran = 0;
    for my $t ($agg->descriptions) {
        my ($parser) = $agg->parsers($t);
        if ($parser->skip_all) {
            push @skip_all, "$t (" . $parser->skip_all . ")";
            next;
        }
        $ran++ if $parser->tests_run > 0;
        $passed  += scalar($parser->passed) - scalar($parser->skipped);
        $skipped += scalar($parser->skipped);
        my $f = scalar $parser->failed;
        $failed += $f;
        if ($parser->has_problems) {
            push @bad, $t;
            $failed++ unless $f;   # died, bad plan, non-zero exit
        }
    }

    my $min = $MIN_FILES;
    $min = @tests if @tests < $min;
    my @why;
    push @why, "test files failed: @bad" if @bad;
    push @why, "only $ran test file(s) ran, at least $min required" if $ran < $min;
    push @why, "no test file ran" unless $ran;

    if (@skip_all) {
        print STDERR "\n*** test files skipped entirely:\n";
        print STDERR "***   $_\n" for @skip_all;
    }
    $self->{np_result} = {
        ok      => !@why,
        why     => \@why,
        passed  => $passed,
        failed  => $failed,
        skipped => $skipped,
        files   => scalar @tests,
        ran     => $ran,
    };
}

sub run {
    my $self = shift;
    $self->SUPER::run(@_);

    my $r = $self->{np_result};
    return 1 unless $r;    # -clean, -configure, -start-httpd ... only

    if ($r->{ok}) {
        print "\nmod_nodeproxy suite OK: $r->{ran} of $r->{files} test files ran\n";
    }
    else {
        my $line = '!' x 72;
        print STDERR "\n$line\n!!! mod_nodeproxy test suite FAILED:\n";
        print STDERR "!!!   $_\n" for @{ $r->{why} };
        print STDERR "!!! error log: $T_DIR/logs/error_log\n$line\n";
    }
    my $failed = $r->{failed};
    $failed ||= 1 unless $r->{ok};
    print "apache-test: $r->{passed} passed, $failed failed, $r->{skipped} skipped\n";
    Apache::TestRun::exit_shell($r->{ok} ? 0 : 1);
}

1;
