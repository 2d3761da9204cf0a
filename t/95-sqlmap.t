#!/usr/bin/perl
# sqlmap against the create endpoint finds no SQL injection: the JSON body's fields, the
# Authorization header and the Idempotency-Key header are all tried as injection points.
#
# Two runs, each bounded in time:
#   1. the body: every string field of a valid body carries sqlmap's `*` marker, sent with a
#      valid bearer token;
#   2. the headers: `Bearer TOKEN*` and `Idempotency-Key: KEY*` with a valid body. Every
#      payload in the key is a new key, so a payload answered 201 has written a list; --code
#      201 makes 201 sqlmap's "true" page, which keeps replays of an earlier payload (also
#      201, same body) from looking like a difference.
# Both use --dbms MySQL (MariaDB) and boolean, error, union, stacked and time-based
# techniques. LEADLISTS_SQLMAP_LEVEL and LEADLISTS_SQLMAP_RISK (default 3 and 3) set sqlmap's
# --level and --risk; 5 and 3 is the thorough run (about 25,000 requests).
#
# The test fails when sqlmap reports an injection point, when it did not finish its tests,
# or when the worker log shows that it did not really exercise the endpoint (fewer requests
# than expected), answered 500, or logged an SQL syntax error.
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

my $level = ($ENV{LEADLISTS_SQLMAP_LEVEL} // '') =~ /^[1-5]$/ ? $ENV{LEADLISTS_SQLMAP_LEVEL} : 3;
my $risk  = ($ENV{LEADLISTS_SQLMAP_RISK}  // '') =~ /^[1-3]$/ ? $ENV{LEADLISTS_SQLMAP_RISK}  : 3;

# sqlmap's files (session, results, its "home") stay under var/, never in the home directory.
my $root = $ENV{LEADLISTS_ROOT} && -d "$ENV{LEADLISTS_ROOT}/var" ? "$ENV{LEADLISTS_ROOT}/var" : '/tmp';
my $out_dir = "$root/sqlmap";
make_path("$out_dir/home");

my $user  = "user_t95_$$";
my $token = mint_session(user => $user, org => 'org_t95');
my $url   = $ENV{LEADLISTS_URL} . ROUTE;

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

# Runs sqlmap with ARGS (on top of the common ones); returns its output and exit status.
sub run_sqlmap($name, @args) {
    my @cmd = ('timeout', '-k', '10', '300', $sqlmap, '-u', $url, '--method', 'POST',
               '--batch', '--dbms', 'MySQL', '--level', $level, '--risk', $risk,
               '--technique', 'BEUST', '--time-sec', '1', '--timeout', '10', '--retries', '0',
               '--flush-session', '--output-dir', $out_dir, '-v', '1', @args);
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
    note(sprintf '%s: sqlmap exit %d after %.1f s (output: %s)', $name, $rc, $secs, $log);
    return ($text, $rc);
}

# One run's verdict: assertions on sqlmap's output and on what the workers logged meanwhile.
# EXPECT_PARAMS: the injection points it must have tested; MIN_REQUESTS: how many requests the
# workers must at least have answered.
sub judge($name, $text, $rc, $offset, $expect_params, $min_requests) {
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
        next if !m{ POST /api/v1/entities/leadlists (\d{3}) [\d.]+ms$};
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

sub lists_of($user) {
    return sql_value("SELECT COUNT(*) FROM leadlists WHERE created_by = " . sql_quote($user)) + 0;
}

my $before = counts();

# --- 1. the body --------------------------------------------------------------------------

{
    my $body = '{"name":"sqlmap body*","type":"person*","icpId":"660e8400-e29b-41d4-a716-446655440001*",'
      . '"startDate":"2024-01-01*","endDate":"2024-03-31T23:59:59Z*","personIds":["lead_sqlmap*"],'
      . '"companyIds":[]}';
    my $offset = log_size();
    my ($text, $rc) = run_sqlmap('body', '--data', $body,
        '--headers', "Authorization: Bearer $token\nContent-Type: application/json");
    my $status = judge('body', $text, $rc, $offset, [ map { "JSON #$_*" } 1 .. 6 ], 500);
    # No Idempotency-Key here: each 201 is a new list, and only a 201 writes one.
    is(lists_of($user), $status->{201} // 0, 'body: as many lists were stored as 201s were answered');
}

# --- 2. the Authorization and Idempotency-Key headers -------------------------------------

{
    my $body = json_text(valid_body(name => "sqlmap headers $$"));
    my $offset = log_size();
    # The body stays as it is ("JSON data ... process it? N"): only the marked headers are
    # injection points. 401 (a token with a payload) is an answer, not a reason to stop.
    my ($text, $rc) = run_sqlmap('headers', '--data', $body, '--answers', 'JSON data=N',
        '--ignore-code', '401', '--code', '201',
        '--headers', "Authorization: Bearer $token*\nIdempotency-Key: t95-$$-*\nContent-Type: application/json");
    judge('headers', $text, $rc, $offset, [ 'Authorization #1*', 'Idempotency-Key #1*' ], 100);
}

# Every list is whole: its creator and its ids as the service writes them, and nothing else.
{
    my $now = counts();
    is($now->{leadlist_users}, $before->{leadlist_users}, 'sqlmap\'s creates wrote no leadlist_users rows')
      or diag('before: ' . json_text($before) . ' after: ' . json_text($now));
    is(sql_value('SELECT COUNT(*) FROM leadlists WHERE created_by = ' . sql_quote($user)
                 . ' AND person_count <> JSON_LENGTH(person_ids)'), 0,
       'each list sqlmap created is whole (person_count matches its person_ids)')
      or diag('before: ' . json_text($before) . ' after: ' . json_text($now));
    note('sqlmap created ' . lists_of($user) . ' lists');
}

done_testing();
