#!/usr/bin/perl
# add-users and remove-users: sharing appends after the existing users with the creator
# first, the account per id, access granted and taken away at once (the list endpoint too),
# the creator who cannot be removed, the max_users cap (the creator counted), the ids' rules,
# versions and If-Match, the order of the checks, and who may share. A refused request writes
# nothing: the stored row, its users, its change records and what GET answers are compared
# before and after.
use v5.36;
use Test::More;
use Leadlists::Test;

need_stack();

my $cast = family_cast('t46');
my ($tag, $orgA, $orgB, $creator) = @$cast{qw(tag orgA orgB creator)};
my ($u2, $u3, $u4, $u5) = map { "user_t46_u${_}_$tag" } 2 .. 5;
my %tok = (
    %{ $cast->{tok} },
    u2       => mint_session(user => $u2, org => $orgA),
    u3       => mint_session(user => $u3, org => $orgA),
    u5       => mint_session(user => $u5, org => $orgA),
    other_u2 => mint_session(user => $u2, org => $orgB),
);
my $NOT_FOUND = 'Lead list not found';
my $FORBIDDEN = 'You do not have access to this lead list';
my $MAX_USERS = config_value('max_users', 100);

# The ids of every list $token may see, from every page; undef when a page is not a 200.
sub visible($token) {
    return eval { [ map { $_->{id} } all_pages($token, limit => 200) ] } // do { diag($@); undef };
}

sub sees($token, $id) {
    my $ids = visible($token) // return undef;
    return scalar grep { $_ eq $id } @$ids;
}

sub make_list() {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return create_list_ok($tok{creator}, $creator, 'set-up: create', name => uniq_name('t46'))->{id};
}

# add-users or remove-users ($op 'add' or 'remove').
sub users($id, $op, $body, %a) {
    return change_list('POST', ROUTE . "/$id/$op-users", $body, token => $tok{creator}, %a);
}

# --- sharing and unsharing ------------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    my $r = get_list($tok{u2}, $id);
    error_ok($r, 403, 'FORBIDDEN', 'before sharing, the user of the org gets 403');
    is(sees($tok{u2}, $id), 0, '... and does not see the list in the list endpoint');

    $r = users($id, 'add', { userIds => [ $u2, $u3, $u2 ] });
    $s = account_ok($id, $s, $r, 'add-users', [ [ $u2, $u3 ], [] ], [ $creator, $u2, $u3 ], 'add-users: appended, repeats once');
    $r = get_list($tok{u2}, $id);
    is($r->{status}, 200, 'the shared user can GET the list now') or diag(describe($r));
    is($r->{content}, $s->{get}{content}, '... the same list the creator reads');
    is(sees($tok{u2}, $id), 1, '... and sees it in the list endpoint');
    $r = api(method => 'GET', path => ROUTE . "?limit=200", token => $tok{u2});
    my ($item) = grep { $_->{id} eq $id } @{ $r->{json}{leadlists} // [] };
    is_deeply($item ? $item->{userIds} : undef, [ $creator, $u2, $u3 ], "... with the list's userIds");
    is(sees($tok{other_u2}, $id), 0, 'the same user id in another org does not see it');
    error_ok(get_list($tok{other_u2}, $id), 404, 'NOT_FOUND', 'the same user id in another org gets 404');

    $r = users($id, 'add', { userIds => [ $creator, $u3, $u4 ] });
    $s = account_ok($id, $s, $r, 'add-users', [ [$u4], [ $creator, $u3 ] ], [ $creator, $u2, $u3, $u4 ],
                    'add-users: the creator and a present user are alreadyPresent, the creator stays first');
    $r = users($id, 'add', { userIds => [ $u4, $creator ] });
    $s = account_ok($id, $s, $r, 'add-users', [ [], [ $u4, $creator ] ], [ $creator, $u2, $u3, $u4 ], 'add-users of present users only');

    $r = users($id, 'remove', { userIds => [ $u3, 'user_t46_nobody', $u3 ] });
    $s = account_ok($id, $s, $r, 'remove-users', [ [$u3], ['user_t46_nobody'] ], [ $creator, $u2, $u4 ],
                    'remove-users: the others keep their order');
    $r = get_list($tok{u3}, $id);
    error_ok($r, 403, 'FORBIDDEN', 'the removed user gets 403 on the next request');
    is(sees($tok{u3}, $id), 0, '... and no longer sees it in the list endpoint');
    $r = users($id, 'remove', { userIds => [ $u3, 'user_t46_nobody' ] });
    $s = account_ok($id, $s, $r, 'remove-users', [ [], [ $u3, 'user_t46_nobody' ] ], [ $creator, $u2, $u4 ], 'remove-users of absent users only');
    $r = users($id, 'add', { userIds => [$u3] });
    $s = account_ok($id, $s, $r, 'add-users', [ [$u3], [] ], [ $creator, $u2, $u4, $u3 ], 'shared again: appended at the end');
    is(get_list($tok{u3}, $id)->{status}, 200, 'shared again: access at once');

    # The creator cannot be removed, wherever they are in the request: the detail names the
    # array (the ids are de-duplicated before the list is looked at, so no index of theirs
    # would be the request's).
    for my $c ([ 'alone', [$creator], 'userIds' ], [ 'after another user', [ $u2, $creator ], 'userIds' ],
               [ 'after an absent user', [ 'user_t46_nobody', $u4, $creator ], 'userIds' ],
               [ 'after a repeated user', [ $u2, $u2, $creator ], 'userIds' ]) {
        my ($label, $ids, $field) = @$c;
        $r = users($id, 'remove', { userIds => $ids });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "remove-users of the creator $label", only => [$field]);
    }
    $r = users($id, 'remove', { userIds => [$creator] }, token => $tok{admin});
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'an admin removing the creator', only => ['userIds']);
    $r = users($id, 'remove', { userIds => [$creator] }, token => $tok{u2});
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'a shared user removing the creator', only => ['userIds']);

    # A member removing themself.
    $r = users($id, 'remove', { userIds => [$u2] }, token => $tok{u2});
    $s = account_ok($id, $s, $r, 'remove-users', [ [$u2], [] ], [ $creator, $u4, $u3 ], 'a shared user removes themself');
    $r = get_list($tok{u2}, $id);
    error_ok($r, 403, 'FORBIDDEN', 'they get 403 on the next request');
    is(error_message($r), $FORBIDDEN, "... '$FORBIDDEN'");
    is(sees($tok{u2}, $id), 0, '... and no longer see it in the list endpoint');
    $r = users($id, 'add', { userIds => [$u2] }, token => $tok{u2});
    refused_ok($id, $s, $r, 403, 'FORBIDDEN', 'they cannot share it back with themself');

    # A shared user, not an admin, shares further with another user of the org.
    $r = users($id, 'add', { userIds => [$u5] }, token => $tok{u3});
    $s = account_ok($id, $s, $r, 'add-users', [ [$u5], [] ], [ $creator, $u4, $u3, $u5 ], 'a shared user shares with another user');
    is(get_list($tok{u5}, $id)->{status}, 200, 'that user can GET the list');
    is(sees($tok{u5}, $id), 1, '... and sees it in the list endpoint');
    $r = users($id, 'remove', { userIds => [$u4] }, token => $tok{u5});
    $s = account_ok($id, $s, $r, 'remove-users', [ [$u4], [] ], [ $creator, $u3, $u5 ], '... and may take another user off');
    is($s->{version}, 8, 'seven real changes: version 8');
}

# --- the max_users cap (the creator counted) -----------------------------------------------------------------

{
    my $id = make_list();
    my @many = map { "user_t46_cap_$_" } 1 .. $MAX_USERS - 2;
    my $s = list_state($id);
    my $r = users($id, 'add', { userIds => \@many });
    $s = account_ok($id, $s, $r, 'add-users', [ \@many, [] ], [ $creator, @many ], 'shared up to max_users - 1 (' . ($MAX_USERS - 1) . ') users');
    $r = users($id, 'add', { userIds => [qw(user_new_1 user_new_2)] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'max_users - 1 plus 2 new users', only => ['userIds'],
               detail_message => { userIds => qr/\b${\($MAX_USERS - 1)}\b.*\b$MAX_USERS\b/ });
    $r = users($id, 'add', { userIds => [ 'user_new_1', $creator, $many[0], 'user_new_1' ] });
    $s = account_ok($id, $s, $r, 'add-users', [ ['user_new_1'], [ $creator, $many[0] ] ], [ $creator, @many, 'user_new_1' ],
                    "exactly to the cap ($MAX_USERS users)");
    $r = users($id, 'add', { userIds => ['user_new_2'] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'one past the cap', only => ['userIds'],
               detail_message => { userIds => qr/\b$MAX_USERS\b/ });
    error_ok(get_list(mint_session(user => 'user_new_2', org => $orgA), $id), 403, 'FORBIDDEN',
             'the user refused by the cap has no access');
    $r = users($id, 'add', { userIds => [ $many[5], $creator ] });
    $s = account_ok($id, $s, $r, 'add-users', [ [], [ $many[5], $creator ] ], [ $creator, @many, 'user_new_1' ],
                    'at the cap, an add of present users only');
    $r = users($id, 'remove', { userIds => [ $many[1] ] });
    my @left = ($creator, (grep { $_ ne $many[1] } @many), 'user_new_1');
    $s = account_ok($id, $s, $r, 'remove-users', [ [ $many[1] ], [] ], \@left, 'at the cap, one removed');
    $r = users($id, 'add', { userIds => ['user_new_2'] });
    account_ok($id, $s, $r, 'add-users', [ ['user_new_2'], [] ], [ @left, 'user_new_2' ], 'back to the cap');
}

{
    # One request: at most 100 ids, and with the creator the list holds at most max_users.
    my $id = make_list();
    my $s = list_state($id);
    my @hundred = map { "user_t46_h_$_" } 1 .. 100;
    my $r = users($id, 'add', { userIds => [ @hundred, 'user_t46_h_101' ] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', '101 ids in one request', only => ['userIds']);
    $r = users($id, 'remove', { userIds => [ @hundred, 'user_t46_h_101' ] });
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', '101 ids in one remove-users', only => ['userIds']);
  SKIP: {
        skip "max_users is $MAX_USERS, not the default 100", 4 if $MAX_USERS != 100;
        $r = users($id, 'add', { userIds => \@hundred });
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', '100 new users: with the creator, one past the cap', only => ['userIds']);
        $r = users($id, 'add', { userIds => [ $creator, @hundred[ 0 .. 98 ] ] });
        account_ok($id, $s, $r, 'add-users', [ [ @hundred[ 0 .. 98 ] ], [$creator] ], [ $creator, @hundred[ 0 .. 98 ] ],
                   '100 ids, the creator among them: exactly to the cap');
    }
}

# --- the ids' rules and the body ----------------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    for my $op (qw(add remove)) {
        my @cases = (
            [ 'an empty id',            [ $u2, '' ],             ['userIds[1]'] ],
            [ 'a 65-character id',      [ 'u' x 65 ],            ['userIds[0]'] ],
            [ 'a space',                [ 'user one' ],          ['userIds[0]'] ],
            [ 'a slash',                [ $u2, 'org/user' ],     ['userIds[1]'] ],
            [ 'non-ASCII',              [ "us\x{e9}r" ],         ['userIds[0]'] ],
            [ 'an @',                   [ 'user@example.com' ],  ['userIds[0]'] ],
            [ 'a number',               [ 42 ],                  ['userIds[0]'] ],
            [ 'null',                   [undef],                 ['userIds[0]'] ],
            [ 'an array',               [ [$u2] ],               ['userIds[0]'] ],
            [ 'two bad ids',            [ 'a b', $u2, 'c d' ],   [ 'userIds[0]', 'userIds[2]' ] ],
        );
        for my $c (@cases) {
            my $r = users($id, $op, { userIds => $c->[1] });
            refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op-users: $c->[0]", only => $c->[2]);
        }
        for my $c ([ 'userIds []', { userIds => [] }, ['userIds'] ], [ 'no userIds', {}, ['userIds'] ],
                   [ 'userIds null', { userIds => undef }, ['userIds'] ], [ 'userIds a string', { userIds => $u2 }, ['userIds'] ],
                   [ 'an unknown field', { userIds => [$u2], role => 'admin' }, ['role'] ],
                   [ 'personIds', { personIds => ['lead_a'] }, [qw(personIds userIds)] ]) {
            my $r = users($id, $op, $c->[1]);
            refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op-users: $c->[0]", only => $c->[2]);
        }
        for my $c ([ 'a duplicate key', qq({"userIds":["$u2"],"userIds":["$u3"]}) ], [ 'an array', qq([{"userIds":["$u2"]}]) ],
                   [ 'invalid JSON', '{"userIds":[' ], [ 'an empty body', '' ]) {
            my $r = users($id, $op, $c->[1]);
            refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op-users: a body that is $c->[0]");
        }
        for my $ct ('text/plain', 'application/merge-patch+json') {
            my $r = users($id, $op, { userIds => [$u2] }, content_type => $ct);
            refused_ok($id, $s, $r, 415, 'UNSUPPORTED_MEDIA_TYPE', "$op-users: Content-Type $ct");
        }
    }
    my @odd = ('A-Za.z_0:9', 'x' x 64, 'U', 'u', '...', '0');
    my $r = users($id, 'add', { userIds => \@odd });
    $s = account_ok($id, $s, $r, 'add-users', [ \@odd, [] ], [ $creator, @odd ], 'ids of every allowed character, 1 and 64 long, case-sensitive');
    $r = users($id, 'remove', { userIds => \@odd });
    account_ok($id, $s, $r, 'remove-users', [ \@odd, [] ], [$creator], '... and removed again');
}

# --- If-Match and the order of the checks ---------------------------------------------------------------------------

{
    my $id = make_list();
    my $s = list_state($id);
    my $r = users($id, 'add', { userIds => [$u2] }, if_match => '"1"');
    $s = account_ok($id, $s, $r, 'add-users', [ [$u2], [] ], [ $creator, $u2 ], 'If-Match the current tag');
    $r = users($id, 'add', { userIds => [$u3] }, if_match => '"5", "2"');
    $s = account_ok($id, $s, $r, 'add-users', [ [$u3], [] ], [ $creator, $u2, $u3 ], 'If-Match a list holding the current tag');
    $r = users($id, 'remove', { userIds => [$u3] }, if_match => '*');
    $s = account_ok($id, $s, $r, 'remove-users', [ [$u3], [] ], [ $creator, $u2 ], 'If-Match *');
    $r = users($id, 'add', { userIds => [$u2] }, if_match => '"4"');
    $s = account_ok($id, $s, $r, 'add-users', [ [], [$u2] ], [ $creator, $u2 ], 'If-Match the current tag, nothing to add');
    for my $op (qw(add remove)) {
        for my $c ([ 'a weak tag of the current version', 'W/"4"' ], [ 'a stale tag', '"3"' ], [ 'a stale list', '"1", "2"' ]) {
            $r = users($id, $op, { userIds => [ $u2, $u4 ] }, if_match => $c->[1]);
            refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', "$op-users with If-Match $c->[0] ($c->[1])");
        }
        for my $c ([ 'no quotes', '4' ], [ 'an open quote', '"4' ], [ 'garbage', 'x y' ]) {
            $r = users($id, $op, { userIds => [$u4] }, if_match => $c->[1]);
            refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op-users with a malformed If-Match: $c->[0]", only => ['If-Match']);
        }
        $r = users($id, $op, { userIds => [] }, token => undef, content_type => 'text/plain', if_match => 'bad');
        refused_ok($id, $s, $r, 401, 'UNAUTHORIZED', "$op-users: no session, wrong media type, malformed If-Match, bad body: 401");
        $r = users($id, $op, { userIds => [] }, content_type => 'text/plain', if_match => 'bad');
        refused_ok($id, $s, $r, 415, 'UNSUPPORTED_MEDIA_TYPE', "$op-users: wrong media type, malformed If-Match, bad body: 415");
        $r = users($id, $op, { userIds => [] }, if_match => 'bad');
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op-users: malformed If-Match and a bad body: the header alone", only => ['If-Match']);
        $r = users($id, $op, { userIds => ['bad id'] }, if_match => '"1"');
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op-users: stale If-Match and a bad id: the body 400", only => ['userIds[0]']);
        $r = users($id, $op, { userIds => [$u4] }, token => $tok{other_member}, if_match => '"1"');
        refused_ok($id, $s, $r, 404, 'NOT_FOUND', "$op-users: another org's list with a stale If-Match: 404", message => $NOT_FOUND);
        $r = users($id, $op, { userIds => ['bad id'] }, token => $tok{other_member});
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "$op-users: another org's list and a bad id: the body 400", only => ['userIds[0]']);
        $r = users($id, $op, { userIds => [$u4] }, token => $tok{outsider}, if_match => '"1"');
        refused_ok($id, $s, $r, 403, 'FORBIDDEN', "$op-users: a non-member with a stale If-Match: 403", message => $FORBIDDEN);
        $r = users(random_uuid(), $op, { userIds => [$u4] }, if_match => '"1"');
        error_ok($r, 404, 'NOT_FOUND', "$op-users: a list that does not exist, with If-Match");
        for my $p ('not-a-uuid', hex_of($id), "$id/x") {
            $r = api(path => ROUTE . "/$p/$op-users", body => { userIds => [] }, content_type => 'text/plain');
            error_ok($r, 404, 'NOT_FOUND', "$op-users under the path '$p' without a session: 404 before 401");
            is(error_message($r), 'No such resource', "$op-users under '$p': \"No such resource\"");
        }
    }
    # The creator and the cap are rules of the stored list: after access and the precondition.
    $r = users($id, 'remove', { userIds => [$creator] }, if_match => '"1"');
    refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', 'remove-users of the creator with a stale If-Match: 412 first');
    $r = users($id, 'remove', { userIds => [$creator] }, token => $tok{outsider});
    refused_ok($id, $s, $r, 403, 'FORBIDDEN', 'remove-users of the creator by a non-member: 403 first');
    $r = users($id, 'remove', { userIds => [$creator] }, token => $tok{other_admin});
    refused_ok($id, $s, $r, 404, 'NOT_FOUND', "remove-users of the creator by another org's admin: 404 first");
    $r = users($id, 'remove', { userIds => [$creator] }, if_match => '"4"');
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'remove-users of the creator with the right If-Match: 400', only => ['userIds']);
    $r = users($id, 'add', { userIds => [ map { "user_t46_o_$_" } 1 .. $MAX_USERS - 1 ] }, if_match => '"1"');
    refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', 'an add past the cap with a stale If-Match: 412 first');
    $r = users(uc $id, 'add', { userIds => [$u4] });
    account_ok($id, $s, $r, 'add-users', [ [$u4], [] ], [ $creator, $u2, $u4 ], 'the id in upper case names the same list');
}

# --- who may share ----------------------------------------------------------------------------------------------

{
    my $id = make_list();
    my $r = users($id, 'add', { userIds => [$u2] });
    is($r->{status}, 200, 'set-up: shared with u2') or diag(describe($r));
    my $s = list_state($id);
    for my $op (qw(add remove)) {
        for my $c ([ 'other_member', 404, 'NOT_FOUND', $NOT_FOUND ], [ 'other_u2', 404, 'NOT_FOUND', $NOT_FOUND ],
                   [ 'other_admin', 404, 'NOT_FOUND', $NOT_FOUND ], [ 'outsider', 403, 'FORBIDDEN', $FORBIDDEN ]) {
            my ($who, $status, $code, $message) = @$c;
            $r = users($id, $op, { userIds => [ $u2, $u4 ] }, token => $tok{$who});
            refused_ok($id, $s, $r, $status, $code, "$op-users by $who", message => $message);
            $r = users($id, $op, { userIds => [ $u2, $u4 ] }, token => $tok{$who}, if_match => $s->{get}{etag});
            refused_ok($id, $s, $r, $status, $code, "$op-users by $who with the right If-Match", message => $message);
        }
        my $other = users($id, $op, { userIds => [$u4] }, token => $tok{other_admin});
        my $missing = users(random_uuid(), $op, { userIds => [$u4] }, token => $tok{other_admin});
        is_deeply(answer_without_rid($other), answer_without_rid($missing),
                  "$op-users: another org's list answers as a list that does not exist");
    }
    # The outsider tries to share the list with themself.
    $r = users($id, 'add', { userIds => ["user_t46_outsider_$tag"] }, token => $tok{outsider});
    refused_ok($id, $s, $r, 403, 'FORBIDDEN', 'a non-member sharing the list with themself');

    $r = users($id, 'add', { userIds => [$u3] }, token => $tok{admin});
    $s = account_ok($id, $s, $r, 'add-users', [ [$u3], [] ], [ $creator, $u2, $u3 ], 'add-users by an admin of the org (not added themself)');
    $r = users($id, 'remove', { userIds => [$u2] }, token => $tok{admin});
    $s = account_ok($id, $s, $r, 'remove-users', [ [$u2], [] ], [ $creator, $u3 ], 'remove-users by an admin of the org');
    error_ok(get_list($tok{u2}, $id), 403, 'FORBIDDEN', 'the user the admin took off gets 403 at once');
    $r = users($id, 'add', { userIds => [$u4] }, token => $tok{u3});
    $s = account_ok($id, $s, $r, 'add-users', [ [$u4], [] ], [ $creator, $u3, $u4 ], 'add-users by a shared user');
    $r = users($id, 'remove', { userIds => [$u4] }, token => $tok{u3});
    account_ok($id, $s, $r, 'remove-users', [ [$u4], [] ], [ $creator, $u3 ], 'remove-users by a shared user');
}

done_testing();
