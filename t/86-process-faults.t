#!/usr/bin/perl
# Process faults, under the supervisor (conf/leadlists-pool: spawn-fcgi + the pool process):
#  1. SIGKILL one worker during load: at most its request fails (JSON 502), a new worker
#     replaces it within 1 s, and the 201s reconcile exactly with the rows once that request
#     is retried with its Idempotency-Key (it may have been committed before the kill);
#  2. a client that disconnects mid-request (half a body; a whole request closed before the
#     answer): the same workers, nothing half-written, the outcome seen by an idempotent retry;
#  3. peers that connect to the FastCGI socket and stall, on every worker at once: each worker
#     cuts its connection at request_timeout and serves again, within request_timeout + 1 s;
#     creates queued behind them, and a burst right after the cuts, all get 201 with
#     deadlines of their own;
#  4. a worker killed again and again right after its start: the pool replaces it every time,
#     pausing longer each time, and never gives the slot up;
#  5. a pool that cannot start (the configuration made invalid, the pool killed): JSON 502
#     while broken, the pool started again by the supervisor, 201 within seconds of the fix;
#  6. SIGTERM to the supervisor during load, with every worker mid-request: those requests
#     complete with 201, nothing partial, everything exits; script/server --restart-pool
#     brings the pool back;
#  7. SIGUSR1 to a pool outside the supervisor: its worker stops, the pool exits, no spin.
use v5.36;
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_STREAM);
use File::Spec;
use POSIX ();
use Leadlists::Test;

need_stack();

plan skip_all => 'no running pool supervisor' if !supervisor_pid() || !pool_pid();

my $workers  = config_value('workers', 8);
my $deadline = config_value('request_timeout', 10);
my $clients  = 2 * $workers;
my $seconds  = $ENV{LEADLISTS_LOAD_SECONDS} && $ENV{LEADLISTS_LOAD_SECONDS} =~ /^\d+$/ ? $ENV{LEADLISTS_LOAD_SECONDS} : 20;
$seconds = 6 if $seconds < 6;

my $user  = 'user_t86_' . $$;
my $token = mint_session(user => $user, org => 'org_t86');
my $run   = "t86-$$-" . int(time);
my $conf  = $ENV{LEADLISTS_CONFIG};

# --- restoring the stack, whatever happens ----------------------------------------------------

my $parent = $$;
my @loads;
my $conf_text;    # set while the configuration is broken
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    if (defined $parent && $$ == $parent) {
        my $rc = $?;
        for my $l (@loads) {
            load_stop($l);
            waitpid $_, 0 for @{ $l->{pids} };
        }
        write_conf($conf_text) if defined $conf_text;
        # A pool that is not back (or not whole) by now is started again.
        if (!supervisor_pid() || !wait_for(within(8), sub { pool_worker_pids() == $workers }, 0.1)) {
            diag('restarting the pool for the next tests');
            stack_script('server', '--restart-pool');
        }
        $? = $rc;
    }
}

# Replaces the configuration in one step (a new file renamed over it), so that a pool the
# supervisor starts meanwhile reads the old text or the new one, never a part.
sub write_conf($text) {
    my $tmp = "$conf.t86-$$";
    open my $out, '>', $tmp or die "$tmp: $!";
    print {$out} $text;
    close $out or die "$tmp: $!";
    chmod((stat $conf)[2] & 07777, $tmp);
    rename $tmp, $conf or die "rename $tmp: $!";
}

sub fmt_counts($c) { return join(', ', map { "$_ x $c->{$_}" } sort keys %$c) }

sub is_json_error($r, $status) {
    return $r->{status} eq $status && $r->{code} eq 'SERVICE_UNAVAILABLE'
      && $r->{ctype} eq 'application/json; charset=utf-8';
}

sub create_ok($label) {
    my $r = api(token => $token, body => valid_body(), timeout => 40);
    my $b = created_ok($r, $user, $label);
    return $b;
}

# Waits for the pool to have all its workers, for tests that follow a restart.
sub pool_whole($within = within(10)) {
    return wait_for($within, sub { pool_worker_pids() == $workers }, 0.05);
}

ok(pool_whole(), "the pool has its $workers workers") or BAIL_OUT('no whole pool to test');

# --- 1. SIGKILL one worker during load -------------------------------------------------------

{
    my $prefix = "$run-kill-";
    my $mw = pool_pid();
    my @before = pool_worker_pids();
    # With an Idempotency-Key on every request: a worker killed after its commit and before
    # its answer leaves a 502 whose list exists, and the retry with the key tells which.
    my $load = load_start(token => $token, clients => $clients, seconds => $seconds, prefix => $prefix,
                          idempotency => 1);
    push @loads, $load;
    sleep($seconds / 3);
    my $victim = $before[ int(rand @before) ];
    my %old = map { $_ => 1 } @before;
    my $t_kill = time;
    ok(kill('KILL', $victim), "SIGKILL worker $victim during the load");
    my $new;
    my $took = wait_for(within(5), sub {
        my @now = pool_worker_pids();
        ($new) = grep { !$old{$_} } @now;
        return @now == $workers && defined $new && !grep { $_ == $victim } @now;
    }, 0.002);
    my @res = load_finish($load);
    @loads = ();
    my $c = status_counts(@res);
    diag(sprintf 'SIGKILL of worker %d: replaced by %s after %s; load: %d requests, %s', $victim,
                 $new // 'none', defined $took ? sprintf('%.1f ms', 1000 * $took) : 'never', scalar @res, fmt_counts($c));
    ok(defined $took && $took <= within(1), 'the killed worker was replaced within 1 s (the pool is whole again)')
      or diag('workers now: ' . join(' ', pool_worker_pids()));
    is(pool_pid(), $mw, 'by the same pool process');
    my @fail = grep { $_->{status} ne '201' } @res;
    cmp_ok(scalar @fail, '<=', 1, 'at most one request failed (the one the worker had in hand)')
      or diag(join "\n", map { "$_->{status} $_->{code} '$_->{content}'" } @fail[0 .. ($#fail < 5 ? $#fail : 5)]);
    my @bad = grep { !is_json_error($_, 502) } @fail;
    is(scalar @bad, 0, 'a failed request got the JSON 502') or diag(join "\n", map { "$_->{status} $_->{code} '$_->{content}'" } @bad);
    for my $f (@fail) {
        ok($f->{t0} <= $t_kill + 0.05 && $f->{t1} >= $t_kill - 0.05, 'the failed request was in flight at the SIGKILL')
          or diag(sprintf 'sent at %+.3f s, answered at %+.3f s from the SIGKILL', $f->{t0} - $t_kill, $f->{t1} - $t_kill);
    }
    my @committed = load_settle(\@res, token => $token);
    my @unsettled = grep { ($_->{settled} // '') eq 'failed' } @res;
    is(scalar @unsettled, 0, 'the failed request, retried with its Idempotency-Key, got 201');
    diag('the failed request had ' . (@committed ? 'been committed before the SIGKILL (the retry was a replay)'
                                                 : 'written nothing (the retry created the list)')) if @fail;
    cmp_ok(scalar @committed, '<=', 1, 'at most the killed worker\'s request was committed without its answer');
    reconcile_ok($prefix, \@res, 'worker killed (after the retry)');
}

# --- 2. a client that disconnects mid-request --------------------------------------------------

{
    my @before = pool_worker_pids();
    my ($hostport) = $ENV{LEADLISTS_URL} =~ m{^https?://([^/]+)};
    my ($host, $port) = split /:/, $hostport;
    $port //= 80;
    my $send_close = sub ($bytes, $linger) {
        my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp', Timeout => 5)
          or return 0;
        local $SIG{PIPE} = 'IGNORE';
        syswrite $s, $bytes;
        sleep $linger;
        close $s;
        return 1;
    };
    my $head = sub ($body, @extra) {
        return "POST " . ROUTE . " HTTP/1.1\r\nHost: $hostport\r\nAuthorization: Bearer $token\r\n"
          . "Content-Type: application/json\r\n" . join('', map { "$_\r\n" } @extra)
          . 'Content-Length: ' . length($body) . "\r\n\r\n";
    };

    # Headers and half the body, then gone.
    my $half_name = "$run-half";
    my $body = json_text(valid_body(name => $half_name));
    ok($send_close->($head->($body) . substr($body, 0, length($body) / 2), 0.2),
       'a client sends the headers and half the body, then closes');
    # A whole request with an Idempotency-Key, closed before the answer can come.
    my $gone_name = "$run-gone";
    my $gone_body = json_text(valid_body(name => $gone_name));
    my $key = "$run-gone-key";
    ok($send_close->($head->($gone_body, "Idempotency-Key: $key") . $gone_body, 0),
       'a client sends a whole request with an Idempotency-Key and closes at once');
    sleep 0.5;
    is_deeply([ pool_worker_pids() ], \@before, 'after the disconnects: the same workers, all alive');
    is(sql_value('SELECT COUNT(*) FROM leadlists WHERE name = ' . sql_quote($half_name)), 0,
       'the half-sent request wrote nothing');
    # Its outcome, through the key: a replay if it was committed, else a first create (409
    # while it would still be in hand: try again a moment later).
    my $r;
    wait_for(within(10), sub {
        $r = api(token => $token, body => $gone_body, headers => { 'Idempotency-Key' => $key }, timeout => 40);
        return $r->{status} != 409;
    }, 0.2);
    my $b = created_ok($r, $user, 'the abandoned request retried with its Idempotency-Key');
    diag('the abandoned request had ' . ((header($r, 'idempotent-replayed') // '') eq 'true'
                                         ? 'been committed (replayed)' : 'not been committed (created now)'));
    is(sql_value('SELECT COUNT(*) FROM leadlists WHERE name = ' . sql_quote($gone_name)), 1,
       'the abandoned request and its retry: exactly one list');
    create_ok('the next request after the disconnects');
}

# --- 3. peers that stall on the FastCGI socket, on every worker at once ------------------------

SKIP: {
    my $path = fcgi_socket();
    skip 'no FastCGI socket to connect to', 8 if !defined $path || !-S $path;
    my @before = pool_worker_pids();
    my @stalled;
    for (1 .. $workers) {
        my $s = IO::Socket::UNIX->new(Peer => $path, Type => SOCK_STREAM) or last;
        # The first bytes of a FastCGI BEGIN_REQUEST record, and nothing more.
        syswrite $s, "\x01\x01\x00";
        push @stalled, $s;
    }
    my $t_stall = time;
    is(scalar @stalled, $workers, "$workers peers connected to the FastCGI socket and stalled");
    sleep 0.3;    # each worker takes one

    # A request through nginx meanwhile, from a child so that the stalled sockets can be watched.
    pipe my $rd, my $wr or die "pipe: $!";
    my $kid = fork // die "fork: $!";
    if ($kid == 0) {
        close $rd;
        my $r = eval { api(token => $token, body => valid_body(), timeout => 60) } // { status => 'died' };
        my $code = ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{code} // '' : '';
        print {$wr} join("\t", $r->{status}, sprintf('%.4f', time), $code,
                         ref $r->{json} eq 'HASH' ? $r->{json}{id} // '' : ''), "\n";
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;

    my %closed;    # fileno => seconds after the stall began
    my $sel = IO::Select->new(@stalled);
    my $limit = $t_stall + within($deadline + 3);
    while ($sel->count && time < $limit) {
        for my $s ($sel->can_read($limit - time)) {
            my $n = sysread $s, my $buf, 4096;
            if (!$n) {    # EOF or reset: the worker let go of it
                $closed{ fileno $s } = time - $t_stall;
                $sel->remove($s);
            }
        }
    }
    my $line = <$rd> // '';
    close $rd;
    waitpid $kid, 0;
    chomp $line;
    my ($status, $t_done, $code, $id) = split /\t/, $line;
    my @times = sort { $a <=> $b } values %closed;
    diag(sprintf 'stalled peers cut after %s s; the request through nginx answered %s after %s s',
                 join(', ', map { sprintf '%.2f', $_ } @times), $status // 'nothing',
                 defined $t_done ? sprintf('%.2f', $t_done - $t_stall) : '?');
    is(scalar @times, scalar @stalled, 'every stalled connection was closed by its worker');
    ok(@times && $times[-1] <= within($deadline + 1), "each within request_timeout + 1 s ($deadline + 1 s)");
    ok(@times && $times[0] >= $deadline - 1, 'and not long before request_timeout (the deadline did it)');
    is($status, 201, 'the request sent through nginx during the stall got 201');
    ok(defined $t_done && $t_done - $t_stall <= within($deadline + 1), 'within request_timeout + 1 s of the stall');
    is_deeply([ pool_worker_pids() ], \@before, 'the same workers: none died or was replaced');
    close $_ for @stalled;
    create_ok('a request after the stall');
}

# --- 3b. requests waiting while the stalled peers are cut -----------------------------------------
# Each cut connection's worker accepts a waiting request at once, often under the same
# descriptor number: that request's deadline must count from its own accept, not the cut
# connection's. Creates queued behind the stalled peers, and a burst right after the cuts,
# all get 201 and no request of theirs logs a deadline that had passed.

SKIP: {
    my $path = fcgi_socket();
    my $rounds = $ENV{LEADLISTS_STALL_ROUNDS} && $ENV{LEADLISTS_STALL_ROUNDS} =~ /^\d+$/ ? $ENV{LEADLISTS_STALL_ROUNDS} : 2;
    skip 'no FastCGI socket to connect to', 4 * $rounds if !defined $path || !-S $path;
    for my $round (1 .. $rounds) {
        my $mark = worker_log_mark();
        my @stalled;
        for (1 .. $workers) {
            my $s = IO::Socket::UNIX->new(Peer => $path, Type => SOCK_STREAM) or last;
            syswrite $s, "\x01\x01\x00";
            push @stalled, $s;
        }
        sleep 0.3;
        my $t0 = time;
        # Queued behind the stalled peers: each is accepted the moment a worker cuts one.
        my @queued = api_burst(2 * $workers, sub { api(token => $token, body => valid_body(), timeout => 60) });
        my $waited = time - $t0;
        my @after = api_burst(2 * $workers, sub { api(token => $token, body => valid_body(), timeout => 60) });
        close $_ for @stalled;
        my @got = (@queued, @after);
        my %st;
        $st{ $_->{status} }++ for @got;
        diag(sprintf 'stall round %d: %d creates queued behind %d stalled peers answered after %.2f s, then %d more; %s',
                     $round, scalar @queued, scalar @stalled, $waited, scalar @after,
                     join(', ', map { "$_ x $st{$_}" } sort keys %st));
        is(scalar @stalled, $workers, "stall round $round: a stalled peer on every worker");
        cmp_ok($waited, '>=', $deadline - 1, "stall round $round: the queued creates waited for the cuts");
        is(scalar(grep { $_->{status} eq '201' } @got), scalar @got, "stall round $round: every create got 201");
        my %rids = map { $_->{rid} => 1 } @got;
        my @late = grep { /deadline passed/ && /^(\S+)/ && $rids{$1} } worker_log_since($mark);
        is(scalar @late, 0, "stall round $round: no create logged a deadline that had passed") or diag(join "\n", @late);
    }
}

# --- 4. a worker that keeps dying young ------------------------------------------------------
# The pool replaces a worker at once, but one that dies within a second of its start only after
# a pause (100 ms, doubling, at most 5 s), so a crashing worker cannot make it spin.

{
    my $mw = pool_pid();
    my @before = pool_worker_pids();
    my %known = map { $_ => 1 } @before;
    my $victim = $before[0];
    my $kills = 5;
    my @took;
    for my $k (1 .. $kills) {
        kill 'KILL', $victim;
        my $new;
        my $t = wait_for(within(6), sub { ($new) = grep { !$known{$_} } pool_worker_pids(); defined $new }, 0.002);
        push @took, $t;
        last if !defined $new;
        $known{$new} = 1;
        $victim = $new;
    }
    diag('replaced after ' . join(', ', map { defined $_ ? sprintf('%.3f s', $_) : 'never' } @took));
    is(scalar(grep { defined } @took), $kills, "the worker was replaced after each of $kills kills");
    ok(defined $took[0] && $took[0] < within(1), 'the first replacement (of a worker that had lived) came at once')
      or diag('took ' . ($took[0] // 'forever'));
    ok(defined $took[-1] && defined $took[1] && $took[-1] > $took[1] && $took[-1] >= 0.7,
       'the pauses grew while the worker kept dying young');
    is(pool_pid(), $mw, 'the same pool process throughout');
    ok(pool_whole(), "the pool has its $workers workers");
    create_ok('a request after the young deaths');
}

# --- 5. a pool that cannot start --------------------------------------------------------------

SKIP: {
    skip "LEADLISTS_CONFIG ($conf) is not writable", 10 if !defined $conf || !-w $conf;
    my $sup = supervisor_pid();
    my $mw = pool_pid();
    my @before = pool_worker_pids();
    my $mark = worker_log_mark();
    open my $in, '<', $conf or die "$conf: $!";
    my $text = do { local $/; <$in> };
    close $in;
    $conf_text = $text;
    write_conf("$text\n# t/86: an unknown key makes the pool refuse to start\nt86_no_such_key = 1\n");
    # The workers read the configuration only through their pool: a new pool must start.
    ok(kill('KILL', $mw), 'configuration broken, and the pool process killed');

    # Its workers stop (they get SIGTERM when their pool dies); the supervisor starts a new
    # pool, which exits at once on the broken configuration, and again, and again.
    my $gone = wait_for(within(10), sub { !pool_pid() && pool_worker_pids() == 0 && !grep { pid_alive($_) } @before }, 0.02);
    ok(defined $gone, 'the pool and its workers are gone') or diag('pool ' . (pool_pid() // 'none') . ', workers ' . join(' ', pool_worker_pids()));
    my @answers = map { api(token => $token, body => valid_body(), timeout => 40) } 1 .. 3;
    for my $i (0 .. $#answers) {
        error_ok($answers[$i], 502, 'SERVICE_UNAVAILABLE', 'a request while the workers cannot start (' . ($i + 1) . ')');
    }
    sleep 1.5;
    my @restarts = grep { /leadlists-pool\[\d+\] warning the pool \d+ exited/ } worker_log_since($mark);
    cmp_ok(scalar @restarts, '>=', 2, 'the supervisor keeps starting the pool again while it cannot run')
      or diag('log since the break: ' . join("\n", worker_log_since($mark)));

    # The cause is gone.
    my $fix_mark = worker_log_mark();
    write_conf($text);
    $conf_text = undef;
    my $t_fix = time;
    my $r;
    my $back = wait_for(within(10), sub {
        $r = api(token => $token, body => valid_body(), timeout => 20);
        return $r->{status} == 201;
    }, 0.1);
    diag(sprintf 'after the fix, the first 201 came %s', defined $back ? sprintf('%.2f s later', $back) : 'never');
    ok(defined $back && $back <= within(5), 'a 201 within 5 s of the configuration being fixed')
      or diag('log since the fix: ' . join("\n", worker_log_since($fix_mark)));
    created_ok($r, $user, 'the first request after the fix');
    ok(pool_whole(within(5)), "the pool has its $workers workers again");
    my $mw2 = pool_pid();
    ok($mw2 && $mw2 != $mw, "run by a new pool process ($mw2, was $mw)");
    is(supervisor_pid(), $sup, 'under the same supervisor');
}

# --- 6. SIGTERM to the supervisor during load --------------------------------------------------

{
    my $prefix = "$run-term-";
    my $sup = supervisor_pid();
    my $mw = pool_pid();
    my @before = pool_worker_pids();
    my $mark = worker_log_mark();
    my $load = load_start(token => $token, clients => $clients, seconds => 120, prefix => $prefix);
    push @loads, $load;
    sleep 2;

    # A row lock at the end of the leadlists index holds every insert for 1.5 s (less than the
    # workers' lock wait timeout), so each worker is mid-request when SIGTERM comes.
    my $locker = fork // die "fork: $!";
    if ($locker == 0) {
        eval {
            sql('SET @m = (SELECT MAX(id) FROM leadlists); BEGIN; '
                . 'SELECT COUNT(*) FROM leadlists WHERE @m IS NULL OR id >= @m FOR UPDATE; '
                . 'DO SLEEP(1.5); COMMIT');
        };
        POSIX::_exit(0);
    }
    my $waiting = 0;
    wait_for(1.2, sub {
        $waiting = eval {
            sql_value("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = "
                      . sql_quote($ENV{LEADLISTS_DB_USER}) . " AND INFO LIKE 'INSERT INTO leadlists %'")
        } // 0;
        return $waiting >= $workers;
    }, 0.05);
    my $t_term = time;
    ok(kill('TERM', $sup), "SIGTERM to the supervisor ($sup) while $waiting requests wait on the lock");
    my $stopped = wait_for(within($deadline + 15), sub { !pid_alive($sup) }, 0.05);
    waitpid $locker, 0;
    load_stop($load);
    my @res = load_finish($load);
    @loads = ();
    my $c = status_counts(@res);
    diag(sprintf 'SIGTERM with %d inserts waiting: the supervisor was gone after %s; load: %d requests, %s',
                 $waiting, defined $stopped ? sprintf('%.2f s', $stopped) : 'never', scalar @res, fmt_counts($c));
    ok(defined $stopped, 'the supervisor exited');
    ok(!pid_alive($mw, 'leadlists-fcgi'), 'the pool process exited');
    my @left = grep { pid_alive($_) } @before;
    is(scalar @left, 0, 'every worker exited') or diag("still running: @left");
    cmp_ok($waiting, '>=', 1, 'requests were in flight in the workers at the SIGTERM');
    my @late_ok = grep { $_->{status} eq '201' && $_->{t1} > $t_term } @res;
    cmp_ok(scalar @late_ok, '>=', $waiting, 'the requests in flight at the SIGTERM completed with 201')
      or diag(scalar(@late_ok) . " 201s after the SIGTERM, $waiting were waiting");
    my @bad = grep { $_->{status} ne '201' && !is_json_error($_, 502) } @res;
    is(scalar @bad, 0, 'every other answer is the JSON 502 of a pool that is gone')
      or diag(join "\n", map { "$_->{status} $_->{code} '$_->{content}'" } @bad[0 .. ($#bad < 5 ? $#bad : 5)]);
    my @early_fail = grep { $_->{status} ne '201' && $_->{t1} < $t_term } @res;
    is(scalar @early_fail, 0, 'no failure before the SIGTERM');
    my @log = worker_log_since($mark);
    my @exits = grep { /leadlists-fcgi\[(\d+)\] info stop: exiting/ } @log;
    is(scalar @exits, scalar @before, 'each worker logged its orderly exit')
      or diag(join "\n", grep { !/ POST / } @log);
    reconcile_ok($prefix, \@res, 'SIGTERM during load');

    # Back for the next tests.
    is(stack_script('server', '--restart-pool'), 0, 'script/server --restart-pool succeeds');
    my $sup2 = supervisor_pid();
    ok($sup2 && $sup2 != $sup, 'a new supervisor runs');
    ok(pool_whole(within(5)), "with $workers workers");
    create_ok('a request after --restart-pool');
}

# --- 7. SIGUSR1 to a pool outside the supervisor -------------------------------------------------
#
# libfcgi (FCGX_Init) catches SIGUSR1 with a handler that only marks a shutdown as pending,
# after which every accept fails at once: a worker that left it to libfcgi would spin in its
# accept loop, neither serving nor exiting. The workers stop on SIGUSR1 as on SIGTERM, and the
# pool process takes SIGUSR1 as a stop too; this checks a pool started by hand, outside the
# supervisor.

SKIP: {
    skip 'no start_private_worker/fcgi_request helpers in Leadlists::Test', 4
      if !defined &Leadlists::Test::start_private_worker || !defined &Leadlists::Test::fcgi_request;
    my %bin = $ENV{LEADLISTS_WORKER_BIN} ? (binary => $ENV{LEADLISTS_WORKER_BIN}) : ();
    my $w = eval { Leadlists::Test::start_private_worker(dir => File::Spec->tmpdir, %bin) };
    skip "cannot start a private worker: $@", 4 if !$w;
    my $r;
    wait_for(within(10), sub {
        $r = Leadlists::Test::fcgi_request(socket => $w->{socket}, token => $token,
                                           body => json_text(valid_body()), timeout => 5);
        return $r->{status} == 201;
    }, 0.1);
    is($r->{status}, 201, 'a private pool serves');
    my $cpu = sub {
        open my $fh, '<', "/proc/$w->{pid}/stat" or return 0;
        my @f = split ' ', ((<$fh> // '') =~ s/^.*\) //sr);
        return ($f[11] // 0) + ($f[12] // 0);    # utime + stime, in clock ticks
    };
    my $c0 = $cpu->();
    kill 'USR1', $w->{pid};
    my $gone = wait_for(within(3), sub { !pid_alive($w->{pid}) }, 0.02);
    my $spun = $cpu->() - $c0;
    diag(sprintf 'after SIGUSR1 the private pool %s; %d clock ticks of CPU meanwhile',
                 $gone ? sprintf('exited in %.3f s', $gone) : 'still runs', $spun);
    ok($gone, 'SIGUSR1 stops an idle pool and its worker, as SIGTERM does');
    cmp_ok($spun, '<', 20, 'without spinning');
    my $status = Leadlists::Test::stop_private_worker($w);
    is($status, 0, 'it exited with status 0');
}

done_testing();
