#!/usr/bin/perl
# GET and HEAD of one list: the body is the 201 body, field for field and byte for byte; the
# ETag is the version and If-None-Match compares with it (weakly); HEAD is GET without a body;
# another org's list is the 404 of no list at all, a list of the caller's org that the caller
# may not act on is 403, and the session is checked before either. Reading writes nothing.
use v5.36;
use utf8;
use Test::More;
use Encode qw(encode_utf8);
use Leadlists::Test;

need_stack();

# The cast's other_member is the creator's own user id in another org: the id matches, the org
# does not.
my $cast = family_cast('t41');
my ($tag, $creator, $sharee) = @$cast{qw(tag creator sharee)};
my %tok = %{ $cast->{tok} };

my $JSON_CT   = 'application/json; charset=utf-8';
my $NOT_FOUND = 'Lead list not found';
my $FORBIDDEN = 'You do not have access to this lead list';
my @FIELDS    = qw(id icpId name type startDate endDate personIds companyIds userIds createdAt updatedAt);

sub one($id) { return ROUTE . "/$id" }

# One assertion: $r is a 200 of GET (or HEAD, with $head) for the list whose body is $want
# (a decoded list object) and whose text is $want_text when given, with ETag $etag.
sub list_ok($r, $want, $etag, $name, %o) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @why;
    push @why, "status $r->{status}, want 200" if ($r->{status} // 0) != 200;
    my $ct = header($r, 'content-type') // '';
    push @why, "Content-Type '$ct'" if $ct ne $JSON_CT;
    push @why, 'no X-Request-Id' if (header($r, 'x-request-id') // '') !~ /\S/;
    my $et = etag_of($r) // 'none';
    push @why, "ETag $et, want $etag" if $et ne $etag;
    if ($o{head}) {
        push @why, 'HEAD answered a body: ' . length($r->{content}) . ' bytes' if ($r->{content} // '') ne '';
    } else {
        my @keys = top_level_keys($r->{content} // '');
        push @why, "keys in order [@keys], want [@FIELDS]" if "@keys" ne "@FIELDS";
        push @why, 'body differs from the list: ' . json_text($r->{json}) if !eq_deeply($r->{json}, $want);
        push @why, 'body text differs from the one given' if defined $o{text} && ($r->{content} // '') ne $o{text};
    }
    my $ok = ok(!@why, "$name: 200 with the list and ETag $etag");
    diag(join('; ', @why) . "\n" . describe($r)) if !$ok;
    return $ok;
}

# One assertion: $r is a 304 with ETag $etag and no body.
sub not_modified_ok($r, $etag, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @why;
    push @why, "status $r->{status}, want 304" if ($r->{status} // 0) != 304;
    my $et = etag_of($r) // 'none';
    push @why, "ETag $et, want $etag" if $et ne $etag;
    push @why, 'a body of ' . length($r->{content}) . ' bytes' if ($r->{content} // '') ne '';
    push @why, 'no X-Request-Id' if (header($r, 'x-request-id') // '') !~ /\S/;
    my $ok = ok(!@why, "$name: 304 with ETag $etag and no body");
    diag(join('; ', @why) . "\n" . describe($r)) if !$ok;
    return $ok;
}

sub eq_deeply($x, $y) { return json_text($x) eq json_text($y) }

# --- the lists ----------------------------------------------------------------------------

my $uuid = '660e8400-e29b-41d4-a716-446655440001';

my ($plain, $created) = create_list_ok($tok{creator}, $creator, 'the plain person list',
                                       name => uniq_name('t41 plain'));
my $plain_text = $created->{content};
my $id = $plain->{id};

my @companies = map { sprintf '0193F1D2-6C1E-7A4B-9C2D-%012X', 0xABC000 + $_ } 3, 1, 2;
my ($company, $cr) = create_list_ok($tok{creator}, $creator, 'the company list, companyIds sent in upper case',
                                    name => uniq_name('t41 company'), type => 'company', personIds => [],
                                    companyIds => \@companies);

# 10,000 ids (the cap) in an order that is not sorted: members come back in the order stored.
my @many = map { sprintf 'lead_%05d', ($_ * 7919) % 10000 } 0 .. 9999;
my ($big, $mr) = create_list_ok($tok{creator}, $creator, 'the list of 10,000 person ids',
                                name => uniq_name('t41 many'), personIds => \@many);

my @names = (
    "🚀 Q1 — Straße 日本語 ñ e\x{301} 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \x{202e}rtl\x{202c}",
    q{Robert'); DROP TABLE leadlists;-- "quoted" \back\slash %_ ` ${x} <b>&amp;</b>},
    q{' OR '1'='1' /* */ UNION SELECT 1 -- \x00 \' \\' \"},
);
my @odd;
for my $n (@names) {
    my $r = api(token => $tok{creator}, body => valid_body(name => $n, icpId => undef));
    my $b = created_ok($r, $creator, 'a list named ' . json_text($n));
    is($b->{name}, $n, 'the 201 carries the name as sent: ' . json_text($n)) if $b;
    push @odd, [ $b, $r->{content} ] if $b;
}

# --- GET ----------------------------------------------------------------------------------

my $before_reads = family_counts();
my $row_before   = list_row($id);

my $g = get_list($tok{creator}, $id);
list_ok($g, $plain, '"1"', 'GET by the creator', text => $plain_text);
is_deeply([ top_level_keys($g->{content}) ], [ top_level_keys($plain_text) ],
          'GET: the fields of the 201 in the order of the 201');
isnt(header($g, 'x-request-id'), header($created, 'x-request-id'), 'GET: an X-Request-Id of its own');
my $len = length $g->{content};
is(header($g, 'content-length'), $len, 'GET: Content-Length is the length of the body');

list_ok(get_list($tok{creator}, uc $id), $plain, '"1"', 'GET with the id in upper case', text => $plain_text);

my $cg = get_list($tok{creator}, $company->{id});
list_ok($cg, $company, '"1"', 'GET of the company list', text => $cr->{content});
is_deeply($cg->{json}{companyIds}, [ map { lc } @companies ], 'company list: companyIds in lower case, in the order sent');
is_deeply($cg->{json}{personIds}, [], 'company list: personIds []');

my $bg = get_list($tok{creator}, $big->{id});
list_ok($bg, $big, '"1"', 'GET of the 10,000-id list', text => $mr->{content});
is(scalar @{ $bg->{json}{personIds} // [] }, 10000, '10,000 ids: all of them');
ok(eq_deeply($bg->{json}{personIds}, \@many), '10,000 ids: in the order sent');

for my $o (@odd) {
    my ($b, $text) = @$o;
    my $r = get_list($tok{creator}, $b->{id});
    list_ok($r, $b, '"1"', 'GET of ' . json_text($b->{name}), text => $text);
    is($r->{json}{name}, $b->{name}, 'the name round-trips: ' . json_text($b->{name}));
    is((list_row($b->{id}) // {})->{name}, encode_utf8($b->{name}), 'the name is stored byte for byte: ' . json_text($b->{name}));
}

# --- HEAD ---------------------------------------------------------------------------------

{
    my $h = raw_read(method => 'HEAD', path => one($id), token => $tok{creator});
    list_ok($h, $plain, '"1"', 'HEAD', head => 1);
    is(header($h, 'content-length'), $len, "HEAD: Content-Length is the GET's");
    my $hb = raw_read(method => 'HEAD', path => one($big->{id}), token => $tok{creator});
    list_ok($hb, $big, '"1"', 'HEAD of the 10,000-id list', head => 1);
    is(header($hb, 'content-length'), length $bg->{content}, "HEAD of the 10,000-id list: Content-Length is the GET's");
    my $hn = raw_read(method => 'HEAD', path => one(random_uuid()), token => $tok{creator});
    is($hn->{status}, 404, 'HEAD of an unknown list: 404') or diag(describe($hn));
    is($hn->{content}, '', 'HEAD of an unknown list: no body');
    my $hu = raw_read(method => 'HEAD', path => one($id));
    is($hu->{status}, 401, 'HEAD without a session: 401') or diag(describe($hu));
    is($hu->{content}, '', 'HEAD without a session: no body');
}

# --- If-None-Match ------------------------------------------------------------------------

for my $c ([ '"1"', 'the current tag' ], [ 'W/"1"', 'the current tag, weak' ], [ '*', '*' ],
           [ '"5", "1", "7"', 'a list holding the current tag' ], [ '"3",W/"1"', 'a list, no spaces, the weak current tag' ]) {
    my ($inm, $what) = @$c;
    not_modified_ok(raw_read(path => one($id), token => $tok{creator}, headers => ["If-None-Match: $inm"]),
                    '"1"', "If-None-Match: $inm ($what)");
}
{
    my $h = raw_read(method => 'HEAD', path => one($id), token => $tok{creator}, headers => ['If-None-Match: "1"']);
    not_modified_ok($h, '"1"', 'HEAD with If-None-Match: "1"');
    # RFC 9110 (8.6): a 304 must not carry a Content-Length other than the 200's; a cache that
    # took "Content-Length: 0" from it would serve the stored list as empty.
    for my $c ([ 'GET', raw_read(path => one($id), token => $tok{creator}, headers => ['If-None-Match: "1"']) ], [ 'HEAD', $h ]) {
        my ($m, $r) = @$c;
        my $cl = header($r, 'content-length');
        ok(!defined $cl || $cl eq $len, "$m 304: no Content-Length, or the 200's ($len)")
          or diag("Content-Length: $cl\n" . describe($r));
    }
}
for my $inm ('"2"', 'W/"2"', '"5", "7"', '"01"', '"1-"', 'W/"11"') {
    list_ok(get_list($tok{creator}, $id, 'If-None-Match' => $inm), $plain, '"1"',
            "If-None-Match: $inm (no current tag)", text => $plain_text);
}

# An etagc is a visible character other than '"': a space inside the quotes is malformed too.
for my $inm ('1', '"1', 'W/1', '"a" "b"', '*, "1"', '"1" x', 'w/"1"', '"1 "', '1"') {
    my $r = get_list($tok{creator}, $id, 'If-None-Match' => $inm);
    error_ok($r, 400, 'BAD_REQUEST', "If-None-Match: $inm (malformed)");
    has_detail($r, 'If-None-Match', "If-None-Match: $inm");
    is(error_message($r), 'Request validation failed', "If-None-Match: $inm: the message");
}

# Request headers are checked after the session and before the list is looked up.
{
    my %h = ('If-None-Match' => '1');
    error_ok(api(method => 'GET', path => one($id), headers => \%h), 401, 'UNAUTHORIZED',
             'malformed If-None-Match without a session');
    for my $c ([ random_uuid(), 'creator', 'an unknown list' ], [ $id, 'other_member', "another org's list" ],
               [ $id, 'outsider', 'a list the caller may not act on' ]) {
        my ($lid, $who, $what) = @$c;
        my $r = get_list($tok{$who}, $lid, %h);
        error_ok($r, 400, 'BAD_REQUEST', "malformed If-None-Match on $what");
        has_detail($r, 'If-None-Match', "malformed If-None-Match on $what");
    }
}

# A 304 would tell that the list exists, and its version: access is decided first.
for my $c ([ 'other_member', 404, 'NOT_FOUND' ], [ 'other_admin', 404, 'NOT_FOUND' ], [ 'outsider', 403, 'FORBIDDEN' ]) {
    my ($who, $status, $code) = @$c;
    for my $inm ('*', '"1"') {
        error_ok(get_list($tok{$who}, $id, 'If-None-Match' => $inm), $status, $code, "If-None-Match: $inm by $who");
    }
}
error_ok(get_list($tok{creator}, random_uuid(), 'If-None-Match' => '*'), 404, 'NOT_FOUND', 'If-None-Match: * on an unknown list');

# --- who may read -------------------------------------------------------------------------

{
    my $unknown = get_list($tok{creator}, random_uuid());
    error_ok($unknown, 404, 'NOT_FOUND', 'an unknown id');
    is(error_message($unknown), $NOT_FOUND, 'an unknown id: the message');
    error_ok(get_list($tok{creator}, uc random_uuid()), 404, 'NOT_FOUND', 'an unknown id in upper case');

    for my $who (qw(other_member other_admin)) {
        my $r = get_list($tok{$who}, $id);
        error_ok($r, 404, 'NOT_FOUND', "$who: another org's list");
        is(error_message($r), $NOT_FOUND, "$who: another org's list: the message");
        is_deeply(answer_without_rid($r), answer_without_rid($unknown),
                  "$who: the answer of an unknown list's 404 (status, headers, body) but for the request id");
        is(header($r, 'content-length'), header($unknown, 'content-length'), "$who: the same Content-Length as an unknown list's 404");
        ok(!defined etag_of($r), "$who: no ETag");
        my $h = raw_read(method => 'HEAD', path => one($id), token => $tok{$who});
        is($h->{status}, 404, "$who: HEAD of another org's list is 404") or diag(describe($h));
    }

    my $f = get_list($tok{outsider}, $id);
    error_ok($f, 403, 'FORBIDDEN', 'a member of the org not in userIds');
    is(error_message($f), $FORBIDDEN, 'a member of the org not in userIds: the message');
    ok(!defined etag_of($f), 'a member of the org not in userIds: no ETag');
    error_ok(get_list($tok{sharee}, $id), 403, 'FORBIDDEN', 'the sharee before the list is shared');

    list_ok(get_list($tok{admin}, $id), $plain, '"1"', 'an admin of the org', text => $plain_text);
    list_ok(get_list($tok{admin}, $big->{id}), $big, '"1"', 'an admin of the org, the 10,000-id list');
    list_ok(raw_read(method => 'HEAD', path => one($id), token => $tok{admin}), $plain, '"1"', 'an admin of the org, HEAD', head => 1);

    # No session beats every other answer: the 404 and the 403 are not told apart from a valid list.
    for my $c ([ $id, 'own list' ], [ random_uuid(), 'an unknown list' ]) {
        my ($lid, $what) = @$c;
        error_ok(api(method => 'GET', path => one($lid)), 401, 'UNAUTHORIZED', "no session, $what");
        error_ok(api(method => 'GET', path => one($lid), token => 'not-a-session-' . $tag), 401, 'UNAUTHORIZED',
                 "an unknown token, $what");
        error_ok(api(method => 'GET', path => one($lid), authorization => "Basic dXNlcjpwYXNz"), 401, 'UNAUTHORIZED',
                 "Basic instead of Bearer, $what");
    }
    my @u = map { api(method => 'GET', path => one($_)) } $id, random_uuid();
    is_deeply(answer_without_rid($u[0]), answer_without_rid($u[1]),
              'no session: the same 401 for a list that exists and one that does not');
}

# Reads change nothing: not the list's row, its version or updatedAt, nor any table.
is_deeply(list_row($id), $row_before, 'after the reads: the row is as it was');
is_deeply(family_counts(), $before_reads, 'after the reads: no table grew or shrank');

# --- after changes ------------------------------------------------------------------------

{
    my $s = share_list_ok($tok{creator}, $id, 'add-users: the sharee', $sharee);
    my $tag_now = etag_of($s) // 'none';
    is($tag_now, '"2"', 'add-users: ETag "2"');
    my $r = get_list($tok{sharee}, $id);
    is($r->{status}, 200, 'the sharee may read the list once shared') or diag(describe($r));
    is(etag_of($r), $tag_now, "the sharee's GET: the ETag of the add-users answer");
    is_deeply($r->{json}{userIds}, [ $creator, $sharee ], "the sharee's GET: userIds is the creator, then the sharee");
    is($r->{json}{updatedAt}, ($s->{json} // {})->{updatedAt}, "the sharee's GET: updatedAt of the add-users answer");
    is_deeply([ top_level_keys($r->{content}) ], \@FIELDS, "the sharee's GET: the fields in order");
    my %same = %$plain;
    delete @same{qw(userIds updatedAt)};
    my %got = %{ $r->{json} // {} };
    delete @got{qw(userIds updatedAt)};
    is_deeply(\%got, \%same, "the sharee's GET: everything else as created");
    is_deeply(get_list($tok{creator}, $id)->{json}, $r->{json}, "the creator's GET is the sharee's");
    error_ok(get_list($tok{outsider}, $id), 403, 'FORBIDDEN', 'still 403 for a member not in userIds');
    error_ok(get_list($tok{other_member}, $id), 404, 'NOT_FOUND', 'still 404 for the same user id in another org');
}

{
    my $p = api(method => 'PATCH', path => one($company->{id}), token => $tok{creator},
                body => { name => uniq_name('t41 renamed') });
    is($p->{status}, 200, 'PATCH of the company list') or diag(describe($p));
    is(etag_of($p), '"2"', 'PATCH: ETag "2"');
    my $r = get_list($tok{creator}, $company->{id});
    list_ok($r, $p->{json}, '"2"', 'GET after the PATCH', text => $p->{content});
    isnt($r->{json}{name}, $company->{name}, 'GET after the PATCH: the new name');
    list_ok(get_list($tok{creator}, $company->{id}, 'If-None-Match' => '"1"'), $p->{json}, '"2"',
            'GET after the PATCH with If-None-Match: "1" (the old tag)');
    not_modified_ok(raw_read(path => one($company->{id}), token => $tok{creator}, headers => ['If-None-Match: "2"']),
                    '"2"', 'GET after the PATCH with If-None-Match: "2"');
    not_modified_ok(raw_read(path => one($company->{id}), token => $tok{creator}, headers => ['If-None-Match: W/"2"']),
                    '"2"', 'GET after the PATCH with If-None-Match: W/"2"');
}

{
    my $victim = $odd[0][0]{id};
    my $d = api(method => 'DELETE', path => one($victim), token => $tok{creator});
    is($d->{status}, 204, 'DELETE of a list') or diag(describe($d));
    my $r = get_list($tok{creator}, $victim);
    error_ok($r, 404, 'NOT_FOUND', 'GET of the deleted list, by its creator');
    is(error_message($r), $NOT_FOUND, 'GET of the deleted list: the message');
    error_ok(get_list($tok{admin}, $victim), 404, 'NOT_FOUND', 'GET of the deleted list, by an admin');
    error_ok(get_list($tok{creator}, $victim, 'If-None-Match' => '*'), 404, 'NOT_FOUND',
             'GET of the deleted list with If-None-Match: *');
}

done_testing();
