#!/usr/bin/perl
# Authentication: every way of not having a valid session gives the same 401.
use v5.36;
use utf8;
use Test::More;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(sleep);
use Leadlists::Test;

need_stack();

my $user   = 'user_t20_' . $$;
my $org    = 'org_t20';
my $good   = mint_session(user => $user, org => $org);
my $admin  = mint_session(user => "admin_t20_$$", org => $org, role => 'admin');
my $expired = mint_session(user => "expired_t20_$$", org => $org);
expire_session($expired);
my $revoked = mint_session(user => "revoked_t20_$$", org => $org);
revoke_session($revoked);
my $short = mint_session(user => "short_t20_$$", org => $org, ttl => 2);
my @tokens = ($good, $admin, $expired, $revoked, $short);

ok(length($good) >= 16, 'minted token is at least 16 characters') or diag("token: $good");
isnt($good, $admin, 'two sessions get two tokens');

# --- the good session works (also with the scheme in any case) -------------------------------

my $before = counts();
for my $auth ("Bearer $good", "bearer $good", "BEARER $good") {
    my $r = api(authorization => $auth, body => valid_body());
    my $b = created_ok($r, $user, "Authorization '" . substr($auth, 0, 7) . "...'");
    stored_ok($b, "scheme " . substr($auth, 0, 6));
    $before->{$_}++ for qw(leadlists);
}
{
    my $r = api(token => $admin, body => valid_body());
    my $b = created_ok($r, "admin_t20_$$", 'admin session');
    stored_ok($b, 'admin session');
    $before->{$_}++ for qw(leadlists);
    my $org_of = sql_value("SELECT org_id FROM leadlists WHERE id = UNHEX('"
                           . (($b->{id} // '') =~ tr/-//dr) . "')");
    is($org_of, $org, "the list is stored under the session's org_id");
}
{
    my $r = api(token => $short, body => valid_body());
    my $b = created_ok($r, "short_t20_$$", 'session minted with --ttl 2, used at once');
    $before->{$_}++ for qw(leadlists);
}
$before = counts_ok($before, 'each accepted request wrote exactly one list');

# --- every failure is the same 401 -----------------------------------------------------------

sleep 2.5;    # let the --ttl 2 session run out

my $unknown = join '', map { ('a' .. 'z', 'A' .. 'Z', 0 .. 9)[ rand 62 ] } 1 .. length $good;
my @cases = (
    [ 'no Authorization header',           undef ],
    [ 'Basic scheme',                      'Basic dXNlcjpwYXNzd29yZA==' ],
    [ 'Basic scheme with a valid token',   "Basic $good" ],
    [ 'Token scheme with a valid token',   "Token $good" ],
    [ 'valid token with no scheme',        $good ],
    [ 'Bearer with no token',              'Bearer' ],
    [ 'Bearer and a space',                'Bearer ' ],
    [ 'BearerTOKEN with no space',         "Bearer$good" ],
    [ 'unknown token',                     "Bearer $unknown" ],
    [ 'expired session',                   "Bearer $expired" ],
    [ 'revoked session',                   "Bearer $revoked" ],
    [ 'session past its --ttl',            "Bearer $short" ],
    [ 'stored hash (hex SHA-256) as token', 'Bearer ' . sha256_hex($good) ],
    [ 'stored hash upper case as token',   'Bearer ' . uc sha256_hex($good) ],
    [ 'valid token with a space inside',   'Bearer ' . substr($good, 0, 8) . ' ' . substr($good, 8) ],
    [ 'valid token then a second word',    "Bearer $good x" ],
    [ 'valid token with a character cut',  'Bearer ' . substr($good, 0, -1) ],
    [ 'valid token with a character added', "Bearer ${good}A" ],
    [ 'valid token quoted',                "Bearer \"$good\"" ],
    [ '10 KB token',                       'Bearer ' . ('a' x 10240) ],
    [ '10 KB token starting with a valid token', "Bearer $good" . ('a' x 10240) ],
);
# The token in the query string or a cookie is not a session either.
for my $c ([ 'token in the query string', ROUTE . "?access_token=$good" ]) {
    my $r = api(path => $c->[1], body => valid_body());
    error_ok($r, 401, 'UNAUTHORIZED', $c->[0]);
    $before = nothing_written($before, $c->[0]);
}
{
    my $r = api(headers => { Cookie => "session=$good; token=$good" }, body => valid_body());
    error_ok($r, 401, 'UNAUTHORIZED', 'token in a cookie');
    $before = nothing_written($before, 'token in a cookie');
}
# Control characters cannot go through HTTP::Tiny: these are sent as raw bytes.
my @raw_cases = (
    [ 'token with \\x01 inside',  "Bearer " . substr($good, 0, 8) . "\x01" . substr($good, 8) ],
    [ 'valid token then \\x01',   "Bearer $good\x01" ],
    [ 'valid token then DEL',     "Bearer $good\x7f" ],
    [ 'token with a tab inside',  "Bearer " . substr($good, 0, 8) . "\t" . substr($good, 8) ],
    [ 'token with UTF-8 bytes',   "Bearer $good\xc3\xa9" ],
    [ 'token with a \\x1b escape', "Bearer \x1b[31m$good" ],
);

my (%bodies, $first);
for my $c (@cases) {
    my ($name, $auth) = @$c;
    my $r = api(authorization => $auth, body => valid_body());
    error_ok($r, 401, 'UNAUTHORIZED', $name);
    $before = nothing_written($before, $name);
    $bodies{$name} = $r;
}
for my $c (@raw_cases) {
    my ($name, $auth) = @$c;
    my $r = raw_post(body => json_text(valid_body()),
                     headers => [ "Authorization: $auth", 'Content-Type: application/json' ]);
    error_ok($r, 401, 'UNAUTHORIZED', $name);
    $before = nothing_written($before, $name);
    $bodies{$name} = $r;
}

# Identical bodies apart from requestId, and identical WWW-Authenticate.
{
    my %shape;
    for my $name (sort keys %bodies) {
        my $r   = $bodies{$name};
        my $rid = header($r, 'x-request-id') // "\0none";
        (my $text = $r->{content} // '') =~ s/\Q$rid\E/<requestId>/g;
        $shape{$name} = $text . "\nWWW-Authenticate: " . (header($r, 'www-authenticate') // '');
    }
    my %distinct;
    push @{ $distinct{ $shape{$_} } }, $_ for sort keys %shape;
    is(scalar keys %distinct, 1, 'all ' . scalar(keys %shape) . ' 401 answers are identical but for requestId')
      or diag(join "\n", map { "[" . join(', ', @{ $distinct{$_} }) . "]:\n  $_" } keys %distinct);
}

# Two Authorization headers: refused as a JSON 400 (nginx's own page is mapped to JSON).
for my $pair ([ "Bearer $good", "Bearer $good" ], [ "Bearer $good", "Bearer $unknown" ],
              [ "Bearer $unknown", "Bearer $good" ]) {
    my $r = raw_post(body => json_text(valid_body()),
                     headers => [ map({ "Authorization: $_" } @$pair), 'Content-Type: application/json' ]);
    my $desc = 'two Authorization headers (' . ($pair->[0] eq "Bearer $good" ? 'good' : 'unknown') . ', '
      . ($pair->[1] eq "Bearer $good" ? 'good' : 'unknown') . ')';
    is($r->{status}, 400, "$desc: refused with 400") or diag(describe($r));
    my $e = ref $r->{json} eq 'HASH' ? $r->{json}{error} : undef;
    ok(ref $e eq 'HASH' && ($e->{code} // '') eq 'BAD_REQUEST'
         && (header($r, 'content-type') // '') eq 'application/json; charset=utf-8',
       "$desc: the answer is the JSON error envelope with code BAD_REQUEST") or diag(describe($r));
}
$before = nothing_written($before, 'two Authorization headers');

# The session checks are made per request: a session revoked after use stops working.
{
    my $t = mint_session(user => "late_t20_$$", org => $org);
    my $r = api(token => $t, body => valid_body());
    created_ok($r, "late_t20_$$", 'fresh session works');
    $before->{$_}++ for qw(leadlists);
    revoke_session($t);
    $r = api(token => $t, body => valid_body());
    error_ok($r, 401, 'UNAUTHORIZED', 'the same session right after revoke');
    my $t2 = mint_session(user => "late2_t20_$$", org => $org);
    $r = api(token => $t2, body => valid_body());
    created_ok($r, "late2_t20_$$", 'another fresh session works');
    $before->{$_}++ for qw(leadlists);
    expire_session($t2);
    $r = api(token => $t2, body => valid_body());
    error_ok($r, 401, 'UNAUTHORIZED', 'the same session right after it expired');
    push @tokens, $t, $t2;
    $before = counts_ok($before, 'revoke/expire after use: only the accepted requests wrote');
}

# --- tokens are stored only as hashes, and never logged ------------------------------------

{
    my $hash = sha256_hex($good);
    is(sql_value("SELECT COUNT(*) FROM sessions WHERE token_hash = UNHEX('$hash') AND user_id = "
                 . sql_quote($user)), 1, 'the sessions row is keyed by SHA-256 of the token');
    my $q = sql_quote($good);
    is(sql_value("SELECT COUNT(*) FROM sessions WHERE token_hash = $q OR user_id = $q OR org_id = $q"),
       0, 'the raw token is in no sessions column');
    is(sql_value("SELECT COUNT(*) FROM leadlists WHERE INSTR(name, $q) > 0 OR INSTR(created_by, $q) > 0"),
       0, 'the raw token is in no leadlists column');
  SKIP: {
        my $log = $ENV{LEADLISTS_WORKER_LOG};
        skip 'LEADLISTS_WORKER_LOG not readable', 1 if !defined $log || !-r $log;
        open my $fh, '<', $log or skip "cannot open $log", 1;
        my $text = do { local $/; <$fh> } // '';
        my @found = grep { index($text, $_) >= 0 } @tokens;
        is(scalar @found, 0, 'no token appears in the worker log')
          or diag(scalar(@found) . ' token(s) found in ' . $log);
    }
}

done_testing();
