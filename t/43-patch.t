#!/usr/bin/perl
# PATCH of one list: each field alone and all together, the media types, the rules that need
# the stored list (its type, its dates), the fields that cannot be changed, versions and
# If-Match, the order in which the checks are made, and who may change a list. A refused PATCH
# writes nothing: the stored row, its users, its change records and what GET answers are
# compared before and after.
use v5.36;
use Test::More;
use Time::HiRes ();
use Leadlists::Test;

need_stack();

my $cast = family_cast('t43');
my ($creator, $sharee) = @$cast{qw(creator sharee)};
my %tok = %{ $cast->{tok} };

my $ICP  = '660e8400-e29b-41d4-a716-446655440001';
my $ICP2 = '770e8400-e29b-41d4-a716-4466554400aa';
my $C1 = '0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c01';
my $C2 = '0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c02';
my $C3 = '0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c03';
my @FIELD_ORDER = qw(id icpId name type startDate endDate personIds companyIds userIds createdAt updatedAt);

# A list made by the creator: a person list by default (start 2024-01-01, end 2024-03-31).
sub make_list(%over) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return create_list_ok($tok{creator}, $creator, 'set-up: create', name => uniq_name('t43'), %over)->{id};
}

sub company_list() {
    return make_list(type => 'company', personIds => [], companyIds => [ $C1, $C2 ]);
}

sub patch($id, $body, %a) {
    return change_list('PATCH', ROUTE . "/$id", $body, token => $tok{creator}, %a);
}

# A real change: 200 with the whole list, $want's fields as given, every other field as before
# but updatedAt (later), the version one more, and GET answering the same list and ETag.
sub changed_ok($id, $before, $r, $want, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @why;
    push @why, "status $r->{status}, want 200" if $r->{status} != 200;
    push @why, 'Content-Type ' . (header($r, 'content-type') // 'none')
      if (header($r, 'content-type') // '') ne 'application/json; charset=utf-8';
    my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
    my @keys = top_level_keys($r->{content} // '');
    push @why, "keys [@keys]" if "@keys" ne "@FIELD_ORDER";
    my $old = $before->{json} // {};
    for my $k (@FIELD_ORDER) {
        next if $k eq 'updatedAt';
        my $w = exists $want->{$k} ? $want->{$k} : $old->{$k};
        push @why, "$k is " . json_text($b->{$k}) . ', want ' . json_text($w)
          if json_text([ $b->{$k} ]) ne json_text([$w]);
    }
    my ($was, $now) = (iso_ms($old->{updatedAt}), iso_ms($b->{updatedAt}));
    push @why, "updatedAt $b->{updatedAt} not after $old->{updatedAt}" if !defined $now || !defined $was || $now <= $was;
    push @why, "updatedAt $b->{updatedAt} not within 60 s of now"
      if defined $now && abs($now / 1000 - Time::HiRes::time()) > 60;
    my $v = $before->{version} + 1;
    push @why, 'ETag ' . (etag_of($r) // 'none') . ", want \"$v\"" if (etag_of($r) // '') ne "\"$v\"";
    my $after = list_state($id);
    push @why, "stored version $after->{version}, want $v" if ($after->{version} // 0) != $v;
    push @why, 'change records ' . @{ $after->{changes} } . ', want ' . (@{ $before->{changes} } + 1)
      if @{ $after->{changes} } != @{ $before->{changes} } + 1;
    push @why, 'GET answers ETag ' . ($after->{get}{etag} // 'none') if ($after->{get}{etag} // '') ne (etag_of($r) // 'x');
    push @why, "GET answers another body: $after->{get}{content}" if ($after->{get}{content} // '') ne ($r->{content} // 'x');
    my $ok = ok(!@why, "$name: 200, changed, version $v, GET agrees");
    diag(join("\n", @why) . "\n" . describe($r)) if !$ok;
    return $after;
}

# A PATCH that alters nothing: 200 with the stored list, same ETag, nothing written.
sub unchanged_ok($id, $before, $r, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is($r->{status}, 200, "$name: 200") or diag(describe($r));
    is(etag_of($r), $before->{get}{etag}, "$name: ETag unchanged");
    is($r->{content}, $before->{get}{content}, "$name: the answer is the stored list as GET gives it");
    list_unchanged_ok($id, $before, "$name: version, updatedAt and everything stored unchanged");
}

# --- each field alone ----------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    is($s->{get}{etag}, '"1"', 'a new list is version 1');

    my @alone = (
        [ 'name',             { name => 'Renamed alone' },                    { name => 'Renamed alone' } ],
        [ 'icpId',            { icpId => $ICP2 },                             { icpId => $ICP2 } ],
        [ 'icpId upper case', { icpId => uc $ICP },                           { icpId => $ICP } ],
        [ 'icpId null unlinks', { icpId => undef },                           { icpId => undef } ],
        [ 'startDate',        { startDate => '2024-01-15T08:30:00+02:00' },   { startDate => '2024-01-15T06:30:00.000Z' } ],
        [ 'endDate',          { endDate => '2024-06-30' },                    { endDate => '2024-06-30T00:00:00.000Z' } ],
        [ 'endDate equal to the stored startDate', { endDate => '2024-01-15T06:30:00Z' }, { endDate => '2024-01-15T06:30:00.000Z' } ],
        [ 'personIds',        { personIds => [qw(lead_x lead_y)] },           { personIds => [qw(lead_x lead_y)] } ],
        [ 'personIds de-duplicated, order kept', { personIds => [qw(p3 p1 p3 p2 p1)] }, { personIds => [qw(p3 p1 p2)] } ],
        [ 'personIds reordered is a change', { personIds => [qw(p2 p1 p3)] }, { personIds => [qw(p2 p1 p3)] } ],
        [ 'personIds [] empties', { personIds => [] },                        { personIds => [] } ],
        [ 'personIds again',  { personIds => ['lead_back'] },                 { personIds => ['lead_back'] } ],
    );
    for my $c (@alone) {
        my ($label, $body, $want) = @$c;
        my $r = patch($id, $body);
        $s = changed_ok($id, $s, $r, $want, "PATCH $label");
    }
    my $h = hex_of($id);
    my ($row) = sql("SELECT icp_id IS NULL, person_count, person_ids, version FROM leadlists WHERE id = UNHEX('$h')");
    is_deeply($row, [ 1, 1, '["lead_back"]', scalar(@alone) + 1 ],
              'stored: icp_id NULL after the unlink, the last person array and its count, one version per change');
    is(sql_value("SELECT COUNT(*) FROM leadlist_changes WHERE leadlist_id = UNHEX('$h')"), scalar @alone,
       'one change record per change');
}

# --- all fields together ---------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    my $r = patch($id, { name => "  All at once\t", icpId => $ICP2, startDate => '2025-01-01',
                         endDate => '2025-12-31T23:59:59.999Z', personIds => [qw(a b a c)], companyIds => [] });
    my $after = changed_ok($id, $s, $r, { name => 'All at once', icpId => $ICP2, startDate => '2025-01-01T00:00:00.000Z',
                                          endDate => '2025-12-31T23:59:59.999Z', personIds => [qw(a b c)], companyIds => [] },
                           'PATCH of every field at once (start after the stored end, both sent)');
    is($after->{version}, 2, 'all fields at once: one version, not one per field');
    my $h = hex_of($id);
    my ($row) = sql("SELECT name, LOWER(HEX(icp_id)), DATE_FORMAT(start_date, '%Y-%m-%d %T.%f'),"
                    . " DATE_FORMAT(end_date, '%Y-%m-%d %T.%f'), person_count, person_ids FROM leadlists WHERE id = UNHEX('$h')");
    is_deeply($row, [ 'All at once', hex_of($ICP2), '2025-01-01 00:00:00.000000', '2025-12-31 23:59:59.999000', 3, '["a","b","c"]' ],
              'all fields at once: the stored row holds each new value');
}

# --- media types -------------------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    my $r = patch($id, { name => 'merge patch' }, content_type => 'application/merge-patch+json');
    $s = changed_ok($id, $s, $r, { name => 'merge patch' }, 'application/merge-patch+json');
    $r = patch($id, { name => 'json utf-8' }, content_type => 'application/json; charset=utf-8');
    $s = changed_ok($id, $s, $r, { name => 'json utf-8' }, 'application/json; charset=utf-8');
    $r = patch($id, { name => 'merge patch utf-8' }, content_type => 'Application/Merge-Patch+JSON; charset=UTF-8');
    $s = changed_ok($id, $s, $r, { name => 'merge patch utf-8' }, 'application/merge-patch+json, any case, with charset');
    for my $ct ('text/plain', 'application/x-www-form-urlencoded', 'application/patch+json',
                'application/json-patch+json', 'application/merge-patch+xml', 'application/json; charset=latin1',
                'multipart/form-data; boundary=x') {
        $r = patch($id, { name => 'refused media type' }, content_type => $ct);
        refused_ok($id, $s, $r, 415, 'UNSUPPORTED_MEDIA_TYPE', "Content-Type $ct");
    }
    # No Content-Type at all.
    $r = raw_read(method => 'PATCH', path => ROUTE . "/$id", token => $tok{creator},
                  body => json_text({ name => 'no content type' }));
    refused_ok($id, $s, $r, 415, 'UNSUPPORTED_MEDIA_TYPE', 'no Content-Type');
}

# --- name ----------------------------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    my $r = patch($id, { name => "  \t Trimmed name \n " });
    $s = changed_ok($id, $s, $r, { name => 'Trimmed name' }, 'name trimmed of surrounding white space');
    is(sql_value("SELECT name FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')"), 'Trimmed name', 'the trimmed name is stored');
    $r = patch($id, { name => 'x' x 255 });
    $s = changed_ok($id, $s, $r, { name => 'x' x 255 }, 'name of 255 characters');
    for my $c ([ 'empty', '' ], [ 'only white space', " \t\n " ], [ '256 characters', 'y' x 256 ],
               [ 'a control character', "bad\x01name" ], [ 'a number', 42 ], [ 'an object', { a => 1 } ],
               [ 'an array', ['n'] ], [ 'true', JSON::PP::true() ]) {
        $r = patch($id, { name => $c->[1] });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "name $c->[0]", only => ['name']);
    }
}

# --- icpId -------------------------------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    for my $c ([ 'not a UUID', 'nope' ], [ 'a UUID without dashes', hex_of($ICP2) ], [ 'a number', 7 ],
               [ 'braced', "{$ICP2}" ], [ 'an empty string', '' ]) {
        my $r = patch($id, { icpId => $c->[1] });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "icpId $c->[0]", only => ['icpId']);
    }
    my $r = patch($id, { icpId => undef });
    $s = changed_ok($id, $s, $r, { icpId => undef }, 'icpId null');
    $r = patch($id, { icpId => undef });
    unchanged_ok($id, $s, $r, 'icpId null again');
}

# --- dates against the stored ones ------------------------------------------------------------------------

{
    # Stored: 2024-01-01T00:00:00.000Z .. 2024-03-31T23:59:59.000Z.
    my $id = make_list();
    my $s = list_state($id);
    my $r = patch($id, { endDate => '2023-12-31T23:59:59Z' });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'endDate alone before the stored startDate', only => ['endDate']);
    $r = patch($id, { startDate => '2024-04-01' });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'startDate alone after the stored endDate', only => ['startDate']);
    $r = patch($id, { startDate => '2024-04-01T01:59:59.001+02:00' });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'startDate alone one millisecond after the stored endDate (offset converted)',
               only => ['startDate']);
    $r = patch($id, { name => 'valid name', endDate => '2023-01-01' });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'a valid name with an endDate before the stored startDate: nothing of it stored',
               only => ['endDate']);
    $r = patch($id, { startDate => '2025-06-30', endDate => '2025-01-01' });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'both sent, endDate before startDate', details => ['endDate']);
    for my $c ([ 'not a date', 'soon' ], [ 'February 30', '2024-02-30' ], [ 'no zone', '2024-01-01T10:00:00' ],
               [ 'a number', 20240101 ], [ 'month 13', '2024-13-01' ]) {
        $r = patch($id, { startDate => $c->[1] });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "startDate $c->[0]", only => ['startDate']);
        $r = patch($id, { endDate => $c->[1] });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "endDate $c->[0]", only => ['endDate']);
    }

    $r = patch($id, { startDate => '2024-03-31T23:59:59Z' });
    $s = changed_ok($id, $s, $r, { startDate => '2024-03-31T23:59:59.000Z' }, 'startDate alone equal to the stored endDate');
    $r = patch($id, { startDate => '2026-01-01', endDate => '2026-02-01' });
    $s = changed_ok($id, $s, $r, { startDate => '2026-01-01T00:00:00.000Z', endDate => '2026-02-01T00:00:00.000Z' },
                    'both sent, consistent, both after the stored endDate');
    $r = patch($id, { startDate => '2020-01-01', endDate => '2020-01-02' });
    $s = changed_ok($id, $s, $r, { startDate => '2020-01-01T00:00:00.000Z', endDate => '2020-01-02T00:00:00.000Z' },
                    'both sent, consistent, both before the stored startDate');
    $r = patch($id, { endDate => '2030-01-01' });
    $s = changed_ok($id, $s, $r, { endDate => '2030-01-01T00:00:00.000Z' }, 'endDate alone after the stored startDate');
}

# --- member arrays ----------------------------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    my $r = patch($id, { companyIds => [] });
    unchanged_ok($id, $s, $r, 'person list: "companyIds": [] accepted, changes nothing');
    $r = patch($id, { companyIds => [], name => 'with empty companyIds' });
    $s = changed_ok($id, $s, $r, { name => 'with empty companyIds' }, 'person list: "companyIds": [] with a name');
    $r = patch($id, { companyIds => [$C1] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'person list: companyIds non-empty', only => ['companyIds']);
    $r = patch($id, { companyIds => [$C1], personIds => ['lead_new'] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'person list: companyIds non-empty with personIds: nothing stored',
               only => ['companyIds']);
    for my $c ([ 'a bad id', [ 'ok', 'has space' ], 'personIds[1]' ], [ 'a 65-character id', [ 'p' x 65 ], 'personIds[0]' ],
               [ 'an empty id', [''], 'personIds[0]' ], [ 'a number', [ 'a', 5 ], 'personIds[1]' ],
               [ 'a string, not an array', 'lead_a', 'personIds' ], [ 'an object', { a => 'b' }, 'personIds' ],
               [ 'a nested array', [ ['a'] ], 'personIds[0]' ]) {
        $r = patch($id, { personIds => $c->[1] });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "personIds with $c->[0]", details => [ qr/^\Q$c->[2]\E$/ ]);
    }
    my $max_ids = config_value('max_ids', 10000);
    $r = patch($id, { personIds => [ map { "lead_$_" } 1 .. $max_ids + 1 ] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "personIds of max_ids + 1 ($max_ids + 1) ids", only => ['personIds']);
    $r = patch($id, { personIds => [ map { "lead_$_" } 1 .. $max_ids ] });
    $s = changed_ok($id, $s, $r, { personIds => [ map { "lead_$_" } 1 .. $max_ids ] }, "personIds of max_ids ($max_ids) ids");
    is(sql_value("SELECT person_count FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')"), $max_ids, 'person_count stored');
    $r = patch($id, { personIds => [] });
    $s = changed_ok($id, $s, $r, { personIds => [] }, 'personIds [] empties a full list');
    is_deeply((sql("SELECT person_count, person_ids FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')"))[0], [ 0, '[]' ],
              'the emptied array is stored');
}

{
    my $id = company_list();
    my $s = list_state($id);
    my $r = patch($id, { personIds => [] });
    unchanged_ok($id, $s, $r, 'company list: "personIds": [] accepted, changes nothing');
    $r = patch($id, { personIds => ['lead_a'] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'company list: personIds non-empty', only => ['personIds']);
    $r = patch($id, { companyIds => [ uc $C3, $C1, $C3, uc $C1 ] });
    $s = changed_ok($id, $s, $r, { companyIds => [ $C3, $C1 ] }, 'company list: companyIds replaced, upper case in, de-duplicated');
    is(sql_value("SELECT LOWER(HEX(company_ids)) FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')"),
       hex_of($C3) . hex_of($C1), 'the company UUIDs stored in order');
    $r = patch($id, { companyIds => [ $C3, $C1 ] });
    unchanged_ok($id, $s, $r, 'company list: the stored companyIds again');
    $r = patch($id, { companyIds => [ $C1, 'not-a-uuid' ] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'company list: a bad company id', details => [qr/^companyIds\[1\]$/]);
    $r = patch($id, { companyIds => [] });
    $s = changed_ok($id, $s, $r, { companyIds => [] }, 'company list: companyIds [] empties');
    $r = patch($id, { type => 'person', personIds => ['lead_a'] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'company list: type cannot be turned to person', details => ['type']);
}

# --- fields that cannot be changed, unknown, duplicate, null, not an object --------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    my %ro = (id => $id, type => 'person', userIds => [$creator], createdAt => $s->{json}{createdAt},
              updatedAt => $s->{json}{updatedAt});
    for my $f (sort keys %ro) {
        my $r = patch($id, { $f => $ro{$f} });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$f sent with its stored value", only => [$f],
                   detail_message => { $f => qr/^cannot be changed$/ });
        $r = patch($id, { $f => $ro{$f}, name => 'with a read-only field' });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$f sent with a valid name", only => [$f],
                   detail_message => { $f => qr/^cannot be changed$/ });
    }
    my $r = patch($id, { %ro, type => 'company' });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'every read-only field at once: one detail each', only => [ sort keys %ro ]);

    # Alone it is also "nothing to change"; the unknown field must be named either way.
    $r = patch($id, { nmae => 'typo' });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'an unknown field', details => ['nmae']);
    $r = patch($id, { name => 'fine', personCount => 3 });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'an unknown field beside a valid one', only => ['personCount']);
    $r = patch($id, '{"name":"first","name":"second"}');
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'a duplicate key', details => ['name']);
    $r = patch($id, '{"personIds":["a"],"personIds":["b"]}');
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'a duplicate array key', details => ['personIds']);
    for my $f (qw(name startDate endDate personIds companyIds)) {
        $r = patch($id, { $f => undef });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "null for $f", only => [$f]);
    }
    $r = patch($id, {});
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'an empty object', only => ['body'],
               detail_message => { body => qr/nothing to change/ });
    for my $c ([ 'an array', '[{"name":"x"}]' ], [ 'a string', '"name"' ], [ 'null', 'null' ], [ 'a number', '1' ],
               [ 'invalid JSON', '{"name":' ], [ 'trailing garbage', '{"name":"x"} {}' ], [ 'an empty body', '' ],
               [ 'a comment', '{"name":"x" /* c */}' ]) {
        $r = patch($id, $c->[1]);
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "a body that is $c->[0]");
    }
    $r = patch($id, { name => 'ok', icpId => 'bad', startDate => 'bad', nmae => 1, id => $id });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'several problems: every one in details',
               only => [qw(icpId id nmae startDate)]);
}

# --- no-op PATCH --------------------------------------------------------------------------------------------------

{
    my $id = make_list(icpId => $ICP, personIds => [qw(lead_abc123 lead_def456)]);
    my $s = list_state($id);
    my $stored = $s->{json};
    my @noop = (
        [ 'name',            { name => $stored->{name} } ],
        [ 'name padded',     { name => "  $stored->{name}  " } ],
        [ 'icpId upper case', { icpId => uc $ICP } ],
        [ 'startDate another form of the same instant', { startDate => '2024-01-01T02:00:00+02:00' } ],
        [ 'endDate',         { endDate => '2024-03-31T23:59:59.000Z' } ],
        [ 'personIds',       { personIds => [qw(lead_abc123 lead_def456)] } ],
        [ 'personIds with repeats', { personIds => [qw(lead_abc123 lead_def456 lead_abc123)] } ],
        [ 'every field',     { name => $stored->{name}, icpId => $ICP, startDate => '2024-01-01', endDate => '2024-03-31T23:59:59Z',
                               personIds => [qw(lead_abc123 lead_def456)], companyIds => [] } ],
    );
    for my $c (@noop) {
        my $r = patch($id, $c->[1]);
        unchanged_ok($id, $s, $r, "no-op PATCH: $c->[0]");
    }
    my $r = patch($id, $noop[-1][1], if_match => '"1"');
    unchanged_ok($id, $s, $r, 'no-op PATCH with a matching If-Match');
    $r = patch($id, $noop[-1][1], if_match => '"7"');
    refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', 'no-op PATCH with a stale If-Match');
    $r = patch($id, { name => 'after the no-ops' });
    $s = changed_ok($id, $s, $r, { name => 'after the no-ops' }, 'a real change after the no-ops');
    is($s->{version}, 2, 'the no-ops made no version');
}

# --- If-Match ------------------------------------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    my $r = patch($id, { name => 'v2' }, if_match => '"1"');
    $s = changed_ok($id, $s, $r, { name => 'v2' }, 'If-Match the current strong tag');
    $r = patch($id, { name => 'v3' }, if_match => '"17", "2" ,"1"');
    $s = changed_ok($id, $s, $r, { name => 'v3' }, 'If-Match a list holding the current tag');
    $r = patch($id, { name => 'v4' }, if_match => '*');
    $s = changed_ok($id, $s, $r, { name => 'v4' }, 'If-Match *');
    $r = patch($id, { name => 'v5' });
    $s = changed_ok($id, $s, $r, { name => 'v5' }, 'no If-Match: applied to whatever is stored');
    is($s->{get}{etag}, '"5"', 'four changes made version 5');

    for my $c ([ 'a weak tag of the current version', 'W/"5"' ], [ 'a weak list', 'W/"4", W/"5"' ],
               [ 'a stale tag', '"4"' ], [ 'a stale list', '"1", "2", "3", "4"' ], [ 'version 0', '"0"' ],
               [ 'a future version', '"6"' ], [ 'a tag with the version and more', '"5x"' ],
               [ 'a tag of another kind', '"abc"' ]) {
        $r = patch($id, { name => 'refused by If-Match' }, if_match => $c->[1]);
        refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', "If-Match $c->[0] ($c->[1])");
        like(error_message($r) // '', qr/If-Match/, "If-Match $c->[0]: the message names If-Match");
    }
    for my $c ([ 'no quotes', '5' ], [ 'an open quote', '"5' ], [ 'two tags without a comma', '"5" "4"' ],
               [ 'a weak tag without quotes', 'W/5' ], [ '* in a list', '*, "5"' ], [ 'garbage', 'yes please' ],
               [ 'a lower-case weak prefix', 'w/"5"' ], [ 'a trailing comma and garbage', '"5", x' ],
               [ 'a space inside the quotes', '"5 "' ]) {
        $r = patch($id, { name => 'refused: bad If-Match' }, if_match => $c->[1]);
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "malformed If-Match: $c->[0] ($c->[1])", only => ['If-Match']);
    }
}

# --- the order of the checks -----------------------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    my $bad_body = { name => '', nmae => 1 };
    my $r = patch($id, $bad_body, token => undef, content_type => 'text/plain', if_match => 'bad');
    refused_ok($id, $s, $r, 401, 'UNAUTHORIZED', 'no session, wrong media type, malformed If-Match, bad body: 401 first');
    $r = patch($id, $bad_body, token => 'not-a-token-at-all', content_type => 'text/plain', if_match => 'bad');
    refused_ok($id, $s, $r, 401, 'UNAUTHORIZED', 'an unknown token with everything else wrong: 401');
    $r = patch($id, $bad_body, content_type => 'text/plain', if_match => 'bad');
    refused_ok($id, $s, $r, 415, 'UNSUPPORTED_MEDIA_TYPE', 'wrong media type, malformed If-Match, bad body: 415 before the header');
    $r = patch($id, $bad_body, if_match => 'bad');
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'malformed If-Match and a bad body: the header first, alone',
               only => ['If-Match']);
    $r = patch($id, $bad_body, if_match => '"99"');
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'stale If-Match and a bad body: the body 400, not 412',
               only => [qw(name nmae)]);
    $r = patch($id, { startDate => '2025-06-30', endDate => '2025-01-01' }, if_match => '"99"');
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'stale If-Match and dates inconsistent within the body: 400',
               details => ['endDate']);
    $r = patch($id, { endDate => '2020-01-01' }, if_match => '"99"');
    refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', 'stale If-Match and an endDate before the stored startDate: 412 first');
    $r = patch($id, { companyIds => [$C1] }, if_match => '"99"');
    refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', 'stale If-Match and the other kind of ids: 412 before the type rule');

    $r = patch($id, { name => 'by another org' }, token => $tok{other_member}, if_match => '"99"');
    refused_ok($id, $s, $r, 404, 'NOT_FOUND', "another org's list with a stale If-Match: 404", message => 'Lead list not found');
    $r = patch($id, { name => 'by another org' }, token => $tok{other_admin}, if_match => '"99"');
    refused_ok($id, $s, $r, 404, 'NOT_FOUND', "another org's admin with a stale If-Match: 404", message => 'Lead list not found');
    $r = patch($id, { endDate => '2020-01-01' }, token => $tok{other_member});
    refused_ok($id, $s, $r, 404, 'NOT_FOUND', "another org's list and a stored-date violation: 404", message => 'Lead list not found');
    $r = patch($id, { name => 'by a bystander' }, token => $tok{outsider}, if_match => '"99"');
    refused_ok($id, $s, $r, 403, 'FORBIDDEN', 'a non-member with a stale If-Match: 403',
               message => 'You do not have access to this lead list');
    $r = patch($id, { companyIds => [$C1] }, token => $tok{outsider});
    refused_ok($id, $s, $r, 403, 'FORBIDDEN', 'a non-member with the other kind of ids: 403');
    $r = patch($id, $bad_body, token => $tok{other_member});
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "another org's list and a bad body: the body 400 (it never depends on the list)",
               only => [qw(name nmae)]);
    $r = patch($id, $bad_body, token => $tok{outsider});
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'a non-member and a bad body: the body 400', only => [qw(name nmae)]);
    $r = patch($id, { name => 'x' }, token => $tok{other_member}, if_match => 'bad');
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "another org's list and a malformed If-Match: 400", only => ['If-Match']);
    $r = patch($id, { name => 'x' }, token => $tok{other_member}, content_type => 'text/plain');
    refused_ok($id, $s, $r, 415, 'UNSUPPORTED_MEDIA_TYPE', "another org's list and a wrong media type: 415");

    my $none = random_uuid();
    $r = patch($none, { name => 'nobody' }, if_match => '"1"');
    error_ok($r, 404, 'NOT_FOUND', 'a list that does not exist, with If-Match');
    is(error_message($r), 'Lead list not found', 'a list that does not exist: "Lead list not found"');
    $r = patch($none, $bad_body);
    error_ok($r, 400, 'BAD_REQUEST', 'a list that does not exist and a bad body: 400');

    # Size before the request headers: an oversized body with a malformed If-Match.
    my $big = '{"name":"' . ('z' x (config_value('max_body_bytes', 1048576) + 10)) . '"}';
    $r = patch($id, $big, if_match => 'bad');
    refused_ok($id, $s, $r, 413, 'PAYLOAD_TOO_LARGE', 'an oversized body with a malformed If-Match: 413');
  SKIP: {
        # nginx refuses it first; the worker's own order, straight on its socket.
        my $sock = fcgi_socket();
        skip 'no FastCGI socket to reach the workers directly', 3 if !defined $sock || !-S $sock || !-w _;
        my $path = ROUTE . "/$id";
        $r = fcgi_request(socket => $sock, token => $tok{creator}, body => $big,
                          params => { REQUEST_METHOD => 'PATCH', REQUEST_URI => $path, DOCUMENT_URI => $path,
                                      SCRIPT_NAME => $path, HTTP_IF_MATCH => 'bad' });
        refused_ok($id, $s, $r, 413, 'PAYLOAD_TOO_LARGE', "straight to a worker: an oversized body with a malformed If-Match: 413");
    }

    # The path before authentication.
    for my $p ('not-a-uuid', "$id/", hex_of($id)) {
        $r = api(method => 'PATCH', path => ROUTE . "/$p", body => $bad_body, content_type => 'text/plain');
        error_ok($r, 404, 'NOT_FOUND', "PATCH of the path '$p' without a session: 404 before 401");
        is(error_message($r), 'No such resource', "PATCH of '$p': \"No such resource\"");
    }
    list_unchanged_ok($id, $s, 'after every refusal the list is as it was');
    $r = patch(uc $id, { name => 'upper-case id' });
    changed_ok($id, $s, $r, { name => 'upper-case id' }, 'the id in upper case names the same list');
}

# --- who may change a list -----------------------------------------------------------------------------------------------

{
    my $id = make_list();
    my $r = share_list_ok($tok{creator}, $id, 'set-up: shared with the sharee', $sharee);
    my $s = list_state($id);
    for my $c ([ 'other_member', 404, 'NOT_FOUND', 'Lead list not found' ],
               [ 'other_admin',  404, 'NOT_FOUND', 'Lead list not found' ],
               [ 'outsider',     403, 'FORBIDDEN', 'You do not have access to this lead list' ]) {
        my ($who, $status, $code, $message) = @$c;
        $r = patch($id, { name => "by $who" }, token => $tok{$who});
        refused_ok($id, $s, $r, $status, $code, "PATCH by $who", message => $message);
        $r = patch($id, { name => "by $who" }, token => $tok{$who}, if_match => $s->{get}{etag});
        refused_ok($id, $s, $r, $status, $code, "PATCH by $who with the right If-Match", message => $message);
    }
    my $none = random_uuid();
    my $other = patch($id, { name => 'x' }, token => $tok{other_member});
    my $missing = patch($none, { name => 'x' }, token => $tok{other_member});
    is_deeply(answer_without_rid($other), answer_without_rid($missing),
              "another org's list answers as a list that does not exist");

    $r = patch($id, { name => 'by the admin' }, token => $tok{admin});
    $s = changed_ok($id, $s, $r, { name => 'by the admin' }, 'PATCH by an admin of the org');
    is_deeply($s->{json}{userIds}, [ $creator, $sharee ], 'the admin is not added to userIds');
    $r = patch($id, { name => 'by the sharee' }, token => $tok{sharee}, if_match => '"3"');
    $s = changed_ok($id, $s, $r, { name => 'by the sharee' }, 'PATCH by a user the list is shared with');
    $r = patch($id, { name => 'by the creator' }, if_match => '"4"');
    changed_ok($id, $s, $r, { name => 'by the creator' }, 'PATCH by the creator');
}

done_testing();
