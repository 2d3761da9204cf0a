#!/usr/bin/perl
# sqlmap against every route that reads or writes the database finds no SQL injection, and
# leaves the database as the service would have: every injection point of every route is
# tried.
#
# The runs, each bounded in time:
#   1. create, the body: every string field of a valid body carries sqlmap's `*` marker, sent
#      with a valid bearer token;
#   2. create, the headers: `Bearer TOKEN*` and `Idempotency-Key: KEY*` with a valid body.
#      Every payload in the key is a new key, so a payload answered 201 has written a list;
#      --code 201 makes 201 sqlmap's "true" page, which keeps replays of an earlier payload
#      (also 201, same body) from looking like a difference;
#   3. GET one list: the {id} segment of the path (sqlmap's URI marker);
#   4. the list endpoint: its query parameters limit, type and cursor (a real nextCursor);
#   5. PATCH: name, icpId, startDate, endDate and a person id of the body;
#   6. add-members: two person ids of the body;
#   7. add-users: a user id of the body.
# Runs 3 to 7 each have a list (or, for 4, a caller) of their own, so what one run writes
# never changes the pages another compares. All use --dbms MySQL (MariaDB) and boolean,
# error, union, stacked and time-based techniques, and skip sqlmap's WAF heuristic (which
# takes the API's 400 for a firewall and then stops with a critical error).
# LEADLISTS_SQLMAP_LEVEL and LEADLISTS_SQLMAP_RISK set sqlmap's --level and --risk for every
# run; by default the two create runs use 3 and 3, the other routes 2 and 2 (their values go
# through the same statements, so a lighter run each keeps the file to about a minute and a
# half). 5 and 3 is the thorough run (tens of thousands of requests).
#
# A run fails when sqlmap reports an injection point, when it did not finish its tests, or
# when the worker log shows that it did not really exercise the route (fewer requests than
# expected), answered 500, or logged an SQL syntax error. At the end the database must be
# intact: the same tables as before, every row sqlmap could have written whole (counts that
# match their arrays, one change record per version, ids of the API's alphabet), the lists
# that were only read unchanged, and each list answering GET as stored.
#
# sqlmap is Debian's `sqlmap` package. When it is missing and we are root, it is installed
# with apt-get; otherwise the test is skipped.
use v5.36;
use Test::More;
use File::Path qw(make_path);
use Time::HiRes qw(time);
use Leadlists::Test;

need_stack();

sub sqlmap_path() {
    for my $dir (split /:/, $ENV{PATH} // '') {
        return "$dir/sqlmap" if $dir ne '' && -x "$dir/sqlmap";
    }
    return undef;
}

# apt-get's output goes to stderr, out of the TAP stream.
sub install_sqlmap() {
    return if $> != 0 || !-x '/usr/bin/apt-get';
    diag('sqlmap is missing: installing the Debian package');
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    my @install = ('apt-get', 'install', '-q', '-y', '--no-install-recommends', 'sqlmap');
    return if system('sh', '-c', 'exec "$@" 1>&2', 'sh', @install) == 0;
    system('sh', '-c', 'exec "$@" 1>&2', 'sh', 'apt-get', 'update', '-q');
    system('sh', '-c', 'exec "$@" 1>&2', 'sh', @install);
    return;
}

my $sqlmap = sqlmap_path();
if (!defined $sqlmap) {
    install_sqlmap();
    $sqlmap = sqlmap_path();
}
plan skip_all => 'sqlmap is not installed (apt-get install sqlmap)' if !defined $sqlmap;

my $log_file = $ENV{LEADLISTS_WORKER_LOG};
plan skip_all => 'LEADLISTS_WORKER_LOG is not set' if !defined $log_file || $log_file eq '';

sub setting($name, $re, $default) {
    my $v = $ENV{$name} // '';
    return $v =~ $re ? $v : $default;
}
my @create_strength = (setting('LEADLISTS_SQLMAP_LEVEL', qr/^[1-5]$/, 3), setting('LEADLISTS_SQLMAP_RISK', qr/^[1-3]$/, 3));
my @route_strength  = (setting('LEADLISTS_SQLMAP_LEVEL', qr/^[1-5]$/, 2), setting('LEADLISTS_SQLMAP_RISK', qr/^[1-3]$/, 2));

# sqlmap's files (session, results, its "home") stay under var/, never in the home directory.
my $root = $ENV{LEADLISTS_ROOT} && -d "$ENV{LEADLISTS_ROOT}/var" ? "$ENV{LEADLISTS_ROOT}/var" : '/tmp';
my $out_dir = "$root/sqlmap";
make_path("$out_dir/home");

my $org = "org_t95_$$";
my $user = "user_t95_$$";                # the creates of runs 1 and 2
my $owner = "user_t95_owner_$$";         # the lists of runs 3, 5, 6 and 7
my $reader = "user_t95_reader_$$";       # the caller of run 4
my $token = mint_session(user => $user, org => $org);
my $owner_token = mint_session(user => $owner, org => $org);
my $reader_token = mint_session(user => $reader, org => $org);
my $base = $ENV{LEADLISTS_URL};
my $ID_CHARS = qr/^[A-Za-z0-9._:-]{1,64}$/;

# The worker log's size now, so that only the lines a run adds are read.
sub log_size() { return -s $log_file // 0 }

# The worker log lines written since OFFSET.
sub log_since($offset) {
    open my $fh, '<', $log_file or return ();
    seek $fh, $offset, 0;
    my @lines = <$fh>;
    close $fh;
    return @lines;
}

# Runs sqlmap on URL with ARGS (on top of the common ones), at STRENGTH ([level, risk]);
# returns its output and exit status.
sub run_sqlmap($name, $url, $strength, @args) {
    my @cmd = ('timeout', '-k', '10', '300', $sqlmap, '-u', $url,
               '--batch', '--dbms', 'MySQL', '--level', $strength->[0], '--risk', $strength->[1],
               '--technique', 'BEUST', '--time-sec', '1', '--timeout', '10', '--retries', '0',
               '--skip-waf', '--flush-session', '--output-dir', $out_dir, '-v', '1', @args);
    my $log = "$out_dir/$name.out";
    my $t0 = time;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN,  '<', '/dev/null' or die;
        open STDOUT, '>', $log        or die "$log: $!";
        open STDERR, '>&', \*STDOUT   or die;
        $ENV{HOME} = "$out_dir/home";
        $ENV{TERM} = 'dumb';
        exec @cmd or die "exec $cmd[0]: $!";
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    my $secs = time - $t0;
    open my $fh, '<', $log or die "$log: $!";
    my $text = do { local $/; <$fh> } // '';
    close $fh;
    note(sprintf '%s: sqlmap exit %d after %.1f s (level %d, risk %d; output: %s)', $name, $rc, $secs,
         @$strength, $log);
    return ($text, $rc);
}

# One run's verdict: assertions on sqlmap's output and on what the workers logged meanwhile.
# EXPECT_PARAMS: the injection points it must have tested; ROUTE_RE: the method and path of
# the worker log lines that are the run's requests; MIN_REQUESTS: how many of them the workers
# must at least have answered. Returns the requests' statuses, {status => count}.
sub judge($name, $text, $rc, $offset, $expect_params, $route_re, $min_requests) {
    my @found = $text =~ /^(.*(?:is vulnerable|identified the following injection point|appears to be .* injectable).*)$/mg;
    # "appears to be ... injectable" is followed by sqlmap's false-positive check; only an
    # injection point it kept counts.
    my @kept = grep { !/appears to be/ } @found;
    ok(!@kept, "$name: sqlmap reports no injectable parameter")
      or diag(join "\n", @found, ($text =~ /^(---.*?^---)$/msg));
    my @tested = $text =~ /testing for SQL injection on (?:\(custom\) )?\S+ parameter '([^']+)'/g;
    my %tested = map { $_ => 1 } @tested;
    my @missing = grep { !$tested{$_} } @$expect_params;
    # (The names hold '#', which TAP would read as a directive: not in the test's name.)
    ok(!@missing, "$name: sqlmap tested all " . scalar(@$expect_params) . ' injection points')
      or diag("not tested: @missing; tested: " . join(', ', sort keys %tested));
    my $finished = $text =~ /all tested parameters do not appear to be injectable/;
    my @critical = $text =~ /^(.*\[CRITICAL\].*)$/mg;
    ok($finished && !@critical, "$name: sqlmap finished its tests") or diag(join "\n",
        "exit status $rc", @critical, 'last lines:', grep { defined } (split /\n/, $text)[-15 .. -1]);

    my @lines = log_since($offset);
    my %status;
    my $requests = 0;
    for (@lines) {
        next if !m{ $route_re (\d{3}) [\d.]+ms$};
        $requests++;
        $status{$1}++;
    }
    cmp_ok($requests, '>=', $min_requests, "$name: the workers answered at least $min_requests sqlmap requests")
      or diag("worker log $log_file: $requests requests");
    note("$name: $requests requests, by status: " . join(', ', map { "$_ x $status{$_}" } sort keys %status));
    ok(!$status{500}, "$name: no request was answered 500") or diag("500 x $status{500}");
    my @sql_errors = grep { /\(1064\)|\(1149\)|syntax/i } @lines;
    ok(!@sql_errors, "$name: no SQL syntax error in the worker log") or diag(join '', @sql_errors[0 .. ($#sql_errors < 4 ? $#sql_errors : 4)]);
    return \%status;
}

sub lists_of($who) {
    return sql_value("SELECT COUNT(*) FROM leadlists WHERE created_by = " . sql_quote($who)) + 0;
}

sub tables() {
    return join ',', sort map { $_->[0] } sql('SHOW TABLES');
}

# A list of the owner's, made for one run.
sub fixture($name) {
    my $r = api(token => $owner_token, body => valid_body(name => "t95 $name $$", personIds => [ 'lead_t95a', 'lead_t95b' ]));
    $r->{status} == 201 or BAIL_OUT("could not create the $name list: " . describe($r));
    return $r->{json}{id};
}

# The row of list ID as the database has it: version, updated_at, name, counts and the
# checks of its arrays.
sub row_of($id) {
    (my $hex = $id) =~ tr/-//d;
    my ($row) = sql("SELECT version, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f'), HEX(name), person_count,"
                    . " JSON_VALID(person_ids), JSON_LENGTH(person_ids), company_count, LENGTH(company_ids),"
                    . " (SELECT COUNT(*) FROM leadlist_changes c WHERE c.leadlist_id = l.id),"
                    . " (SELECT COUNT(*) FROM leadlist_users u WHERE u.leadlist_id = l.id)"
                    . " FROM leadlists l WHERE id = UNHEX('$hex')");
    return undef if !$row;
    my %r;
    @r{qw(version updated name_hex person_count json_valid json_length company_count company_bytes changes users)} = @$row;
    return \%r;
}

# One assertion: list ID is whole (its counts match its arrays, one change record per version
# after the first, its users rows those of its userIds after the creator) and answers GET as
# stored.
sub whole_ok($id, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $row = row_of($id);
    my $get = api(method => 'GET', path => ROUTE . "/$id", token => $owner_token);
    my $b = ref $get->{json} eq 'HASH' ? $get->{json} : {};
    my @why;
    if (!$row) {
        push @why, 'no row';
    } else {
        push @why, "person_count $row->{person_count} but person_ids holds " . ($row->{json_length} // 'no JSON')
          if !$row->{json_valid} || $row->{json_length} != $row->{person_count};
        push @why, "company_count $row->{company_count} but company_ids is $row->{company_bytes} bytes"
          if $row->{company_bytes} != 16 * $row->{company_count};
        push @why, "version $row->{version} but $row->{changes} change records" if $row->{changes} != $row->{version} - 1;
        push @why, "GET answered $get->{status}" if $get->{status} != 200;
        my $users = ref $b->{userIds} eq 'ARRAY' ? $b->{userIds} : [];
        push @why, "userIds [@$users] do not start with the creator" if ($users->[0] // '') ne $owner;
        push @why, scalar(@$users) . " userIds but $row->{users} leadlist_users rows" if $row->{users} != @$users - 1;
        my @bad = grep { !defined || ref || $_ !~ $ID_CHARS } @{ $b->{personIds} // [] }, @$users;
        push @why, 'ids outside the alphabet: ' . join(' ', map { $_ // 'null' } @bad[0 .. ($#bad < 4 ? $#bad : 4)]) if @bad;
        push @why, 'personIds has ' . scalar(@{ $b->{personIds} // [] }) . ' ids, the row counts ' . $row->{person_count}
          if @{ $b->{personIds} // [] } != $row->{person_count};
        my $name_bytes = $b->{name} // '';
        utf8::encode($name_bytes);
        push @why, 'GET answers another name than the row holds' if uc unpack('H*', $name_bytes) ne $row->{name_hex};
        my %seen;
        my @dups = grep { $seen{$_}++ } @{ $b->{personIds} // [] };
        push @why, "personIds repeats @dups[0 .. ($#dups < 4 ? $#dups : 4)]" if @dups;
    }
    ok(!@why, "$name: the list is whole and answers GET as stored") or diag(join '; ', @why);
    return $row;
}

# Counted in the run's own org: other callers of a shared stack may write meanwhile.
sub org_counts() {
    my ($row) = sql('SELECT (SELECT COUNT(*) FROM leadlists WHERE org_id = ' . sql_quote($org) . '),'
                    . ' (SELECT COUNT(*) FROM leadlist_users WHERE org_id = ' . sql_quote($org) . ')');
    return { leadlists => $row->[0] + 0, leadlist_users => $row->[1] + 0 };
}

my $tables_before = tables();

# --- 1. create, the body ----------------------------------------------------------------

{
    my $body = '{"name":"sqlmap body*","type":"person*","icpId":"660e8400-e29b-41d4-a716-446655440001*",'
      . '"startDate":"2024-01-01*","endDate":"2024-03-31T23:59:59Z*","personIds":["lead_sqlmap*"],'
      . '"companyIds":[]}';
    my $offset = log_size();
    my ($text, $rc) = run_sqlmap('body', $base . ROUTE, \@create_strength, '--method', 'POST', '--data', $body,
        '--headers', "Authorization: Bearer $token\nContent-Type: application/json");
    my $status = judge('body', $text, $rc, $offset, [ map { "JSON #$_*" } 1 .. 6 ], qr{POST /api/v1/entities/leadlists}, 500);
    # No Idempotency-Key here: each 201 is a new list, and only a 201 writes one.
    is(lists_of($user), $status->{201} // 0, 'body: as many lists were stored as 201s were answered');
}

# --- 2. create, the Authorization and Idempotency-Key headers ---------------------------

{
    my $body = json_text(valid_body(name => "sqlmap headers $$"));
    my $offset = log_size();
    # The body stays as it is ("JSON data ... process it? N"): only the marked headers are
    # injection points. 401 (a token with a payload) is an answer, not a reason to stop.
    my ($text, $rc) = run_sqlmap('headers', $base . ROUTE, \@create_strength, '--method', 'POST', '--data', $body,
        '--answers', 'JSON data=N', '--ignore-code', '401', '--code', '201',
        '--headers', "Authorization: Bearer $token*\nIdempotency-Key: t95-$$-*\nContent-Type: application/json");
    judge('headers', $text, $rc, $offset, [ 'Authorization #1*', 'Idempotency-Key #1*' ], qr{POST /api/v1/entities/leadlists}, 100);
}

my $created = lists_of($user);

# The lists of runs 3 to 7, and the reader's three lists for run 4's pages.
my %list = map { $_ => fixture($_) } qw(get patch members users);
my @reader_lists;
for my $n (1 .. 3) {
    my $r = api(token => $reader_token, body => valid_body(name => "t95 page $n $$"));
    $r->{status} == 201 or BAIL_OUT('could not create a list to page through: ' . describe($r));
    push @reader_lists, $r->{json}{id};
}
my %rows_before = map { $_ => row_of($_) } $list{get}, @reader_lists;

# --- 3. GET one list: the {id} segment ----------------------------------------------------

{
    my $offset = log_size();
    # Anything but a UUID in the segment is another path (404 before authentication): the id
    # never reaches a statement in any other form.
    my ($text, $rc) = run_sqlmap('get-one', $base . ROUTE . "/$list{get}*", \@route_strength, '--method', 'GET',
        '--headers', "Authorization: Bearer $owner_token");
    judge('get-one', $text, $rc, $offset, [ '#1*' ], qr{GET /api/v1/entities/leadlists/\Q$list{get}\E\S*}, 50);
}

# --- 4. the list endpoint: limit, type, cursor ---------------------------------------------

{
    my $first = api(method => 'GET', path => ROUTE . '?limit=2&type=person', token => $reader_token);
    my $cursor = ref $first->{json} eq 'HASH' ? $first->{json}{nextCursor} : undef;
    ok(defined $cursor && !ref $cursor && $cursor ne '', 'list: the first page of two has a nextCursor')
      or diag(describe($first));
    $cursor //= '';
    # The cursor is sent as it was given; percent-escaped where the query needs it.
    (my $q = $cursor) =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    my $offset = log_size();
    my ($text, $rc) = run_sqlmap('list', $base . ROUTE . "?limit=2&type=person&cursor=$q", \@route_strength,
        '--method', 'GET', '-p', 'limit,type,cursor',
        '--headers', "Authorization: Bearer $reader_token");
    judge('list', $text, $rc, $offset, [ qw(limit type cursor) ], qr{GET /api/v1/entities/leadlists}, 150);
}

# --- 5. PATCH: the body's fields --------------------------------------------------------------

{
    my $body = '{"name":"sqlmap patch*","icpId":"660e8400-e29b-41d4-a716-446655440001*",'
      . '"startDate":"2024-01-01*","endDate":"2024-03-31T23:59:59Z*","personIds":["lead_sqlmap*"]}';
    my $offset = log_size();
    my ($text, $rc) = run_sqlmap('patch', $base . ROUTE . "/$list{patch}", \@route_strength, '--method', 'PATCH',
        '--data', $body,
        '--headers', "Authorization: Bearer $owner_token\nContent-Type: application/json");
    judge('patch', $text, $rc, $offset, [ map { "JSON #$_*" } 1 .. 5 ], qr{PATCH /api/v1/entities/leadlists/\Q$list{patch}\E}, 250);
}

# --- 6. add-members: person ids -------------------------------------------------------------

{
    my $offset = log_size();
    my ($text, $rc) = run_sqlmap('add-members', $base . ROUTE . "/$list{members}/add-members", \@route_strength,
        '--method', 'POST', '--data', '{"personIds":["lead_m1*","lead_m2*"]}',
        '--headers', "Authorization: Bearer $owner_token\nContent-Type: application/json");
    judge('add-members', $text, $rc, $offset, [ 'JSON #1*', 'JSON #2*' ],
          qr{POST /api/v1/entities/leadlists/\Q$list{members}\E/add-members}, 100);
}

# --- 7. add-users: a user id ------------------------------------------------------------------

{
    my $offset = log_size();
    my ($text, $rc) = run_sqlmap('add-users', $base . ROUTE . "/$list{users}/add-users", \@route_strength,
        '--method', 'POST', '--data', '{"userIds":["user_t95_u1*"]}',
        '--headers', "Authorization: Bearer $owner_token\nContent-Type: application/json");
    judge('add-users', $text, $rc, $offset, [ 'JSON #1*' ],
          qr{POST /api/v1/entities/leadlists/\Q$list{users}\E/add-users}, 50);
}

# --- the database is intact ---------------------------------------------------------------------

{
    is(tables(), $tables_before, 'the database has the tables it had (none dropped or added)');
    my $now = org_counts();
    # Only run 7 shares a list; everything else sqlmap created has no leadlist_users row.
    my $shared = row_of($list{users});
    is($now->{leadlist_users}, $shared ? $shared->{users} : 0,
       'the only leadlist_users rows of the org are those of the add-users list')
      or diag('org counts: ' . json_text($now));
    is($now->{leadlists}, $created + 4 + 3, 'the only lists of the org are the creates answered 201 and the fixtures')
      or diag("org counts: " . json_text($now) . "; $created created by sqlmap");
    is(sql_value('SELECT COUNT(*) FROM leadlists WHERE created_by = ' . sql_quote($user)
                 . ' AND (person_count <> JSON_LENGTH(person_ids) OR LENGTH(company_ids) <> 16 * company_count'
                 . ' OR version <> 1)'), 0,
       'each list sqlmap created is whole (counts match the arrays, version 1)');
    is(sql_value('SELECT COUNT(*) FROM leadlist_users u JOIN leadlists l ON l.id = u.leadlist_id'
                 . ' WHERE l.created_by = ' . sql_quote($user)), 0, 'the creates wrote no leadlist_users rows');
    whole_ok($list{$_}, $_) for qw(get patch members users);
    for my $id ($list{get}, @reader_lists) {
        is_deeply(row_of($id), $rows_before{$id}, "list $id, only read, is unchanged");
    }
    note('sqlmap created ' . $created . ' lists; the patched list is at version ' . (row_of($list{patch})->{version} // '?')
         . ', the members list holds ' . (row_of($list{members})->{person_count} // '?') . ' ids, the users list '
         . (($shared->{users} // 0) + 1) . ' users');
}

done_testing();
