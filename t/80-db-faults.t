#!/usr/bin/perl
# Database faults: connections killed or dropped by wait_timeout, a deadlock (1213), a lock
# wait timeout (1205), the database frozen (SIGSTOP) and the database down while workers start.
# Each gives a transparent retry (201) or the contract's JSON 503 with Retry-After, within a
# bound and never an nginx 504; never a 500, never a partial list, never a dead worker, and no
# database error text in a response. Service comes back by itself once the database does.
#
# It stops, freezes and restarts MariaDB: every change is undone in END (SIGCONT first).
use v5.36;
use Test::More;
use Time::HiRes qw(sleep time);
use POSIX ();
use File::Temp ();
use Leadlists::Test;

need_stack();

my $db_script = "$ENV{LEADLISTS_ROOT}/script/db";
plan skip_all => "no executable $db_script" if !$ENV{LEADLISTS_ROOT} || !-x $db_script;
plan skip_all => 'no mariadbd pid in LEADLISTS_DB_PIDFILE' if !db_pid();
plan skip_all => "the database's administrator cannot log in through the socket: $@"
  if !eval { sql_root('SELECT 1'); 1 };

my $CONNECT_TIMEOUT = config_value('db_connect_timeout', 2);
my $READ_TIMEOUT    = config_value('db_read_timeout', 5);
my $LOCK_TIMEOUT    = config_value('db_lock_timeout', 2);
my $REQUEST_TIMEOUT = config_value('request_timeout', 10);
my $NGINX_READ_TIMEOUT = 30;    # fastcgi_read_timeout in conf/nginx/leadlists-api.conf
my $DB_USER = $ENV{LEADLISTS_DB_USER};
my $UNAVAILABLE = 'The service is temporarily unavailable; retry later';

my $user  = 'user_t80_' . $$;
my $token = mint_session(user => $user, org => 'org_t80');
my $tmp   = File::Temp->newdir('t80-XXXXXX', TMPDIR => 1);

# --- undo everything, whatever happens ---------------------------------------------------------

my $parent = $$;
my ($frozen, $db_stopped, $wait_timeout_was, $trigger_made, $locker, $private);
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    if ($$ == $parent) {
        my $rc = $?;
        kill 'CONT', $frozen if $frozen;    # always first: everything below needs the database
        stop_private_worker($private) if $private && $private->{pid};
        release_lock() if $locker;
        db('start') if $db_stopped;
        eval { sql_root("SET GLOBAL wait_timeout = $wait_timeout_was") } if defined $wait_timeout_was;
        eval { sql_root('DROP TRIGGER IF EXISTS t80_fault; DROP TABLE IF EXISTS t80_fault') } if $trigger_made;
        $? = $rc;
    }
}

# script/db's progress lines go to stderr, out of the TAP stream.
sub db($action) {
    return system('sh', '-c', 'exec "$0" "$1" 1>&2', $db_script, $action) == 0 ? 0 : $? >> 8 || 1;
}

# --- processes ---------------------------------------------------------------------------------

sub same_workers_ok($want, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @now = pool_worker_pids();
    return is_deeply(\@now, $want, "$name: no worker died or was replaced")
      || diag("workers before: @$want; now: @now");
}

# --- requests ------------------------------------------------------------------------------------

my @ALL;    # every answer this file got: [status, name]

# The answer is 201 or the contract's fixed 503: byte for byte the envelope, nothing else.
sub fixed_body_ok($r, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return 1 if ($r->{status} // 0) == 201;
    my $rid = header($r, 'x-request-id') // '';
    my $want = '{"error":{"code":"SERVICE_UNAVAILABLE","message":"' . $UNAVAILABLE . '","requestId":"' . $rid . '"}}';
    (my $got = $r->{content} // '') =~ s/\n\z//;
    my $ok = ok($got eq $want, "$name: the body is the contract's fixed 503, with no database text");
    diag(describe($r)) if !$ok;
    return $ok;
}

sub post(%a) {
    my $r = api(token => $token, body => $a{body} // valid_body(), timeout => $a{timeout} // 40);
    push @ALL, [ $r->{status}, $a{name} // '?' ];
    return $r;
}

sub unavailable_ok($r, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    error_ok($r, 503, 'SERVICE_UNAVAILABLE', $name);
    fixed_body_ok($r, $name);
    return;
}

# $n requests at once, each from its own process (api_burst); each answer is counted in @ALL.
sub burst($n, $name) {
    my @got = api_burst($n, sub { api(token => $token, body => valid_body(), timeout => 40) });
    push @ALL, [ $_->{status}, $name ] for @got;
    return @got;
}

sub statuses(@got) {
    my %s;
    $s{ $_->{status} }++ for @got;
    return join ', ', map { "$_ x $s{$_}" } sort keys %s;
}

sub all_created_ok($got, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $n = grep { $_->{status} eq '201' } @$got;
    my $ok = is($n, scalar @$got, "$name: all " . scalar(@$got) . ' answered 201');
    diag(statuses(@$got)) if !$ok;
    for my $g (grep { $_->{status} ne '201' } @$got) {
        diag("  $g->{status} $g->{content}");
    }
    return $n;
}

# Log lines of the request $rid written since $mark.
sub log_of($mark, $rid) {
    return grep { index($_, "$rid ") == 0 } worker_log_since($mark);
}

sub sql_value_root($q) {
    my @rows = sql_root($q);
    return @rows ? $rows[0][0] : undef;
}

sub worker_connections() {
    return map { $_->[0] } sql_root('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '
                                    . sql_quote($DB_USER) . ' AND ID <> CONNECTION_ID()');
}

sub kill_worker_connections() {
    my @ids = worker_connections();
    eval { sql_root("KILL CONNECTION $_") } for grep { /^\d+$/ } @ids;    # one may be gone already
    return scalar @ids;
}

# --- the start -------------------------------------------------------------------------------------

my @workers = pool_worker_pids();
ok(scalar @workers, 'the pool has live workers') or diag('worker_pids: ' . join(' ', worker_pids()));
my $N = @workers || 4;
my $start_mark = worker_log_mark();
{
    my $r = post(name => 'before');
    created_ok($r, $user, 'a create before any fault');
}
my $count = counts();

# --- a worker's connection killed ------------------------------------------------------------------

{
    my $name = 'KILL CONNECTION of every worker connection';
    my $mark = worker_log_mark();
    my $killed = kill_worker_connections();
    ok($killed >= 1, "$name: the workers held connections ($killed killed)");
    my @got = burst(2 * $N, $name);
    my $n = all_created_ok(\@got, "$name: " . 2 * $N . ' requests at once');
    $count->{$_} += $n for qw(leadlists);
    $count = counts_ok($count, "$name: each 201 wrote exactly one list");
    ok(scalar(grep { /connection lost/ } worker_log_since($mark)), "$name: the workers logged the lost connections and reconnected");
    same_workers_ok(\@workers, $name);
}

# --- idle connections dropped by wait_timeout --------------------------------------------------------

{
    my $name = 'wait_timeout = 2';
    $wait_timeout_was = sql_value_root('SELECT @@GLOBAL.wait_timeout');
    sql_root('SET GLOBAL wait_timeout = 2');
    # Only new connections take the new value: make every worker reconnect.
    kill_worker_connections();
    my @got;
    for (1 .. 5) {
        push @got, burst(2 * $N, $name);
        last if worker_connections() >= $N;
    }
    my $n = all_created_ok(\@got, "$name: requests that make the workers reconnect");
    $count->{$_} += $n for qw(leadlists);
    my $held = worker_connections();
    is($held, $N, "$name: every worker holds a connection made under the short timeout");
    sleep 3;
    is(scalar(worker_connections()), 0, "$name: after 3 s idle the server has dropped every worker connection");
    my $mark = worker_log_mark();
    @got = burst(2 * $N, $name);
    $n = all_created_ok(\@got, "$name: after the idle drop, " . 2 * $N . ' requests at once');
    $count->{$_} += $n for qw(leadlists);
    $count = counts_ok($count, "$name: each 201 wrote exactly one list");
    ok(scalar(grep { /connection lost/ } worker_log_since($mark)), "$name: the workers noticed the dropped connections");
    sql_root("SET GLOBAL wait_timeout = $wait_timeout_was");
    undef $wait_timeout_was;
    same_workers_ok(\@workers, $name);
}

# --- deadlock (1213) ----------------------------------------------------------------------------------
# A trigger on leadlists signals 1213 while a counter in a MEMORY table (not rolled back
# with the transaction) is above zero.

{
    $trigger_made = 1;
    sql_root('DROP TRIGGER IF EXISTS t80_fault; DROP TABLE IF EXISTS t80_fault;'
             . ' CREATE TABLE t80_fault (n INT NOT NULL) ENGINE = MEMORY; INSERT INTO t80_fault VALUES (0)');
    sql_root('CREATE TRIGGER t80_fault BEFORE INSERT ON leadlists FOR EACH ROW BEGIN'
             . ' IF (SELECT n FROM t80_fault) > 0 THEN UPDATE t80_fault SET n = n - 1;'
             . " SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213,"
             . " MESSAGE_TEXT = 'Deadlock found when trying to get lock; try restarting transaction';"
             . ' END IF; END', '--delimiter=//');

    my $name = 'one deadlock';
    sql_root('UPDATE t80_fault SET n = 1');
    my $mark = worker_log_mark();
    my $body = valid_body();
    my $r = post(name => $name, body => $body);
    my $b = created_ok($r, $user, "$name: retried transparently");
    stored_ok($b, $name);
    is(sql_value_root('SELECT n FROM t80_fault'), 0, "$name: the deadlock did happen");
    $count->{$_}++ for qw(leadlists);
    $count = counts_ok($count, "$name: exactly one list written");
    is(sql_value('SELECT COUNT(*) FROM leadlists WHERE name = ' . sql_quote($body->{name})),
       1, "$name: one list of that name, not two");
    my @log = log_of($mark, header($r, 'x-request-id') // '-');
    ok(scalar(grep { /\(1213\)/ } @log) == 1 && scalar(grep { /retrying/ } @log) == 1,
       "$name: the worker log shows the deadlock and one retry") or diag(join "\n", @log);

    $name = 'deadlock on every attempt';
    sql_root('UPDATE t80_fault SET n = 100');
    $mark = worker_log_mark();
    $body = valid_body();
    $r = post(name => $name, body => $body);
    unavailable_ok($r, $name);
    cmp_ok($r->{elapsed}, '<', within(2), "$name: answered in under 2 s") or diag("took $r->{elapsed} s");
    my $attempts = 100 - (sql_value_root('SELECT n FROM t80_fault') // 100);
    ok($attempts >= 2 && $attempts <= 5, "$name: retried a bounded number of times ($attempts attempts)");
    $count = counts_ok($count, "$name: nothing written");
    is(sql_value('SELECT COUNT(*) FROM leadlists WHERE name = ' . sql_quote($body->{name})),
       0, "$name: no partial list");
    @log = log_of($mark, header($r, 'x-request-id') // '-');
    is(scalar(grep { /\(1213\)/ } @log), $attempts, "$name: the worker log shows each deadlock") or diag(join "\n", @log);

    sql_root('DROP TRIGGER t80_fault; DROP TABLE t80_fault');
    $trigger_made = 0;
    $r = post(name => 'after the deadlocks');
    created_ok($r, $user, 'after the deadlocks');
    $count->{$_}++ for qw(leadlists);
    $count = counts_ok($count, 'after the deadlocks: one list written');
    same_workers_ok(\@workers, 'deadlocks');
}

# --- lock wait timeout (1205) -------------------------------------------------------------------------
# Another session holds LOCK TABLES leadlists WRITE: a create waits for it.

my $LOCK_MARK = "t80-lock-$$";

# Starts a mariadb client that takes the lock and holds it for $seconds; returns once it holds it.
sub hold_lock($seconds) {
    my $me = getpwuid($<) // 'root';
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        # Its own end (KILL CONNECTION) makes it print an error: not for the TAP stream.
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        delete $ENV{MYSQL_PWD};
        { exec { 'mariadb' } 'mariadb', '--no-defaults', '--protocol=socket', "--socket=$ENV{LEADLISTS_DB_SOCKET}",
          "--user=$me", $ENV{LEADLISTS_DB_NAME}, '-e',
          "LOCK TABLES leadlists WRITE; SELECT SLEEP($seconds), '$LOCK_MARK'; UNLOCK TABLES" };
        POSIX::_exit(127);
    }
    $locker = $pid;
    my $t0 = time;
    while (time - $t0 < 5) {
        return 1 if locker_connection();
        sleep 0.02;
    }
    return 0;
}

sub locker_connection() {
    return sql_value_root("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"
                          . " AND INFO LIKE '%$LOCK_MARK%' AND STATE = 'User sleep'");
}

# Ends the locking session (KILL releases its lock at once) and reaps the client.
sub release_lock() {
    my $id = eval { locker_connection() };
    eval { sql_root("KILL CONNECTION $id") } if $id;
    if ($locker) {
        my $t0 = time;
        while (waitpid($locker, POSIX::WNOHANG()) == 0) {
            if (time - $t0 > 10) {
                kill 'TERM', $locker;
                waitpid $locker, 0;
                last;
            }
            sleep 0.02;
        }
    }
    undef $locker;
    return;
}

{
    my $hold = 3 * $LOCK_TIMEOUT + 4;
    my $name = "lock held for ${hold} s (3 x db_lock_timeout and more)";
    ok(hold_lock($hold), "$name: the lock is held");
    my $mark = worker_log_mark();
    my $body = valid_body();
    my $r = post(name => $name, body => $body);
    unavailable_ok($r, $name);
    cmp_ok($r->{elapsed}, '<', within($REQUEST_TIMEOUT + 1), "$name: answered within request_timeout + 1 s")
      or diag("took $r->{elapsed} s");
    cmp_ok($r->{elapsed}, '>=', $LOCK_TIMEOUT, "$name: the worker did wait for the lock");
    diag(sprintf "%s: 503 after %.2f s", $name, $r->{elapsed});
    my @log = log_of($mark, header($r, 'x-request-id') // '-');
    ok(scalar(grep { /\(1205\)/ } @log) >= 1, "$name: the worker log shows the lock wait timeouts")
      or diag(join "\n", @log);
    ok(scalar(grep { /retrying/ } @log) >= 1, "$name: ... and the retries") or diag(join "\n", @log);
    my $t0 = time;
    release_lock();
    $count = counts_ok($count, "$name: nothing written");
    is(sql_value('SELECT COUNT(*) FROM leadlists WHERE name = ' . sql_quote($body->{name})),
       0, "$name: no partial list");
    $r = post(name => 'after the lock is released');
    created_ok($r, $user, "$name: after the lock is released");
    cmp_ok($r->{elapsed}, '<', within(1), "$name: the create after the release is quick");
    $count->{$_}++ for qw(leadlists);

    $hold = $LOCK_TIMEOUT / 2;
    $name = "lock held for $hold s (less than db_lock_timeout)";
    ok(hold_lock($hold), "$name: the lock is held");
    $mark = worker_log_mark();
    $r = post(name => $name);
    my $b = created_ok($r, $user, "$name: 201 once the lock is free");
    stored_ok($b, $name);
    diag(sprintf "%s: 201 after %.2f s", $name, $r->{elapsed});
    cmp_ok($r->{elapsed}, '<', within($LOCK_TIMEOUT + 1), "$name: answered without a retry's delay");
    @log = log_of($mark, header($r, 'x-request-id') // '-');
    is(scalar(grep { /\(1205\)/ } @log), 0, "$name: no lock wait timeout") or diag(join "\n", @log);
    release_lock();
    $count->{$_}++ for qw(leadlists);
    $count = counts_ok($count, 'lock waits: exactly the 201s wrote lists');
    same_workers_ok(\@workers, 'lock waits');
}

# --- the database frozen (SIGSTOP) -----------------------------------------------------------------

{
    my $name = 'database frozen';
    my $pid = db_pid();
    my $bound = $READ_TIMEOUT + $CONNECT_TIMEOUT + 2;
    $frozen = $pid;
    kill 'STOP', $pid;
    # One request per worker, all at once: each one's statement meets the frozen server.
    my @got = burst($N, $name);
    kill 'CONT', $pid;
    undef $frozen;
    my $thawed = time;
    for my $g (@got) {
        my $r = { status => $g->{status}, content => $g->{content}, elapsed => $g->{elapsed},
                  json => eval { JSON::PP->new->utf8->decode($g->{content}) },
                  headers => { 'x-request-id' => $g->{rid}, 'content-type' => $g->{ct}, 'retry-after' => 1 },
                  request => "POST (burst) $name" };
        is($r->{status}, 503, "$name: the service's 503, not an nginx 504 or a 500") or diag(describe($r));
        fixed_body_ok($r, $name);
    }
    my @t = sort { $a <=> $b } map { $_->{elapsed} // 0 } @got;
    diag(sprintf "%s: %d requests answered in %.2f .. %.2f s", $name, scalar @got, $t[0], $t[-1]);
    cmp_ok($t[-1], '<', within($bound), "$name: every answer within db_read_timeout + db_connect_timeout + 2 s ($bound s)");
    cmp_ok($t[-1], '<', $NGINX_READ_TIMEOUT, "$name: well inside nginx's fastcgi_read_timeout");

    # Service returns by itself.
    my ($r, $tries);
    while (1) {
        $tries++;
        $r = post(name => "$name: after SIGCONT", timeout => 10);
        last if $r->{status} == 201 || time - $thawed > 10;
        sleep 0.05;
    }
    my $back = time - $thawed;
    diag(sprintf "%s: first 201 %.2f s after SIGCONT (%d tries)", $name, $back, $tries);
    created_ok($r, $user, "$name: after SIGCONT");
    cmp_ok($back, '<', within(2), "$name: service returned within 2 s of SIGCONT");
    $count->{$_}++ for qw(leadlists);
    $count = counts_ok($count, "$name: nothing written while frozen");
    @got = burst(2 * $N, $name);
    my $n = all_created_ok(\@got, "$name: after SIGCONT, " . 2 * $N . ' requests at once');
    $count->{$_} += $n for qw(leadlists);
    $count = counts_ok($count, "$name: each 201 after SIGCONT wrote one list");
    same_workers_ok(\@workers, $name);
}

# --- the database down while workers start --------------------------------------------------------

{
    my $name = 'database down at start';
    $db_stopped = 1;
    is(db('stop'), 0, "$name: script/db stop succeeds");

    # A worker of our own, started on its own socket while the database is down.
    $private = eval { start_private_worker(dir => "$tmp") };
    ok($private, "$name: a private worker starts") or diag($@);
    if ($private) {
        my $t0 = time;
        sleep 0.05 while time - $t0 < 5 && kill(0, $private->{pid}) && !-S $private->{socket};
        my $r = fcgi_request(socket => $private->{socket}, token => $token, body => json_text(valid_body()), timeout => 20);
        push @ALL, [ $r->{status}, "$name: private worker" ];
        unavailable_ok($r, "$name: a worker started without the database");
        cmp_ok($r->{elapsed}, '<', within($CONNECT_TIMEOUT + 1), "$name: a worker started without the database answers within db_connect_timeout + 1 s")
          or diag("took $r->{elapsed} s");
        diag(sprintf '%s: the private worker answered 503 in %.3f s', $name, $r->{elapsed});
        ok(kill(0, $private->{pid}), "$name: the private worker is alive");
    }

    # The pool restarted with the database down.
    my $server = "$ENV{LEADLISTS_ROOT}/script/server";
    my $mark = worker_log_mark();
    my $t0 = time;
    is(system('sh', '-c', 'exec "$0" --restart-pool 1>&2', $server), 0, "$name: script/server --restart-pool succeeds");
    my @new;
    while (time - $t0 < within(15)) {
        @new = pool_worker_pids();
        last if @new == @workers && !grep { my $n = $_; grep { $_ == $n } @workers } @new;
        sleep 0.1;
    }
    diag(sprintf '%s: pool restarted in %.2f s', $name, time - $t0);
    is(scalar(grep { my $n = $_; !grep { $_ == $n } @workers } @new), scalar @workers,
       "$name: a whole pool of new workers") or diag("before: @workers; now: @new");
    sleep 0.2;
    my @log = worker_log_since($mark);
    my @blind = grep { my $p = $_; !grep { /leadlists-fcgi\[$p\] .*database: connect .*failed/ } @log } @new;
    is(scalar @blind, 0, "$name: every new worker logged that it started without the database")
      or diag("no failed connect logged by: @blind");
    {
        my $r = post(name => "$name: pool", timeout => 20);
        unavailable_ok($r, "$name: the pool started without the database");
        cmp_ok($r->{elapsed}, '<', within($CONNECT_TIMEOUT + 1), "$name: the new pool answers within db_connect_timeout + 1 s")
          or diag("took $r->{elapsed} s");
        diag(sprintf '%s: the new pool answered 503 in %.3f s', $name, $r->{elapsed});
    }
    ok(!grep({ !kill 0, $_ } @new), "$name: the new workers are alive with the database down");

    is(db('start'), 0, "$name: script/db start succeeds") and $db_stopped = 0;
    my $ready = time;
    is_deeply(counts(), $count, "$name: nothing written while the database was down");

    my $r = post(name => "$name: pool, first request after the database is back", timeout => 20);
    my $b = created_ok($r, $user, "$name: the pool's first request after the database is ready");
    stored_ok($b, "$name: the pool's first request");
    if ($r->{status} == 201) { $count->{$_}++ for qw(leadlists) }
    if ($private) {
        $r = fcgi_request(socket => $private->{socket}, token => $token, body => json_text(valid_body()), timeout => 20);
        push @ALL, [ $r->{status}, "$name: private worker after" ];
        $b = created_ok($r, $user, "$name: the private worker's first request after the database is ready");
        stored_ok($b, "$name: the private worker's first request");
        if ($r->{status} == 201) { $count->{$_}++ for qw(leadlists) }
        my $status = stop_private_worker($private);
        undef $private;
        is($status, 0, "$name: the private worker exits cleanly on SIGTERM (wait status 0)");
    }
    diag(sprintf "%s: service back %.2f s after script/db start returned", $name, time - $ready);
    my @got = burst(2 * $N, $name);
    my $n = all_created_ok(\@got, "$name: then " . 2 * $N . ' requests at once');
    $count->{$_} += $n for qw(leadlists);
    $count = counts_ok($count, "$name: every 201 wrote exactly one list");
    same_workers_ok(\@new, $name);
    @workers = @new;
}

# --- over the whole file ----------------------------------------------------------------------------

{
    my @bad = grep { $_->[0] !~ /^(201|503)$/ } @ALL;
    is(scalar @bad, 0, 'every answer in this file was 201 or 503 (no 500, no nginx 502/504, no timeout)')
      or diag(join "\n", map { "$_->[0] $_->[1]" } @bad);
    my @logged500 = grep { m{ POST \S+ 5\d\d [\d.]+ms$} && !/ 503 / } worker_log_since($start_mark);
    is(scalar @logged500, 0, 'the workers logged no 5xx other than 503') or diag(join "\n", @logged500);
}

done_testing();
