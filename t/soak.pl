#!/usr/bin/perl
# The soak script/test runs against the sanitized workers: SOAK_REQUESTS (10,000) mixed good
# and bad requests from SOAK_CLIENTS (8) clients in two rounds, the first SOAK_WARMUP (1,000)
# then the rest; after each, the VmRSS of every process running SOAK_WORKER_BIN. Prints the
# figures; exits non-zero when an answer is not the one expected or does not conform to
# docs/openapi.json, a worker was replaced, or one grew by more than SOAK_RSS_GROWTH (10)
# percent. Needs the stack's environment (var/stack.env), like the integration tests.
use v5.36;
use Leadlists::Test;
use Time::HiRes qw(time);

my $total   = $ENV{SOAK_REQUESTS} // 10000;
my $warmup  = $ENV{SOAK_WARMUP}   // 1000;
my $clients = $ENV{SOAK_CLIENTS}  // 8;
my $growth  = $ENV{SOAK_RSS_GROWTH} // 10;
my $bin     = $ENV{SOAK_WORKER_BIN} // die "SOAK_WORKER_BIN is not set\n";

# The caller. (In the kinds' subs, which the clients run, $$ is a client's PID.)
my $me = "user_soak_$$";
my $token = mint_session(user => $me, org => 'org_soak');
my $company = '660e8400-e29b-41d4-a716-446655440001';

# The lists the operations on one list act on, made before the first request: one only read
# (its version stays 1, so If-None-Match "1" is always 304), one renamed, one whose members
# and one whose users come and go (each from a fixed set of ids, so neither grows without
# bound), one of the same org the caller may not act on (403), one of another org (404), one
# deleted (404). Changes carry no If-Match: concurrent ones are serialized, all answer 200.
sub fixture($tok, %over) {
    my $r = api(token => $tok, body => valid_body(%over));
    die "soak: could not create a list: $r->{status} $r->{content}\n" if $r->{status} != 201;
    return ROUTE . "/$r->{json}{id}";
}
my $read_only = fixture($token, name => "soak read $$");
my $renamed   = fixture($token, name => "soak rename $$");
my $members   = fixture($token, name => "soak members $$");
my $users     = fixture($token, name => "soak users $$");
my $forbidden = fixture(mint_session(user => "user_soak_other_$$", org => 'org_soak'), name => "soak not shared $$");
my $foreign   = fixture(mint_session(user => $me, org => 'org_soak_other'), name => "soak other org $$");
my $deleted   = fixture($token, name => "soak deleted $$");
my $gone = api(method => 'DELETE', path => $deleted, token => $token);
die "soak: could not delete a list: $gone->{status}\n" if $gone->{status} != 204;
my $page = api(method => 'GET', path => ROUTE . '?limit=2&type=person', token => $token);
my $cursor = ref $page->{json} eq 'HASH' ? $page->{json}{nextCursor} : undef;
die "soak: the first page has no nextCursor: $page->{status} $page->{content}\n" if !defined $cursor || ref $cursor;
$cursor =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;

# Each kind: [name, expected status, sub returning api() arguments]. Half good (2xx, 304),
# half bad; request n uses kind n % kinds, so every round has each kind in the same
# proportion.
my $seq = 0;
my @kinds = (
    [ 'valid person list', 201, sub { (token => $token, body => valid_body()) } ],
    [ 'valid company list', 201, sub {
        (token => $token, body => valid_body(type => 'company', personIds => [],
                                             companyIds => [ $company, '660e8400-e29b-41d4-a716-44665544000' . ($seq % 10) ]))
    } ],
    [ 'valid, with an Idempotency-Key', 201, sub {
        (token => $token, body => valid_body(), headers => { 'Idempotency-Key' => "soak-$$-" . $seq++ })
    } ],
    [ 'valid, 4-byte emoji and SQL metacharacters', 201, sub {
        (token => $token, body => valid_body(name => "\x{1F600} it's \"x\"; DROP TABLE leadlists; -- " . $seq++))
    } ],
    [ 'valid, 2,000 person ids (half repeated)', 201, sub {
        (token => $token, body => valid_body(personIds => [ map { 'lead_' . ($_ % 1000) } 1 .. 2000 ]))
    } ],
    [ 'valid, icpId null, offsets in dates', 201, sub {
        (token => $token, body => valid_body(icpId => undef, startDate => '2024-01-01T10:00:00+05:30',
                                             endDate => '2024-12-31T23:59:59.999-08:00'))
    } ],
    [ 'valid, replayed Idempotency-Key', 201, sub {
        state $body = json_text(valid_body(name => "soak replay $$"));
        (token => $token, body => $body, headers => { 'Idempotency-Key' => "soak-replay-$$" })
    } ],
    [ 'valid, whitespace-heavy JSON', 201, sub {
        (token => $token, body => "\n\t{ \"name\" : \"  soak ws $$ \" ,\n \"type\":\"person\", \"icpId\" : null ,"
           . " \"startDate\":\"2024-01-01\",\"endDate\":\"2024-01-02\", \"personIds\" : [ \"a\" , \"b\" ] }\n")
    } ],
    [ 'valid, 255 two-byte characters in the name', 201, sub {
        (token => $token, body => valid_body(name => "\x{e9}" x 254 . chr(0x41 + $seq++ % 26)))
    } ],
    [ 'valid, Content-Type with charset', 201, sub {
        (token => $token, body => json_text(valid_body()), content_type => 'application/json; charset=UTF-8')
    } ],
    [ 'valid, 10,000 person ids (the limit)', 201, sub {
        (token => $token, body => valid_body(personIds => [ map { "soak_$_" } 1 .. 10000 ]))
    } ],
    [ 'valid company list, 100 company ids', 201, sub {
        (token => $token, body => valid_body(type => 'company', personIds => [],
                                             companyIds => [ map { sprintf '660e8400-e29b-41d4-a716-%012d', $_ } 1 .. 100 ]))
    } ],
    [ 'get one list', 200, sub { (method => 'GET', path => $read_only, token => $token) } ],
    [ 'HEAD one list', 200, sub { (method => 'HEAD', path => $read_only, token => $token) } ],
    [ 'get one list, If-None-Match its ETag', 304, sub {
        (method => 'GET', path => $read_only, token => $token, headers => { 'If-None-Match' => '"1"' })
    } ],
    [ 'list page', 200, sub { (method => 'GET', path => ROUTE . '?limit=' . (1 + $seq++ % 200), token => $token) } ],
    [ 'list page after a cursor, type filter', 200, sub {
        (method => 'GET', path => ROUTE . "?type=person&limit=2&cursor=$cursor", token => $token)
    } ],
    [ 'PATCH name', 200, sub {
        (method => 'PATCH', path => $renamed, token => $token, body => { name => "soak renamed $$ " . $seq++ % 7 },
         content_type => ($seq % 2 ? 'application/merge-patch+json' : 'application/json'))
    } ],
    [ 'add-members', 200, sub {
        (path => "$members/add-members", token => $token, body => { personIds => [ map { "soak_m$_" } $seq++ % 50, 7 ] })
    } ],
    [ 'remove-members', 200, sub {
        (path => "$members/remove-members", token => $token, body => { personIds => [ 'soak_m' . ($seq++ * 3 % 50) ] })
    } ],
    [ 'add-users', 200, sub {
        (path => "$users/add-users", token => $token, body => { userIds => [ 'user_soak_u' . $seq++ % 20 ] })
    } ],
    [ 'remove-users', 200, sub {
        (path => "$users/remove-users", token => $token, body => { userIds => [ 'user_soak_u' . ($seq++ * 7 % 20) ] })
    } ],
    [ 'create, then delete', 204, sub { (method => 'DELETE', path => fixture($token), token => $token) } ],
    [ 'PATCH dates, If-Match *', 200, sub {
        (method => 'PATCH', path => $renamed, token => $token, headers => { 'If-Match' => '*' },
         body => { startDate => '2024-01-01', endDate => '2024-0' . (1 + $seq++ % 9) . '-28' })
    } ],
    [ 'malformed JSON', 400, sub { (token => $token, body => '{"name":"x",') } ],
    [ 'empty body', 400, sub { (token => $token, body => '') } ],
    [ 'invalid fields', 400, sub {
        (token => $token, body => valid_body(type => 'robot', startDate => '2024-13-45', personIds => [ 'bad id!', 7 ]))
    } ],
    [ '100,000 nested brackets', 400, sub { (token => $token, body => '[' x 100000) } ],
    [ 'a 1,000,000-byte name', 400, sub { (token => $token, body => valid_body(name => 'n' x 1000000)) } ],
    [ 'a body over the 1 MiB cap', 413, sub { (token => $token, body => valid_body(name => 'n' x 1100000)) } ],
    [ 'invalid UTF-8, \u0000 and a lone surrogate', 400, sub {
        (token => $token, body => '{"name":"a\u0000\ud800","type":"p' . "\xc0\x80" . '","icpId":null,"startDate":"2024-01-01",'
           . '"endDate":"2024-01-01","personIds":[]}')
    } ],
    [ 'too many ids, unknown and server-owned fields', 400, sub {
        (token => $token, body => valid_body(id => 'x', userIds => ['u'], personIds => [ map { "p$_" } 1 .. 10001 ]))
    } ],
    [ 'unknown bearer token', 401, sub { (authorization => 'Bearer ' . ('x' x 43), body => valid_body()) } ],
    [ 'no Authorization header', 401, sub { (body => valid_body()) } ],
    [ 'wrong method', 405, sub {
        my ($method, $path) = @{ ([ 'PUT', ROUTE ], [ 'DELETE', ROUTE ], [ 'PATCH', ROUTE ], [ 'POST', $read_only ],
                                  [ 'PUT', $read_only ], [ 'GET', "$members/add-members" ])[ $seq++ % 6 ] };
        (method => $method, path => $path, token => $token)
    } ],
    [ 'wrong Content-Type', 415, sub { (token => $token, body => json_text(valid_body()), content_type => 'text/plain') } ],
    [ 'get an unknown id', 404, sub { (method => 'GET', path => ROUTE . '/0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d', token => $token) } ],
    [ 'malformed id, trailing slash, extra segment', 404, sub {
        (method => 'GET', path => ($read_only . '/', ROUTE . '/42', "$read_only/x", ROUTE . '/%30193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d')[ $seq++ % 4 ],
         token => $token)
    } ],
    [ 'PATCH another org\'s list', 404, sub { (method => 'PATCH', path => $foreign, token => $token, body => { name => 'x' }) } ],
    [ 'DELETE a deleted list', 404, sub { (method => 'DELETE', path => $deleted, token => $token) } ],
    [ 'add-members to a list not shared with the caller', 403, sub {
        (path => "$forbidden/add-members", token => $token, body => { personIds => ['a'] })
    } ],
    [ 'PATCH with a stale If-Match', 412, sub {
        (method => 'PATCH', path => $renamed, token => $token, headers => { 'If-Match' => '"999999"' }, body => { name => 'x' })
    } ],
    [ 'malformed If-Match', 400, sub {
        my %r = (path => $renamed, token => $token, headers => { 'If-Match' => ('abc', 'W/', '"1", 2')[ $seq % 3 ] });
        $seq++ % 2 ? (%r, method => 'DELETE') : (%r, method => 'PATCH', body => { name => 'x' })
    } ],
    [ 'list page, limit out of range', 400, sub { (method => 'GET', path => ROUTE . (qw(?limit=0 ?limit=201 ?limit=x))[ $seq++ % 3 ], token => $token) } ],
    [ 'list page, unknown or repeated parameter', 400, sub {
        (method => 'GET', path => ROUTE . (qw(?color=red ?limit=5&limit=6 ?type=robot ?limit=%zz))[ $seq++ % 4 ], token => $token)
    } ],
    [ 'list page, forged cursor', 400, sub {
        (method => 'GET', path => ROUTE . '?cursor=' . ('A' x (10 + $seq++ % 50)), token => $token)
    } ],
    [ 'PATCH a read-only field, members of the other kind', 400, sub {
        (method => 'PATCH', path => $renamed, token => $token,
         body => ($seq++ % 2 ? { id => 'x', userIds => [] } : { companyIds => [$company] }))
    } ],
    [ 'remove the creator, add company ids to a person list', 400, sub {
        $seq++ % 2 ? (path => "$users/remove-users", token => $token, body => { userIds => [$me] })
                   : (path => "$members/add-members", token => $token, body => { companyIds => [$company] })
    } ],
);

# The workers: processes whose executable is the sanitized binary, with their VmRSS in kB.
sub workers() {
    my %rss;
    opendir my $d, '/proc' or die "/proc: $!";
    for my $pid (grep { /^\d+$/ } readdir $d) {
        my $exe = readlink "/proc/$pid/exe";
        next if !defined $exe || $exe ne $bin;
        open my $fh, '<', "/proc/$pid/status" or next;
        while (<$fh>) {
            $rss{$pid} = $1 if /^VmRSS:\s+(\d+)\s+kB/;
        }
    }
    return \%rss;
}

# Sends requests FROM .. TO-1 from $clients processes; returns {kind => {status => count}}.
sub round($from, $to) {
    my @kids;
    for my $c (0 .. $clients - 1) {
        pipe my $r, my $w or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            my %seen;
            for (my $n = $from + $c; $n < $to; $n += $clients) {
                my $k = $kinds[ $n % @kinds ];
                my %args = $k->[2]->();
                my $res = api(%args, timeout => 60);
                my $status = $res->{status};
                # Every answer, the errors included, is the API's JSON; but 204, 304 and HEAD
                # have no body at all.
                if ($status == 204 || $status == 304 || ($args{method} // '') eq 'HEAD') {
                    $status .= ' (with a body)' if ($res->{content} // '') ne '';
                } elsif (ref $res->{json} ne 'HASH') {
                    $status .= ' (not JSON)';
                }
                $seen{$n % @kinds}{$status}++;
            }
            print $w join("\n", map { my $k = $_; map { "$k\t$_\t$seen{$k}{$_}" } keys %{ $seen{$k} } } keys %seen), "\n";
            close $w;
            exit 0;
        }
        close $w;
        push @kids, [ $pid, $r ];
    }
    my %seen;
    for my $kid (@kids) {
        my ($pid, $r) = @$kid;
        while (my $line = <$r>) {
            chomp $line;
            my ($k, $status, $n) = split /\t/, $line;
            $seen{$k}{$status} += $n if defined $n;
        }
        waitpid $pid, 0;
        die "a client process failed\n" if $? != 0;
    }
    return \%seen;
}

my $t0 = time;
my $first = round(0, $warmup);
my $rss1 = workers();
my $rest = round($warmup, $total);
my $rss2 = workers();
my $secs = time - $t0;

my @problems;
my ($good, $bad) = (0, 0);
for my $k (0 .. $#kinds) {
    my ($name, $want) = @{ $kinds[$k] };
    for my $seen ($first, $rest) {
        for my $status (sort keys %{ $seen->{$k} // {} }) {
            my $n = $seen->{$k}{$status};
            if ($status eq $want) {
                $want < 400 ? ($good += $n) : ($bad += $n);
            } else {
                push @problems, "$name: $n answered $status, want $want";
            }
        }
    }
}
printf "soak: %d requests (%d good, %d bad as expected) in %.1f s from %d clients\n",
    $total, $good, $bad, $secs, $clients;

my @pids = sort { $a <=> $b } keys %$rss1;
push @problems, "no worker runs $bin" if !@pids;
for my $pid (@pids) {
    if (!defined $rss2->{$pid}) {
        push @problems, "worker $pid is gone (replaced or dead)";
        printf "soak: worker %d: VmRSS %d kB after %d requests, gone at the end\n", $pid, $rss1->{$pid}, $warmup;
        next;
    }
    my $pct = 100 * ($rss2->{$pid} - $rss1->{$pid}) / $rss1->{$pid};
    printf "soak: worker %d: VmRSS %d kB after %d requests, %d kB after %d (%+.1f%%)\n",
        $pid, $rss1->{$pid}, $warmup, $rss2->{$pid}, $total, $pct;
    push @problems, sprintf('worker %d grew by %.1f%% (more than %d%%)', $pid, $pct, $growth) if $pct > $growth;
}
for my $pid (sort { $a <=> $b } grep { !exists $rss1->{$_} } keys %$rss2) {
    push @problems, "worker $pid appeared during the soak (a worker was replaced)";
}
print "soak: problem: $_\n" for @problems;
# Leadlists::Test checks every answer against docs/openapi.json, the clients' too, and reports
# through Test::More: the soak ends as a test would, so those verdicts count and the exit status
# is Test::More's (non-zero on any failure).
Test::More::ok(!@problems, 'soak: every answer as expected, no worker replaced or grown');
Test::More::done_testing();
