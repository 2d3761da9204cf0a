#!/usr/bin/perl
# add-members and remove-members: the per-id account, the order members keep, the body's
# rules, the kind of ids a list takes, the max_members cap at and past it, versions and
# If-Match, the order of the checks, and who may change members. A refused request writes
# nothing: the stored row, its users, its change records and what GET answers are compared
# before and after.
use v5.36;
use Test::More;
use Leadlists::Test;

need_stack();

my $cast = family_cast('t45');
my ($creator, $sharee) = @$cast{qw(creator sharee)};
my %tok = %{ $cast->{tok} };
my $NOT_FOUND = 'Lead list not found';
my $FORBIDDEN = 'You do not have access to this lead list';
my $MAX_IDS     = config_value('max_ids', 10000);
my $MAX_MEMBERS = config_value('max_members', 10000);

sub cid($n) { return sprintf '0193f1d2-6c1e-7a4b-9c2d-%012x', $n }
my ($C1, $C2, $C3, $C4) = map { cid($_) } 1 .. 4;

# A list of the creator's; members are added in steps when they are more than max_ids.
sub make_list(%over) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $type = $over{type} // 'person';
    my $kind = $type eq 'company' ? 'companyIds' : 'personIds';
    my @ids = @{ $over{$kind} // ($type eq 'company' ? [] : [qw(lead_a lead_b)]) };
    my @first = splice @ids, 0, $MAX_IDS;
    my $id = create_list_ok($tok{creator}, $creator, 'set-up: create', name => uniq_name('t45'), %over,
                            personIds => [], companyIds => [], $kind => \@first)->{id};
    while (@ids) {
        my @chunk = splice @ids, 0, $MAX_IDS;
        my $r = api(path => ROUTE . "/$id/add-members", token => $tok{creator}, body => { $kind => \@chunk });
        is($r->{status}, 200, 'set-up: more members') or diag(describe($r));
    }
    return $id;
}

# add-members or remove-members ($op 'add' or 'remove').
sub members($id, $op, $body, %a) {
    return change_list('POST', ROUTE . "/$id/$op-members", $body, token => $tok{creator}, %a);
}

# --- add and remove on a person list -------------------------------------------------------------------

{
    my $id = make_list(personIds => [qw(a b)]);
    my $s = list_state($id);
    my $r = members($id, 'add', { personIds => [qw(c a d c e a)] });
    $s = account_ok($id, $s, $r, 'add-members', [ [qw(c d e)], [qw(a)] ], [qw(a b c d e)],
                    'add: new ids appended in request order, repeats counted once');
    $r = members($id, 'add', { personIds => [qw(b a b)] });
    $s = account_ok($id, $s, $r, 'add-members', [ [], [qw(b a)] ], [qw(a b c d e)], 'add of ids all present');
    $r = members($id, 'add', { personIds => [qw(f)] }, if_match => '"2"');
    $s = account_ok($id, $s, $r, 'add-members', [ [qw(f)], [] ], [qw(a b c d e f)], 'add after the no-op: version 3');
    $r = members($id, 'remove', { personIds => [qw(b zz d zz b)] });
    $s = account_ok($id, $s, $r, 'remove-members', [ [qw(b d)], [qw(zz)] ], [qw(a c e f)],
                    'remove: the others keep their order, repeats counted once');
    $r = members($id, 'remove', { personIds => [qw(b d y)] });
    $s = account_ok($id, $s, $r, 'remove-members', [ [], [qw(b d y)] ], [qw(a c e f)], 'remove of ids none present');
    $r = members($id, 'remove', { personIds => [qw(f a e c)] });
    $s = account_ok($id, $s, $r, 'remove-members', [ [qw(f a e c)], [] ], [], 'remove of every member');
    is_deeply((sql("SELECT person_count, person_ids FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')"))[0], [ 0, '[]' ],
              'the emptied list is stored as []');
    $r = members($id, 'add', { personIds => [ 'Lead', 'lead', 'LEAD', 'A-Za.z_0:9', 'x' x 64 ] });
    $s = account_ok($id, $s, $r, 'add-members', [ [ 'Lead', 'lead', 'LEAD', 'A-Za.z_0:9', 'x' x 64 ], [] ],
                    [ 'Lead', 'lead', 'LEAD', 'A-Za.z_0:9', 'x' x 64 ], 'add to an empty list: ids are case-sensitive');
    is(sql_value("SELECT person_ids FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')"),
       json_text([ 'Lead', 'lead', 'LEAD', 'A-Za.z_0:9', 'x' x 64 ]), 'stored in order');
    is($s->{version}, 6, "five real changes, two no-ops: version 6");
}

# --- a company list --------------------------------------------------------------------------------------------

{
    my $id = make_list(type => 'company', companyIds => [ $C1, $C2 ]);
    my $s = list_state($id);
    my $r = members($id, 'add', { companyIds => [ uc $C3, $C1, $C3, uc $C2 ] });
    $s = account_ok($id, $s, $r, 'add-members', [ [$C3], [ $C1, $C2 ] ], [ $C1, $C2, $C3 ],
                    'company add: upper-case UUIDs answered in lower case, case-insensitive repeats counted once');
    is(sql_value("SELECT LOWER(HEX(company_ids)) FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')"),
       join('', map { hex_of($_) } $C1, $C2, $C3), 'the UUIDs stored in order');
    $r = members($id, 'remove', { companyIds => [ uc $C1, uc $C4 ] });
    $s = account_ok($id, $s, $r, 'remove-members', [ [$C1], [$C4] ], [ $C2, $C3 ], 'company remove: answered in lower case');
    $r = members($id, 'add', { personIds => ['lead_a'] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'personIds on a company list (add)', only => ['personIds']);
    $r = members($id, 'remove', { personIds => ['lead_a'] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'personIds on a company list (remove)', only => ['personIds']);
    $r = members($id, 'add', { companyIds => [ $C1, 'lead_a' ] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'a company id that is not a UUID', only => ['companyIds[1]']);
}

# --- the body's rules --------------------------------------------------------------------------------------------

{
    my $id = make_list(personIds => [qw(a b)]);
    my $s = list_state($id);
    for my $op (qw(add remove)) {
        my $r = members($id, $op, { companyIds => [$C1] });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op: companyIds on a person list", only => ['companyIds']);
        my @cases = (
            [ 'both arrays',                 { personIds => ['c'], companyIds => [$C1] }, ['body'] ],
            [ 'both arrays, one empty',      { personIds => ['c'], companyIds => [] },    undef, ['body'] ],
            [ 'neither array',               {},                                          ['body'] ],
            [ 'personIds []',                { personIds => [] },                         ['personIds'] ],
            [ 'companyIds []',               { companyIds => [] },                        ['companyIds'] ],
            [ 'personIds null',              { personIds => undef },                      ['personIds'] ],
            [ 'personIds a string',          { personIds => 'c' },                        ['personIds'] ],
            [ 'a bad id',                    { personIds => [ 'c', 'no spaces' ] },       ['personIds[1]'] ],
            [ 'a 65-character id',           { personIds => [ 'p' x 65 ] },               ['personIds[0]'] ],
            [ 'a number as an id',           { personIds => [1] },                        ['personIds[0]'] ],
            [ 'an unknown field',            { personIds => ['c'], userIds => ['u'] },    ['userIds'] ],
            [ 'max_ids + 1 ids',             { personIds => [ map { "lead_$_" } 1 .. $MAX_IDS + 1 ] }, ['personIds'] ],
        );
        for my $c (@cases) {
            my ($label, $body, $only, $details) = @$c;
            $r = members($id, $op, $body);
            refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op: $label", $only ? (only => $only) : (), details => $details // []);
        }
        for my $c ([ 'a duplicate key', '{"personIds":["c"],"personIds":["d"]}' ], [ 'an array', '[{"personIds":["c"]}]' ],
                   [ 'invalid JSON', '{"personIds":["c"' ], [ 'an empty body', '' ], [ 'null', 'null' ]) {
            $r = members($id, $op, $c->[1]);
            refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op: a body that is $c->[0]");
        }
        for my $ct ('text/plain', 'application/merge-patch+json', 'application/x-www-form-urlencoded') {
            $r = members($id, $op, { personIds => ['c'] }, content_type => $ct);
            refused_ok($id, $s, $r, 415, 'UNSUPPORTED_MEDIA_TYPE', "$op: Content-Type $ct");
        }
    }
    my $r = members($id, 'add', { personIds => [ map { "lead_$_" } 1 .. 5 ] }, content_type => 'application/json; charset=UTF-8');
    account_ok($id, $s, $r, 'add-members', [ [ map { "lead_$_" } 1 .. 5 ], [] ], [ qw(a b), map { "lead_$_" } 1 .. 5 ],
               'add with application/json; charset=UTF-8');
}

# --- the max_members cap ------------------------------------------------------------------------------------------

{
    my @ids = map { "lead_cap_$_" } 1 .. $MAX_MEMBERS - 1;
    my $id = make_list(personIds => \@ids);
    my $s = list_state($id);
    is($s->{row}{person_count}, $MAX_MEMBERS - 1, "a list of max_members - 1 (" . ($MAX_MEMBERS - 1) . ') members');
    my $r = members($id, 'add', { personIds => [qw(new_1 new_2)] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'max_members - 1 plus 2 new ids', only => ['personIds'],
               detail_message => { personIds => qr/\b${\($MAX_MEMBERS - 1)}\b.*\b$MAX_MEMBERS\b/ });
    $r = members($id, 'add', { personIds => [ 'new_1', 'new_2', @ids[ 0 .. 9 ] ] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'max_members - 1 plus 2 new and 10 present', only => ['personIds']);
    $r = members($id, 'add', { personIds => [ 'new_1', $ids[0], 'new_1', $ids[5] ] });
    $s = account_ok($id, $s, $r, 'add-members', [ ['new_1'], [ $ids[0], $ids[5] ] ], [ @ids, 'new_1' ],
                    "exactly to the cap ($MAX_MEMBERS), with present ids and a repeat");
    $r = members($id, 'add', { personIds => ['new_2'] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'one past the cap', only => ['personIds'],
               detail_message => { personIds => qr/\b$MAX_MEMBERS\b/ });
    $r = members($id, 'add', { personIds => [ $ids[1], 'new_1' ] });
    $s = account_ok($id, $s, $r, 'add-members', [ [], [ $ids[1], 'new_1' ] ], [ @ids, 'new_1' ], 'at the cap, an add of present ids only');
    $r = members($id, 'remove', { personIds => [ $ids[2] ] });
    my @left = ((grep { $_ ne $ids[2] } @ids), 'new_1');
    $s = account_ok($id, $s, $r, 'remove-members', [ [ $ids[2] ], [] ], \@left, 'at the cap, one removed');
    $r = members($id, 'add', { personIds => ['new_2'] });
    account_ok($id, $s, $r, 'add-members', [ ['new_2'], [] ], [ @left, 'new_2' ], 'back to the cap');
}

{
    # max_ids ids at once, to a list of max_members - max_ids.
    my $start = $MAX_MEMBERS - $MAX_IDS;
    my $id = make_list(personIds => [ map { "lead_old_$_" } 1 .. $start ]);
    my $s = list_state($id);
    my @new = map { "lead_bulk_$_" } 1 .. $MAX_IDS;
    my $r = members($id, 'add', { personIds => \@new });
    $s = account_ok($id, $s, $r, 'add-members', [ \@new, [] ], [ (map { "lead_old_$_" } 1 .. $start), @new ],
                    "add of max_ids ($MAX_IDS) ids to a list of max_members - max_ids ($start)");
    $r = members($id, 'add', { personIds => ['one_more'] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'then one more', only => ['personIds']);
    $r = members($id, 'remove', { personIds => \@new });
    account_ok($id, $s, $r, 'remove-members', [ \@new, [] ], [ map { "lead_old_$_" } 1 .. $start ], "remove of max_ids ($MAX_IDS) ids");
}

{
    my @ids = map { cid(1000 + $_) } 1 .. $MAX_MEMBERS - 1;
    my $id = make_list(type => 'company', companyIds => \@ids);
    my $s = list_state($id);
    my $r = members($id, 'add', { companyIds => [ $C1, $C2 ] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'company list: max_members - 1 plus 2 new', only => ['companyIds'],
               detail_message => { companyIds => qr/\b${\($MAX_MEMBERS - 1)}\b.*\b$MAX_MEMBERS\b/ });
    $r = members($id, 'add', { companyIds => [ uc $C1 ] });
    account_ok($id, $s, $r, 'add-members', [ [$C1], [] ], [ @ids, $C1 ], 'company list: exactly to the cap');
}

# --- If-Match and the order of the checks ---------------------------------------------------------------------------

{
    my $id = make_list(personIds => [qw(a b)]);
    my $s = list_state($id);
    my $r = members($id, 'add', { personIds => ['c'] }, if_match => '"1"');
    $s = account_ok($id, $s, $r, 'add-members', [ ['c'], [] ], [qw(a b c)], 'If-Match the current tag');
    $r = members($id, 'remove', { personIds => ['c'] }, if_match => '"7", "2"');
    $s = account_ok($id, $s, $r, 'remove-members', [ ['c'], [] ], [qw(a b)], 'If-Match a list holding the current tag');
    $r = members($id, 'add', { personIds => ['d'] }, if_match => '*');
    $s = account_ok($id, $s, $r, 'add-members', [ ['d'], [] ], [qw(a b d)], 'If-Match *');
    $r = members($id, 'add', { personIds => ['a'] }, if_match => '"4"');
    $s = account_ok($id, $s, $r, 'add-members', [ [], ['a'] ], [qw(a b d)], 'If-Match the current tag, nothing to add');
    for my $op (qw(add remove)) {
        for my $c ([ 'a weak tag of the current version', 'W/"4"' ], [ 'a stale tag', '"3"' ], [ 'a stale list', '"1", "2"' ]) {
            $r = members($id, $op, { personIds => [qw(a e)] }, if_match => $c->[1]);
            refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', "$op with If-Match $c->[0] ($c->[1])");
        }
        $r = members($id, $op, { personIds => ['a'] }, if_match => '"3"');
        refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', "$op with a stale If-Match, even when it would change nothing");
        for my $c ([ 'no quotes', '4' ], [ 'an open quote', '"4' ], [ 'garbage', 'x y' ]) {
            $r = members($id, $op, { personIds => ['e'] }, if_match => $c->[1]);
            refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op with a malformed If-Match: $c->[0]", only => ['If-Match']);
        }
        $r = members($id, $op, { personIds => [] }, token => undef, content_type => 'text/plain', if_match => 'bad');
        refused_ok($id, $s, $r, 401, 'UNAUTHORIZED', "$op: no session, wrong media type, malformed If-Match, bad body: 401");
        $r = members($id, $op, { personIds => [] }, content_type => 'text/plain', if_match => 'bad');
        refused_ok($id, $s, $r, 415, 'UNSUPPORTED_MEDIA_TYPE', "$op: wrong media type, malformed If-Match, bad body: 415");
        $r = members($id, $op, { personIds => [] }, if_match => 'bad');
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op: malformed If-Match and a bad body: the header alone", only => ['If-Match']);
        $r = members($id, $op, { personIds => [] }, if_match => '"1"');
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op: stale If-Match and a bad body: the body 400", only => ['personIds']);
        $r = members($id, $op, { companyIds => [$C1] }, if_match => '"1"');
        refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', "$op: stale If-Match and the other kind of ids: 412 first");
        $r = members($id, $op, { personIds => ['e'] }, token => $tok{other_member}, if_match => '"1"');
        refused_ok($id, $s, $r, 404, 'NOT_FOUND', "$op: another org's list with a stale If-Match: 404", message => $NOT_FOUND);
        $r = members($id, $op, { companyIds => [$C1] }, token => $tok{other_member});
        refused_ok($id, $s, $r, 404, 'NOT_FOUND', "$op: another org's list and the other kind of ids: 404", message => $NOT_FOUND);
        $r = members($id, $op, { personIds => [] }, token => $tok{other_member});
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op: another org's list and a bad body: the body 400", only => ['personIds']);
        $r = members($id, $op, { companyIds => [$C1] }, token => $tok{outsider}, if_match => '"1"');
        refused_ok($id, $s, $r, 403, 'FORBIDDEN', "$op: a non-member, a stale If-Match, the other kind of ids: 403",
                   message => $FORBIDDEN);
        $r = members(random_uuid(), $op, { personIds => ['e'] }, if_match => '"1"');
        error_ok($r, 404, 'NOT_FOUND', "$op: a list that does not exist, with If-Match");
        for my $p ('not-a-uuid', hex_of($id), "$id/x") {
            $r = api(path => ROUTE . "/$p/$op-members", body => { personIds => [] }, content_type => 'text/plain');
            error_ok($r, 404, 'NOT_FOUND', "$op-members under the path '$p' without a session: 404 before 401");
            is(error_message($r), 'No such resource', "$op-members under '$p': \"No such resource\"");
        }
    }
    {
        # The cap is a rule of the stored list: after the precondition.
        my @ids = map { "lead_full_$_" } 1 .. $MAX_MEMBERS;
        my $full = make_list(personIds => \@ids);
        my $fs = list_state($full);
        $r = members($full, 'add', { personIds => ['over'] }, if_match => '"9"');
        refused_ok($full, $fs, $r, 412, 'PRECONDITION_FAILED', 'a full list, a stale If-Match and a new id: 412 before the cap');
        $r = members($full, 'add', { personIds => ['over'] }, token => $tok{outsider});
        refused_ok($full, $fs, $r, 403, 'FORBIDDEN', 'a full list, a non-member and a new id: 403 before the cap');
        $r = members($full, 'add', { personIds => ['over'] }, if_match => $fs->{get}{etag});
        refused_ok($full, $fs, $r, 400, 'BAD_REQUEST', 'a full list, the right If-Match and a new id: the cap', only => ['personIds']);
    }
    $r = members(uc $id, 'add', { personIds => ['e'] });
    account_ok($id, $s, $r, 'add-members', [ ['e'], [] ], [qw(a b d e)], 'the id in upper case names the same list');
}

# --- who may change members ---------------------------------------------------------------------------------------

{
    my $id = make_list(personIds => [qw(a b)]);
    my $r = share_list_ok($tok{creator}, $id, 'set-up: shared with the sharee', $sharee);
    my $s = list_state($id);
    for my $op (qw(add remove)) {
        for my $c ([ 'other_member', 404, 'NOT_FOUND', $NOT_FOUND ], [ 'other_admin', 404, 'NOT_FOUND', $NOT_FOUND ],
                   [ 'outsider', 403, 'FORBIDDEN', $FORBIDDEN ]) {
            my ($who, $status, $code, $message) = @$c;
            $r = members($id, $op, { personIds => [qw(a z)] }, token => $tok{$who});
            refused_ok($id, $s, $r, $status, $code, "$op-members by $who", message => $message);
            $r = members($id, $op, { personIds => [qw(a z)] }, token => $tok{$who}, if_match => $s->{get}{etag});
            refused_ok($id, $s, $r, $status, $code, "$op-members by $who with the right If-Match", message => $message);
        }
        my $other = members($id, $op, { personIds => ['z'] }, token => $tok{other_admin});
        my $missing = members(random_uuid(), $op, { personIds => ['z'] }, token => $tok{other_admin});
        is_deeply(answer_without_rid($other), answer_without_rid($missing),
                  "$op-members: another org's list answers as a list that does not exist");
    }
    $r = members($id, 'add', { personIds => ['by_admin'] }, token => $tok{admin});
    $s = account_ok($id, $s, $r, 'add-members', [ ['by_admin'], [] ], [qw(a b by_admin)], 'add-members by an admin of the org');
    $r = members($id, 'remove', { personIds => ['a'] }, token => $tok{admin});
    $s = account_ok($id, $s, $r, 'remove-members', [ ['a'], [] ], [qw(b by_admin)], 'remove-members by an admin of the org');
    $r = members($id, 'add', { personIds => ['by_sharee'] }, token => $tok{sharee});
    $s = account_ok($id, $s, $r, 'add-members', [ ['by_sharee'], [] ], [qw(b by_admin by_sharee)], 'add-members by the sharee');
    $r = members($id, 'remove', { personIds => ['b'] }, token => $tok{sharee});
    $s = account_ok($id, $s, $r, 'remove-members', [ ['b'], [] ], [qw(by_admin by_sharee)], 'remove-members by the sharee');
    is_deeply($s->{json}{userIds}, [ $creator, $sharee ], 'changing members changes no userIds');
}

done_testing();
