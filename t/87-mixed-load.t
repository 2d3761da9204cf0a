#!/usr/bin/perl
# A mixed load with reconciliation: 2 x workers clients send creates, gets, page walks,
# PATCHes, add-members, remove-members and deletes for LEADLISTS_LOAD_SECONDS (default 20)
# seconds, and one worker is SIGKILLed mid-run. Each client is a user of its own and changes
# only the lists it created, one request at a time, so the answers it got say, in order, what
# each of its lists must hold: it keeps a model of each (name, person ids in order, version,
# updatedAt) from its 200/201/204 answers and checks every answer against it.
#  - a change whose answer was lost (the killed worker's request: nginx's JSON 502) is
#    resolved by reading the list back: the stored list is the model before the change or
#    the model after it, never a half-merged member array;
#  - at the end every list reads back (GET) and is stored (its row, its leadlist_changes
#    versions) exactly as the model says; a deleted list is 404 and has no rows left;
#  - never a 500; only the request in flight at the SIGKILL may fail, with the JSON 502; the
#    pool replaces the worker within 1 s.
use v5.36;
use Test::More;
use Time::HiRes qw(time sleep);
use JSON::PP ();
use File::Temp ();
use POSIX ();
use List::Util qw(shuffle);
use Leadlists::Test;

need_stack();

plan skip_all => 'no running pool' if !pool_pid();

my $workers = config_value('workers', 8);
my $clients = 2 * $workers;
my $seconds = $ENV{LEADLISTS_LOAD_SECONDS} && $ENV{LEADLISTS_LOAD_SECONDS} =~ /^\d+$/ ? $ENV{LEADLISTS_LOAD_SECONDS} : 20;
plan skip_all => 'LEADLISTS_LOAD_SECONDS is below 6' if $seconds < 6;

my $run  = "t87-$$-" . int(time);
my $org  = "org_t87_$$";
my $JSON = JSON::PP->new->utf8->canonical;
my $dir  = File::Temp->newdir('t87-XXXXXX', TMPDIR => 1);
my $JSON_CT = 'application/json; charset=utf-8';

my %token = map { $_ => mint_session(user => "user_t87_${$}_$_", org => $org) } 1 .. $clients;

# --- clean-up, whatever happens ---------------------------------------------------------------

my $parent = $$;
my @kids;
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    if (defined $parent && $$ == $parent) {
        my $rc = $?;
        # Clients still running (the test died mid-run) are told to stop and reaped.
        if (@kids) {
            if (open my $fh, '>', "$dir/stop") { close $fh }
            waitpid $_, 0 for @kids;
        }
        # A pool that is not whole again by now is started again for the next tests.
        if (!wait_for(within(8), sub { pool_worker_pids() == $workers }, 0.1)) {
            diag('restarting the pool for the next tests');
            stack_script('server', '--restart-pool');
        }
        $? = $rc;
    }
}

# --- one client ---------------------------------------------------------------------------------
# Runs in a process of its own: requests until $stop_at, then reads every list it made back.
# Writes one JSON line per request to log-C (kind, status, times, and the problems found in
# the answer), and its models to model-C.

sub client($c, $stop_at) {
    my $token = $token{$c};
    my $user  = "user_t87_${parent}_$c";
    open my $log, '>', "$dir/log-$c" or POSIX::_exit(1);
    $log->autoflush(1);
    srand($parent * 100 + $c);
    my (%L, @order);    # id => model; ids in creation order
    my ($n_list, $n_person) = (0, 0);
    my $new_person = sub { sprintf 'p%02d_%d', $c, ++$n_person };

    my $call = sub ($kind, %a) {
        my $t0 = time;
        my $r = eval { api(%a, token => $token, timeout => 40) }
          // { status => 'died', content => "$@", headers => {} };
        $r->{t0} = $t0;
        $r->{t1} = time;
        $r->{kind} = $kind;
        return $r;
    };
    my $code = sub ($r) { ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{code} // '' : '' };
    # An answer that never came: the worker was killed under it (nginx's 502), or no answer at all.
    my $lost = sub ($r) { $r->{status} !~ /^\d{3}$/ || $r->{status} == 502 || $r->{status} == 504 || $r->{status} == 599 };
    my $record = sub ($r, %x) {
        my %rec = (c => $c, kind => $r->{kind}, status => "$r->{status}", code => $code->($r),
                   ctype => header($r, 'content-type') // '', t0 => $r->{t0}, t1 => $r->{t1},
                   problems => [], %x);
        $rec{content} = substr($r->{content} // '', 0, 300) if $r->{status} !~ /^(200|201|204|304)$/;
        print {$log} $JSON->encode(\%rec), "\n";
    };
    my $same = sub ($m, $s) {
        return $m->{name} eq $s->{name} && $m->{version} == $s->{version}
          && join("\x00", @{ $m->{persons} }) eq join("\x00", @{ $s->{persons} });
    };
    my $show = sub ($m) { $m ? "name '$m->{name}', version $m->{version}, persons [" . join(',', @{ $m->{persons} }) . ']' : 'deleted' };
    # The list as a GET answers it: {name, persons, version, updated}, undef for 404, or an
    # error string.
    my $read = sub ($id, $kind = 'resolve') {
        my $r;
        for my $try (1 .. 50) {
            $r = $call->($kind, method => 'GET', path => ROUTE . "/$id");
            last if !$lost->($r);
            sleep 0.2;
        }
        my $got = $r->{status} == 404 && $code->($r) eq 'NOT_FOUND' ? undef
                : $r->{status} == 200 && ref $r->{json} eq 'HASH'
                ? { name => $r->{json}{name}, persons => $r->{json}{personIds}, version => etag_version($r) // -1,
                    updated => $r->{json}{updatedAt} }
                : "$r->{status} " . $code->($r);
        return ($r, $got);
    };
    # After a lost change: the list read back is the model before or after it.
    my $resolve = sub ($r, $id, $before, $after) {
        # The killed worker's COMMIT may still be finishing in the server.
        sleep 0.3;
        my ($g, $got) = $read->($id);
        my @p;
        my $was;
        if (!defined $got) {
            $was = !$after ? 'after' : !$before ? 'before' : undef;
        } elsif (!ref $got) {
            push @p, "lost $r->{kind} of $id: reading it back gave $got";
        } else {
            $was = $after && $same->($after, $got) ? 'after' : $before && $same->($before, $got) ? 'before' : undef;
        }
        if (!defined $was && !@p) {
            push @p, "HALF-MERGED: lost $r->{kind} of $id: stored " . $show->($got) . '; before ' . $show->($before)
              . '; after ' . $show->($after);
        }
        $record->($g, id => $id, problems => \@p);
        if (!defined $got) {
            $L{$id}{deleted} = 1;
        } elsif (ref $got) {
            $L{$id}{$_} = $got->{$_} for qw(name persons version updated);
        }
        return $was // 'neither';
    };
    my $check = sub ($p, $what, $got, $want) {
        my $g = ref $got ? $JSON->encode($got) : $got // 'undef';
        my $w = ref $want ? $JSON->encode($want) : $want // 'undef';
        push @$p, "$what: got $g, want $w" if $g ne $w;
    };

    my %ops;
    $ops{create} = sub {
        my $name = sprintf '%s-c%02d-%04d', $run, $c, ++$n_list;
        my @persons = map { $new_person->() } 1 .. int(rand 6);
        my $body = valid_body(name => $name, personIds => [ @persons, @persons[0 .. (@persons ? 0 : -1)] ]);
        my $r = $call->('create', body => $body, headers => { 'Idempotency-Key' => $name });
        my (@p, %x);
        if ($lost->($r)) {
            # Its outcome through the key: a replay when it was committed, else a first create.
            my $first = $r;
            for my $try (1 .. 50) {
                sleep 0.2;
                $r = $call->('resolve', body => $body, headers => { 'Idempotency-Key' => $name });
                last if $r->{status} == 201;
            }
            $x{settled} = $r->{status} != 201 ? 'failed'
                        : (header($r, 'idempotent-replayed') // '') eq 'true' ? 'replayed: it had been stored'
                        : 'created by the retry: it had not been stored';
            $record->($first, name => $name, lost => 1, settled => $x{settled});
        }
        if ($r->{status} == 201 && ref $r->{json} eq 'HASH' && ($r->{json}{id} // '') =~ /^[0-9a-f-]{36}$/) {
            my $b = $r->{json};
            $check->(\@p, 'create: name', $b->{name}, $name);
            $check->(\@p, 'create: personIds', $b->{personIds}, \@persons);
            $check->(\@p, 'create: userIds', $b->{userIds}, [$user]);
            $check->(\@p, 'create: ETag', etag_version($r), 1);
            $L{ $b->{id} } = { name => $name, persons => \@persons, version => 1, updated => $b->{updatedAt} };
            push @order, $b->{id};
            $x{id} = $b->{id};
        } elsif ($r->{status} == 201) {
            push @p, 'create: 201 without a usable body';
        }
        $record->($r, name => $name, problems => \@p, %x);
    };
    my $pick = sub { my @live = grep { !$L{$_}{deleted} } @order; @live ? $live[ int rand @live ] : undef };
    $ops{get} = sub {
        my @gone = grep { $L{$_}{deleted} } @order;
        my $id = @gone && rand() < 0.1 ? $gone[ int rand @gone ] : $pick->() // return;
        my $m = $L{$id};
        my $cond = !$m->{deleted} && rand() < 0.25;
        my $r = $call->($cond ? 'get-304' : 'get', method => 'GET', path => ROUTE . "/$id",
                        headers => $cond ? { 'If-None-Match' => qq{"$m->{version}"} } : {});
        my @p;
        return $record->($r, id => $id, lost => 1, settled => 'a read: nothing to resolve') if $lost->($r);
        if ($m->{deleted}) {
            $check->(\@p, "get of deleted $id", "$r->{status} " . $code->($r), '404 NOT_FOUND');
        } elsif ($cond) {
            $check->(\@p, "conditional get of $id: status", $r->{status}, 304);
            $check->(\@p, "conditional get of $id: ETag", etag_version($r), $m->{version});
        } else {
            $check->(\@p, "get of $id: status", $r->{status}, 200);
            my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
            $check->(\@p, "get of $id", [ $b->{name}, $b->{personIds}, etag_version($r), $b->{updatedAt} ],
                     [ $m->{name}, $m->{persons}, $m->{version}, $m->{updated} ]);
        }
        $record->($r, id => $id, problems => \@p);
    };
    # A walk through every page: exactly this client's live lists, newest first, each once.
    $ops{list} = sub {
        my $limit = (1, 2, 3, 5, 50)[ int rand 5 ];
        my ($cursor, @seen, $broken);
        for my $page (1 .. 100) {
            my $q = "?limit=$limit" . (defined $cursor ? "&cursor=$cursor" : '');
            my $r = $call->('list', method => 'GET', path => ROUTE . $q);
            my @p;
            if ($lost->($r)) {
                $record->($r, lost => 1, settled => 'a read: nothing to resolve');
                $broken = 1;
                last;
            }
            my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
            if ($r->{status} != 200 || ref $b->{leadlists} ne 'ARRAY') {
                $check->(\@p, 'list: status', $r->{status}, 200);
                $record->($r, problems => \@p);
                $broken = 1;
                last;
            }
            push @p, "list: a page of " . scalar(@{ $b->{leadlists} }) . " items with limit $limit" if @{ $b->{leadlists} } > $limit;
            push @seen, @{ $b->{leadlists} };
            $record->($r, problems => \@p);
            $cursor = $b->{nextCursor};
            last if !defined $cursor;
        }
        return if $broken;
        my @p;
        my @want = reverse grep { !$L{$_}{deleted} } @order;    # ids grow with time: newest first
        $check->(\@p, "list (limit $limit): ids", [ map { $_->{id} } @seen ], \@want);
        for my $item (@seen) {
            my $m = $L{ $item->{id} // '' } // next;
            $check->(\@p, "list: item $item->{id}", [ $item->{name}, $item->{personCount}, $item->{updatedAt} ],
                     [ $m->{name}, scalar @{ $m->{persons} }, $m->{updated} ]);
        }
        $record->({ kind => 'list-walk', status => 'walk', t0 => time, t1 => time, headers => {} }, problems => \@p) if @p;
    };
    # A change: sends $req, and takes the answer (or, when it was lost, the list read back)
    # into the model. $after is the model the change must leave; undef for a delete.
    my $change = sub ($kind, $id, $req, $after, $expect, $verify) {
        my $before = { %{ $L{$id} } };
        my $r = $call->($kind, %$req);
        my @p;
        if ($lost->($r)) {
            my $was = $resolve->($r, $id, $before, $expect == 412 ? $before : $after);
            $record->($r, id => $id, lost => 1, settled => "read back as it was $was it");
            return $was;
        }
        if ($r->{status} == $expect) {
            $verify->($r, \@p);
            if ($expect == 204) {
                $L{$id}{deleted} = 1;
            } elsif ($expect != 412) {
                $L{$id} = { %$after, updated => $L{$id}{updated} };
                my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
                if ($after->{version} == $before->{version}) {
                    $check->(\@p, "$kind of $id (nothing to change): updatedAt", $b->{updatedAt}, $before->{updated});
                } else {
                    push @p, "$kind of $id: updatedAt went back from $before->{updated} to " . ($b->{updatedAt} // 'undef')
                      if ($b->{updatedAt} // '') lt $before->{updated};
                }
                $L{$id}{updated} = $b->{updatedAt};
            }
        } else {
            $check->(\@p, "$kind of $id: status", "$r->{status} " . $code->($r), $expect);
        }
        $record->($r, id => $id, problems => \@p);
        return 'answered';
    };
    my $if_match = sub ($m) {
        my $x = rand;
        return $x < 0.06 ? (1, { 'If-Match' => '"' . ($m->{version} + 7) . '"' })
             : $x < 0.35 ? (0, { 'If-Match' => qq{"$m->{version}"} })
             : (0, {});
    };
    my $precondition = sub ($m, $kind, $id) {
        return sub ($r, $p) {
            $check->($p, "$kind of $id with a stale If-Match", [ $code->($r), etag_version($r) ],
                     [ 'PRECONDITION_FAILED', $m->{version} ]);
        };
    };
    $ops{patch} = sub {
        my $id = $pick->() // return;
        my $m = $L{$id};
        my ($stale, $h) = $if_match->($m);
        my %body;
        my $what = rand;
        $body{name} = sprintf '%s-c%02d-%04d r%d', $run, $c, ++$n_list, $m->{version} if $what < 0.75;
        my @persons = @{ $m->{persons} };
        if ($what >= 0.5) {
            @persons = ((shuffle @persons)[0 .. int(rand(@persons + 1)) - 1], map { $new_person->() } 1 .. int(rand 4));
            $body{personIds} = [ @persons, @persons[0 .. (@persons && rand() < 0.3 ? 0 : -1)] ];
        }
        my $after = { name => $body{name} // $m->{name}, persons => \@persons, version => $m->{version} };
        $after->{version}++ if $after->{name} ne $m->{name} || "@persons" ne "@{ $m->{persons} }";
        my $ct = rand() < 0.25 ? 'application/merge-patch+json' : 'application/json';
        $change->('patch', $id, { method => 'PATCH', path => ROUTE . "/$id", body => \%body, content_type => $ct, headers => $h },
                  $after, $stale ? 412 : 200, $stale ? $precondition->($m, 'patch', $id) : sub ($r, $p) {
            my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
            $check->($p, "patch of $id", [ $b->{id}, $b->{name}, $b->{personIds}, etag_version($r) ],
                     [ $id, $after->{name}, $after->{persons}, $after->{version} ]);
        });
    };
    $ops{'add-members'} = sub {
        my $id = $pick->() // return;
        my $m = $L{$id};
        my ($stale, $h) = $if_match->($m);
        my @new = map { $new_person->() } 1 .. 1 + int(rand 15);
        my @present = (shuffle @{ $m->{persons} })[0 .. (@{ $m->{persons} } ? int(rand 3) : 0) - 1];
        @present = grep { defined } @present;
        my @ids = shuffle @new, @present;
        my %had = map { $_ => 1 } @{ $m->{persons} };
        my @added = grep { !$had{$_} } @ids;
        my $after = { name => $m->{name}, persons => [ @{ $m->{persons} }, @added ], version => $m->{version} + 1 };
        $change->('add-members', $id, { path => ROUTE . "/$id/add-members", body => { personIds => \@ids }, headers => $h },
                  $after, $stale ? 412 : 200, $stale ? $precondition->($m, 'add-members', $id) : sub ($r, $p) {
            my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
            $check->($p, "add-members to $id", [ $b->{id}, $b->{type}, $b->{added}, $b->{alreadyPresent}, $b->{memberCount}, etag_version($r) ],
                     [ $id, 'person', \@added, [ grep { $had{$_} } @ids ], scalar @{ $after->{persons} }, $after->{version} ]);
        });
    };
    $ops{'remove-members'} = sub {
        my $id = $pick->() // return;
        my $m = $L{$id};
        my ($stale, $h) = $if_match->($m);
        my @present = (shuffle @{ $m->{persons} })[0 .. int(rand(@{ $m->{persons} } < 8 ? @{ $m->{persons} } : 8)) - 1];
        my @absent = map { $new_person->() } 1 .. int(rand 3);
        my @ids = shuffle @present, @absent;
        @ids = ($new_person->()) if !@ids;
        my %gone = map { $_ => 1 } @present;
        my $after = { name => $m->{name}, persons => [ grep { !$gone{$_} } @{ $m->{persons} } ],
                      version => $m->{version} + (@present ? 1 : 0) };
        $change->('remove-members', $id, { path => ROUTE . "/$id/remove-members", body => { personIds => \@ids }, headers => $h },
                  $after, $stale ? 412 : 200, $stale ? $precondition->($m, 'remove-members', $id) : sub ($r, $p) {
            my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
            $check->($p, "remove-members from $id", [ $b->{id}, $b->{removed}, $b->{notPresent}, $b->{memberCount}, etag_version($r) ],
                     [ $id, [ grep { $gone{$_} } @ids ], [ grep { !$gone{$_} } @ids ], scalar @{ $after->{persons} }, $after->{version} ]);
        });
    };
    $ops{delete} = sub {
        my $id = $pick->() // return;
        my $m = $L{$id};
        my ($stale, $h) = $if_match->($m);
        $change->('delete', $id, { method => 'DELETE', path => ROUTE . "/$id", headers => $h },
                  undef, $stale ? 412 : 204, $stale ? $precondition->($m, 'delete', $id) : sub ($r, $p) {
            $check->($p, "delete of $id: body", $r->{content} // '', '');
        });
    };

    my @weighted = ((('get') x 18), (('list') x 6), (('patch') x 18), (('add-members') x 20),
                    (('remove-members') x 14), (('delete') x 6), (('create') x 6));
    while (time < $stop_at && !-e "$dir/stop") {
        my $live = grep { !$L{$_}{deleted} } @order;
        my $op = $live < 2 ? 'create' : $weighted[ int rand @weighted ];
        $op = 'get' if ($op eq 'delete' && $live <= 3) || ($op eq 'create' && $live >= 8);
        $ops{$op}->();
    }

    # Every list this client made, read back.
    for my $id (@order) {
        my ($r, $got) = $read->($id, 'final');
        my $m = $L{$id};
        my @p;
        if ($m->{deleted}) {
            push @p, "final: deleted list $id reads back as " . (ref $got ? $show->($got) : $got) if defined $got;
        } elsif (!ref $got) {
            push @p, "final: list $id reads back as " . ($got // '404');
        } else {
            $check->(\@p, "final: list $id", [ @$got{qw(name persons version updated)} ], [ @$m{qw(name persons version updated)} ]);
        }
        $record->($r, id => $id, problems => \@p);
    }
    close $log;
    if (open my $out, '>', "$dir/model-$c.tmp") {
        print {$out} $JSON->encode({ map { $_ => $L{$_} } @order });
        close $out;
        rename "$dir/model-$c.tmp", "$dir/model-$c";
    }
    POSIX::_exit(0);
}

sub fmt_counts($c) { return join(', ', map { "$_ x $c->{$_}" } sort keys %$c) }

# --- the run ------------------------------------------------------------------------------------

my $mw = pool_pid();
my @before = pool_worker_pids();
is(scalar @before, $workers, "the pool has its $workers workers") or diag("workers: @before");

my $log_mark = worker_log_mark();
my $t_start = time;
my $stop_at = $t_start + $seconds;
for my $c (1 .. $clients) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM);
        eval { client($c, $stop_at) };
        # A client that died says so in its log, as a problem of its own.
        if (open my $fh, '>>', "$dir/log-$c") {
            print {$fh} $JSON->encode({ c => $c, kind => 'client', status => 'died', code => '', t0 => time, t1 => time,
                                        problems => ["client $c died: $@"] }), "\n";
            close $fh;
        }
        POSIX::_exit(1);
    }
    push @kids, $pid;
}

# A worker with a request in hand, waiting for MariaDB or for nginx (x86_64 read 0, poll 7,
# recvfrom 45, ppoll 271 in /proc/PID/syscall), so that the kill cuts a request before its
# answer; else one not waiting in accept (43, 288); any worker when none is seen within a
# second.
sub busy_worker(@pids) {
    my $until = time + 1;
    my $fallback;
    while (time < $until) {
        for my $pid (shuffle @pids) {
            open my $fh, '<', "/proc/$pid/syscall" or next;
            my $sys = <$fh> // '';
            close $fh;
            next if $sys !~ /^(\d+) /;
            return $pid if $1 == 0 || $1 == 7 || $1 == 45 || $1 == 271;
            $fallback //= $pid if $1 != 43 && $1 != 288;
        }
        sleep 0.001;
    }
    return $fallback // $pids[ int rand @pids ];
}

sleep($seconds / 3);
my %old = map { $_ => 1 } @before;
my $victim = busy_worker(@before);
my $t_kill = time;
ok(kill('KILL', $victim), "SIGKILL worker $victim during the load");
my $new;
my $replaced = wait_for(within(5), sub {
    my @now = pool_worker_pids();
    ($new) = grep { !$old{$_} } @now;
    return @now == $workers && defined $new && !grep { $_ == $victim } @now;
}, 0.002);
ok(defined $replaced && $replaced <= within(1), 'the pool replaced the killed worker within 1 s')
  or diag('workers now: ' . join(' ', pool_worker_pids()));
is(pool_pid(), $mw, 'by the same pool process');

waitpid $_, 0 for @kids;
@kids = ();
my $t_end = time;

my (@rec, %model);
for my $c (1 .. $clients) {
    if (open my $fh, '<', "$dir/log-$c") {
        while (my $line = <$fh>) {
            push @rec, eval { $JSON->decode($line) } // { c => $c, kind => '?', status => 'unreadable', problems => ["unreadable log line: $line"] };
        }
        close $fh;
    }
    my $m;
    if (open my $fh, '<', "$dir/model-$c") {
        $m = eval { $JSON->decode(do { local $/; <$fh> }) };
        close $fh;
    }
    ok(ref $m eq 'HASH', "client $c finished and wrote its models") or next;
    $model{$_} = $m->{$_} for keys %$m;
}

# --- what the clients saw ------------------------------------------------------------------------

my (%by_kind, %n_kind);
for my $r (@rec) {
    my $k = $r->{status} =~ /^\d{3}$/ && $r->{status} !~ /^(200|201|204|304)$/ ? "$r->{status} $r->{code}" : $r->{status};
    $by_kind{ $r->{kind} }{$k}++;
    $n_kind{ $r->{kind} }++;
}
my @load = grep { $_->{kind} !~ /^(final|resolve|list-walk)$/ } @rec;
diag(sprintf 'mixed load: %d clients, %d workers, %.1f s (worker %d killed at +%.1f s, replaced by %s after %s): '
             . '%d requests in the load (%.0f/s), %d in all', $clients, $workers, $t_end - $t_start, $victim,
             $t_kill - $t_start, $new // 'none', defined $replaced ? sprintf('%.1f ms', 1000 * $replaced) : 'never',
             scalar @load, @load / (($stop_at - $t_start) || 1), scalar @rec);
diag(sprintf '  %-15s %6d: %s', $_, $n_kind{$_}, fmt_counts($by_kind{$_})) for sort keys %by_kind;
cmp_ok(scalar @load, '>=', 10 * $clients, 'the load sent requests') or BAIL_OUT('no load');
for my $kind (qw(create get list patch add-members remove-members delete)) {
    cmp_ok($n_kind{$kind} // 0, '>', 0, "the load sent $kind requests");
}

my @five = grep { $_->{status} =~ /^5/ && $_->{status} != 502 } @rec;
is(scalar @five, 0, 'never a 500 (nor any 5xx but the killed worker\'s 502)')
  or diag(join "\n", map { "$_->{kind} $_->{status} $_->{code}: " . ($_->{content} // '') } @five[0 .. ($#five < 5 ? $#five : 5)]);
my @failed = grep { $_->{kind} ne 'list-walk' && ($_->{lost} || $_->{status} !~ /^(200|201|204|304|404|412)$/) } @rec;
cmp_ok(scalar @failed, '<=', 1, 'at most one request failed (the one the killed worker had in hand)')
  or diag(join "\n", map { "$_->{kind} $_->{status} $_->{code}: " . ($_->{content} // '') } @failed[0 .. ($#failed < 5 ? $#failed : 5)]);
my @not502 = grep { !($_->{status} eq '502' && $_->{code} eq 'SERVICE_UNAVAILABLE' && $_->{ctype} eq $JSON_CT) } @failed;
is(scalar @not502, 0, "a failed request got nginx's JSON 502")
  or diag(join "\n", map { "$_->{kind} $_->{status} $_->{code} ($_->{ctype}): " . ($_->{content} // '') } @not502[0 .. ($#not502 < 4 ? $#not502 : 4)]);
my @not_in_flight = grep { !($_->{t0} <= $t_kill + 0.05 && $_->{t1} >= $t_kill - 0.05) } @failed;
is(scalar @not_in_flight, 0, 'a failed request was in flight at the SIGKILL')
  or diag(join "\n", map { sprintf '%s of %s: sent at %+.3f s, answered at %+.3f s from the SIGKILL', $_->{kind},
                                  $_->{id} // $_->{name} // 'a page', $_->{t0} - $t_kill, $_->{t1} - $t_kill }
                        @not_in_flight[0 .. ($#not_in_flight < 4 ? $#not_in_flight : 4)]);
# The pool logs each worker it replaces, with the signal that ended it.
my @deaths = grep { /pool: worker \d+ was killed by signal|pool: worker \d+ exited/ } worker_log_since($log_mark);
my @other_deaths = grep { !/pool: worker $victim was killed by signal 9\b/ } @deaths;
is(scalar @other_deaths, 0, 'no worker died during the load but the one SIGKILLed')
  or diag(scalar(@other_deaths) . " other deaths, e.g.\n" . join("\n", @other_deaths[0 .. ($#other_deaths < 4 ? $#other_deaths : 4)]));
diag(@failed ? 'lost: ' . join('; ', map { "$_->{kind} of " . ($_->{id} // $_->{name} // 'a page')
                                                           . ' (' . ($_->{settled} // '?') . ')' }
                                           @failed[0 .. ($#failed < 4 ? $#failed : 4)]) . (@failed > 5 ? '; ...' : '')
             : 'no request was lost (the killed worker was between requests)');
my @half = grep { grep { /HALF-MERGED|reading it back gave/ } @{ $_->{problems} } } @rec;
is(scalar @half, 0, 'a change whose answer was lost left the list as it was before or after it, never half-merged')
  or diag(join "\n", map { @{ $_->{problems} } } @half);
my @unsettled = grep { ($_->{settled} // '') eq 'failed' || ($_->{settled} // '') =~ /neither/ } @rec;
is(scalar @unsettled, 0, 'every lost request was resolved (a create by its Idempotency-Key, a change by reading the list back)');

my @wrong = grep { @{ $_->{problems} } && $_->{kind} ne 'final' } @rec;
is(scalar @wrong, 0, 'every answer agrees with the model its client had built from the answers before it')
  or diag(join "\n", map { "$_->{kind} ($_->{status}): " . join('; ', @{ $_->{problems} }) } @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)]);
my @final = grep { $_->{kind} eq 'final' } @rec;
my @final_bad = grep { @{ $_->{problems} } } @final;
is(scalar @final_bad, 0, 'at the end, every list reads back (GET) as its model says; every deleted one is 404')
  or diag(join "\n", map { @{ $_->{problems} } } @final_bad[0 .. ($#final_bad < 9 ? $#final_bad : 9)]);
is(scalar @final, scalar keys %model, 'every list was read back at the end');

# --- what is stored ----------------------------------------------------------------------------------

{
    my $fmt = "CONCAT(DATE_FORMAT(l.updated_at, '%Y-%m-%dT%H:%i:%s.'), LEFT(DATE_FORMAT(l.updated_at, '%f'), 3), 'Z')";
    my @rows = sql("SELECT LOWER(HEX(l.id)), HEX(l.name), l.person_ids, l.person_count, l.company_count, l.version, $fmt,"
                   . ' (SELECT COUNT(*) FROM leadlist_users u WHERE u.leadlist_id = l.id),'
                   . ' (SELECT GROUP_CONCAT(c.version ORDER BY c.version) FROM leadlist_changes c WHERE c.leadlist_id = l.id)'
                   . ' FROM leadlists l WHERE l.org_id = ' . sql_quote($org));
    my %row = map { $_->[0] => $_ } @rows;
    my %hex = map { ($_ =~ tr/-//dr) => $_ } keys %model;
    my @live = grep { !$model{$_}{deleted} } keys %model;
    my @gone = grep { $model{$_}{deleted} } keys %model;
    diag(sprintf 'stored: %d lists made, %d deleted, %d left with %d members and %d changes in all', scalar keys %model,
                 scalar @gone, scalar @live, eval { my $n = 0; $n += @{ $model{$_}{persons} } for @live; $n },
                 eval { my $n = 0; $n += $model{$_}{version} - 1 for @live; $n });
    my @extra = grep { !$hex{$_} } sort keys %row;
    is(scalar @extra, 0, "every stored list of the run's org is one a client made") or diag("unknown: @extra");
    my @missing = grep { !$row{ $_ =~ tr/-//dr } } sort @live;
    is(scalar @missing, 0, 'every list that was not deleted has its row') or diag("missing: @missing");
    my @left = grep { $row{ $_ =~ tr/-//dr } } sort @gone;
    is(scalar @left, 0, 'no deleted list has its row') or diag("still stored: @left");
    my @differ;
    for my $id (sort @live) {
        my $r = $row{ $id =~ tr/-//dr } // next;
        my $m = $model{$id};
        my $persons = eval { JSON::PP->new->utf8->decode($r->[2]) };
        my $name = $m->{name};
        utf8::encode($name);
        my $got  = $JSON->encode([ $r->[1], $persons, $r->[3] + 0, $r->[4] + 0, $r->[5] + 0, $r->[6], $r->[7] + 0, $r->[8] // '' ]);
        my $want = $JSON->encode([ uc unpack('H*', $name), $m->{persons}, scalar @{ $m->{persons} }, 0, $m->{version},
                                   $m->{updated}, 0, join(',', 2 .. $m->{version}) ]);
        push @differ, "$id: stored $got\n    model  $want" if $got ne $want;
    }
    is(scalar @differ, 0, 'every stored row (name, person_ids, counts, version, updated_at, no leadlist_users rows,'
                          . ' leadlist_changes versions 2..version) equals its model')
      or diag(join "\n", @differ[0 .. ($#differ < 4 ? $#differ : 4)]);
    my %gone_hex = map { ($_ =~ tr/-//dr) => 1 } @gone;
    my @orphan_users = grep { $gone_hex{ $_->[0] } } sql('SELECT LOWER(HEX(leadlist_id)) FROM leadlist_users WHERE org_id = ' . sql_quote($org));
    my @orphan_changes = grep { $gone_hex{ $_->[0] } }
      sql('SELECT LOWER(HEX(c.leadlist_id)) FROM leadlist_changes c LEFT JOIN leadlists l ON l.id = c.leadlist_id'
          . ' WHERE l.id IS NULL AND c.changed_at >= UTC_TIMESTAMP(3) - INTERVAL ' . (int($t_end - $t_start) + 120) . ' SECOND');
    is(scalar(@orphan_users) + scalar(@orphan_changes), 0, 'deleted lists left no leadlist_users or leadlist_changes rows')
      or diag(scalar(@orphan_users) . ' leadlist_users rows, ' . scalar(@orphan_changes) . ' leadlist_changes rows');
}

ok(wait_for(within(5), sub { pool_worker_pids() == $workers }, 0.05), "the pool has its $workers workers after the load");
{
    my $r = api(token => $token{1}, body => valid_body(), timeout => 20);
    created_ok($r, "user_t87_${$}_1", 'a create after the load');
}

done_testing();
