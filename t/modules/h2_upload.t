# HTTP/2 uploads without Content-Length (curl -T -, fetch() with a stream
# body): mod_http2 adds "Transfer-Encoding: chunked" to such a request and
# marks its secondary connection close; the body must still stream to Node
# whole (sha256 checked at Node), over h2 (TLS) and h2c. The refusal of
# Content-Length + Transfer-Encoding stays for HTTP/1.1 clients.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use NPTest qw(:all);
use NPBackend ();
use JSON::PP ();

plan tests => 19, need_module('nodeproxy', 'ssl', 'http2');

my $echo = NPBackend::start('echo', 'echo.js', NPTest::ECHO_PORT);
my $sport = vhost_port('np_ssl');
my $cport = vhost_port('np_h2c');

# 6 MiB + 123 bytes of the backend's pattern, streamed from a file through
# stdin so that curl cannot know (and send) its length
my $size = 6 * 1024 * 1024 + 123;
my $file = t_path('logs', "h2-upload-$$.bin");
{
    my $block = join '', map { chr(($_ * 31 + 7) & 0xff) } 0 .. 65535;
    open my $fh, '>', $file or die "$file: $!";
    binmode $fh;
    my $n = $size;
    while ($n >= 65536) { print $fh $block; $n -= 65536; }
    print $fh substr($block, 0, $n);
    close $fh;
}
my $want = pattern_sha256($size);

sub upload {
    my ($what, @args) = @_;
    my $trace = t_path('logs', "h2-upload-$$.trace");
    my $cmd = join ' ', 'curl', '-s', '-k', '--max-time', '120', '--trace-ascii', $trace,
        '-w', "'\\n%{http_code} %{http_version}'",
        (map { "'$_'" } @args), '-T', '-', "< '$file'";
    my $out = `$cmd 2>&1`;
    my ($body, $code, $ver) = $out =~ /^(.*)\n(\d+) (\S+)$/s ? ($1, $2, $3) : ($out, 0, 0);
    my $sent_cl = 0;
    if (open my $t, '<', $trace) {
        local $/;
        my $tr = <$t> // '';
        # the request header block curl sent (h2: shown decoded)
        $sent_cl = 1 if $tr =~ /=> Send header.*?\n(?:[0-9a-f]{4}: .*\n)*?[0-9a-f]{4}: content-length:/i;
    }
    unlink $trace;
    my $j = eval { JSON::PP->new->decode($body) } || {};
    return ($code, $ver, $j, $sent_cl);
}

my $mark = log_mark();

# --- h2 over TLS
{
    my ($code, $ver, $j, $sent_cl) = upload('h2', '--http2', "https://localhost:$sport/echo/h2-upload");
    ok t_cmp($ver, '2', 'h2: the client spoke HTTP/2');
    ok t_cmp($sent_cl, 0, 'h2: the client sent no content-length');
    ok t_cmp($code, 200, 'h2 upload without content-length: 200, not 400');
    ok t_cmp($j->{method}, 'PUT', 'h2: PUT reached Node');
    ok t_cmp($j->{body_length}, $size, 'h2: every byte arrived');
    ok t_cmp($j->{body_sha256}, $want, 'h2: sha256 at Node matches');
    ok t_cmp(($j->{headers} || {})->{'transfer-encoding'}, 'chunked',
             'h2: streamed to Node chunked (not buffered to a Content-Length)');
}

# --- h2c (prior knowledge)
{
    my ($code, $ver, $j) = upload('h2c', '--http2-prior-knowledge', "http://localhost:$cport/echo/h2c-upload");
    ok t_cmp($ver, '2', 'h2c: the client spoke HTTP/2');
    ok t_cmp($code, 200, 'h2c upload without content-length: 200');
    ok t_cmp($j->{body_length}, $size, 'h2c: every byte arrived');
    ok t_cmp($j->{body_sha256}, $want, 'h2c: sha256 at Node matches');
}

# --- h2 with a content-length still works, and is passed on as one
{
    my ($rc, $out) = curl('-s', '-k', '--http2', '--data-binary', "\@$file",
                          "https://localhost:$sport/echo/h2-cl");
    my $j = eval { JSON::PP->new->decode($out) } || {};
    ok t_cmp($j->{body_sha256}, $want, 'h2 with content-length: sha256 matches');
    ok t_cmp(($j->{headers} || {})->{'content-length'}, $size, 'h2 with content-length: passed on');
}

ok t_cmp(join("\n", grep { /NP00021/ } split /\n/, log_since($mark)), '',
         'no "ambiguous framing" refusal for the h2 uploads');

# --- HTTP/1.1: Content-Length with Transfer-Encoding is still refused
for my $case (['plain', port()], ['h2c vhost, HTTP/1.1 client', $cport]) {
    my ($what, $p) = @$case;
    my $r = http_req(port => $p, method => 'POST', path => '/echo/clte',
                     headers => ['Content-Length' => '5', 'Transfer-Encoding' => 'chunked'],
                     body => "5\r\nhello\r\n0\r\n\r\n");
    ok t_cmp($r->{status}, 400, "HTTP/1.1 CL+TE ($what): still 400");
}
{
    my @l = wait_log($mark, qr/NP00021/, 5);
    ok t_cmp(scalar(@l) >= 2 ? 1 : 0, 1, 'HTTP/1.1 CL+TE refusals logged with NP00021');
    # a chunked HTTP/1.1 upload (no Content-Length) streams as before
    my $r = http_req(method => 'POST', path => '/echo/h1-chunked',
                     headers => ['Transfer-Encoding' => 'chunked'],
                     body => "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    my $j = json_body($r) || {};
    ok t_cmp($j->{body_length}, 11, 'HTTP/1.1 chunked upload: streamed');
    ok t_cmp($r->{status}, 200, 'HTTP/1.1 chunked upload: 200');
}

unlink $file;
