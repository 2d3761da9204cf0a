#!/usr/bin/perl
# DELETE of one list: 204 without a body, the list with its members, its users and its change
# records gone in one go, 404 from then on; If-Match; the order of the checks; who may delete.
# A refused DELETE removes nothing, and a delete never touches another list of the org.
use v5.36;
use Test::More;
use Time::HiRes ();
use Leadlists::Test;

need_stack();

my $cast = family_cast('t44');
my ($tag, $orgA, $orgB, $creator, $sharee) = @$cast{qw(tag orgA orgB creator sharee)};
my %tok = %{ $cast->{tok} };
my $NOT_FOUND = 'Lead list not found';
my $FORBIDDEN = 'You do not have access to this lead list';
my $C1 = '0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c01';

sub del($id, %a) {
    return change_list('DELETE', ROUTE . "/$id", undef, token => $tok{creator}, %a);
}

# A list of $token's user with members, users besides the creator and change records (each
# add-users and add-members is one): version 3.
my %user_of = ($tok{creator} => $creator, $tok{sharee} => $sharee, $tok{other_member} => $creator);
sub full_list($token = $tok{creator}, %over) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $id = create_list_ok($token, $user_of{$token}, 'set-up: create', name => uniq_name('t44'), %over)->{id};
    share_list_ok($token, $id, 'set-up: shared', $sharee, "user_t44_extra_$tag");
    my $kind = ($over{type} // 'person') eq 'company' ? 'companyIds' : 'personIds';
    my $more = $kind eq 'companyIds' ? ['0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7cff'] : ['lead_t44_more'];
    my $r = api(path => ROUTE . "/$id/add-members", token => $token, body => { $kind => $more });
    is($r->{status}, 200, 'set-up: a member added') or diag(describe($r));
    return $id;
}

# Every list of an org with its users and change records, keyed by list id.
sub org_state($org) {
    my $q = sql_quote($org);
    my %s;
    for my $r (sql("SELECT LOWER(HEX(id)), HEX(name), version, updated_at, SHA2(person_ids, 256), SHA2(company_ids, 256),"
                   . " created_by FROM leadlists WHERE org_id = $q")) {
        $s{ shift @$r }{row} = $r;
    }
    for my $r (sql("SELECT LOWER(HEX(leadlist_id)), position, user_id FROM leadlist_users WHERE org_id = $q"
                   . " ORDER BY leadlist_id, position")) {
        push @{ $s{ shift @$r }{users} }, $r;
    }
    for my $r (sql("SELECT LOWER(HEX(c.leadlist_id)), c.version, HEX(c.change_id) FROM leadlist_changes c"
                   . " JOIN leadlists l ON l.id = c.leadlist_id WHERE l.org_id = $q ORDER BY c.leadlist_id, c.version")) {
        push @{ $s{ shift @$r }{changes} }, $r;
    }
    return \%s;
}

sub without($state, @ids) {
    my %s = %$state;
    delete @s{ map { hex_of($_) } @ids };
    return \%s;
}

# A DELETE that worked: 204 without a body, every row of the list gone, the list 404 for every
# operation, and the rest of the org as it was.
sub deleted_ok($id, $org_before, $r, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is($r->{status}, 204, "$name: 204") or diag(describe($r));
    is($r->{content} // '', '', "$name: no body");
    my $len = header($r, 'content-length');
    ok(!defined $len || $len eq '0', "$name: no Content-Length but 0") or diag("Content-Length: $len");
    is_deeply(list_row_counts($id), { leadlists => 0, leadlist_users => 0, leadlist_changes => 0 },
              "$name: no row, no user row, no change record left");
    my $g = get_list($tok{creator}, $id);
    error_ok($g, 404, 'NOT_FOUND', "$name: GET after");
    is(error_message($g), $NOT_FOUND, "$name: GET after: '$NOT_FOUND'");
    my $again = del($id);
    error_ok($again, 404, 'NOT_FOUND', "$name: DELETE again");
    is(error_message($again), $NOT_FOUND, "$name: DELETE again: '$NOT_FOUND'");
    for my $op ([ 'PATCH', '', { name => 'after delete' } ], [ 'POST', '/add-members', { personIds => ['lead_late'] } ],
                [ 'POST', '/add-users', { userIds => ['user_late'] } ]) {
        my $x = api(method => $op->[0], path => ROUTE . "/$id$op->[1]", token => $tok{admin}, body => $op->[2]);
        error_ok($x, 404, 'NOT_FOUND', "$name: $op->[0]$op->[1] by an admin after");
    }
    is_deeply(list_row_counts($id), { leadlists => 0, leadlist_users => 0, leadlist_changes => 0 },
              "$name: nothing came back");
    is_deeply(org_state($orgA), without($org_before, $id), "$name: every other list of the org, its users and records untouched");
}

# Lists around the ones deleted: another of the creator's holding the same members, one of
# another user shared with the creator, and one of another org.
my $neighbour = full_list();
my $theirs    = full_list($tok{sharee});
my $r = share_list_ok($tok{sharee}, $theirs, 'set-up: a list of the sharee shared with the creator', $creator);
my $abroad = full_list($tok{other_member});
my $abroad_state = org_state($orgB);

# --- a delete -------------------------------------------------------------------------------------

{
    my $id = full_list();
    my $before = list_state($id);
    is($before->{get}{etag}, '"3"', 'the list to delete is at version 3');
    is_deeply([ sort map { $_->[1] } @{ $before->{users} } ], [ sort $sharee, "user_t44_extra_$tag" ], 'it has user rows');
    is(scalar @{ $before->{changes} }, 2, 'it has change records');
    my $org = org_state($orgA);
    $r = del($id);
    deleted_ok($id, $org, $r, 'DELETE by the creator');
    $r = get_list($tok{sharee}, $id);
    error_ok($r, 404, 'NOT_FOUND', 'GET by a user it was shared with after the delete');
    $r = api(method => 'HEAD', path => ROUTE . "/$id", token => $tok{creator});
    is($r->{status}, 404, 'HEAD after the delete: 404');
    $r = api(method => 'GET', path => ROUTE . '?limit=200', token => $tok{creator});
    is($r->{status}, 200, 'the creator lists their lists') or diag(describe($r));
    my @ids = map { $_->{id} } @{ $r->{json}{leadlists} // [] };
    ok(!(grep { $_ eq $id } @ids), 'the deleted list is not among them');
    ok((grep { $_ eq $neighbour } @ids) && (grep { $_ eq $theirs } @ids), '... the others still are');
    $r = del(uc $id);
    error_ok($r, 404, 'NOT_FOUND', 'DELETE again, the id in upper case');
}

{
    # A company list, a full person list and one with many users: everything of it goes.
    my $id = full_list($tok{creator}, type => 'company', personIds => [], companyIds => [$C1]);
    my $org = org_state($orgA);
    deleted_ok($id, $org, del($id), 'DELETE of a company list');

    my $max_ids = config_value('max_ids', 10000);
    $r = api(token => $tok{creator}, body => valid_body(personIds => [ map { "lead_$_" } 1 .. $max_ids ]));
    is($r->{status}, 201, "set-up: a list of $max_ids members") or diag(describe($r));
    $id = $r->{json}{id};
    my $users = config_value('max_users', 100) - 1;
    $r = api(path => ROUTE . "/$id/add-users", token => $tok{creator}, body => { userIds => [ map { "user_t44_many_$_" } 1 .. $users ] });
    is($r->{status}, 200, "set-up: shared with $users users") or diag(describe($r));
    is(list_row_counts($id)->{leadlist_users}, $users, "it has $users user rows");
    $org = org_state($orgA);
    deleted_ok($id, $org, del($id), 'DELETE of a full list with every user');
}

# --- If-Match ------------------------------------------------------------------------------------------

{
    my $id = full_list();
    my $s = list_state($id);
    for my $c ([ 'a stale tag', '"2"' ], [ 'a stale list', '"1", "2"' ], [ 'a weak tag of the current version', 'W/"3"' ],
               [ 'a future version', '"4"' ], [ 'another kind of tag', '"x3"' ]) {
        $r = del($id, if_match => $c->[1]);
        refused_ok($id, $s, $r, 412, 'PRECONDITION_FAILED', "DELETE with If-Match $c->[0] ($c->[1])");
    }
    for my $c ([ 'no quotes', '3' ], [ 'an open quote', '"3' ], [ 'two tags without a comma', '"3" "2"' ],
               [ 'garbage', 'please' ], [ '* in a list', '"3", *' ]) {
        $r = del($id, if_match => $c->[1]);
        refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "DELETE with a malformed If-Match: $c->[0] ($c->[1])", only => ['If-Match']);
    }
    my $org = org_state($orgA);
    deleted_ok($id, $org, del($id, if_match => '"3"'), 'DELETE with If-Match the current tag');

    $id = full_list();
    $org = org_state($orgA);
    deleted_ok($id, $org, del($id, if_match => '"9", "3"'), 'DELETE with If-Match a list holding the current tag');
    $id = full_list();
    $org = org_state($orgA);
    deleted_ok($id, $org, del($id, if_match => '*'), 'DELETE with If-Match *');
    $r = del($id, if_match => '*');
    error_ok($r, 404, 'NOT_FOUND', 'DELETE with If-Match * of a list that is gone');
}

# --- the order of the checks ----------------------------------------------------------------------------

{
    my $id = full_list();
    my $s = list_state($id);
    $r = del($id, token => undef, if_match => 'bad');
    refused_ok($id, $s, $r, 401, 'UNAUTHORIZED', 'no session and a malformed If-Match: 401');
    $r = del($id, token => $tok{other_member}, if_match => 'bad');
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', "another org's list and a malformed If-Match: 400", only => ['If-Match']);
    $r = del($id, token => $tok{outsider}, if_match => 'bad');
    refused_ok($id, $s, $r, 400, 'BAD_REQUEST', 'a non-member and a malformed If-Match: 400', only => ['If-Match']);
    $r = del($id, token => $tok{other_member}, if_match => '"1"');
    refused_ok($id, $s, $r, 404, 'NOT_FOUND', "another org's list and a stale If-Match: 404", message => $NOT_FOUND);
    $r = del($id, token => $tok{outsider}, if_match => '"1"');
    refused_ok($id, $s, $r, 403, 'FORBIDDEN', 'a non-member and a stale If-Match: 403', message => $FORBIDDEN);
    my $none = random_uuid();
    $r = del($none, if_match => 'bad');
    error_ok($r, 400, 'BAD_REQUEST', 'a list that does not exist and a malformed If-Match: 400');
    $r = del($none, if_match => '"1"');
    error_ok($r, 404, 'NOT_FOUND', 'a list that does not exist with If-Match: 404');
    for my $p ('not-a-uuid', "$id/", "$id/x", hex_of($id)) {
        $r = api(method => 'DELETE', path => ROUTE . "/$p");
        error_ok($r, 404, 'NOT_FOUND', "DELETE of the path '$p' without a session: 404 before 401");
        is(error_message($r), 'No such resource', "DELETE of '$p': \"No such resource\"");
    }
    list_unchanged_ok($id, $s, 'after every refusal the list is as it was');
}

# --- who may delete --------------------------------------------------------------------------------------

{
    my $id = full_list();
    my $s = list_state($id);
    for my $c ([ 'other_member', 404, 'NOT_FOUND', $NOT_FOUND ], [ 'other_admin', 404, 'NOT_FOUND', $NOT_FOUND ],
               [ 'outsider', 403, 'FORBIDDEN', $FORBIDDEN ]) {
        my ($who, $status, $code, $message) = @$c;
        $r = del($id, token => $tok{$who});
        refused_ok($id, $s, $r, $status, $code, "DELETE by $who", message => $message);
        $r = del($id, token => $tok{$who}, if_match => '"3"');
        refused_ok($id, $s, $r, $status, $code, "DELETE by $who with the right If-Match", message => $message);
    }
    my $other = del($id, token => $tok{other_member});
    my $missing = del(random_uuid(), token => $tok{other_member});
    is_deeply(answer_without_rid($other), answer_without_rid($missing),
              "another org's list answers as a list that does not exist");
    my $org = org_state($orgA);
    deleted_ok($id, $org, del($id, token => $tok{admin}), 'DELETE by an admin of the org');
    $id = full_list();
    $org = org_state($orgA);
    deleted_ok($id, $org, del($id, token => $tok{sharee}), 'DELETE by a user the list is shared with');
    # A list of another org is out of reach of this org's admin.
    $r = del($abroad, token => $tok{admin});
    error_ok($r, 404, 'NOT_FOUND', "DELETE of another org's list by this org's admin");
}

is_deeply(org_state($orgB), $abroad_state, "the other org's list, its users and records untouched throughout");
ok(defined org_state($orgA)->{ hex_of($neighbour) } && defined org_state($orgA)->{ hex_of($theirs) },
   "the org's lists that were not deleted are still there");

done_testing();
