#!/usr/bin/perl
# Body validation: every bad body gives 400 BAD_REQUEST naming the field, and writes nothing.
use v5.36;
use utf8;
use Test::More;
use Time::HiRes ();
use Leadlists::Test;

need_stack();

my $user  = 'user_t30_' . $$;
my $token = mint_session(user => $user, org => 'org_t30');

# The JSON text of a valid body whose $field has the raw JSON $fragment as its value.
sub raw_field($field, $fragment, %over) {
    my $text = json_text(valid_body($field => '@@VALUE@@', %over));
    $text =~ s/"\@\@VALUE\@\@"/$fragment/ or die "no placeholder";
    return $text;
}

# A valid body's text with raw bytes inside the name string.
sub raw_name($bytes) { return raw_field('name', qq{"$bytes"}) }

my $uuid  = '660e8400-e29b-41d4-a716-446655440001';
my $valid = json_text(valid_body());
(my $inner = $valid) =~ s/^\{|\}$//g;
my $many  = [ map { "lead_$_" } 1 .. 10_001 ];
my $many_c = [ map { sprintf '00000000-0000-4000-8000-%012d', $_ } 1 .. 10_001 ];

# [ name, body (hash ref or raw text), field(s) that details must name ]
my @cases = (
    # name
    [ 'name missing',                 valid_body(name => OMIT),               'name' ],
    [ 'name empty',                   valid_body(name => ''),                 'name' ],
    [ 'name only spaces',             valid_body(name => '   '),              'name' ],
    [ 'name only white space of several kinds', valid_body(name => " \t\x{a0}\x{3000} "), 'name' ],
    [ 'name 256 characters',          valid_body(name => 'x' x 256),          'name' ],
    [ 'name 256 two-byte characters', valid_body(name => 'é' x 256),          'name' ],
    [ 'name 256 emoji',               valid_body(name => "\x{1F600}" x 256),  'name' ],
    [ 'name 256 characters after trimming', valid_body(name => '  ' . ('x' x 256) . '  '), 'name' ],
    [ 'name with a newline inside',   valid_body(name => "a\nb"),             'name' ],
    [ 'name with \\u0007 inside',     valid_body(name => "a\x07b"),           'name' ],
    [ 'name with DEL inside',         valid_body(name => "a\x7fb"),           'name' ],
    [ 'name with a C1 control inside', valid_body(name => "a\x{85}b"),        'name' ],
    [ 'name with \\u0000 inside',     raw_name('a\u0000b'),                   'name' ],
    [ 'name is a number',             raw_field('name', '42'),                'name' ],
    [ 'name is null',                 raw_field('name', 'null'),              'name' ],
    [ 'name is true',                 raw_field('name', 'true'),              'name' ],
    [ 'name is an array',             raw_field('name', '["a"]'),             'name' ],
    [ 'name is an object',            raw_field('name', '{"a":"b"}'),         'name' ],
    [ 'name with a lone high surrogate', raw_name('a\ud800b'),                qr/^(name|body)$/ ],
    [ 'name with a lone low surrogate',  raw_name('a\udc00b'),                qr/^(name|body)$/ ],
    [ 'name with a high surrogate at the end', raw_name('ab\ud83d'),          qr/^(name|body)$/ ],
    [ 'name with invalid UTF-8 \\xff', raw_name("bad \xff name"),             qr/^(name|body)$/ ],
    [ 'name with a truncated UTF-8 sequence', raw_name("bad \xe2\x82 name"),  qr/^(name|body)$/ ],
    [ 'name with an overlong UTF-8 /', raw_name("bad \xc0\xaf name"),         qr/^(name|body)$/ ],
    [ 'name with a UTF-8 encoded surrogate', raw_name("bad \xed\xa0\x80 name"), qr/^(name|body)$/ ],
    [ 'name with a code point above U+10FFFF', raw_name("bad \xf4\x90\x80\x80 name"), qr/^(name|body)$/ ],
    [ 'name with a lone continuation byte', raw_name("bad \x80 name"),        qr/^(name|body)$/ ],
    [ 'name an integer beyond 64 bits', raw_field('name', '123456789012345678901234567890'), qr/^(name|body)$/ ],
    [ 'name a float beyond double',   raw_field('name', '1e400'),             qr/^(name|body)$/ ],

    # type
    [ 'type robot',                   valid_body(type => 'robot'),            'type' ],
    [ 'type Person (case matters)',   valid_body(type => 'Person'),           'type' ],
    [ 'type empty',                   valid_body(type => ''),                 'type' ],
    [ 'type is a number',             raw_field('type', '1'),                 'type' ],
    [ 'type is null',                 raw_field('type', 'null'),              'type' ],

    # icpId
    [ 'icpId missing',                valid_body(icpId => OMIT),              'icpId' ],
    [ 'icpId not a UUID',             valid_body(icpId => 'not-a-uuid'),      'icpId' ],
    [ 'icpId without dashes',         valid_body(icpId => '660e8400e29b41d4a716446655440001'), 'icpId' ],
    [ 'icpId in braces',              valid_body(icpId => "{$uuid}"),          'icpId' ],
    [ 'icpId one digit short',        valid_body(icpId => substr($uuid, 0, -1)), 'icpId' ],
    [ 'icpId with a non-hex digit',   valid_body(icpId => 'g60e8400-e29b-41d4-a716-446655440001'), 'icpId' ],
    [ 'icpId with spaces around',     valid_body(icpId => " $uuid "),          'icpId' ],
    [ 'icpId empty',                  valid_body(icpId => ''),                 'icpId' ],
    [ 'icpId is a number',            raw_field('icpId', '123'),               'icpId' ],
    [ 'icpId is an integer beyond 64 bits', raw_field('icpId', '-99999999999999999999999'), qr/^(icpId|body)$/ ],

    # startDate / endDate
    [ 'startDate missing',            valid_body(startDate => OMIT),          'startDate' ],
    [ 'startDate 2024-02-30',         valid_body(startDate => '2024-02-30'),  'startDate' ],
    [ 'startDate 2023-02-29 (not a leap year)', valid_body(startDate => '2023-02-29'), 'startDate' ],
    [ 'startDate 1900-02-29 (not a leap year)', valid_body(startDate => '1900-02-29'), 'startDate' ],
    [ 'startDate 2024-13-01',         valid_body(startDate => '2024-13-01'),  'startDate' ],
    [ 'startDate 2024-00-10',         valid_body(startDate => '2024-00-10'),  'startDate' ],
    [ 'startDate 2024-04-31',         valid_body(startDate => '2024-04-31'),  'startDate' ],
    [ 'startDate 01/02/2024',         valid_body(startDate => '01/02/2024'),  'startDate' ],
    [ 'startDate without a zone',     valid_body(startDate => '2024-01-01T10:00:00'), 'startDate' ],
    [ 'startDate hour 24',            valid_body(startDate => '2024-01-01T24:00:00Z'), 'startDate' ],
    [ 'startDate minute 60',          valid_body(startDate => '2024-01-01T10:60:00Z'), 'startDate' ],
    [ 'startDate with an offset of 25 hours', valid_body(startDate => '2024-01-01T10:00:00+25:00'), 'startDate' ],
    [ 'startDate with trailing text', valid_body(startDate => '2024-01-01x'), 'startDate' ],
    [ 'startDate 2024-1-1',           valid_body(startDate => '2024-1-1'),    'startDate' ],
    [ 'startDate offset without a colon', valid_body(startDate => '2024-01-01T10:00:00+0200'), 'startDate' ],
    [ 'startDate offset hours only',  valid_body(startDate => '2024-01-01T10:00:00+02'), 'startDate' ],
    [ 'startDate without minutes',    valid_body(startDate => '2024-01-01T10Z'), 'startDate' ],
    [ 'startDate with a fraction but no digits', valid_body(startDate => '2024-01-01T10:00:00.Z'), 'startDate' ],
    [ 'startDate ISO week date',      valid_body(startDate => '2024-W01-1'),  'startDate' ],
    [ 'startDate ordinal date',       valid_body(startDate => '2024-001'),    'startDate' ],
    [ 'startDate basic format',       valid_body(startDate => '20240101'),    'startDate' ],
    [ 'startDate a Unix time string', valid_body(startDate => '1704067200'),  'startDate' ],
    [ 'startDate empty',              valid_body(startDate => ''),            'startDate' ],
    [ 'startDate is a number',        raw_field('startDate', '20240101'),     'startDate' ],
    [ 'startDate is null',            raw_field('startDate', 'null'),         'startDate' ],
    [ 'endDate missing',              valid_body(endDate => OMIT),            'endDate' ],
    [ 'endDate not a date',           valid_body(endDate => 'tomorrow'),      'endDate' ],
    [ 'endDate before startDate',     valid_body(startDate => '2024-03-01', endDate => '2024-02-29'), 'endDate' ],
    [ 'endDate one millisecond before startDate',
      valid_body(startDate => '2024-03-01T00:00:00.001Z', endDate => '2024-03-01T00:00:00Z'), 'endDate' ],
    [ 'endDate before startDate once offsets apply',
      valid_body(startDate => '2024-03-01T10:00:00Z', endDate => '2024-03-01T11:00:00+02:00'), 'endDate' ],

    # personIds
    [ 'personIds missing',            valid_body(personIds => OMIT),          'personIds' ],
    [ 'personIds a string',           valid_body(personIds => 'lead_1'),      'personIds' ],
    [ 'personIds null',               raw_field('personIds', 'null'),         'personIds' ],
    [ 'personIds an object',          raw_field('personIds', '{"a":"b"}'),    'personIds' ],
    [ 'personIds element a number',   raw_field('personIds', '["lead_1",2]'), 'personIds' ],
    [ 'personIds element null',       raw_field('personIds', '[null]'),       'personIds' ],
    [ 'personIds element an array',   raw_field('personIds', '[["lead_1"]]'), 'personIds' ],
    [ 'personIds element empty',      valid_body(personIds => ['']),          'personIds' ],
    [ 'personIds element 65 characters', valid_body(personIds => ['a' x 65]), 'personIds' ],
    [ 'personIds element with a space', valid_body(personIds => ['lead abc']), 'personIds' ],
    [ 'personIds element with a slash', valid_body(personIds => ['lead/abc']), 'personIds' ],
    [ 'personIds element with a quote', valid_body(personIds => ["lead'1"]),  'personIds' ],
    [ 'personIds element non-ASCII',  valid_body(personIds => ['léad']),      'personIds' ],
    [ 'personIds element with \\u0000', raw_field('personIds', '["lead\u0000x"]'), 'personIds' ],
    [ 'personIds element with a trailing newline', valid_body(personIds => ["lead_1\n"]), 'personIds' ],
    [ 'personIds 10,001 ids',         valid_body(personIds => $many),         'personIds' ],
    [ 'personIds non-empty for type company',
      valid_body(type => 'company', personIds => ['lead_1'], companyIds => [$uuid]), 'personIds' ],

    # companyIds
    [ 'companyIds non-empty for type person', valid_body(companyIds => [$uuid]), 'companyIds' ],
    [ 'companyIds non-empty with type defaulted',
      valid_body(type => OMIT, companyIds => [$uuid]),                        'companyIds' ],
    [ 'companyIds element not a UUID',
      valid_body(type => 'company', personIds => [], companyIds => ['acme']), 'companyIds' ],
    [ 'companyIds element a number',
      raw_field('companyIds', '[1]', type => 'company', personIds => []),     'companyIds' ],
    [ 'companyIds a string',
      valid_body(type => 'company', personIds => [], companyIds => $uuid),    'companyIds' ],
    [ 'companyIds null',
      raw_field('companyIds', 'null', type => 'company', personIds => []),    'companyIds' ],
    [ 'companyIds 10,001 ids',
      valid_body(type => 'company', personIds => [], companyIds => $many_c), 'companyIds' ],

    # fields that are not in the table
    [ 'unknown field foo',            valid_body(foo => 'bar'),               'foo' ],
    [ 'server-owned field id',        valid_body(id => '0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d'), 'id' ],
    [ 'server-owned field userIds',   valid_body(userIds => ['user_evil']),   'userIds' ],
    [ 'server-owned field createdAt', valid_body(createdAt => '2024-01-02T10:30:00.000Z'), 'createdAt' ],
    [ 'server-owned field updatedAt', valid_body(updatedAt => '2024-01-02T10:30:00.000Z'), 'updatedAt' ],
    [ 'field name in another case',   valid_body(name => OMIT, Name => 'x'),  qr/^(Name|name)$/ ],
    [ 'unknown field with invalid UTF-8 in its key', "{\"f\xffo\":1," . $inner . '}', qr/^(body|f.*)$/s ],
    [ 'unknown field with \\u0000 in its key', '{"f\u0000o":1,' . $inner . '}', qr/^(body|f.*)$/s ],
    [ 'unknown field with a float beyond double', '{"foo":1e400,' . $inner . '}', qr/^(foo|body)$/ ],

    # duplicate keys
    [ 'duplicate name',               raw_field('name', '"a","name":"b"'),    'name' ],
    [ 'duplicate name with the same value', raw_field('name', '"a","name":"a"'), 'name' ],
    [ 'duplicate personIds',          raw_field('personIds', '["a"],"personIds":["b"]'), 'personIds' ],
    [ 'duplicate name, the second written with an escape', raw_field('name', '"a","n\u0061me":"b"'), 'name' ],

    # bodies that are not one JSON object
    [ 'body []',                      '[]',                                   'body' ],
    [ 'body "x"',                     '"x"',                                  'body' ],
    [ 'body null',                    'null',                                 'body' ],
    [ 'body 42',                      '42',                                   'body' ],
    [ 'body true',                    'true',                                 'body' ],
    [ 'body empty',                   '',                                     'body' ],
    [ 'body white space only',        "  \n ",                                'body' ],
    [ 'body malformed',               '{"name":',                             'body' ],
    [ 'body with a trailing comma',   '{' . $inner . ',}',                    'body' ],
    [ 'body with single quotes',      "{'name':'x'}",                         'body' ],
    [ 'body with trailing garbage',   "$valid x",                             'body' ],
    [ 'two objects',                  "$valid$valid",                         'body' ],
    [ 'two objects with a newline',   "$valid\n$valid",                       'body' ],
    [ 'a comment before the object',  "/* c */ $valid",                       'body' ],
    [ 'a comment inside the object',  '{' . $inner . ' // c' . "\n}",         'body' ],
    [ 'an array holding the object',  "[$valid]",                             'body' ],
    [ 'NaN as a value',               '{"foo":NaN,' . $inner . '}',           qr/^(foo|body)$/ ],
    [ 'a bare word',                  'name',                                 'body' ],
    [ 'a truncated string',           '{"name":"abc',                         'body' ],
    [ 'an unterminated object after a valid prefix', substr($valid, 0, -1),  'body' ],
);

my $before = counts();
my @pids   = worker_pids();

for my $c (@cases) {
    my ($name, $body, @fields) = @$c;
    my $r = api(token => $token, body => $body);
    error_ok($r, 400, 'BAD_REQUEST', $name);
    has_detail($r, $_, $name) for @fields;
    $before = nothing_written($before, $name);
}

# --- every problem is listed, not only the first ---------------------------------------------

{
    my $r = api(token => $token, body => valid_body(name => '', startDate => '2024-02-30'));
    error_ok($r, 400, 'BAD_REQUEST', 'bad name and bad startDate');
    has_detail($r, $_, 'bad name and bad startDate') for qw(name startDate);

    $r = api(token => $token, body => valid_body(
        name => '', type => 'robot', icpId => 'x', startDate => '2024-02-30', endDate => 'y',
        personIds => [ 1, 'ok', 'a b' ], foo => 1, id => 'z'));
    error_ok($r, 400, 'BAD_REQUEST', 'eight bad fields');
    has_detail($r, $_, 'eight bad fields') for qw(name type icpId startDate endDate foo id);
    has_detail($r, qr/^personIds\[0\]$/, 'eight bad fields (first bad element, by index)');
    has_detail($r, qr/^personIds\[2\]$/, 'eight bad fields (third element, by index)');
    ok(!grep({ $_ eq 'personIds[1]' } detail_fields($r)), 'eight bad fields: the good element is not named');

    $r = api(token => $token, body => {});
    error_ok($r, 400, 'BAD_REQUEST', 'empty object');
    has_detail($r, $_, 'empty object: required field') for qw(name icpId startDate endDate personIds);
    ok(!grep({ /^(type|companyIds)$/ } detail_fields($r)), 'empty object: optional fields are not named');
    $before = nothing_written($before, 'several problems');
}

# --- hostile sizes and shapes ----------------------------------------------------------------

{
    # 100,000 nested arrays as the value of an unknown field: refused fast.
    my $deep = '{"foo":' . ('[' x 100_000) . (']' x 100_000) . ',' . $inner . '}';
    my $r = api(token => $token, body => $deep);
    error_ok($r, 400, 'BAD_REQUEST', '100,000 nested arrays');
    has_detail($r, qr/^(body|foo)$/, '100,000 nested arrays');
    cmp_ok($r->{elapsed}, '<', within(0.1), '100,000 nested arrays answered in under 100 ms')
      or diag("took $r->{elapsed} s");

    $deep = '{"foo":' . ('[' x 100_000);
    $r = api(token => $token, body => $deep);
    error_ok($r, 400, 'BAD_REQUEST', '100,000 unclosed arrays');
    cmp_ok($r->{elapsed}, '<', within(0.1), '100,000 unclosed arrays answered in under 100 ms');

    $deep = '{"foo":' . ('{"a":' x 50_000) . '1' . ('}' x 50_000) . ',' . $inner . '}';
    $r = api(token => $token, body => $deep);
    error_ok($r, 400, 'BAD_REQUEST', '50,000 nested objects');
    cmp_ok($r->{elapsed}, '<', within(0.1), '50,000 nested objects answered in under 100 ms');

    $deep = '{"personIds":' . ('[' x 1000) . (']' x 1000) . '}';
    $r = api(token => $token, body => $deep);
    error_ok($r, 400, 'BAD_REQUEST', '1,000 nested arrays in personIds');

    # A body right at the 1 MiB cap made of one long string: a 400 (name too long), not a 413,
    # and never silently truncated into a 201.
    my $cap  = 1024 * 1024;
    my $head = '{"name":"';
    my $tail = '","icpId":null,"startDate":"2024-01-01","endDate":"2024-01-02","personIds":[]}';
    my $body = $head . ('x' x ($cap - length($head) - length($tail))) . $tail;
    $r = api(token => $token, body => $body);
    error_ok($r, 400, 'BAD_REQUEST', 'body of exactly 1 MiB with a 1 MiB name');
    has_detail($r, 'name', 'body of exactly 1 MiB with a 1 MiB name');

    # One long string split into \u escapes (many small yajl tokens).
    $body = $head . ('\u0041' x 100_000) . $tail;
    $r = api(token => $token, body => $body);
    error_ok($r, 400, 'BAD_REQUEST', 'name of 100,000 \\u escapes');
    has_detail($r, 'name', 'name of 100,000 \\u escapes');
    cmp_ok($r->{elapsed}, '<', within(2), 'name of 100,000 \\u escapes answered in under 2 s');

    # Many unknown keys: the error response stays bounded.
    $body = '{' . join(',', map { qq{"k$_":1} } 1 .. 20_000) . ',' . $inner . '}';
    $r = api(token => $token, body => $body);
    error_ok($r, 400, 'BAD_REQUEST', '20,000 unknown fields');
    cmp_ok(length($r->{content} // ''), '<', 64 * 1024, '20,000 unknown fields: the error body stays under 64 KiB');

    # A very long unknown key.
    $body = '{"' . ('k' x 500_000) . '":1,' . $inner . '}';
    $r = api(token => $token, body => $body);
    error_ok($r, 400, 'BAD_REQUEST', 'a 500,000-character unknown key');
    cmp_ok(length($r->{content} // ''), '<', 16 * 1024, 'a 500,000-character unknown key: the error body stays small');

    $before = nothing_written($before, 'hostile sizes and shapes');
}

# --- the workers survived all of it ----------------------------------------------------------

{
    my @dead = grep { !kill 0, $_ } @pids;
  SKIP: {
        skip 'no pids in LEADLISTS_WORKER_PIDFILE', 1 if !@pids;
        is(scalar @dead, 0, 'every worker pid from before the hostile bodies is still alive')
          or diag("dead: @dead");
    }
    my $r = api(token => $token, body => valid_body());
    my $b = created_ok($r, $user, 'a valid body after all the bad ones');
    stored_ok($b, 'a valid body after all the bad ones');
    $before->{$_}++ for qw(leadlists);
    counts_ok($before, 'the valid body wrote exactly one list');
}

done_testing();
