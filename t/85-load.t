#!/usr/bin/perl
# Load: creates at twice the worker count for LEADLISTS_LOAD_SECONDS (default 20) seconds.
#  1. steady load: only 201 (or JSON 503), count(201) == new rows, no duplicates, and every row
#     had its 201;
#  2. the same load with mariadbd SIGKILLed mid-run and started again with script/db start:
#     only 201 or JSON 503 (never 500, never a non-JSON body, no nginx 502/504), the same
#     workers throughout, full service within 5 s of the database being ready, and the 201s
#     reconcile exactly with the stored rows (once the failed requests are retried with their
#     Idempotency-Key: only a request in flight at the kill may have been committed).
use v5.36;
use Test::More;
use Time::HiRes qw(time sleep);
use Leadlists::Test;

need_stack();

my $workers = config_value('workers', 8);
my $clients = 2 * $workers;
my $seconds = $ENV{LEADLISTS_LOAD_SECONDS} && $ENV{LEADLISTS_LOAD_SECONDS} =~ /^\d+$/ ? $ENV{LEADLISTS_LOAD_SECONDS} : 20;
plan skip_all => 'LEADLISTS_LOAD_SECONDS is below 6' if $seconds < 6;

my $user  = 'user_t85_' . $$;
my $token = mint_session(user => $user, org => 'org_t85');
my $run   = "t85-$$-" . int(time);

my $parent = $$;
my $db_killed = 0;
my @loads;
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    if (defined $parent && $$ == $parent) {
        my $rc = $?;
        # Clients still running (a test that died mid-run) are told to stop and reaped.
        for my $l (@loads) {
            load_stop($l);
            waitpid $_, 0 for @{ $l->{pids} };
        }
        stack_script('db', 'start') if $db_killed && !db_pid();
        $? = $rc;
    }
}

sub fmt_counts($c) { return join(', ', map { "$_ x $c->{$_}" } sort keys %$c) }

# Answers other than 201 and the JSON 503: each listed once by kind, with an example.
sub unexpected(@res) {
    my %seen;
    for my $r (@res) {
        next if $r->{status} eq '201';
        next if $r->{status} eq '503' && $r->{code} eq 'SERVICE_UNAVAILABLE'
          && $r->{ctype} eq 'application/json; charset=utf-8';
        my $k = "$r->{status} $r->{code}";
        $seen{$k} //= "$k (ctype '$r->{ctype}'): $r->{content}";
    }
    return map { $seen{$_} } sort keys %seen;
}

my @pids0 = pool_worker_pids();
my $pool0 = pool_pid();
is(scalar @pids0, $workers, "the pool has its $workers workers before the load") or diag("workers: @pids0");

# --- 1. steady load ---------------------------------------------------------------------------

{
    my $prefix = "$run-a-";
    my $before = counts();
    my $load = load_start(token => $token, clients => $clients, seconds => $seconds, prefix => $prefix);
    push @loads, $load;
    my @res = load_finish($load);
    @loads = ();
    my $took = $load->{ended} - $load->{started};
    my $c = status_counts(@res);
    my $n201 = $c->{201} // 0;
    diag(sprintf 'steady load: %d clients, %d workers, %.1f s: %d requests, %.0f requests/s; %s',
                 $clients, $workers, $took, scalar @res, @res / ($took || 1), fmt_counts($c));
    cmp_ok(scalar @res, '>=', $clients, 'the load sent requests') or BAIL_OUT('no load');
    my @bad = unexpected(@res);
    is(scalar @bad, 0, 'steady load: every answer is 201 or a JSON 503') or diag(join "\n", @bad);
    cmp_ok($n201, '>', 0.99 * @res, 'steady load: 201 for (nearly) all requests')
      or diag(fmt_counts($c));
    reconcile_ok($prefix, \@res, 'steady load');
    my $after = counts();
    is($after->{leadlists} - $before->{leadlists}, $n201, 'steady load: new rows in leadlists == count(201)');
    is($after->{leadlist_users}, $before->{leadlist_users}, 'steady load: creates write no leadlist_users rows');
    is_deeply([ pool_worker_pids() ], \@pids0, 'steady load: the same workers throughout');
}

# --- 2. the same load, mariadbd SIGKILLed mid-run and restarted --------------------------------

SKIP: {
    my $dbpid = db_pid();
    skip 'no running mariadbd in LEADLISTS_DB_PIDFILE', 12 if !$dbpid;
    my $prefix = "$run-b-";
    # Every request carries an Idempotency-Key: a request whose commit reached the disk just
    # before the kill got a 503 although its list exists; its retry with the key tells.
    my $load = load_start(token => $token, clients => $clients, seconds => $seconds, prefix => $prefix,
                          idempotency => 1);
    push @loads, $load;
    sleep($seconds / 4);
    my $t_kill = time;
    ok(kill('KILL', $dbpid), "SIGKILL mariadbd ($dbpid) mid-run");
    $db_killed = 1;
    wait_for(10, sub { !pid_alive($dbpid) });
    sleep 1;    # a moment without a database
    my $t_start = time;
    is(stack_script('db', 'start'), 0, 'script/db start succeeds');
    my $t_ready = time;
    $db_killed = 0 if db_pid();
    my @res = load_finish($load);
    @loads = ();
    my $c = status_counts(@res);
    diag(sprintf 'load with mariadbd killed at +%.1f s, ready again at +%.1f s (script/db start took %.1f s): '
                 . '%d requests, %s', $t_kill - $load->{started}, $t_ready - $load->{started},
                 $t_ready - $t_start, scalar @res, fmt_counts($c));
    my @bad = unexpected(@res);
    is(scalar @bad, 0, 'database killed: every answer is 201 or a JSON 503 (no 500, no nginx 502/504, no non-JSON)')
      or diag(join "\n", @bad);
    cmp_ok($c->{'503 SERVICE_UNAVAILABLE'} // 0, '>', 0, 'database killed: some requests got the JSON 503 while it was down');
    is_deeply([ pool_worker_pids() ], \@pids0, 'database killed: the same workers throughout (none died)');
    is(pool_pid(), $pool0, 'database killed: the same pool process');

    # Full service within 5 s of the database being ready: no failure ends later than that,
    # and requests started after it all got 201.
    my @fail_after = grep { $_->{status} ne '201' && $_->{t1} > $t_ready } @res;
    my $last_fail = @fail_after ? (sort { $b <=> $a } map { $_->{t1} } @fail_after)[0] - $t_ready : 0;
    diag(sprintf 'database killed: %d failures after it was ready, the last %.2f s after',
                 scalar @fail_after, $last_fail);
    cmp_ok($last_fail, '<=', within(5), 'database killed: full service within 5 s of the database being ready');
    my @late = grep { $_->{t0} > $t_ready + within(5) } @res;
    my @late_ok = grep { $_->{status} eq '201' } @late;
  SKIP: {
        skip 'the load ended less than 5 s after the database was ready (raise LEADLISTS_LOAD_SECONDS)', 1
          if $load->{stop_at} < $t_ready + within(5) + 1;
        ok(@late && @late == @late_ok, 'database killed: every request started 5 s after the database was ready got 201')
          or diag(scalar(@late_ok) . ' of ' . scalar(@late) . ' late requests got 201');
    }
    # Requests that failed are retried with their key: each gets 201, and only those in flight
    # at the kill may turn out to have been committed.
    my @failed = grep { $_->{status} ne '201' } @res;
    my @committed = load_settle(\@res, token => $token);
    my @unsettled = grep { ($_->{settled} // '') eq 'failed' } @res;
    is(scalar @unsettled, 0, 'database killed: every failed request, retried with its Idempotency-Key, got 201');
    my @odd = grep { !($_->{t0} <= $t_kill + 0.05 && $_->{t1} >= $t_kill - 0.05) } @committed;
    diag(sprintf 'database killed: %d failed requests retried; %d of them had been committed (in flight at the kill)',
                 scalar @failed, scalar @committed);
    is(scalar @odd, 0, 'database killed: no request answered 503 had been committed, unless it was in flight at the kill')
      or diag(join "\n", map { sprintf '%s: %s, sent %+.3f s and answered %+.3f s from the kill', $_->{name},
                                       $_->{first_status}, $_->{t0} - $t_kill, $_->{t1} - $t_kill } @odd);
    cmp_ok(scalar @committed, '<=', $workers, 'database killed: at most one committed-but-unanswered request per worker');
    reconcile_ok($prefix, \@res, 'database killed (after the retries)');
}

# The stack serves as before.
{
    my $r = api(token => $token, body => valid_body(), timeout => 20);
    my $b = created_ok($r, $user, 'after the load');
    stored_ok($b, 'after the load');
}

done_testing();
