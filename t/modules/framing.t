# Framing: ambiguous or bad request framing is refused with 400 before
# anything reaches the backend; bad response framing gives 502; a backend
# dying mid-body gives a visibly truncated response, never a clean 200.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(sleep);
use NPTest qw(:all);
use NPBackend ();

plan tests => 29, need_module('nodeproxy');

my $echo = NPBackend::start('echo', 'echo.js', NPTest::ECHO_PORT);
my $bad  = NPBackend::start('bad', 'bad.js', NPTest::BAD_PORT);

sub count { sleep 0.3; backend_count(NPTest::ECHO_PORT) }

# control: a correct chunked request body goes through (and is counted:
# the counter the refusals below rely on does move)
{
    my $before = count();
    my $r = http_req(method => 'POST', path => '/echo/chunked-ok',
                     headers => ['Transfer-Encoding' => 'chunked'],
                     body => "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    my $j = json_body($r) || {};
    ok t_cmp($r->{status}, 200, 'chunked request body: 200');
    ok t_cmp($j->{body_length}, 11, 'chunked request body: 11 bytes reached the backend');
    ok t_cmp($j->{headers}{'content-length'} // $j->{headers}{'transfer-encoding'},
             qr/^(11|chunked)$/, 'request framing redone for the backend');
    ok t_cmp(count() - $before, 1, 'test precondition: the backend counts requests');
}

# request framing the proxy must refuse; nothing may reach the backend
my @refuse = (
    ['Content-Length and Transfer-Encoding',
     ['Content-Length' => '5', 'Transfer-Encoding' => 'chunked'], "5\r\nhello\r\n0\r\n\r\n"],
    ['Transfer-Encoding: gzip, chunked',
     ['Transfer-Encoding' => 'gzip, chunked'], "5\r\nhello\r\n0\r\n\r\n"],
    ['Transfer-Encoding: identity',
     ['Transfer-Encoding' => 'identity', 'Content-Length' => '5'], "hello"],
    ['Transfer-Encoding: chunked, chunked',
     ['Transfer-Encoding' => 'chunked, chunked'], "5\r\nhello\r\n0\r\n\r\n"],
    ['two different Content-Length headers',
     ['Content-Length' => '5', 'Content-Length' => '6'], "hello!"],
    ['Content-Length: 5, 6',
     ['Content-Length' => '5, 6'], "hello!"],
);
for my $case (@refuse) {
    my ($what, $headers, $body) = @$case;
    my $before = count();
    my $r = http_req(method => 'POST', path => '/echo/framing', headers => $headers, body => $body);
    my $after = count();
    ok t_cmp($r->{status}, 400, "$what: 400");
    ok t_cmp($after - $before, 0, "$what: nothing reached the backend");
}

# bad chunk size in the request body: 400
{
    my $r = http_req(method => 'POST', path => '/echo/badchunk',
                     headers => ['Transfer-Encoding' => 'chunked'],
                     body => "zz\r\nhello\r\n0\r\n\r\n");
    ok t_cmp($r->{status}, 400, 'bad chunk size in the request: 400');
    $r = http_req(method => 'POST', path => '/echo/badchunk2',
                  headers => ['Transfer-Encoding' => 'chunked'],
                  body => "5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n");
    ok t_cmp($r->{status}, 400, 'missing CRLF after chunk data: 400');
}

# backend response framing the proxy must refuse: 502
for my $case (['garbage', 'garbage status line'],
              ['clte', 'Content-Length and Transfer-Encoding'],
              ['diffcl', 'two different Content-Lengths'],
              ['bigheader', '100 KiB response header']) {
    my ($p, $what) = @$case;
    my $r = http_req(path => "/bad/$p");
    ok t_cmp($r->{status}, 502, "backend sends $what: 502");
}
# a 204 with a body: the head is relayed, the body dropped (hardening.t
# checks that the backend connection is closed)
{
    my $r = http_req(path => '/bad/204body');
    ok t_cmp($r->{status} . ' ' . (index($r->{raw}, 'hello') < 0 ? 'no body' : 'body'), '204 no body',
             'backend sends a 204 with a body: 204 relayed, the body dropped');
}

# a clean complete 200 must not come out of a broken body
sub not_clean_200 {
    my ($p, $what) = @_;
    # keep-alive request: Apache may then use chunked framing, and a clean
    # end of a close-delimited body could not be told from a truncation
    my $r = http_req(path => "/bad/$p", keepalive => 1, timeout => 8);
    my $verdict =
        $r->{status} == 502 ? 'ok (502)' :
        $r->{status} != 200 ? "status $r->{status}" :
        $r->{framing} eq 'close' ? 'close-delimited 200: truncation invisible to the client' :
        $r->{complete} ? "complete $r->{framing}-framed 200 (" . length($r->{body}) . ' body bytes)' :
        'ok (truncated ' . $r->{framing} . ', ' . length($r->{body}) . ' bytes)';
    ok t_cmp($verdict, qr/^ok/, "backend $what: no clean complete 200");
    my ($rc, $out) = curl('-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '15',
                          'http://127.0.0.1:' . port() . "/bad/$p");
    ok t_cmp(($rc != 0 || $out eq '502') ? 1 : 0, 1,
             "curl sees an error for $what (curl exit $rc, status $out)");
}
not_clean_200('diemid', 'dies mid-body (Content-Length 1000, 100 bytes sent)');
not_clean_200('badchunk', 'bad chunk size in the response');

# the backend still works afterwards
{
    my $r = http_req(path => '/bad/ok');
    ok t_cmp($r->{status}, 200, 'bad.js /ok still answers 200 through the proxy');
    $r = http_req(path => '/echo/after');
    ok t_cmp($r->{status}, 200, 'echo still answers 200');
}
