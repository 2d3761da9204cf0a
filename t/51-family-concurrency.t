#!/usr/bin/perl
# Concurrent changes to one list are serialized and none is lost: 50 parallel add-members all
# land, each seeing the list as the one before left it; of 20 PATCHes with the same If-Match
# exactly one wins; a DELETE racing changes leaves no list, no users and no change records
# behind, and no change is answered 200 after the delete; paging through an org's lists while
# others create and delete returns every list that existed throughout, each once. No answer is
# ever a 500: only 200/201/204/404/412, or a JSON 503 when the database is slow.
use v5.36;
use Test::More;
use POSIX ();
use File::Temp ();
use Time::HiRes ();
use Leadlists::Test;

need_stack();

my $tag     = $$ . '_' . time % 100000;
my $org     = "org_t51_$tag";
my $creator = "user_t51_$tag";
my $token   = mint_session(user => $creator, org => $org);
my $admin   = mint_session(user => "admin_t51_$tag", org => $org, role => 'admin');

my @pids0 = pool_worker_pids();
my %ALLOWED = map { $_ => 1 } qw(200 201 204 404 412);
my @unexpected;    # answers outside the allowed set

# Keeps every answer that is not one the contract allows here (503 only as the JSON envelope).
sub note_answer($r, $what) {
    my $s = $r->{status} // 'none';
    my $json_503 = $s eq '503' && ($r->{ct} // header($r, 'content-type') // '') eq 'application/json; charset=utf-8';
    push @unexpected, "$what: $s " . substr($r->{content} // '', 0, 200) if !$ALLOWED{$s} && !$json_503;
    return $r;
}

# The database was too slow for this one: allowed, and it wrote nothing.
sub busy($r) {
    return ($r->{status} // '') eq '503' && ($r->{ct} // '') eq 'application/json; charset=utf-8';
}

sub new_list($tok = $token) {
    my ($b, $r) = create_list_ok($tok, $creator, 'set-up: create', name => uniq_name('t51'));
    note_answer($r, 'create');
    return $b->{id};
}

sub statuses(@got) {
    my %n;
    $n{ $_->{status} }++ for @got;
    return join ', ', map { "$_ x $n{$_}" } sort keys %n;
}

# --- 50 parallel add-members of distinct ids ---------------------------------------------------------

{
    my ($N, $K) = (50, 20);
    my $id = new_list();
    my @sets = map { my $i = $_; [ map { "lead_t51_${i}_$_" } 1 .. $K ] } 1 .. $N;
    my $t0 = Time::HiRes::time();
    my @got = race(map { my $ids = $_; { run => sub {
        api(path => ROUTE . "/$id/add-members", token => $token, body => { personIds => $ids }, timeout => 60) } } } @sets);
    my $took = Time::HiRes::time() - $t0;
    note_answer($_, 'parallel add-members') for @got;
    # A 503 wrote nothing: sent again alone, it must add all its ids (none already present).
    my $busy = 0;
    for my $i (grep { busy($got[$_]) } 0 .. $N - 1) {
        $busy++;
        ($got[$i]) = race({ run => sub {
            api(path => ROUTE . "/$id/add-members", token => $token, body => { personIds => $sets[$i] }, timeout => 60) } });
        note_answer($got[$i], 'add-members sent again');
    }
    is(scalar(grep { $_->{status} eq '200' } @got), $N, "$N parallel add-members: $N answers of 200"
       . ($busy ? " ($busy after a 503 and a retry)" : ''))
      or diag('statuses: ' . statuses(@got));
    my @wrong = grep { ref $got[$_]{json} ne 'HASH' || !eq_array($got[$_]{json}{added}, $sets[$_])
                       || !eq_array($got[$_]{json}{alreadyPresent}, []) } 0 .. $N - 1;
    is(scalar @wrong, 0, "each answer added exactly its $K ids, none already present")
      or diag("e.g. request $wrong[0]: " . substr($got[ $wrong[0] ]{content}, 0, 300));
    # Serialized: each change saw the list as the one before it left it.
    is_deeply([ sort { $a <=> $b } map { $_->{json}{memberCount} // -1 } @got ],
              [ map { 2 + $K * $_ } 1 .. $N ], 'the answers\' memberCounts are 22, 42, ... ' . (2 + $K * $N) . ', each once');
    is_deeply([ sort { $a <=> $b } map { etag_version($_) // -1 } @got ], [ 2 .. $N + 1 ],
              'the answers\' ETags are "2" ... "' . ($N + 1) . '", each once');

    my $r = note_answer(api(method => 'GET', path => ROUTE . "/$id", token => $token), 'GET');
    my @members = @{ $r->{json}{personIds} // [] };
    is(scalar @members, 2 + $N * $K, 'the list holds ' . (2 + $N * $K) . ' ids');
    is_deeply([ sort @members ], [ sort 'lead_abc123', 'lead_def456', map { @$_ } @sets ],
              "all $N x $K ids and the 2 it was created with are present, each once");
    my %pos;
    @pos{@members} = 0 .. $#members;
    my @torn = grep { my $s = $sets[$_]; grep { ($pos{ $s->[$_] } // -1) != ($pos{ $s->[0] } // -1) + $_ } 0 .. $#$s } 0 .. $N - 1;
    is(scalar @torn, 0, "each add's $K ids stand together, in request order") or diag("torn: @torn");
    is(header($r, 'etag'), '"' . ($N + 1) . '"', 'GET: ETag "' . ($N + 1) . '" (1 + 50 changes)');
    my ($row) = sql("SELECT version, person_count FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')");
    is_deeply($row, [ $N + 1, 2 + $N * $K ], 'stored: version ' . ($N + 1) . ', person_count ' . (2 + $N * $K));
    is_deeply([ map { $_->[0] } sql("SELECT version FROM leadlist_changes WHERE leadlist_id = UNHEX('"
                                    . hex_of($id) . "') ORDER BY version") ], [ 2 .. $N + 1 ],
              "one change record per add, versions 2 ... " . ($N + 1));
    diag(sprintf '%d parallel add-members took %.2f s', $N, $took) if $ENV{TEST_VERBOSE};
}

# --- 20 parallel PATCHes with the same If-Match -------------------------------------------------------

for my $round (1 .. 3) {
    my $N = 20;
    my $id = new_list();
    my @names = map { "t51 patch $tag round $round writer $_" } 1 .. $N;
    my @got = race(map { my $name = $_; { run => sub {
        api(method => 'PATCH', path => ROUTE . "/$id", token => $token, headers => { 'If-Match' => '"1"' },
            body => { name => $name }, timeout => 60) } } } @names);
    note_answer($_, 'parallel PATCH') for @got;
    my @won = grep { $got[$_]{status} eq '200' } 0 .. $N - 1;
    my @lost = grep { $got[$_]{status} eq '412' } 0 .. $N - 1;
    my $busy = grep { busy($_) } @got;
    is(scalar @won, 1, "round $round: exactly one of $N PATCHes with If-Match \"1\" is 200")
      or diag('statuses: ' . statuses(@got));
    is(scalar @lost, $N - 1 - $busy, "round $round: the other " . ($N - 1) . ' are 412'
       . ($busy ? " (or, $busy of them, a JSON 503)" : ''));
    my @bad = grep { ($_->{json}{error}{code} // '') ne 'PRECONDITION_FAILED' || $_->{etag} ne '"2"' } @got[@lost];
    is(scalar @bad, 0, "round $round: each 412 is PRECONDITION_FAILED with the current ETag \"2\"")
      or diag(substr($bad[0]{content}, 0, 300) . " etag $bad[0]{etag}");
    next if @won != 1;
    my $winner = $names[ $won[0] ];
    is($got[ $won[0] ]{json}{name}, $winner, "round $round: the 200 carries the winner's name");
    is($got[ $won[0] ]{etag}, '"2"', "round $round: the 200 has ETag \"2\"");
    my $r = note_answer(api(method => 'GET', path => ROUTE . "/$id", token => $token), 'GET');
    is($r->{json}{name}, $winner, "round $round: the stored name is the winner's");
    is(header($r, 'etag'), '"2"', "round $round: version 2: only one change was made");
    is(list_row_counts($id)->{leadlist_changes}, 1, "round $round: one change record");
}

# --- DELETE racing add-members and add-users ------------------------------------------------------------

{
    my ($adds_ok, $adds_gone) = (0, 0);
    for my $round (1 .. 6) {
        my $id = new_list();
        my $s = note_answer(api(path => ROUTE . "/$id/add-users", token => $token,
                                body => { userIds => ["user_t51_seed_$tag"] }), 'add-users');
        is($s->{status}, 200, "round $round: shared, so the list has a leadlist_users row") or diag(describe($s));
        # Ten changes released 8 ms apart (every third shares the list, the others add members),
        # and two DELETEs, by the creator and by an admin, somewhere among them.
        my @reqs;
        for my $i (0 .. 9) {
            my ($op, $body) = $i % 3 == 0 ? ('add-users', { userIds => ["user_t51_r${round}_$i"] })
                                          : ('add-members', { personIds => ["lead_r${round}_$i"] });
            push @reqs, { delay => 0.008 * $i,
                          run => sub { api(path => ROUTE . "/$id/$op", token => $token, body => $body, timeout => 60) } };
        }
        for my $who ($token, $admin) {
            push @reqs, { delay => 0.005 * $round,
                          run => sub { api(method => 'DELETE', path => ROUTE . "/$id", token => $who, timeout => 60) } };
        }
        my @got = race(@reqs);
        note_answer($_, 'add racing delete') for @got;
        my @adds = @got[0 .. 9];
        my @dels = @got[10, 11];
        is(join(' ', sort map { $_->{status} } @dels), '204 404', "round $round: of two DELETEs one is 204, the other 404")
          or diag('statuses: ' . statuses(@dels));
        my @odd = grep { $_->{status} ne '200' && $_->{status} ne '404' && !busy($_) } @adds;
        is(scalar @odd, 0, "round $round: each change is 200 or 404 (or a JSON 503)") or diag('statuses: ' . statuses(@adds));
        my @gone = grep { $_->{status} eq '404' } @adds;
        my @bad404 = grep { ($_->{json}{error}{message} // '') ne 'Lead list not found' } @gone;
        is(scalar @bad404, 0, "round $round: each 404 is 'Lead list not found'");
        my ($deleted) = grep { $_->{status} eq '204' } @dels;
        if ($deleted) {
            # A change answered 200 was made before the delete: it cannot have begun after the
            # delete was answered.
            my @late = grep { $_->{status} eq '200' && $_->{t0} > $deleted->{t1} } @adds;
            is(scalar @late, 0, "round $round: no change begun after the delete's 204 is answered 200");
            # ... and a 404 cannot come from a request answered before the delete began.
            my @early = grep { $_->{status} eq '404' && $_->{t1} < $deleted->{t0} } @adds;
            is(scalar @early, 0, "round $round: no change answered before the delete began is a 404");
        }
        $adds_ok += grep { $_->{status} eq '200' } @adds;
        $adds_gone += @gone;
        my $r = note_answer(api(method => 'GET', path => ROUTE . "/$id", token => $token), 'GET');
        error_ok($r, 404, 'NOT_FOUND', "round $round: after the race the list is gone");
        is_deeply(list_row_counts($id), { leadlists => 0, leadlist_users => 0, leadlist_changes => 0 },
                  "round $round: no row of the list, its users or its changes remains");
        $r = note_answer(api(path => ROUTE . "/$id/add-members", token => $token, body => { personIds => ['lead_after'] }), 'add after');
        error_ok($r, 404, 'NOT_FOUND', "round $round: an add after the race is 404");
        is_deeply(list_row_counts($id), { leadlists => 0, leadlist_users => 0, leadlist_changes => 0 },
                  "round $round: and brings nothing back");
    }
    cmp_ok($adds_ok, '>', 0, "the races had changes that came before the delete ($adds_ok)");
    cmp_ok($adds_gone, '>', 0, "the races had changes that came after the delete ($adds_gone)");
}

# --- paging while others create and delete --------------------------------------------------------------

{
    # An org of its own, so that every list it holds is either a stable one or the churn's.
    my $porg = "org_t51p_$tag";
    my $ptoken = mint_session(user => $creator, org => $porg);
    my $padmin = mint_session(user => "admin_t51_$tag", org => $porg, role => 'admin');
    my $STABLE = 40;
    my %stable = map { new_list($ptoken) => 1 } 1 .. $STABLE;
    is(scalar keys %stable, $STABLE, "$STABLE lists that exist throughout");
    my $dir = File::Temp::tempdir('leadlists-t51-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    # The churn runs until the walker has walked for 4 s and at least 3 times (slow workers
    # walk slower), within a bound of its own.
    my $t_begin = Time::HiRes::time();
    my $give_up = $t_begin + within(30);
    my @churn;
    for my $c (1 .. 8) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open my $out, '>', "$dir/churn-$c" or POSIX::_exit(1);
            $out->autoflush(1);
            my @mine;
            for my $n (1 .. 2000) {
                last if -e "$dir/stop" || Time::HiRes::time() > $give_up;
                my $t0 = Time::HiRes::time();
                my $r = api(token => $ptoken, body => valid_body(name => "t51 churn $tag $c-$n"), timeout => 60);
                my $id = ref $r->{json} eq 'HASH' ? $r->{json}{id} // '' : '';
                print {$out} join("\t", 'create', $r->{status}, $id, $t0, Time::HiRes::time(), header($r, 'content-type') // ''), "\n";
                push @mine, $id if $r->{status} == 201;
                next if @mine <= 2;
                my $old = shift @mine;
                $t0 = Time::HiRes::time();
                $r = api(method => 'DELETE', path => ROUTE . "/$old", token => $ptoken, timeout => 60);
                print {$out} join("\t", 'delete', $r->{status}, $old, $t0, Time::HiRes::time(), header($r, 'content-type') // ''), "\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @churn, $pid;
    }

    # Walks every page while the churn runs, alternating the admin's view and the creator's.
    my @walks;
    while (Time::HiRes::time() < $t_begin + 4 || @walks < 3) {
        last if Time::HiRes::time() > $give_up;
        my $who = @walks % 2 ? 'creator' : 'admin';
        my %w = (who => $who, pages => [], t_start => Time::HiRes::time());
        my $cursor;
        for my $p (1 .. 200) {
            my $r = note_answer(api(method => 'GET', path => ROUTE . '?limit=5' . (defined $cursor ? "&cursor=$cursor" : ''),
                                    token => $who eq 'admin' ? $padmin : $ptoken, timeout => 60), 'page');
            if ($r->{status} != 200 || ref $r->{json} ne 'HASH') {
                $w{error} = describe($r);
                last;
            }
            push @{ $w{pages} }, { t1 => Time::HiRes::time(), ids => [ map { $_->{id} } @{ $r->{json}{leadlists} } ] };
            $cursor = $r->{json}{nextCursor};
            last if !defined $cursor;
        }
        $w{t_end} = Time::HiRes::time();
        push @walks, \%w;
    }
    open my $stop, '>', "$dir/stop" or die "stop file: $!";
    close $stop;
    waitpid $_, 0 for @churn;

    my (%created_at, @churn_log);
    for my $c (1 .. 8) {
        open my $fh, '<', "$dir/churn-$c" or next;
        while (my $line = <$fh>) {
            chomp $line;
            my %e;
            @e{qw(op status id t0 t1 ct)} = split /\t/, $line, -1;
            push @churn_log, \%e;
            note_answer({ status => $e{status}, ct => $e{ct} }, "churn $e{op}");
            $created_at{ $e{id} } = $e{t0} if $e{op} eq 'create' && $e{status} eq '201';
        }
        close $fh;
    }
    my $creates = grep { $_->{op} eq 'create' && $_->{status} eq '201' } @churn_log;
    my $deletes = grep { $_->{op} eq 'delete' && $_->{status} eq '204' } @churn_log;
    cmp_ok($creates, '>', 20, "the churn created lists ($creates)");
    cmp_ok($deletes, '>', 10, "the churn deleted lists ($deletes)");
    my $churn_end = 0;
    $churn_end = $_->{t1} > $churn_end ? $_->{t1} : $churn_end for @churn_log;
    my @during = grep { $_->{t_end} < $churn_end } @walks;
    cmp_ok(scalar @during, '>=', 2, 'at least two walks ran while the churn went on (' . scalar(@during) . ')');

    my @problems;
    for my $i (0 .. $#walks) {
        my $w = $walks[$i];
        my $label = "walk $i ($w->{who})";
        push @problems, "$label: $w->{error}" if $w->{error};
        my @ids = map { @{ $_->{ids} } } @{ $w->{pages} };
        my %seen;
        my @twice = grep { $seen{$_}++ } @ids;
        push @problems, "$label: listed twice: @twice" if @twice;
        my @missed = grep { !$seen{$_} } sort keys %stable;
        push @problems, "$label: missed lists that existed throughout: @missed" if @missed;
        my @order = grep { $ids[$_ - 1] le $ids[$_] } 1 .. $#ids;
        push @problems, "$label: not newest first at @order" if @order;
        my @stranger = grep { !$stable{$_} && !exists $created_at{$_} } @ids;
        push @problems, "$label: lists that are neither the stable ones nor the churn's: @stranger" if @stranger;
        # A list created after the walk began never shows on a later page.
        my $t_first = $w->{pages}[0]{t1} // $w->{t_start};
        my @late = grep { exists $created_at{$_} && $created_at{$_} > $t_first }
          map { @{ $_->{ids} } } @{ $w->{pages} }[1 .. $#{ $w->{pages} }];
        push @problems, "$label: lists created after its first page on a later page: @late" if @late;
    }
    is(scalar @problems, 0, scalar(@walks) . ' walks: each list once, newest first, none that existed throughout missed,'
       . ' none created after the walk began on a later page') or diag(join "\n", @problems[0 .. ($#problems < 9 ? $#problems : 9)]);
}

is_deeply([ pool_worker_pids() ], \@pids0, 'the same workers served throughout');
is(scalar @unexpected, 0, 'every answer was 200/201/204/404/412 (or a JSON 503)')
  or diag(join "\n", @unexpected[0 .. ($#unexpected < 9 ? $#unexpected : 9)]);

done_testing();
