# Forwarded headers: X-Forwarded-For/-Proto/-Host/-Port/-Prefix and
# Forwarded; spoofing from an untrusted peer; a trusted peer's chain;
# NodeForwardedHeaders off; a client cannot strip them via Connection.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();

plan tests => 42, need_module('nodeproxy');

my $echo = NPBackend::start('echo', 'echo.js', NPTest::ECHO_PORT);
my $port = port();
my $hp   = hostport();

my @fwd_names = qw(x-forwarded-for x-forwarded-proto x-forwarded-host x-forwarded-port
                   x-forwarded-prefix forwarded);
my %last_raw;

sub seen {
    my %a = @_;
    my $r = http_req(%a);
    my $j = json_body($r) || {};
    ok t_cmp($r->{status}, 200, "status for $a{path}");
    my @raw = @{ $j->{rawHeaders} || [] };
    %last_raw = ();
    for (my $i = 0; $i < @raw; $i += 2) { push @{ $last_raw{ lc $raw[$i] } }, $raw[$i + 1]; }
    return $j->{headers} || {};
}

# each forwarded header must reach the backend as ONE header line
sub once {
    my $what = shift;
    my @dups = map { "$_ x" . scalar(@{ $last_raw{$_} }) . ' (' . join(' | ', @{ $last_raw{$_} }) . ')' }
               grep { $last_raw{$_} && @{ $last_raw{$_} } > 1 } @fwd_names;
    ok t_cmp("@dups", '', "$what: each forwarded header sent once");
}

# --- plain request from an untrusted peer (127.0.0.1 is not in 10.0.0.0/8)
{
    my $h = seen(path => '/echo/fwd');
    ok t_cmp($h->{'x-forwarded-for'}, '127.0.0.1', 'X-Forwarded-For is the client');
    ok t_cmp($h->{'x-forwarded-proto'}, 'http', 'X-Forwarded-Proto http');
    ok t_cmp($h->{'x-forwarded-host'}, $hp, 'X-Forwarded-Host is the client Host');
    ok t_cmp($h->{'x-forwarded-port'}, $port, 'X-Forwarded-Port is the server port');
    ok t_cmp($h->{'x-forwarded-prefix'}, qr{^/echo/?$}, 'X-Forwarded-Prefix is the stripped prefix');
    my $fwd = $h->{forwarded} // '';
    ok t_cmp($fwd, qr/(^|[;,\s])for="?127\.0\.0\.1"?(;|,|$)/i, 'Forwarded for=');
    ok t_cmp($fwd, qr/(^|[;,\s])proto=http(;|,|$)/i, 'Forwarded proto=');
    ok t_cmp($fwd, qr/(^|[;,\s])host="?\Q$hp\E"?(;|,|$)/i, 'Forwarded host=');
    once('plain request');
}

# --- nothing stripped: no X-Forwarded-Prefix
{
    my $h = seen(path => '/same/x');
    ok t_cmp($h->{'x-forwarded-prefix'}, undef, 'no X-Forwarded-Prefix when no prefix is stripped');
    ok t_cmp($h->{'x-forwarded-for'}, '127.0.0.1', 'X-Forwarded-For on /same/');
}

# --- spoofed headers from an untrusted peer are removed first
my @spoof = (
    'X-Forwarded-For'    => '1.2.3.4, 5.6.7.8',
    'X-Forwarded-Proto'  => 'https',
    'X-Forwarded-Host'   => 'evil.example',
    'X-Forwarded-Port'   => '1',
    'X-Forwarded-Prefix' => '/evil',
    'Forwarded'          => 'for=1.2.3.4;proto=https;host=evil.example',
    'x-forwarded-for'    => '9.9.9.9',
);
{
    my $h = seen(path => '/echo/spoof', headers => \@spoof);
    ok t_cmp($h->{'x-forwarded-for'}, '127.0.0.1', 'spoofed X-Forwarded-For removed');
    ok t_cmp($h->{'x-forwarded-proto'}, 'http', 'spoofed X-Forwarded-Proto removed');
    ok t_cmp($h->{'x-forwarded-host'}, $hp, 'spoofed X-Forwarded-Host removed');
    ok t_cmp($h->{'x-forwarded-port'}, $port, 'spoofed X-Forwarded-Port removed');
    ok t_cmp($h->{'x-forwarded-prefix'} // '', qr{^(/echo/?)?$}, 'spoofed X-Forwarded-Prefix removed');
    my $fwd = $h->{forwarded} // '';
    ok t_cmp($fwd !~ /1\.2\.3\.4|evil|https/ ? 1 : 0, 1,
             "spoofed Forwarded removed (backend saw: $fwd)");
    ok t_cmp($fwd, qr/for="?127\.0\.0\.1"?/, 'own Forwarded added');
    once('spoofed headers from an untrusted peer');
}
{
    my $h = seen(path => '/same/spoof', headers => \@spoof);
    ok t_cmp($h->{'x-forwarded-prefix'}, undef, 'spoofed X-Forwarded-Prefix removed (nothing stripped)');
}

# --- a client cannot strip them by naming them in Connection
{
    my $h = seen(path => '/echo/conn',
                 headers => [Connection => 'close, X-Forwarded-For, X-Forwarded-Proto, ' .
                                          'X-Forwarded-Host, X-Forwarded-Port, Forwarded']);
    ok t_cmp($h->{'x-forwarded-for'}, '127.0.0.1', 'X-Forwarded-For survives Connection: X-Forwarded-For');
    ok t_cmp($h->{'x-forwarded-proto'}, 'http', 'X-Forwarded-Proto survives Connection');
    ok t_cmp($h->{'x-forwarded-host'}, $hp, 'X-Forwarded-Host survives Connection');
    ok t_cmp($h->{forwarded}, qr/for="?127\.0\.0\.1"?/, 'Forwarded survives Connection');
}

# --- trusted peer (vhost np_trusted: NodeTrustedProxy 127.0.0.1)
{
    my $tport = vhost_port('np_trusted');
    my $h = seen(path => '/echo/trusted', port => $tport,
                 headers => ['X-Forwarded-For' => '1.2.3.4',
                             'Forwarded' => 'for=1.2.3.4;proto=https']);
    ok t_cmp($h->{'x-forwarded-for'}, '1.2.3.4, 127.0.0.1', 'trusted peer: X-Forwarded-For kept and appended');
    my $fwd = $h->{forwarded} // '';
    ok t_cmp($fwd, qr/for="?1\.2\.3\.4"?/, 'trusted peer: Forwarded kept');
    ok t_cmp($fwd, qr/for="?127\.0\.0\.1"?/, 'trusted peer: Forwarded appended');
    once('trusted peer');
    my $h2 = seen(path => '/echo/trusted2', port => $tport);
    ok t_cmp($h2->{'x-forwarded-for'}, '127.0.0.1', 'trusted vhost without incoming chain');
}

# --- NodeForwardedHeaders off
{
    my $h = seen(path => '/nofwd/x');
    ok t_cmp($h->{'x-forwarded-for'}, undef, 'off: no X-Forwarded-For');
    ok t_cmp($h->{'x-forwarded-proto'}, undef, 'off: no X-Forwarded-Proto');
    ok t_cmp($h->{'x-forwarded-host'}, undef, 'off: no X-Forwarded-Host');
    ok t_cmp($h->{'x-forwarded-port'}, undef, 'off: no X-Forwarded-Port');
    ok t_cmp($h->{forwarded}, undef, 'off: no Forwarded');
}
