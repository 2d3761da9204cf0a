#!/usr/bin/perl
# mariadbd SIGKILLed under a load of creates without Idempotency-Key. A create without a key
# is one INSERT that commits by itself: when its answer is lost, the worker cannot know
# whether the list is stored, so it finds out (reconnecting until the database is back, then
# looking the list up by its id) before it answers.
#  1. restarted within 2 s, in several runs: count(201) == lists stored, exactly, and every
#     stored list had its 201 (none hidden behind a 503);
#  2. kept down past the request deadline: the 503s whose lists were stored anyway are all
#     named in the workers' "outcome unknown" log lines, and nothing else is stored without
#     a 201.
# Only 201 or the JSON 503 ever; the same workers throughout.
use v5.36;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();
use Leadlists::Test;

need_stack();
plan skip_all => 'no running mariadbd in LEADLISTS_DB_PIDFILE' if !db_pid();

my $workers  = config_value('workers', 8);
my $deadline = config_value('request_timeout', 10);
my $clients  = 2 * $workers;
# LEADLISTS_LOAD_SECONDS shortens the load phases (script/test does for the sanitized workers
# and the package): below 20, two kill-and-restart runs instead of four; below 6, none.
my $load_seconds = $ENV{LEADLISTS_LOAD_SECONDS} && $ENV{LEADLISTS_LOAD_SECONDS} =~ /^\d+$/ ? $ENV{LEADLISTS_LOAD_SECONDS} : 20;
plan skip_all => 'LEADLISTS_LOAD_SECONDS is below 6' if $load_seconds < 6;
my $runs = $ENV{LEADLISTS_DB_KILL_RUNS} && $ENV{LEADLISTS_DB_KILL_RUNS} =~ /^\d+$/ ? $ENV{LEADLISTS_DB_KILL_RUNS}
         : $load_seconds < 20 ? 2 : 4;

my $user  = 'user_t81_' . $$;
my $token = mint_session(user => $user, org => 'org_t81');
my $run   = "t81-$$-" . int(time);

my $parent = $$;
my $db_killed = 0;
my @loads;
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    if (defined $parent && $$ == $parent) {
        my $rc = $?;
        for my $l (@loads) {
            load_stop($l);
            waitpid $_, 0 for @{ $l->{pids} };
        }
        stack_script('db', 'start') if $db_killed && !db_pid();
        $? = $rc;
    }
}

sub fmt_counts($c) { return join(', ', map { "$_ x $c->{$_}" } sort keys %$c) }

sub only_201_or_503_ok(@res) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @bad = grep {
        $_->{status} ne '201'
          && !($_->{status} eq '503' && $_->{code} eq 'SERVICE_UNAVAILABLE' && $_->{ctype} eq 'application/json; charset=utf-8')
    } @res;
    return ok(!@bad, 'every answer is 201 or the JSON 503')
      || diag(join "\n", map { "$_->{status} $_->{code} ($_->{ctype}): $_->{content}" } @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
}

# A session of the administrator that holds LOCK TABLES leadlists WRITE: the creates' INSERTs,
# sent, wait for it in the server, so a kill then catches writes whose outcome the workers
# cannot know. Returns once the lock is held; the client dies with the server.
sub hold_table_lock() {
    my $me = getpwuid($<) // 'root';
    my $mark = "t81-lock-$$-" . int(time * 1000);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        delete $ENV{MYSQL_PWD};
        { exec { 'mariadb' } 'mariadb', '--no-defaults', '--protocol=socket', "--socket=$ENV{LEADLISTS_DB_SOCKET}",
          "--user=$me", $ENV{LEADLISTS_DB_NAME}, '-e', "LOCK TABLES leadlists WRITE; SELECT SLEEP(60), '$mark'" };
        POSIX::_exit(127);
    }
    wait_for(5, sub {
        my @rows = eval { sql_root("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%$mark%'"
                                   . " AND STATE = 'User sleep' AND ID <> CONNECTION_ID()") };
        return @rows && $rows[0][0];
    });
    return $pid;
}

# Kills mariadbd during a load, waits $down seconds, starts it again; returns the results,
# the worker log lines of the run, and when the kill happened. With locked => 1 the kill comes
# while every worker's INSERT waits for a table lock (their outcome is then unknown to them
# for certain); else at whatever moment the load is in.
sub load_with_kill($prefix, $seconds, $down, %opt) {
    my $locked = delete $opt{locked};
    my $dbpid = db_pid();
    my $mark = worker_log_mark();
    my $load = load_start(token => $token, clients => $clients, seconds => $seconds, prefix => $prefix, %opt);
    push @loads, $load;
    sleep 2;
    my $locker;
    if ($locked) {
        $locker = hold_table_lock();
        sleep 0.5;    # less than db_lock_timeout: the INSERTs are still waiting
    }
    my $t_kill = time;
    kill 'KILL', $dbpid;
    $db_killed = 1;
    wait_for(10, sub { !pid_alive($dbpid) });
    waitpid $locker, 0 if $locker;
    sleep $down;
    my $started = stack_script('db', 'start') == 0;
    $db_killed = 0 if db_pid();
    my $t_ready = time;
    my @res = load_finish($load);
    @loads = ();
    return (\@res, [ worker_log_since($mark) ], $t_kill, $t_ready, $started);
}

# The lists of this run stored: {hex id => name}.
sub stored($prefix) {
    return map { $_->[0] => $_->[1] }
      sql('SELECT LOWER(HEX(id)), name FROM leadlists WHERE name LIKE ' . sql_quote("$prefix%"));
}

my @pids0 = pool_worker_pids();

# --- 1. restarted within 2 s -------------------------------------------------------------------

my ($total_201, $total_rows, $total_503, $total_learnt) = (0, 0, 0, 0);
for my $n (1 .. $runs) {
    my $prefix = "$run-a$n-";
    # Every other run kills while INSERTs wait for a lock, so some outcomes are unknown for certain.
    my ($res, $log, $t_kill, $t_ready, $started) = load_with_kill($prefix, 6, 1, locked => $n % 2 == 0);
    ok($started, "run $n: script/db start succeeds");
    my $c = status_counts(@$res);
    my @learnt = grep { /database: create: list \S+ was (not )?stored/ } @$log;
    my @unknown = grep { /outcome unknown/ } @$log;
    my %rows = stored($prefix);
    diag(sprintf 'run %d%s: killed at +2.0 s, ready %.1f s later: %d requests, %s; %d lists stored; '
                 . '%d outcomes learnt after the kill (%d stored), %d "outcome unknown"',
                 $n, $n % 2 == 0 ? ' (INSERTs waiting on a lock)' : '', $t_ready - $t_kill, scalar @$res,
                 fmt_counts($c), scalar keys %rows,
                 scalar @learnt, scalar(grep { !/not stored/ } @learnt), scalar @unknown);
    only_201_or_503_ok(@$res);
    reconcile_ok($prefix, $res, "run $n");
    is(scalar @unknown, 0, "run $n: no outcome left unknown") or diag(join "\n", @unknown);
    $total_201 += $c->{201} // 0;
    $total_503 += $c->{'503 SERVICE_UNAVAILABLE'} // 0;
    $total_rows += keys %rows;
    $total_learnt += @learnt;
}
diag("restarted within 2 s, $runs runs: $total_201 x 201, $total_rows lists stored, $total_503 x 503, "
     . "$total_learnt outcomes learnt after a lost answer");
cmp_ok($total_learnt, '>', 0, 'some creates lost their answer at the kill and learnt their outcome');

# --- 2. kept down past the deadline ------------------------------------------------------------
# The kill comes while the INSERTs wait for a table lock: those creates cannot learn their
# outcome before their deadline.

{
    my $prefix = "$run-b-";
    my ($res, $log, $t_kill, $t_ready, $started) = load_with_kill($prefix, $deadline + 6, $deadline + 2, locked => 1);
    ok($started, 'down past the deadline: script/db start succeeds');
    my $c = status_counts(@$res);
    my %unknown = map { /outcome unknown for list ([0-9a-f-]{36})/ ? ($1 =~ tr/-//dr => 1) : () } @$log;
    my %rows = stored($prefix);
    my %answered = map { ($_->{id} =~ tr/-//dr) => 1 } grep { $_->{status} eq '201' } @$res;
    my @hidden = grep { !$answered{$_} } sort keys %rows;
    my @unnamed = grep { !$unknown{$_} } @hidden;
    my @lost = grep { !exists $rows{$_} } sort keys %answered;
    diag(sprintf 'down for %.1f s: %d requests, %s; %d lists stored, %d of them without a 201; '
                 . '%d "outcome unknown" lines', $t_ready - $t_kill, scalar @$res, fmt_counts($c),
                 scalar keys %rows, scalar @hidden, scalar keys %unknown);
    only_201_or_503_ok(@$res);
    is(scalar @lost, 0, 'down past the deadline: every 201 has its list');
    is(scalar @unnamed, 0, 'down past the deadline: every list stored behind a 503 is named in an "outcome unknown" line')
      or diag("not named: @unnamed");
    cmp_ok(scalar keys %unknown, '>', 0, 'down past the deadline: the creates waiting at the kill ended "outcome unknown"');
    my @timing = grep { /outcome unknown/ && !/left \(\d+ tries\)/ } @$log;
    is(scalar @timing, 0, 'each "outcome unknown" line says how long it tried');
}

is_deeply([ pool_worker_pids() ], \@pids0, 'the same workers throughout');
{
    my $r = api(token => $token, body => valid_body(), timeout => 20);
    created_ok($r, $user, 'after the kills');
}

done_testing();
