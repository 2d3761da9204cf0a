#!/usr/bin/perl
# Database faults under the changes of the family (PATCH, add/remove members, add-users,
# DELETE): each is one transaction, so a fault gives a transparent retry or the contract's
# JSON 503, and never a change half applied.
#  1. a deadlock (1213), injected by triggers into the statements a change runs (UPDATE of
#     leadlists: PATCH and the member operations; INSERT into leadlist_users: add-users;
#     DELETE of leadlists): once -> retried, answered once, the version one more (not two);
#     on every attempt -> JSON 503 after a bounded number of attempts, nothing written;
#  2. a lock wait timeout (1205): another session holds the list row (SELECT ... FOR UPDATE)
#     for longer than 3 x db_lock_timeout -> JSON 503 within request_timeout + 1 s, nothing
#     written; for less than db_lock_timeout -> 200;
#  3. mariadbd SIGKILLed under a stream of add-members (50 new ids each, to lists of 2,000)
#     and PATCHes, and started again within seconds: only 200 or JSON 503; each list holds
#     exactly the ids of its 200s plus, for each 503, all of that request's ids or none of them,
#     in the order sent; a PATCH is stored whole or not at all; a change whose COMMIT lost its
#     answer is looked up before it is answered ("finding out whether list ... was stored"),
#     and its outcome is never left unknown while the database is back in time. The kill is
#     timed on a COMMIT; up to three rounds (two when LEADLISTS_LOAD_SECONDS is below 20, none
#     below 6) until one loses its answer.
#
# It adds triggers, holds row locks and kills MariaDB: everything is undone in END.
use v5.36;
use Test::More;
use Time::HiRes qw(sleep time);
use POSIX ();
use JSON::PP ();
use File::Temp ();
use Time::Local qw(timegm);
use IPC::Open2 ();
use Leadlists::Test;

need_stack();

my $db_script = "$ENV{LEADLISTS_ROOT}/script/db";
plan skip_all => "no executable $db_script" if !$ENV{LEADLISTS_ROOT} || !-x $db_script;
plan skip_all => 'no mariadbd pid in LEADLISTS_DB_PIDFILE' if !db_pid();
plan skip_all => "the database's administrator cannot log in through the socket: $@"
  if !eval { sql_root('SELECT 1'); 1 };

my $LOCK_TIMEOUT    = config_value('db_lock_timeout', 2);
my $REQUEST_TIMEOUT = config_value('request_timeout', 10);
my $MAX_MEMBERS     = config_value('max_members', 10000);
my $workers         = config_value('workers', 8);
my $UNAVAILABLE     = 'The service is temporarily unavailable; retry later';
my $JSON_CT         = 'application/json; charset=utf-8';
my $JSON            = JSON::PP->new->utf8->canonical;

my $user  = 'user_t82_' . $$;
my $org   = 'org_t82_' . $$;
my $token = mint_session(user => $user, org => $org);
my $run   = "t82-$$-" . int(time);
my $tmp   = File::Temp->newdir('t82-XXXXXX', TMPDIR => 1);

# --- undo everything, whatever happens ---------------------------------------------------------

my $parent = $$;
my ($triggers_made, $locker, $db_killed, @clients);
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    if (defined $parent && $$ == $parent) {
        my $rc = $?;
        if (@clients) {
            if (open my $fh, '>', "$tmp/stop") { close $fh }
            waitpid $_, 0 for @clients;
        }
        release_lock() if $locker;
        stack_script('db', 'start') if $db_killed && !db_pid();
        eval { drop_triggers() } if $triggers_made;
        $? = $rc;
    }
}

# --- helpers -------------------------------------------------------------------------------------

# Log lines of the request $rid written since $mark.
sub log_of($mark, $rid) {
    return grep { index($_, "$rid ") == 0 } worker_log_since($mark);
}

sub sql_value_root($q) {
    my @rows = sql_root($q);
    return @rows ? $rows[0][0] : undef;
}

# The answer is the contract's fixed 503: byte for byte the envelope, with no database text.
sub unavailable_ok($r, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    error_ok($r, 503, 'SERVICE_UNAVAILABLE', $name);
    my $rid = header($r, 'x-request-id') // '';
    my $want = '{"error":{"code":"SERVICE_UNAVAILABLE","message":"' . $UNAVAILABLE . '","requestId":"' . $rid . '"}}';
    (my $got = $r->{content} // '') =~ s/\n\z//;
    ok($got eq $want, "$name: the body is the contract's fixed 503") or diag(describe($r));
    return;
}

# The versions leadlist_changes holds for a list, "2,3,..".
sub change_versions($id) {
    return sql_value('SELECT GROUP_CONCAT(version ORDER BY version) FROM leadlist_changes WHERE leadlist_id = UNHEX('
                     . "'" . hex_of($id) . "')") // '';
}

sub stored_persons($id) {
    my $text = sql_value("SELECT person_ids FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')");
    return defined $text ? JSON::PP->new->utf8->decode($text) : undef;
}

sub new_list(%over) {
    my $r = api(token => $token, body => valid_body(name => uniq_name($run), %over), timeout => 40);
    my $list = $r->{status} == 201 && ref $r->{json} eq 'HASH' ? $r->{json} : undef;
    BAIL_OUT('cannot create a list: ' . describe($r)) if !$list;
    return $list;
}

# --- the changes under test ----------------------------------------------------------------------
# Each: the request for list $list (its n-th of the file), and what the stored list must then be.

my $n_ids = 0;
sub fresh_ids($k) { return [ map { sprintf 'f%d_%d', $$, ++$n_ids } 1 .. $k ] }

my @CHANGES = (
    { op => 'patch', point => 'list', status => 200,
      request => sub ($list) {
          my $name = uniq_name("$run-renamed");
          return ({ method => 'PATCH', path => ROUTE . "/$list->{id}", body => { name => $name } },
                  sub ($after) { $after->{name} eq $name });
      } },
    { op => 'add-members', point => 'list', status => 200,
      request => sub ($list) {
          my $ids = fresh_ids(50);
          my @want = (@{ stored_persons($list->{id}) // [] }, @$ids);
          return ({ path => ROUTE . "/$list->{id}/add-members", body => { personIds => $ids } },
                  sub ($after) { join(' ', @{ $after->{personIds} }) eq join(' ', @want) });
      } },
    { op => 'remove-members', point => 'list', status => 200,
      request => sub ($list) {
          my @have = @{ stored_persons($list->{id}) // [] };
          my @gone = @have[0, 2];
          my %gone = map { $_ => 1 } @gone;
          my @want = grep { !$gone{$_} } @have;
          return ({ path => ROUTE . "/$list->{id}/remove-members", body => { personIds => \@gone } },
                  sub ($after) { join(' ', @{ $after->{personIds} }) eq join(' ', @want) });
      } },
    { op => 'add-users', point => 'users', status => 200,
      request => sub ($list) {
          my @new = ("user_t82_${$}_a$n_ids", "user_t82_${$}_b$n_ids");
          $n_ids++;
          return ({ path => ROUTE . "/$list->{id}/add-users", body => { userIds => \@new } },
                  sub ($after) { join(' ', @{ $after->{userIds} }) eq join(' ', $user, @new) });
      } },
    { op => 'delete', point => 'delete', status => 204,
      request => sub ($list) {
          return ({ method => 'DELETE', path => ROUTE . "/$list->{id}" }, sub ($after) { !defined $after });
      } },
);

# The list as GET gives it: its body with {version}, or undef once it is gone (404).
sub read_list($id) {
    my $r = api(method => 'GET', token => $token, path => ROUTE . "/$id", timeout => 40);
    return undef if $r->{status} == 404;
    return ref $r->{json} eq 'HASH' ? { %{ $r->{json} }, version => etag_version($r) } : { status => $r->{status} };
}

# --- 1. deadlocks ----------------------------------------------------------------------------------
# One MEMORY table (not rolled back with the transaction) holds a counter per fault point; the
# triggers fire for this file's org only, signalling 1213 while their counter is above zero.

sub drop_triggers() {
    sql_root('DROP TRIGGER IF EXISTS t82_list_update; DROP TRIGGER IF EXISTS t82_user_insert;'
             . ' DROP TRIGGER IF EXISTS t82_list_delete; DROP TABLE IF EXISTS t82_fault');
}

sub make_trigger($name, $event, $row, $point) {
    sql_root("CREATE TRIGGER $name $event FOR EACH ROW BEGIN"
             . " IF $row.org_id = " . sql_quote($org) . " AND (SELECT n FROM t82_fault WHERE k = '$point') > 0 THEN"
             . " UPDATE t82_fault SET n = n - 1 WHERE k = '$point';"
             . " SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213,"
             . " MESSAGE_TEXT = 'Deadlock found when trying to get lock; try restarting transaction';"
             . ' END IF; END', '--delimiter=//');
}

sub fault($point, $n) { sql_root("UPDATE t82_fault SET n = $n WHERE k = '$point'") }

sub fault_left($point) { return sql_value_root("SELECT n FROM t82_fault WHERE k = '$point'") }

{
    $triggers_made = 1;
    drop_triggers();
    sql_root('CREATE TABLE t82_fault (k VARCHAR(16) NOT NULL PRIMARY KEY, n INT NOT NULL) ENGINE = MEMORY;'
             . " INSERT INTO t82_fault VALUES ('list', 0), ('users', 0), ('delete', 0)");
    make_trigger('t82_list_update', 'BEFORE UPDATE ON leadlists', 'NEW', 'list');
    make_trigger('t82_user_insert', 'BEFORE INSERT ON leadlist_users', 'NEW', 'users');
    make_trigger('t82_list_delete', 'BEFORE DELETE ON leadlists', 'OLD', 'delete');

    for my $c (@CHANGES) {
        my $name = "$c->{op}, one deadlock";
        my $list = new_list(personIds => fresh_ids(20));
        my $v0 = 1;
        my ($req, $applied) = $c->{request}->($list);
        fault($c->{point}, 1);
        my $mark = worker_log_mark();
        my $r = api(%$req, token => $token, timeout => 40);
        is($r->{status}, $c->{status}, "$name: retried transparently ($c->{status})") or diag(describe($r));
        is(fault_left($c->{point}), 0, "$name: the deadlock did happen");
        my $after = read_list($list->{id});
        ok($applied->($after), "$name: the change is stored") or diag('stored: ' . json_text(list_row($list->{id})));
        if ($c->{op} ne 'delete') {
            is(etag_version($r), $v0 + 1, "$name: the answer's ETag is the version + 1, not + 2");
            is($after->{version}, $v0 + 1, "$name: the stored version is + 1");
            is(change_versions($list->{id}), '2', "$name: one change record, for version 2");
        } else {
            is_deeply(list_row_counts($list->{id}), { leadlists => 0, leadlist_users => 0, leadlist_changes => 0 },
                      "$name: the row, its users and its change records are gone");
        }
        my @log = log_of($mark, header($r, 'x-request-id') // '-');
        ok(scalar(grep { /\(1213\)/ } @log) == 1 && scalar(grep { /retrying/ } @log) == 1,
           "$name: the worker log shows the deadlock and one retry") or diag(join "\n", @log);

        $name = "$c->{op}, deadlock on every attempt";
        $list = new_list(personIds => fresh_ids(20));
        ($req) = $c->{request}->($list);
        my $before = list_state($list->{id});
        fault($c->{point}, 100);
        $mark = worker_log_mark();
        $r = api(%$req, token => $token, timeout => 40);
        unavailable_ok($r, $name);
        cmp_ok($r->{elapsed}, '<', within(2), "$name: answered in under 2 s") or diag("took $r->{elapsed} s");
        my $attempts = 100 - (fault_left($c->{point}) // 100);
        fault($c->{point}, 0);
        ok($attempts >= 2 && $attempts <= 5, "$name: retried a bounded number of times ($attempts attempts)");
        list_unchanged_ok($list->{id}, $before, "$name: nothing written (row, users, change records, GET)");
        @log = log_of($mark, header($r, 'x-request-id') // '-');
        is(scalar(grep { /\(1213\)/ } @log), $attempts, "$name: the worker log shows each deadlock") or diag(join "\n", @log);
    }
    drop_triggers();
    $triggers_made = 0;
    my $list = new_list();
    my $r = api(method => 'PATCH', path => ROUTE . "/$list->{id}", token => $token, body => { name => uniq_name($run) });
    is($r->{status}, 200, 'after the deadlocks: a PATCH gets 200') or diag(describe($r));
}

# --- 2. lock wait timeouts -------------------------------------------------------------------------

my $LOCK_MARK = "t82-lock-$$";

# A mariadb client that locks the rows of @ids and holds them for $seconds; returns once it
# holds them.
sub hold_rows($seconds, @ids) {
    my $me = getpwuid($<) // 'root';
    my $in = join ', ', map { "UNHEX('" . hex_of($_) . "')" } @ids;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        # Its own end (KILL CONNECTION) makes it print an error: not for the TAP stream.
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        delete $ENV{MYSQL_PWD};
        { exec { 'mariadb' } 'mariadb', '--no-defaults', '--protocol=socket', "--socket=$ENV{LEADLISTS_DB_SOCKET}",
          "--user=$me", $ENV{LEADLISTS_DB_NAME}, '-e',
          "BEGIN; SELECT COUNT(*) FROM leadlists WHERE id IN ($in) FOR UPDATE; SELECT SLEEP($seconds), '$LOCK_MARK'; COMMIT" };
        POSIX::_exit(127);
    }
    $locker = $pid;
    return wait_for(5, sub { locker_connection() });
}

sub locker_connection() {
    return sql_value_root("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"
                          . " AND INFO LIKE '%$LOCK_MARK%' AND STATE = 'User sleep'");
}

# Ends the locking session (KILL releases its locks at once) and reaps the client.
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
    my @cases = grep { $_->{op} =~ /^(patch|add-members|add-users)$/ } @CHANGES;
    my $hold = 3 * $LOCK_TIMEOUT + 4;
    my @lists = map { new_list(personIds => fresh_ids(20)) } @cases;
    my @reqs = map { [ $cases[$_]{request}->($lists[$_]) ] } 0 .. $#cases;
    my @before = map { list_state($_->{id}) } @lists;
    ok(hold_rows($hold, map { $_->{id} } @lists), "another session locks the rows of " . scalar(@lists) . " lists for $hold s");
    my $mark = worker_log_mark();
    my @got = race(map { my $req = $_->[0]; sub { api(%$req, token => $token, timeout => 40) } } @reqs);
    release_lock();
    for my $i (0 .. $#cases) {
        my $name = "$cases[$i]{op}, the list row locked for $hold s (3 x db_lock_timeout and more)";
        my $r = $got[$i];
        unavailable_ok($r, $name);
        cmp_ok($r->{elapsed}, '<', within($REQUEST_TIMEOUT + 1), "$name: answered within request_timeout + 1 s")
          or diag("took $r->{elapsed} s");
        cmp_ok($r->{elapsed}, '>=', $LOCK_TIMEOUT, "$name: the worker did wait for the lock");
        diag(sprintf '%s: %s after %.2f s', $name, $r->{status}, $r->{elapsed});
        my @log = log_of($mark, header($r, 'x-request-id') // '-');
        ok(scalar(grep { /\(1205\)/ } @log) >= 1 && scalar(grep { /retrying/ } @log) >= 1,
           "$name: the worker log shows the lock wait timeouts and the retries") or diag(join "\n", @log);
        list_unchanged_ok($lists[$i]{id}, $before[$i], "$name: nothing written");
    }

    $hold = $LOCK_TIMEOUT / 2;
    @lists = map { new_list(personIds => fresh_ids(20)) } @cases;
    @reqs = map { [ $cases[$_]{request}->($lists[$_]) ] } 0 .. $#cases;
    ok(hold_rows($hold, map { $_->{id} } @lists), "another session locks the rows of " . scalar(@lists) . " lists for $hold s");
    $mark = worker_log_mark();
    @got = race(map { my $req = $_->[0]; sub { api(%$req, token => $token, timeout => 40) } } @reqs);
    release_lock();
    for my $i (0 .. $#cases) {
        my $name = "$cases[$i]{op}, the list row locked for $hold s (less than db_lock_timeout)";
        my $r = $got[$i];
        is($r->{status}, 200, "$name: 200 once the lock is free") or diag(describe($r));
        diag(sprintf '%s: %s after %.2f s', $name, $r->{status}, $r->{elapsed});
        cmp_ok($r->{elapsed}, '<', within($LOCK_TIMEOUT + 1), "$name: answered without a retry's delay");
        my @log = log_of($mark, header($r, 'x-request-id') // '-');
        is(scalar(grep { /\(1205\)/ } @log), 0, "$name: no lock wait timeout") or diag(join "\n", @log);
        my $after = read_list($lists[$i]{id});
        ok($reqs[$i][1]->($after) && ($after->{version} // 0) == 2, "$name: the change is stored, version 2")
          or diag('stored: ' . json_text(list_row($lists[$i]{id})));
    }
}

# --- 3. mariadbd SIGKILLed under a stream of changes -----------------------------------------------
# Each client owns two lists of 2,000 ids and, one request at a time, adds 50 new ids to one of
# them, or PATCHes it (four in five requests are adds). A PATCH sets name, icpId and endDate
# from one number, so that a PATCH stored in part would show.

my $clients   = 2 * $workers;
my $BASE_TIME = 1735689600;    # 2025-01-01T00:00:00Z

sub patch_body($list_tag, $n) {
    return { name => "$list_tag-p$n", icpId => sprintf('00000000-0000-4000-8000-%012d', $n),
             endDate => POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($BASE_TIME + 60 * $n)) };
}

# The number a stored (name, icpId, endDate) came from; undef for the values of the create; 'mixed'
# when they disagree.
sub patch_number($name, $icp, $end) {
    my @n = ($name =~ /-p(\d+)\z/ ? $1 + 0 : undef,
             ($icp // '') =~ /^000000000000400080000*(\d+)\z/ ? $1 + 0 : undef,
             ($end // '') =~ /^(2025|2026)-(\d+)-(\d+) (\d+):(\d+):(\d+)$/
               ? (timegm($6, $5, $4, $3, $2 - 1, $1) - $BASE_TIME) / 60 : undef);
    return undef if !grep { defined } @n;
    return 'mixed' if grep { !defined || $_ != $n[0] } @n;
    return $n[0];
}

# SIGKILLs mariadbd as soon as its process list (polled through one client session) shows a
# worker's COMMIT running, so that a commit loses its answer; after $seconds without one, at
# once. True when the kill was timed on a COMMIT.
sub kill_at_commit($dbpid, $seconds) {
    my $me = getpwuid($<) // 'root';
    local $ENV{MYSQL_PWD};
    delete $ENV{MYSQL_PWD};
    local $SIG{PIPE} = 'IGNORE';
    my ($out, $in);
    my $pid = eval {
        IPC::Open2::open2($out, $in, 'mariadb', '--no-defaults', '--protocol=socket', '-N', '-B', '--unbuffered',
                          "--socket=$ENV{LEADLISTS_DB_SOCKET}", "--user=$me");
    } or return (0 * kill('KILL', $dbpid), time);
    my $q = 'SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ' . sql_quote($ENV{LEADLISTS_DB_USER})
      . " AND INFO = 'COMMIT' AND STATE = 'Commit';\n";
    my $until = time + $seconds;
    my $seen = 0;
    while (!$seen && time < $until) {
        print {$in} $q;
        my $line = <$out> // last;
        $seen = $line =~ /^[1-9]/ ? 1 : 0;
    }
    kill 'KILL', $dbpid;
    my $t_kill = time;
    close $in;
    close $out;
    waitpid $pid, 0;
    return ($seen, $t_kill);
}

sub stream_client($c, $round, $lists) {
    open my $log, '>', "$tmp/round$round-client$c" or POSIX::_exit(1);
    $log->autoflush(1);
    my $seq = 0;
    my @sent = (0, 0);    # ids sent to each list: the most it can hold
    while (!-e "$tmp/stop-$round") {
        my $l = $seq % 2;
        my $list = $lists->[$l];
        my $n = ++$seq;
        my $patch = $n % 5 == 0 || 2000 + $sent[$l] + 50 > $MAX_MEMBERS;
        my ($kind, %req);
        if ($patch) {
            $kind = 'patch';
            %req = (method => 'PATCH', path => ROUTE . "/$list->{id}", body => patch_body($list->{tag}, $n));
        } else {
            $kind = 'add';
            $sent[$l] += 50;
            %req = (path => ROUTE . "/$list->{id}/add-members",
                    body => { personIds => [ map { sprintf 'k%d_%02d_%d_%06d_%02d', $round, $c, $l, $n, $_ } 1 .. 50 ] });
        }
        my $t0 = time;
        my $r = eval { api(%req, token => $token, timeout => 60) } // { status => 'died', content => "$@", headers => {} };
        my $j = ref $r->{json} eq 'HASH' ? $r->{json} : {};
        my %rec = (c => $c, list => $l, n => $n, kind => $kind, status => "$r->{status}", t0 => $t0, t1 => time,
                   code => ref $j->{error} eq 'HASH' ? $j->{error}{code} // '' : '', ctype => header($r, 'content-type') // '',
                   rid => header($r, 'x-request-id') // '', version => etag_version($r), count => $j->{memberCount},
                   added => ref $j->{added} eq 'ARRAY' ? scalar @{ $j->{added} } : undef);
        $rec{ids} = $req{body}{personIds} if $kind eq 'add';
        $rec{content} = substr($r->{content} // '', 0, 300) if $r->{status} ne '200';
        print {$log} $JSON->encode(\%rec), "\n";
        sleep 0.05 if $r->{status} ne '200';    # Retry-After, in short
    }
    close $log;
    POSIX::_exit(0);
}

# The stored list against the answers its client got. Returns the problems found and the
# counts of 503s that turned out to be stored.
sub reconcile_list($list, $recs, $row) {
    my @p;
    my %x = (stored_503 => 0, unstored_503 => 0);
    my $persons = eval { JSON::PP->new->utf8->decode($row->{person_ids}) } // [];
    push @p, 'person_count ' . $row->{person_count} . ' but ' . scalar(@$persons) . ' ids stored' if $row->{person_count} != @$persons;
    my @initial = @{ $list->{persons} };
    push @p, 'the first 2,000 ids are not the list\'s initial ones'
      if join(' ', @$persons[0 .. $#initial]) ne join(' ', @initial);
    my $pos = @initial;
    my ($applied, $patches_ok, @patches_after) = (0, 0);
    my $last_patch;    # the number of the last PATCH answered 200
    for my $r (@$recs) {
        if ($r->{kind} eq 'patch') {
            if ($r->{status} eq '200') {
                $patches_ok++;
                $last_patch = $r->{n};
                @patches_after = ();
            } else {
                push @patches_after, $r->{n};
            }
            next;
        }
        my @ids = @{ $r->{ids} };
        my @here = @$persons[ $pos .. ($pos + $#ids < $#$persons ? $pos + $#ids : $#$persons) ];
        my %mine = map { $_ => 1 } @ids;
        my $present = grep { $mine{$_} } @here;
        if ($r->{status} eq '200') {
            if ($present == @ids && join(' ', @here) eq join(' ', @ids)) {
                $pos += @ids;
                $applied++;
                push @p, "add n=$r->{n} (200): memberCount $r->{count}, but it was the list's member $pos"
                  if ($r->{count} // -1) != $pos;
            } else {
                push @p, "add n=$r->{n} answered 200, but only $present of its 50 ids are where it put them";
            }
        } elsif ($present == @ids && join(' ', @here) eq join(' ', @ids)) {
            $pos += @ids;
            $applied++;
            $x{stored_503}++;
        } elsif ($present) {
            push @p, "HALF-MERGED: add n=$r->{n} answered $r->{status}: $present of its 50 ids are stored";
        } else {
            $x{unstored_503}++;
        }
    }
    push @p, 'ids stored that no request sent (or out of order) from position ' . $pos . ': '
      . join(' ', @$persons[ $pos .. ($pos + 2 < $#$persons ? $pos + 2 : $#$persons) ]) if $pos != @$persons;
    my $n = patch_number($row->{name}, $row->{icp}, $row->{end_date});
    if (defined $n && $n eq 'mixed') {
        push @p, "HALF-APPLIED PATCH: name '$row->{name}', icpId $row->{icp}, endDate $row->{end_date} come from different PATCHes";
    } elsif (!(defined $n ? (defined $last_patch && $n == $last_patch) || grep({ $_ == $n } @patches_after) : !defined $last_patch)) {
        push @p, 'the stored PATCH is ' . ($n // 'none') . ', but the last answered 200 is ' . ($last_patch // 'none')
          . ' and the 503s after it are [' . join(',', @patches_after) . ']';
    }
    my $extra = $row->{version} - 1 - $applied - $patches_ok;
    my $unclear_patches = grep { $_->{kind} eq 'patch' && $_->{status} ne '200' } @$recs;
    push @p, "version $row->{version}: $applied adds and $patches_ok PATCHes stored leave $extra for $unclear_patches PATCHes answered 503"
      if $extra < 0 || $extra > $unclear_patches || (defined $n && !(defined $last_patch && $n == $last_patch) && $extra < 1);
    push @p, "change records for versions [$row->{changes}], want 2..$row->{version}"
      if $row->{changes} ne join(',', 2 .. $row->{version});
    $x{applied} = $applied;
    return (\@p, \%x);
}

# LEADLISTS_LOAD_SECONDS shortens this part as it does t/81's: below 20, at most two rounds
# instead of three; below 6, none.
my $load_seconds = $ENV{LEADLISTS_LOAD_SECONDS} && $ENV{LEADLISTS_LOAD_SECONDS} =~ /^\d+$/ ? $ENV{LEADLISTS_LOAD_SECONDS} : 20;
my $rounds_max = $load_seconds < 6 ? 0 : $load_seconds < 20 ? 2 : 3;
diag('LEADLISTS_LOAD_SECONDS is below 6: mariadbd is not killed') if !$rounds_max;
my @pids0 = pool_worker_pids();
my ($seen_lookup, $round) = (0, 0);
while ($round < $rounds_max && !$seen_lookup) {
    $round++;
    my $label = "database killed ($round)";
    my @lists;
    for my $c (1 .. $clients) {
        for my $l (0, 1) {
            my $ids = [ map { sprintf 'i%d_%02d_%d_%04d', $round, $c, $l, $_ } 1 .. 2000 ];
            my $list = new_list(personIds => $ids);
            $list->{tag} = "$run-r$round-c$c-l$l";
            $list->{persons} = $ids;
            push @lists, $list;
        }
    }
    my $mark = worker_log_mark();
    my $dbpid = db_pid();
    for my $c (1 .. $clients) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM);
            stream_client($c, $round, [ @lists[ 2 * ($c - 1), 2 * ($c - 1) + 1 ] ]);
        }
        push @clients, $pid;
    }
    my $t0 = time;
    sleep 2;
    $db_killed = 1;
    my ($timed, $t_kill) = kill_at_commit($dbpid, 3);
    ok(wait_for(10, sub { !pid_alive($dbpid) }), "$label: SIGKILL mariadbd ($dbpid) under the stream"
                                                 . ($timed ? ', as a COMMIT of the workers was running' : ''));
    sleep 1;    # a moment without a database
    my $t_start = time;
    is(stack_script('db', 'start'), 0, "$label: script/db start succeeds");
    my $t_ready = time;
    $db_killed = 0 if db_pid();
    sleep 4;
    if (open my $fh, '>', "$tmp/stop-$round") { close $fh }
    waitpid $_, 0 for @clients;
    @clients = ();
    my $t_end = time;

    my @recs;
    for my $c (1 .. $clients) {
        open my $fh, '<', "$tmp/round$round-client$c" or next;
        push @recs, map { $JSON->decode($_) } <$fh>;
        close $fh;
    }
    my %st;
    $st{ "$_->{kind} $_->{status}" . ($_->{status} ne '200' ? " $_->{code}" : '') }++ for @recs;
    my ($slow) = sort { $b <=> $a } map { $_->{t1} - $_->{t0} } @recs;
    diag(sprintf '%s: killed at +%.1f s, down %.1f s (script/db start took %.1f s), stream of %.1f s: %d requests '
                 . '(the slowest answered in %.2f s); %s',
                 $label, $t_kill - $t0, $t_ready - $t_kill, $t_ready - $t_start, $t_end - $t0, scalar @recs, $slow // 0,
                 join(', ', map { "$_ x $st{$_}" } sort keys %st));
    my @bad = grep { !($_->{status} eq '200' || ($_->{status} eq '503' && $_->{code} eq 'SERVICE_UNAVAILABLE' && $_->{ctype} eq $JSON_CT)) } @recs;
    is(scalar @bad, 0, "$label: every answer is 200 or the JSON 503 (no 500, no nginx 502/504)")
      or diag(join "\n", map { "$_->{kind} $_->{status} $_->{code} ($_->{ctype}): " . ($_->{content} // '') } @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
    cmp_ok(scalar(grep { $_->{status} eq '503' } @recs), '>', 0, "$label: the requests while it was down got 503");
    my ($slowest) = sort { $b <=> $a } map { $_->{t1} - $_->{t0} } @recs;
    cmp_ok($slowest // 0, '<', within($REQUEST_TIMEOUT + 1), "$label: every answer within request_timeout + 1 s")
      or diag("the slowest took $slowest s");
    my @late_fail = grep { $_->{status} ne '200' && $_->{t0} > $t_ready + within(2) } @recs;
    is(scalar @late_fail, 0, "$label: every request sent 2 s after the database was ready got 200")
      or diag(scalar(@late_fail) . ' did not, e.g. ' . $JSON->encode($late_fail[0]));

    # The stored lists against the answers.
    my $fmt = "DATE_FORMAT(l.end_date, '%Y-%m-%d %H:%i:%s')";
    my %row = map { $_->[0] => { person_ids => $_->[1], person_count => $_->[2], version => $_->[3], name => $_->[4],
                                 icp => $_->[5], end_date => $_->[6], changes => $_->[7] // '' } }
      sql("SELECT LOWER(HEX(l.id)), l.person_ids, l.person_count, l.version, l.name, LOWER(HEX(l.icp_id)), $fmt,"
          . ' (SELECT GROUP_CONCAT(c.version ORDER BY c.version) FROM leadlist_changes c WHERE c.leadlist_id = l.id)'
          . ' FROM leadlists l WHERE l.id IN ('
          . join(', ', map { "UNHEX('" . hex_of($_->{id}) . "')" } @lists) . ')');
    my (@problems, %tot);
    my @get_differs;
    for my $i (0 .. $#lists) {
        my $list = $lists[$i];
        my $c = int($i / 2) + 1;
        my $l = $i % 2;
        my @mine = sort { $a->{n} <=> $b->{n} } grep { $_->{c} == $c && $_->{list} == $l } @recs;
        my $row = $row{ hex_of($list->{id}) };
        if (!$row) {
            push @problems, "$list->{id}: no row";
            next;
        }
        my ($p, $x) = reconcile_list($list, \@mine, $row);
        push @problems, map { "$list->{id}: $_" } @$p;
        $tot{$_} += $x->{$_} for keys %$x;
        my $got = read_list($list->{id});
        push @get_differs, $list->{id}
          if ($got->{version} // -1) != $row->{version}
          || join(' ', @{ $got->{personIds} // [] }) ne join(' ', @{ JSON::PP->new->utf8->decode($row->{person_ids}) });
    }
    diag(sprintf '%s: %d lists; %d adds stored, of which %d had been answered 503; %d adds answered 503 not stored',
                 $label, scalar @lists, $tot{applied} // 0, $tot{stored_503} // 0, $tot{unstored_503} // 0);
    is(scalar @problems, 0, "$label: each list holds exactly the ids of its 200s and, for each 503, all of that request's ids or none, in order; each PATCH whole or not at all")
      or diag(join "\n", @problems[0 .. ($#problems < 9 ? $#problems : 9)]);
    is(scalar @get_differs, 0, "$label: each list reads back (GET) as stored") or diag("differ: @get_differs");

    # The workers' account of the commits that lost their answer.
    my @log = worker_log_since($mark);
    my %rid_status = map { $_->{rid} => $_->{status} } grep { $_->{rid} ne '' } @recs;
    my @maybe   = grep { /it may have been committed/ } @log;
    my @lookups = grep { /finding out whether list [0-9a-f-]{36} was stored/ } @log;
    my @stored  = grep { /: list [0-9a-f-]{36} was stored \(learnt/ } @log;
    my @not     = grep { /: list [0-9a-f-]{36} was not stored \(learnt/ } @log;
    my @unknown = grep { /outcome unknown/ } @log;
    diag(sprintf '%s: %d commits lost their answer; %d lookups ("finding out whether list ... was stored"): '
                 . '%d stored, %d not stored, %d "outcome unknown"', $label, scalar @maybe, scalar @lookups,
                 scalar @stored, scalar @not, scalar @unknown);
    my %looked = map { /^(\S+) / ? ($1 => 1) : () } @lookups;
    my @unlooked = grep { /^(\S+) / && !$looked{$1} } @maybe;
    is(scalar @unlooked, 0, "$label: every commit that lost its answer was looked up before the answer")
      or diag(join "\n", @unlooked[0 .. ($#unlooked < 4 ? $#unlooked : 4)]);
    my @stored_not_200 = grep { /^(\S+) / && ($rid_status{$1} // '') ne '200' } @stored;
    is(scalar @stored_not_200, 0, "$label: a change found stored was answered 200")
      or diag(join "\n", map { /^(\S+) / ? "$_ -> answered " . ($rid_status{$1} // 'not seen') : $_ } @stored_not_200[0 .. ($#stored_not_200 < 4 ? $#stored_not_200 : 4)]);
  SKIP: {
        skip "$label: the database was down for longer than the request deadline", 1
          if $t_ready - $t_kill >= $REQUEST_TIMEOUT - 1;
        is(scalar @unknown, 0, "$label: no outcome left unknown (the database was back within the deadline)")
          or diag(join "\n", @unknown[0 .. ($#unknown < 4 ? $#unknown : 4)]);
    }
    $seen_lookup += @lookups;
}
diag($seen_lookup ? "a commit in flight at a kill was looked up ($round rounds)"
                  : "no commit was in flight at the kill in $round rounds: the lookup was not exercised") if $rounds_max;
is_deeply([ pool_worker_pids() ], \@pids0, 'the same workers throughout the kills (none died)');
{
    my $list = new_list();
    my $r = api(path => ROUTE . "/$list->{id}/add-members", token => $token, body => { personIds => fresh_ids(50) });
    is($r->{status}, 200, 'after the kills: add-members gets 200') or diag(describe($r));
}

done_testing();
