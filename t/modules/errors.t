# Errors: nothing listening -> 503, backend never answers -> 504 (timeout=1s),
# garbage or an early close -> 502; each logged once, with an NPnnnnn
# message id, naming the member.
use strict;
use warnings FATAL => 'all';

use FindBin ();
use lib "$FindBin::Bin/../lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use NPTest qw(:all);
use NPBackend ();

plan tests => 28, need_module('nodeproxy');

my $bad = NPBackend::start('bad', 'bad.js', NPTest::BAD_PORT);

# request $path, expect $status within $max seconds, and an error-log line
# with a message id that names $member
sub error_case {
    my ($path, $status, $member, $what, $max) = @_;
    my $mark = log_mark();
    my $t0 = time;
    my $r = http_req(path => $path, timeout => 30);
    my $dt = time - $t0;
    ok t_cmp($r->{status}, $status, "$what: $status");
    ok t_cmp($dt < $max ? 1 : 0, 1, sprintf("$what: answered in %.2f s (< $max s)", $dt));
    my @lines = wait_log($mark, qr/\bNP\d{5}\b/, 3);
    ok t_cmp(scalar(@lines) ? 1 : 0, 1, "$what: error log has an NPnnnnn line");
    my @named = grep { /\Q$member\E/ } @lines;
    ok t_cmp(scalar(@named) ? 1 : 0, 1, "$what: the NP log line names the member $member")
        or t_debug("new log lines:\n" . log_since($mark));
    # logged once: one line at warn level or above for this request
    sleep 0.3;
    my @serious = grep { /\[[\w.]+:(warn|error|crit|alert|emerg)\]/ && /\bNP\d{5}\b/ }
                  split /\n/, log_since($mark);
    ok t_cmp(scalar(@serious), 1, "$what: logged once at warn or above")
        or t_debug(join "\n", @serious);
}

error_case('/down/x', 503, '127.0.0.1:29199', 'nothing listens', 10);
error_case('/bad/never', 504, '127.0.0.1:29102', 'backend never answers', 5);
error_case('/bad/garbage', 502, '127.0.0.1:29102', 'backend sends garbage', 5);
error_case('/bad/close', 502, '127.0.0.1:29102', 'backend closes before any byte', 5);
error_case('/bad/halfhead', 502, '127.0.0.1:29102', 'backend closes mid-head', 5);

# unix socket target whose socket does not exist (its backend is not running)
{
    my $sockpath = Apache::Test::vars('np_sock');
    unlink $sockpath;
    my $r = http_req(path => '/sock/x');
    ok t_cmp($r->{status}, 503, 'unix socket with no listener: 503');
}

# control: the same backend answers a good request
{
    my $r = http_req(path => '/bad/ok');
    ok t_cmp($r->{status}, 200, 'bad.js /ok: 200');
    ok t_cmp(hdr($r, 'X-Backend'), 'bad', 'bad.js /ok: X-Backend');
}
