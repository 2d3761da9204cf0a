#!/usr/bin/perl
# The database goes away: 503 with Retry-After, quickly, workers alive; it comes back: 201.
# Runs last (90-): it stops and restarts MariaDB through script/db.
use v5.36;
use Test::More;
use Time::HiRes qw(sleep time);
use Leadlists::Test;

need_stack();

my $db = "$ENV{LEADLISTS_ROOT}/script/db";
plan skip_all => "no executable $db" if !$ENV{LEADLISTS_ROOT} || !-x $db;

# script/db's progress lines go to stderr, out of the TAP stream.
sub db($action) {
    return system('sh', '-c', 'exec "$0" "$1" 1>&2', $db, $action) == 0 ? 0 : $? >> 8 || 1;
}

my $user  = 'user_t90_' . $$;
my $token = mint_session(user => $user, org => 'org_t90');

my $stopped = 0;
my $parent  = $$;
$SIG{INT} = $SIG{TERM} = sub { exit 1 };    # so that END restarts the database
END {
    if ($stopped && $$ == $parent) {
        my $rc = $?;
        db('start');
        $? = $rc;
    }
}

# The stack works before we start.
{
    my $r = api(token => $token, body => valid_body());
    created_ok($r, $user, 'before the database stops');
}
my @pids = worker_pids();

# --- the workers' connections killed under them: the next requests still get 201 -------------

{
    my $before = counts();
    my $me = $ENV{LEADLISTS_DB_USER};
    my @conns = map { $_->[0] } sql("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = "
                                    . sql_quote($me) . " AND COMMAND = 'Sleep' AND ID <> CONNECTION_ID()");
    ok(scalar @conns, 'the workers hold database connections') or diag('none found for user ' . $me);
    eval { sql("KILL CONNECTION $_") } for grep { /^\d+$/ } @conns;    # one may be gone already
    my $n = 2 * (@pids || 4);
    my %status;
    for (1 .. $n) {
        my $r = api(token => $token, body => valid_body(), timeout => 20);
        $status{ $r->{status} }++;
        diag(describe($r)) if $r->{status} != 201;
    }
    is($status{201} // 0, $n, "after KILL CONNECTION of every worker connection, $n POSTs all give 201")
      or diag(join ', ', map { "$_ x $status{$_}" } sort keys %status);
    $before->{$_} += $status{201} // 0 for qw(leadlists);
    counts_ok($before, 'after KILL CONNECTION: each 201 wrote exactly one list');
}

my $before = counts();
ok(scalar @pids, 'LEADLISTS_WORKER_PIDFILE lists at least one pid') or diag("pidfile: " . ($ENV{LEADLISTS_WORKER_PIDFILE} // 'unset'));

# --- database down ----------------------------------------------------------------------------

# The health check a load balancer calls: public, and cheap.
{
    my $r = api(method => 'GET', path => '/api/v1/health', timeout => 20);
    is($r->{status}, 200, 'health with the database up: 200') or diag(describe($r));
    is($r->{content}, '{"status":"ok"}', 'health with the database up: {"status":"ok"}');
}

$stopped = 1;
is(db('stop'), 0, 'script/db stop succeeds');
{
    my $r = api(method => 'GET', path => '/api/v1/health', timeout => 20);
    error_ok($r, 503, 'SERVICE_UNAVAILABLE', 'health with the database down');
    cmp_ok($r->{elapsed}, '<', within(6), 'health with the database down is answered within 6 s');
}

for my $n (1 .. 2) {
    my $r = api(token => $token, body => valid_body(), timeout => 20);
    error_ok($r, 503, 'SERVICE_UNAVAILABLE', "POST $n with the database down");
    cmp_ok($r->{elapsed}, '<', within(6), "POST $n with the database down is answered within 6 s")
      or diag("took $r->{elapsed} s");
}
{
    # An unknown session cannot be told apart from a database fault while the database is
    # down: 503 is the honest answer (401 would tell the client to sign in again).
    my $r = api(token => 'x' x 43, body => valid_body(), timeout => 20);
    error_ok($r, 503, 'SERVICE_UNAVAILABLE', 'POST with an unknown token and the database down');
    cmp_ok($r->{elapsed}, '<', within(6), 'unknown token with the database down is answered within 6 s');

    # Routing needs no database.
    $r = api(method => 'PUT', timeout => 20);
    error_ok($r, 405, 'METHOD_NOT_ALLOWED', 'PUT with the database down');
    $r = api(path => '/api/v1/nope', token => $token, body => valid_body(), timeout => 20);
    error_ok($r, 404, 'NOT_FOUND', 'unknown path with the database down');
    # No session: 401 needs no database either.
    $r = api(body => valid_body(), timeout => 20);
    error_ok($r, 401, 'UNAUTHORIZED', 'no Authorization header with the database down');
}

# A burst at once: every answer is a JSON 503, none hangs.
{
    my @got = map { "$_->{status} $_->{code} " . sprintf('%.2f', $_->{elapsed} // 0) }
      api_burst(8, sub { api(token => $token, body => valid_body(), timeout => 20) });
    is(scalar(grep { /^503 SERVICE_UNAVAILABLE / } @got), 8, '8 concurrent POSTs with the database down: all JSON 503')
      or diag(join ' | ', @got);
    is(scalar(grep { (split / /)[2] >= within(10) } grep { /^\d/ } @got), 0, '8 concurrent POSTs: none took 10 s or more');
}

{
    my @dead = grep { !kill 0, $_ } @pids;
    is(scalar @dead, 0, 'every worker pid is still alive with the database down') or diag("dead: @dead");
    is_deeply([ worker_pids() ], \@pids, 'the pidfile lists the same workers (none restarted)');
}

# --- database back ----------------------------------------------------------------------------

is(db('start'), 0, 'script/db start succeeds') and $stopped = 0;
{
    my $r;
    my $took = wait_for(within(10), sub { $r = api(method => 'GET', path => '/api/v1/health', timeout => 20); $r->{status} == 200 }, 0.1);
    ok(defined $took, 'health once the database is back: 200') or diag(describe($r));
}
is_deeply(counts(), $before, 'nothing was written while the database was down');

{
    my $t0 = time;
    my ($r, $tries);
    while (1) {
        $tries++;
        $r = api(token => $token, body => valid_body(), timeout => 10);
        last if $r->{status} == 201 || time - $t0 > 10;
        sleep 0.25;
    }
    my $b = created_ok($r, $user, 'a POST after the database is back');
    stored_ok($b, 'a POST after the database is back');
    cmp_ok(time - $t0, '<=', 10, 'service returned within 10 s of script/db start')
      or diag("tries: $tries");
    my @dead = grep { !kill 0, $_ } @pids;
    is(scalar @dead, 0, 'every worker pid is still alive after the database came back') or diag("dead: @dead");

    # All workers reconnect, not only the one that answered first.
    my %status;
    $status{ api(token => $token, body => valid_body(), timeout => 10)->{status} }++ for 1 .. 2 * (@pids || 4);
    my $n = 2 * (@pids || 4);
    is($status{201} // 0, $n, "the next $n POSTs all give 201")
      or diag(join ', ', map { "$_ x $status{$_}" } sort keys %status);
    $before->{$_} += 1 + ($status{201} // 0) for qw(leadlists);
    counts_ok($before, 'every 201 after the restart wrote exactly one list');
}

done_testing();
