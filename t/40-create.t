#!/usr/bin/perl
# Successful creates: the 201 body, its normalisation, and the stored row.
use v5.36;
use utf8;
use Test::More;
use Time::HiRes qw(sleep);
use Leadlists::Test;

need_stack();

my $user  = 'user_t40_' . $$;
my $token = mint_session(user => $user, org => 'org_t40');
my $before = counts();

my $uuid = '660e8400-e29b-41d4-a716-446655440001';

# Posts $body, asserts the 201 shape, the stored row and one more list; returns the body.
sub create($body, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = api(token => $token, body => $body);
    my $b = created_ok($r, $user, $name);
    stored_ok($b, $name);
    $before->{$_}++ for qw(leadlists);
    return $b // {};
}

# --- the contract's example -----------------------------------------------------------------

{
    my $name = 'Q1 2024 Tech Startups ' . $$;
    my $b = create({ name => $name, icpId => $uuid, type => 'person', startDate => '2024-01-01',
                     endDate => '2024-03-31T23:59:59Z', personIds => [ 'lead_abc123', 'lead_def456' ],
                     companyIds => [] }, 'contract example');
    is($b->{name},      $name,                        'example: name');
    is($b->{type},      'person',                     'example: type');
    is($b->{icpId},     $uuid,                        'example: icpId');
    is($b->{startDate}, '2024-01-01T00:00:00.000Z',   'example: startDate at midnight UTC');
    is($b->{endDate},   '2024-03-31T23:59:59.000Z',   'example: endDate');
    is_deeply($b->{personIds},  [ 'lead_abc123', 'lead_def456' ], 'example: personIds');
    is_deeply($b->{companyIds}, [],                   'example: companyIds');
    is_deeply($b->{userIds},    [$user],              'example: userIds is the session user');
    is($b->{createdAt}, $b->{updatedAt},              'example: createdAt == updatedAt');
    my $org = sql_value("SELECT org_id FROM leadlists WHERE id = UNHEX('" . (($b->{id} // '') =~ tr/-//dr) . "')");
    is($org, 'org_t40', "example: stored under the session's org");

    # The UUIDv7 time is the creation time.
    if (defined $b->{id} && defined iso_ms($b->{createdAt})) {
        no warnings "portable";
        my $uuid_ms = hex(substr($b->{id} =~ tr/-//dr, 0, 12));
        cmp_ok(abs($uuid_ms - iso_ms($b->{createdAt})), '<', 1000, 'example: the UUIDv7 timestamp is createdAt (within 1 s)');
    } else {
        fail('example: the UUIDv7 timestamp is createdAt (within 1 s)');
    }
}

# --- normalisation ---------------------------------------------------------------------------

my @cases = (
    [ 'name trimmed',                 { name => '  Q1  ' },                       { name => 'Q1' } ],
    [ 'name trimmed of tabs, newlines and Unicode spaces', { name => "\t\n\x{a0}Q1\x{3000} \n" }, { name => 'Q1' } ],
    [ 'inner spaces kept',            { name => ' a  b ' },                       { name => 'a  b' } ],
    [ 'type defaults to person',      { type => OMIT },                           { type => 'person' } ],
    [ 'companyIds defaults to []',    { companyIds => OMIT },                     { companyIds => [] } ],
    [ 'icpId upper case in, lower case out', { icpId => uc $uuid },               { icpId => $uuid } ],
    [ 'icpId null',                   { icpId => undef },                         { icpId => undef } ],
    [ 'startDate date only',          { startDate => '2024-01-01' },              { startDate => '2024-01-01T00:00:00.000Z' } ],
    [ 'startDate +02:00 offset',      { startDate => '2024-01-01T10:00:00+02:00' }, { startDate => '2024-01-01T08:00:00.000Z' } ],
    [ 'startDate -05:30 offset',      { startDate => '2024-01-01T10:00:00-05:30' }, { startDate => '2024-01-01T15:30:00.000Z' } ],
    [ 'startDate offset crossing midnight', { startDate => '2024-01-01T01:00:00+02:00' }, { startDate => '2023-12-31T23:00:00.000Z' } ],
    [ 'startDate fraction .5',        { startDate => '2024-01-01T10:00:00.5Z' },  { startDate => '2024-01-01T10:00:00.500Z' } ],
    [ 'startDate fraction .123',      { startDate => '2024-01-01T10:00:00.123Z' }, { startDate => '2024-01-01T10:00:00.123Z' } ],
    [ 'startDate without seconds',    { startDate => '2024-01-01T10:00Z' },       { startDate => '2024-01-01T10:00:00.000Z' } ],
    [ 'startDate 2024-02-29 (leap year)', { startDate => '2024-02-29' },          { startDate => '2024-02-29T00:00:00.000Z' } ],
    [ 'startDate 2000-02-29 (leap year)', { startDate => '2000-02-29' },          { startDate => '2000-02-29T00:00:00.000Z' } ],
    [ 'endDate equal to startDate',   { startDate => '2024-05-01T12:00:00Z', endDate => '2024-05-01T14:00:00+02:00' },
      { startDate => '2024-05-01T12:00:00.000Z', endDate => '2024-05-01T12:00:00.000Z' } ],
    [ 'endDate date only',            { endDate => '2024-12-31' },                { endDate => '2024-12-31T00:00:00.000Z' } ],
    [ 'personIds de-duplicated in order', { personIds => [qw(b a b c a)] },       { personIds => [qw(b a c)] } ],
    [ 'personIds case-sensitive',     { personIds => [qw(Lead lead LEAD lead)] }, { personIds => [qw(Lead lead LEAD)] } ],
    [ 'personIds with every allowed character', { personIds => [ 'A-Za.z_0:9', 'x' x 64 ] },
      { personIds => [ 'A-Za.z_0:9', 'x' x 64 ] } ],
    [ 'personIds empty',              { personIds => [] },                        { personIds => [] } ],
    [ 'type company with companyIds', { type => 'company', personIds => [],
        companyIds => [ uc($uuid), '123e4567-e89b-12d3-a456-426614174000', $uuid, '123E4567-E89B-12D3-A456-426614174000' ] },
      { type => 'company', personIds => [], companyIds => [ $uuid, '123e4567-e89b-12d3-a456-426614174000' ] } ],
    [ 'type company with no members', { type => 'company', personIds => [], companyIds => [] },
      { type => 'company', personIds => [], companyIds => [] } ],
    [ 'name of 255 characters',       { name => 'x' x 255 },                      { name => 'x' x 255 } ],
    [ 'name of 255 two-byte characters', { name => 'é' x 255 },                   { name => 'é' x 255 } ],
    [ 'name of 255 emoji',            { name => "\x{1F680}" x 255 },              { name => "\x{1F680}" x 255 } ],
    [ 'name of 255 characters once trimmed', { name => '   ' . ('y' x 255) . '   ' }, { name => 'y' x 255 } ],
    [ 'name with 4-byte emoji',       { name => "Leads \x{1F600} \x{1F680} \x{1D11E}" }, { name => "Leads \x{1F600} \x{1F680} \x{1D11E}" } ],
    [ 'name with SQL metacharacters', { name => q{'; DROP TABLE leadlists; --} }, { name => q{'; DROP TABLE leadlists; --} } ],
    [ 'name with quotes and backslashes', { name => q{a "b" \c\\ 'd' `e` %_} },  { name => q{a "b" \c\\ 'd' `e` %_} } ],
    [ 'name with HTML',               { name => '<script>alert(1)</script>' },    { name => '<script>alert(1)</script>' } ],
    [ 'name with right-to-left and combining marks', { name => "\x{5e9}\x{5dc}\x{5d5}\x{5dd} e\x{301}" },
      { name => "\x{5e9}\x{5dc}\x{5d5}\x{5dd} e\x{301}" } ],
    [ 'name of one character',        { name => 'Z' },                            { name => 'Z' } ],
);

for my $c (@cases) {
    my ($name, $over, $want) = @$c;
    my $b = create(valid_body(%$over), $name);
    for my $f (sort keys %$want) {
        is_deeply($b->{$f}, $want->{$f}, "$name: $f");
    }
}

# Escaped forms in the request text give the same characters.
{
    my $text = json_text(valid_body(name => 'X'));
    $text =~ s/"name":"X"/"name":"\\ud83d\\ude00 \\u00e9 \\u0041 \\"q\\" \\\/ \\\\"/ or die 'no name';
    my $b = create($text, 'name written with \\u escapes');
    is($b->{name}, "\x{1F600} \x{e9} A \"q\" / \\", 'name written with \\u escapes: decoded');
}

# White space around the JSON value, and keys written with escapes, are plain JSON.
{
    my $text = json_text(valid_body(name => 'ws'));
    my $b = create(" \r\n\t$text \n\n", 'white space around the body');
    is($b->{name}, 'ws', 'white space around the body: parsed');
    $text = json_text(valid_body(name => 'esc'));
    $text =~ s/"personIds"/"person\\u0049ds"/ or die;
    $b = create($text, 'a key written with a \\u escape');
    is_deeply($b->{personIds}, [ 'lead_abc123', 'lead_def456' ], 'a key written with a \\u escape: read as personIds');
}

# --- inputs the contract leaves open: a 400, or a 201 that stores what it returns; never 500 ---

for my $c (
    [ 'startDate year 0001',                 { startDate => '0001-01-01', endDate => '2024-01-01' } ],
    [ 'endDate that becomes year 10000 in UTC', { endDate => '9999-12-31T23:30:00-01:00' } ],
    [ 'startDate with a leap second',        { startDate => '2016-12-31T23:59:60Z', endDate => '2017-01-02' } ],
    [ 'startDate with nine fraction digits', { startDate => '2024-01-01T10:00:00.123456789Z' } ],
    [ 'startDate with lower-case t and z',   { startDate => '2024-01-01t10:00:00z' } ],
    [ 'startDate with a space for T',        { startDate => '2024-01-01 10:00:00Z' } ],
    [ 'startDate with offset -00:00',        { startDate => '2024-01-01T10:00:00-00:00' } ],
    [ 'startDate with offset +14:00',        { startDate => '2024-01-01T10:00:00+14:00' } ],
    [ 'icpId the nil UUID',                  { icpId => '00000000-0000-0000-0000-000000000000' } ],
    [ 'name a zero-width space',             { name => "\x{200b}" } ],
    [ 'name with a byte-order mark',         { name => "\x{feff}x" } ],
    [ 'name with a private-use character',   { name => "x\x{e000}" } ],
    [ 'name with a noncharacter',            { name => "x\x{fffe}" } ],
) {
    my ($name, $over) = @$c;
    my $r = api(token => $token, body => valid_body(%$over));
    if ($r->{status} == 201) {
        my $b = created_ok($r, $user, "$name (accepted)");
        stored_ok($b, "$name (accepted)");
        $before->{$_}++ for qw(leadlists);
        for my $f (sort keys %$over) {
            next if $f =~ /Date$/;    # normalised; stored_ok compared it with the row
            is($b->{$f}, $over->{$f}, "$name (accepted): $f returned as sent");
        }
    } else {
        error_ok($r, 400, 'BAD_REQUEST', "$name (refused)");
        has_detail($r, (sort keys %$over)[-1] =~ /Date$/ ? qr/^(startDate|endDate)$/ : (keys %$over)[0], "$name (refused)");
        $before = nothing_written($before, "$name (refused)");
    }
}

# --- raw text checks: emoji bytes, and SQL metacharacters stored verbatim ------------------

{
    my $emoji = "\x{1F600}\x{1F3F3}\x{FE0F}\x{200D}\x{1F308}";
    my $b = create(valid_body(name => $emoji), 'emoji with ZWJ sequence');
    my $hex = sql_value("SELECT HEX(name) FROM leadlists WHERE id = UNHEX('" . (($b->{id} // '') =~ tr/-//dr) . "')");
    my $bytes = $emoji;
    utf8::encode($bytes);
    is($hex, uc unpack('H*', $bytes), 'emoji with ZWJ sequence: stored byte-exact');
    is($b->{name}, $emoji, 'emoji with ZWJ sequence: returned byte-exact');

    is(sql_value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
                 . " AND table_name = 'leadlists'"), 1, 'the leadlists table is still there');
}

# --- 10,000 person ids --------------------------------------------------------------------

{
    my @ids = map { sprintf 'lead_%05d', $_ } reverse 1 .. 10_000;
    my $b = create(valid_body(personIds => \@ids), '10,000 person ids');
    is(scalar @{ $b->{personIds} // [] }, 10_000, '10,000 person ids: all returned');
    is_deeply($b->{personIds}, \@ids, '10,000 person ids: in request order');

    # 10,000 distinct after de-duplication of 10,000 + repeats is over the limit (limit counts
    # entries before de-duplication); 10,000 with repeats is fine and shrinks.
    my @dup = map { 'lead_' . ($_ % 100) } 1 .. 10_000;
    $b = create(valid_body(personIds => \@dup), '10,000 person ids with repeats');
    is(scalar @{ $b->{personIds} // [] }, 100, '10,000 person ids with repeats: 100 distinct returned');
    is($b->{personIds}[0], 'lead_1', '10,000 person ids with repeats: first occurrence first');

    my @cids = map { sprintf '00000000-0000-4000-8000-%012d', $_ } 1 .. 10_000;
    $b = create(valid_body(type => 'company', personIds => [], companyIds => \@cids), '10,000 company ids');
    is_deeply($b->{companyIds}, \@cids, '10,000 company ids: all returned in order');
}

# --- ids are unique and time-ordered --------------------------------------------------------

{
    my @got;
    for (1 .. 3) {
        push @got, create(valid_body(), 'sequential create')->{id} // '';
        sleep 0.005;
    }
    my %seen = map { $_ => 1 } @got;
    is(scalar keys %seen, 3, 'three creates give three ids');
    ok($got[0] lt $got[1] && $got[1] lt $got[2], 'ids of creates made in sequence sort in creation order')
      or diag("@got");
}

counts_ok($before, 'every 201 wrote exactly one list and one user row');

done_testing();
