#!/usr/bin/perl
# leadlistsctl session list and session revoke --user, against the stack's database: what an
# administrator sees of the sessions (never a token), and signing a user out everywhere at once.
use v5.36;
use Test::More;
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempfile);
use POSIX ();
use Time::HiRes qw(sleep);
use Leadlists::Test;

need_stack();

my $HEADER = join "\t", qw(HASH USER ORG ROLE CREATED EXPIRES REVOKED);
my $ISO    = qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;

# Runs leadlistsctl with the stack's configuration; returns (exit status, stdout, stderr).
sub ctl(@args) {
    my ($err_fh, $err_file) = tempfile('leadlistsctl-err-XXXXXX', TMPDIR => 1, UNLINK => 1);
    my $pid = open(my $out_fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', $err_fh or POSIX::_exit(127);
        exec { $ENV{LEADLISTS_CTL} } $ENV{LEADLISTS_CTL}, '-c', $ENV{LEADLISTS_CONFIG}, @args
          or print STDERR "exec $ENV{LEADLISTS_CTL}: $!\n";
        POSIX::_exit(127);
    }
    my $out = do { local $/; <$out_fh> } // '';
    close $out_fh;
    my $status = $? >> 8;
    seek $err_fh, 0, 0;
    my $err = do { local $/; <$err_fh> } // '';
    close $err_fh;
    return ($status, $out, $err);
}

# session list with @args: (exit status, header line, rows as hashes keyed by the header's
# names, stdout, stderr). A row without exactly 7 columns is kept as {bad => line}.
sub list_sessions(@args) {
    my ($status, $out, $err) = ctl('session', 'list', @args);
    my ($header, @lines) = split /\n/, $out, -1;
    pop @lines if @lines && $lines[-1] eq '';
    my @rows;
    for my $line (@lines) {
        my @f = split /\t/, $line, -1;
        if (@f != 7) {
            push @rows, { bad => $line };
            next;
        }
        my %r;
        @r{qw(hash user org role created expires revoked)} = @f;
        push @rows, \%r;
    }
    return ($status, $header // '', \@rows, $out, $err);
}

sub prefix($token) { return substr(sha256_hex($token), 0, 12) }

# The columns of a session row as the database holds them, times cut to milliseconds in the
# API's form, for an exact comparison with what the command printed.
sub stored($token) {
    my $fmt = sub ($c) { "IFNULL(CONCAT(LEFT(DATE_FORMAT($c, '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z'), '-')" };
    my ($row) = sql('SELECT user_id, org_id, role, ' . join(', ', map { $fmt->($_) } qw(created_at expires_at revoked_at))
                    . " FROM sessions WHERE token_hash = UNHEX('" . sha256_hex($token) . "')");
    die "no sessions row for a token of this test\n" if !$row;
    my %r;
    @r{qw(user org role created expires revoked)} = @$row;
    return \%r;
}

# The API's verdict on a token: 200 when its session is live. A read, so nothing is written.
sub api_status($token) { return list_page($token, limit => 1)->{status} }

my $ua    = "u91a_$$";
my $ub    = "u91b_$$";
my $uc    = "u91c_$$";
my $org_x = "org91x_$$";
my $org_y = "org91y_$$";

# Minted one after the other, so that newest first is a1 last: the pause keeps their
# created_at (milliseconds) apart.
my (%tok, %want);
my $t_start = time;
for my $s ([ a1 => $ua, $org_x, 'member', 3600 ], [ a2 => $ua, $org_x, 'admin', 7200 ],
           [ a3 => $ua, $org_y, 'member', 600 ], [ b1 => $ub, $org_x, 'member', 3600 ]) {
    my ($name, $user, $org, $role, $ttl) = @$s;
    $tok{$name} = mint_session(user => $user, org => $org, role => $role, ttl => $ttl);
    $want{$name} = { user => $user, org => $org, role => $role, ttl => $ttl };
    sleep 0.01;
}
my $t_end = time + 1;
my %by_prefix = map { prefix($tok{$_}) => $_ } keys %tok;
is(scalar keys %by_prefix, 4, 'the four tokens of the test have four different hash prefixes');

# Every output of the command is checked for tokens and hashes at the end.
my @outputs;

# --- what session list shows ------------------------------------------------------------

{
    my ($status, $header, $rows, $out, $err) = list_sessions('--user', $ua);
    push @outputs, $out, $err;
    is($status, 0, 'list --user: exit 0') or diag($err);
    is($header, $HEADER, 'list --user: the header line names the 7 tab-separated columns');
    is_deeply([ map { $by_prefix{ $_->{hash} // '' } // "unknown $_->{hash}" } @$rows ], [qw(a3 a2 a1)],
              "list --user: exactly the user's three sessions, newest first, each shown by its hash prefix")
      or diag($out);
    for my $r (@$rows) {
        my $name = $by_prefix{ $r->{hash} // '' } // next;
        my $w = $want{$name};
        is_deeply([ @$r{qw(user org role revoked)} ], [ $w->{user}, $w->{org}, $w->{role}, '-' ],
                  "$name: user, org, role as minted, not revoked");
        like($r->{created}, $ISO, "$name: created in UTC ISO 8601 with milliseconds and Z");
        like($r->{expires}, $ISO, "$name: expires in the same form");
        my ($c, $e) = (iso_ms($r->{created}), iso_ms($r->{expires}));
        ok(defined $c && $c >= ($t_start - 2) * 1000 && $c <= ($t_end + 2) * 1000,
           "$name: created is the time it was minted") or diag("created $r->{created}");
        is(defined $c && defined $e ? $e - $c : undef, $w->{ttl} * 1000, "$name: expires is created + --ttl $w->{ttl}");
        my $db = stored($tok{$name});
        is_deeply({ map { $_ => $r->{$_} } qw(user org role created expires revoked) }, $db,
                  "$name: every column is the stored value");
    }
}

# Sessions are ordered newest first over the whole table, not only within one user.
{
    my $before = sql_value('SELECT COUNT(*) FROM sessions');
    my ($status, $header, $rows, $out, $err) = list_sessions();
    my $after = sql_value('SELECT COUNT(*) FROM sessions');
    push @outputs, $out, $err;
    is($status, 0, 'list without filters: exit 0') or diag($err);
    is($header, $HEADER, 'list without filters: the same header');
    my @bad = grep { exists $_->{bad} || ($_->{hash} // '') !~ /\A[0-9a-f]{12}\z/ || ($_->{created} // '') !~ $ISO } @$rows;
    is(scalar @bad, 0, 'list without filters: every line has 7 columns, a 12-digit hex prefix and a time')
      or diag('e.g. ' . ($bad[0]{bad} // join "\t", map { $_ // '' } @{ $bad[0] }{qw(hash user created)}));
    my @disorder = grep { $rows->[ $_ - 1 ]{created} lt $rows->[$_]{created} } 1 .. $#$rows;
    is(scalar @disorder, 0, 'list without filters: created never increases down the list');
    my %seen = map { ($_->{hash} // '') => 1 } @$rows;
    is(scalar(grep { $seen{$_} } keys %by_prefix), 4, "list without filters: the test's four sessions are in it");
    ok(@$rows >= $before && @$rows <= $after, 'list without filters: one line per sessions row')
      or diag(scalar(@$rows) . " lines, $before to $after rows");
}

# --- the filters ------------------------------------------------------------------------

for my $c ([ "--org $org_x", [ '--org', $org_x ], [qw(b1 a2 a1)] ],
           [ "--user $ua --org $org_x", [ '--user', $ua, '--org', $org_x ], [qw(a2 a1)] ],
           [ "--org $org_x --user $ua", [ '--org', $org_x, '--user', $ua ], [qw(a2 a1)] ],
           [ "--user $ua --org $org_y", [ '--user', $ua, '--org', $org_y ], [qw(a3)] ],
           [ "--user=$ub", [ "--user=$ub" ], [qw(b1)] ],
           [ "--user $ub --org $org_y", [ '--user', $ub, '--org', $org_y ], [] ],
           [ 'an unknown user', [ '--user', "nobody91_$$" ], [] ],
           [ 'a 64-character user', [ '--user', 'z' x 64 ], [] ]) {
    my ($desc, $args, $names) = @$c;
    my ($status, $header, $rows, $out, $err) = list_sessions(@$args);
    push @outputs, $out, $err;
    is($status, 0, "list $desc: exit 0") or diag($err);
    is($header, $HEADER, "list $desc: the header line, also when nothing matches");
    # The ids carry the pid, so any other session in the answer is a filter that let it through.
    is_deeply([ map { $by_prefix{ $_->{hash} // '' } // "other $_->{hash}" } @$rows ], $names,
              "list $desc: exactly " . (@$names ? "@$names, newest first" : 'no session')) or diag($out);
}

# --- arguments refused ------------------------------------------------------------------

for my $c ([ 'a user with a space',           [ 'session', 'list', '--user', 'bad user' ], qr/--user.*1-64/ ],
           [ 'an empty user',                 [ 'session', 'list', '--user', '' ],         qr/--user.*1-64/ ],
           [ 'a 65-character org',            [ 'session', 'list', '--org', 'o' x 65 ],    qr/--org.*1-64/ ],
           [ 'a quote in the org',            [ 'session', 'list', '--org', "x' OR '1'='1" ], qr/--org.*1-64/ ],
           [ 'a percent sign (SQL wildcard)', [ 'session', 'list', '--user', 'u91%' ],    qr/--user.*1-64/ ],
           [ 'a non-ASCII user',              [ 'session', 'list', '--user', "u\xc3\xa9" ], qr/--user.*1-64/ ],
           [ '--user twice',                  [ 'session', 'list', '--user', $ua, '--user', $ub ], qr/--user.*twice/ ],
           [ '--user without a value',        [ 'session', 'list', '--user' ],             qr/--user/ ],
           [ 'an unknown option',             [ 'session', 'list', '--role', 'admin' ],    qr/--role/ ],
           [ 'an extra argument',             [ 'session', 'list', $ua ],                  qr/\Q$ua\E/ ],
           [ 'revoke --user with a space',    [ 'session', 'revoke', '--user', "$ua x" ],  qr/--user.*1-64/ ],
           [ 'revoke --user=%',               [ 'session', 'revoke', '--user=%' ],         qr/--user.*1-64/ ],
           [ 'revoke --user without a value', [ 'session', 'revoke', '--user' ],           qr/--user/ ]) {
    my ($desc, $args, $message) = @$c;
    my ($status, $out, $err) = ctl(@$args);
    push @outputs, $out, $err;
    is($status, 2, "$desc: exit 2");
    like($err, $message, "$desc: the message names what is wrong") or diag("stderr: $err");
    is($out, '', "$desc: nothing on standard output");
}
is_deeply([ map { api_status($tok{$_}) } qw(a1 a2 a3 b1) ], [ 200, 200, 200, 200 ],
          'after the refused commands, every session of the test still works');

# --- revoke --user ----------------------------------------------------------------------

{
    my ($status, $out, $err) = ctl('session', 'revoke', '--user', $ua);
    push @outputs, $out, $err;
    is($status, 0, 'revoke --user: exit 0') or diag($err);
    is($out, "3 sessions revoked\n", 'revoke --user: says how many it revoked (both orgs of the user)');
    for my $name (qw(a1 a2 a3)) {
        error_ok(list_page($tok{$name}, limit => 1), 401, 'UNAUTHORIZED', "$name after revoke --user");
    }
    is(api_status($tok{b1}), 200, "another user's session still works");

    my ($s2, $header, $rows, $o2, $e2) = list_sessions('--user', $ua);
    push @outputs, $o2, $e2;
    is(scalar @$rows, 3, 'list after revoke --user: the three sessions are still listed');
    my %revoked = map { $_->{revoked} => 1 } @$rows;
    my ($when) = keys %revoked;
    ok(keys %revoked == 1 && $when =~ $ISO, 'list after revoke --user: all three revoked at one instant, in ISO form')
      or diag($o2);
    ok(!(grep { (iso_ms($when // '') // 0) < (iso_ms($_->{created}) // 0) } @$rows),
       'the revocation time is after each creation');
    is(stored($tok{a1})->{revoked}, $when, 'the revocation time shown is the stored one');
    my (undef, undef, $brows) = list_sessions('--user', $ub);
    is_deeply([ map { $_->{revoked} } @$brows ], ['-'], "list: the other user's session is not revoked");

    ($status, $out, $err) = ctl('session', 'revoke', "--user=$ua");
    push @outputs, $out, $err;
    is($status, 0, 'revoke --user again: exit 0 although nothing is left to revoke') or diag($err);
    is($out, "0 sessions revoked\n", 'revoke --user again: says 0');
    is(stored($tok{a1})->{revoked}, $when, 'revoke --user again: the first revocation time is kept');

    ($status, $out, $err) = ctl('session', 'revoke', '--user', "nobody91_$$");
    is($status, 0, 'revoke --user of a user with no session: exit 0');
    is($out, "0 sessions revoked\n", 'revoke --user of a user with no session: says 0');
}

# An expired session is marked too, so that it cannot come back if its expiry is moved.
{
    my $t = mint_session(user => $uc, org => $org_y);
    expire_session($t);
    my ($status, $out) = ctl('session', 'revoke', '--user', $uc);
    is($out, "1 session revoked\n", 'revoke --user marks an expired session too (singular)');
    like(stored($t)->{revoked}, $ISO, 'the expired session has a revocation time');
}

# --- session revoke TOKEN is unchanged ----------------------------------------------------

{
    my ($status, $out, $err) = ctl('session', 'revoke', $tok{b1});
    is("$status $out", "0 revoked\n", 'revoke TOKEN still revokes one session and says so');
    error_ok(list_page($tok{b1}, limit => 1), 401, 'UNAUTHORIZED', 'b1 after revoke TOKEN');
    ($status, $out, $err) = ctl('session', 'revoke', $tok{b1});
    is($status, 1, 'revoke TOKEN of a revoked session: exit 1, as before');

    # A token may begin with "-" (base64url), even with "--user": alone it is still a token.
    my $odd = '--user' . join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9, '-', '_')[ rand 64 ] } 1 .. 37;
    sql("INSERT INTO sessions (token_hash, user_id, org_id, role, created_at, expires_at) VALUES (UNHEX('"
        . sha256_hex($odd) . "'), '$ub', '$org_x', 'member', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)");
    is(api_status($odd), 200, 'a session whose token begins with --user works');
    ($status, $out, $err) = ctl('session', 'revoke', $odd);
    is("$status $out", "0 revoked\n", 'revoke TOKEN with a token beginning with --user revokes it') or diag($err);
    is(api_status($odd), 401, 'that token then gets 401');
    push @outputs, $out, $err;
    $tok{odd} = $odd;
}

# --- a row written by hand cannot forge a line or a column --------------------------------

{
    my $org_h = "org91h_$$";
    my $evil = "u91\tx\nHASH\e[31m\\";
    my $t = "hand91-$$-" . join '', map { ('a' .. 'z')[ rand 26 ] } 1 .. 20;
    sql("INSERT INTO sessions (token_hash, user_id, org_id, role, created_at, expires_at) VALUES (UNHEX('"
        . sha256_hex($t) . "'), " . sql_quote($evil) . ", '$org_h', 'admin', UTC_TIMESTAMP(3),"
        . ' UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)');
    my ($status, $header, $rows, $out) = list_sessions('--org', $org_h);
    is($status, 0, 'list of a hand-written row: exit 0');
    is(scalar @$rows, 1, 'a user id with a tab and a newline still makes one line of 7 columns') or diag($out);
    is($rows->[0]{user}, 'u91\x09x\x0aHASH\x1b[31m\x5c', 'its control bytes and backslash are shown as \xNN');
    sql("DELETE FROM sessions WHERE org_id = '$org_h'");
}

# --- no token and no whole hash in anything the command printed ---------------------------

{
    my $all = join "\n", @outputs;
    my @leaks;
    for my $name (sort keys %tok) {
        my $t = $tok{$name};
        my $h = sha256_hex($t);
        push @leaks, "$name: token" if index($all, $t) >= 0;
        push @leaks, "$name: more than 12 hex digits of its hash" if index(lc $all, substr($h, 0, 13)) >= 0;
        push @leaks, "$name: hash suffix" if index(lc $all, substr($h, 12)) >= 0;
    }
    is_deeply(\@leaks, [], 'no output shows a token or more of its hash than the 12-digit prefix');
}

done_testing();
