#!/usr/bin/perl
# Who may act on a list (OWASP API1, broken object-level authorization), for every operation
# on {id}: the creator, a user the list is shared with and an admin of its org may; another
# member of the org gets 403; anyone of another org, admin or not, gets the 404 of a list that
# does not exist, byte for byte; a session that is no longer valid gets 401. A refused request
# writes nothing, not even a version or updatedAt. Sharing is taken away at once, and the list
# endpoint shows a caller exactly the lists they may act on, on every page.
use v5.36;
use Test::More;
use Leadlists::Test;

need_stack();

# The cast's other_member is the creator's own user id in another org: the id is in userIds,
# the org is not.
my $cast = family_cast('t47');
my ($tag, $orgA, $orgB, $creator, $sharee) = @$cast{qw(tag orgA orgB creator sharee)};
my $bystander = "user_t47_bystander_$tag";
my $newcomer  = "user_t47_newcomer_$tag";

my %tok = (
    %{ $cast->{tok} },
    expired => mint_session(user => $creator, org => $orgA),
    revoked => mint_session(user => $creator, org => $orgA),
);
expire_session($tok{expired});
revoke_session($tok{revoked});

my $NOT_FOUND = 'Lead list not found';
my $FORBIDDEN = 'You do not have access to this lead list';

# A list created by $tok{creator} and shared with the sharee and a bystander (version 2).
sub shared_list($label) {
    my $id = create_list_ok($tok{creator}, $creator, "$label: create", name => uniq_name("t47 $label"))->{id};
    share_list_ok($tok{creator}, $id, "$label: shared with the sharee and a bystander", $sharee, $bystander);
    return $id;
}

# Rows of the two orgs' lists, users and change records, and change records of no list: a
# refused request adds or removes none. (Scoped to the orgs, so that another client of the same
# database cannot move them.)
sub table_counts() {
    my $orgs = join ', ', map { sql_quote($_) } $orgA, $orgB;
    my ($r) = sql("SELECT (SELECT COUNT(*) FROM leadlists WHERE org_id IN ($orgs)),"
                  . " (SELECT COUNT(*) FROM leadlist_users WHERE org_id IN ($orgs)),"
                  . " (SELECT COUNT(*) FROM leadlist_changes c JOIN leadlists l ON l.id = c.leadlist_id"
                  . " WHERE l.org_id IN ($orgs)),"
                  . " (SELECT COUNT(*) FROM leadlist_changes c WHERE NOT EXISTS"
                  . " (SELECT 1 FROM leadlists l WHERE l.id = c.leadlist_id))");
    return { leadlists => $r->[0], leadlist_users => $r->[1], leadlist_changes => $r->[2], orphan_changes => $r->[3] };
}

# The operations on {id}, each as (method, path suffix, body or undef).
my @OPS = (
    [ 'GET',            'GET',    '',                undef ],
    [ 'HEAD',           'HEAD',   '',                undef ],
    [ 'PATCH',          'PATCH',  '',                { name => 'renamed by t47' } ],
    [ 'DELETE',         'DELETE', '',                undef ],
    [ 'add-members',    'POST',   '/add-members',    { personIds => ['lead_added_t47'] } ],
    [ 'remove-members', 'POST',   '/remove-members', { personIds => ['lead_abc123'] } ],
    [ 'add-users',      'POST',   '/add-users',      { userIds => [$newcomer] } ],
    [ 'remove-users',   'POST',   '/remove-users',   { userIds => [$bystander] } ],
);

sub run_op($op, $token, $id) {
    my (undef, $method, $suffix, $body) = @$op;
    return api(method => $method, path => ROUTE . "/$id$suffix", token => $token,
               defined $body ? (body => $body) : ());
}

# One refused request: status, code and the exact message (HEAD: status and headers only).
sub refusal_ok($r, $op, $status, $code, $message, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if ($op->[1] eq 'HEAD') {
        is($r->{status}, $status, "$name: $status") or diag(describe($r));
        is(header($r, 'content-type'), 'application/json; charset=utf-8', "$name: JSON content type");
        is($r->{content} // '', '', "$name: no body");
        return;
    }
    error_ok($r, $status, $code, $name);
    is(error_message($r), $message, "$name: message '$message'");
}

my $no_session = api(method => 'GET', path => ROUTE . '/' . '0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d');
error_ok($no_session, 401, 'UNAUTHORIZED', 'no session at all');
my $UNAUTH = $no_session->{json}{error}{message} // 'A valid session is required';

# --- refused: another member, another org, no valid session -------------------------------------

my $target = shared_list('refusals');
my @callers_refused = (
    [ 'outsider',     403, 'FORBIDDEN',    $FORBIDDEN ],
    [ 'other_member', 404, 'NOT_FOUND',    $NOT_FOUND ],
    [ 'other_admin',  404, 'NOT_FOUND',    $NOT_FOUND ],
    [ 'expired',      401, 'UNAUTHORIZED', $UNAUTH ],
    [ 'revoked',      401, 'UNAUTHORIZED', $UNAUTH ],
);
for my $op (@OPS) {
    for my $c (@callers_refused) {
        my ($who, $status, $code, $message) = @$c;
        my $name = "$op->[0] by $who";
        my $state  = list_state($target);
        my $counts = table_counts();
        my $r = run_op($op, $tok{$who}, $target);
        refusal_ok($r, $op, $status, $code, $message, $name);
        list_unchanged_ok($target, $state, "$name: the stored list, its users, its change records and its GET are unchanged");
        is_deeply(table_counts(), $counts, "$name: no row written or removed in either org");

        my $random = random_uuid();
        if ($status == 404) {
            # Another org's list is indistinguishable from one that never existed.
            my $none = run_op($op, $tok{$who}, $random);
            refusal_ok($none, $op, 404, 'NOT_FOUND', $NOT_FOUND, "$op->[0] by $who of a random id");
            is_deeply(answer_without_rid($r), answer_without_rid($none),
                      "$name: the 404 is byte-identical to the one for an id that names no list");
            my $mine = run_op($op, $tok{creator}, $random);
            is_deeply(answer_without_rid($r), answer_without_rid($mine),
                      "$name: ... and to the creator's own 404 for an id that names no list");
        } elsif ($status == 401) {
            my $plain = run_op($op, undef, $random);
            is_deeply(answer_without_rid($r), answer_without_rid($plain),
                      "$name: the 401 is byte-identical to the one without a session");
        }
    }
}
is_deeply(run_op($OPS[0], $tok{creator}, $target)->{json}{userIds}, [ $creator, $sharee, $bystander ],
          'after every refusal the list still has its users');

# --- allowed: the creator, a user it is shared with, an admin of the org --------------------------

my %expect = (
    GET => sub ($r, $id, $name) {
        is($r->{status}, 200, "$name: 200") or diag(describe($r));
        is($r->{json}{id}, $id, "$name: the list");
        is(header($r, 'etag'), '"2"', "$name: ETag \"2\"");
        is_deeply($r->{json}{userIds}, [ $creator, $sharee, $bystander ], "$name: userIds");
    },
    HEAD => sub ($r, $id, $name) {
        is($r->{status}, 200, "$name: 200") or diag(describe($r));
        is(header($r, 'etag'), '"2"', "$name: ETag \"2\"");
        is($r->{content} // '', '', "$name: no body");
    },
    PATCH => sub ($r, $id, $name) {
        is($r->{status}, 200, "$name: 200") or diag(describe($r));
        is($r->{json}{name}, 'renamed by t47', "$name: renamed");
        is(header($r, 'etag'), '"3"', "$name: ETag \"3\"");
    },
    DELETE => sub ($r, $id, $name) {
        is($r->{status}, 204, "$name: 204") or diag(describe($r));
        is(sql_value("SELECT COUNT(*) FROM leadlists WHERE id = UNHEX('" . hex_of($id) . "')"), 0, "$name: the row is gone");
        is(api(method => 'GET', path => ROUTE . "/$id", token => $tok{creator})->{status}, 404, "$name: GET is 404 now");
    },
    'add-members' => sub ($r, $id, $name) {
        is($r->{status}, 200, "$name: 200") or diag(describe($r));
        is_deeply([ @{ $r->{json} }{qw(added alreadyPresent memberCount)} ], [ ['lead_added_t47'], [], 3 ], "$name: added, memberCount 3");
        is(header($r, 'etag'), '"3"', "$name: ETag \"3\"");
    },
    'remove-members' => sub ($r, $id, $name) {
        is($r->{status}, 200, "$name: 200") or diag(describe($r));
        is_deeply([ @{ $r->{json} }{qw(removed notPresent memberCount)} ], [ ['lead_abc123'], [], 1 ], "$name: removed, memberCount 1");
    },
    'add-users' => sub ($r, $id, $name) {
        is($r->{status}, 200, "$name: 200") or diag(describe($r));
        is_deeply($r->{json}{userIds}, [ $creator, $sharee, $bystander, $newcomer ], "$name: userIds");
    },
    'remove-users' => sub ($r, $id, $name) {
        is($r->{status}, 200, "$name: 200") or diag(describe($r));
        is_deeply($r->{json}{userIds}, [ $creator, $sharee ], "$name: userIds");
    },
);
for my $op (@OPS) {
    for my $who (qw(creator sharee admin)) {
        my $name = "$op->[0] by $who";
        my $id = shared_list($name);
        my $r = run_op($op, $tok{$who}, $id);
        $expect{ $op->[0] }->($r, $id, $name);
    }
}

# --- taking access away ------------------------------------------------------------------------------

{
    my $id = shared_list('unshare');
    is(api(method => 'GET', path => ROUTE . "/$id", token => $tok{sharee})->{status}, 200, 'the sharee reads the list');
    my $r = api(path => ROUTE . "/$id/remove-users", token => $tok{creator}, body => { userIds => [$sharee] });
    is($r->{status}, 200, 'the creator takes the sharee off') or diag(describe($r));
    # The very next request, and every operation after it, is refused.
    for my $op (@OPS) {
        my $state = list_state($id);
        my $x = run_op($op, $tok{sharee}, $id);
        refusal_ok($x, $op, 403, 'FORBIDDEN', $FORBIDDEN, "$op->[0] by the removed sharee");
        list_unchanged_ok($id, $state, "$op->[0] by the removed sharee: nothing written");
    }
    my @seen = grep { $_ eq $id } map { $_->{id} } walk($tok{sharee}, 200);
    is(scalar @seen, 0, 'the removed sharee no longer sees the list in the list endpoint');
    $r = api(path => ROUTE . "/$id/add-users", token => $tok{admin}, body => { userIds => [$sharee] });
    is($r->{status}, 200, 'an admin shares it again') or diag(describe($r));
    is(api(method => 'GET', path => ROUTE . "/$id", token => $tok{sharee})->{status}, 200, 'the sharee reads it again at once');
}
{
    # Removing yourself is allowed, and takes effect on your next request.
    my $id = shared_list('self-removal');
    my $r = api(path => ROUTE . "/$id/remove-users", token => $tok{sharee}, body => { userIds => [$sharee] });
    is($r->{status}, 200, 'the sharee takes themself off') or diag(describe($r));
    is_deeply($r->{json}{removed}, [$sharee], 'self-removal: removed');
    $r = api(method => 'GET', path => ROUTE . "/$id", token => $tok{sharee});
    refusal_ok($r, $OPS[0], 403, 'FORBIDDEN', $FORBIDDEN, 'GET right after removing yourself');
    $r = api(path => ROUTE . "/$id/add-users", token => $tok{sharee}, body => { userIds => [$sharee] });
    refusal_ok($r, $OPS[6], 403, 'FORBIDDEN', $FORBIDDEN, 'sharing it back with yourself');
}

# --- the list endpoint -------------------------------------------------------------------------------

# Every page of the caller's lists with limit=$limit (and $extra query), checking the paging
# itself on the way. Returns the items in the order given.
sub walk($token, $limit, $extra = '') {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my (@items, @bad);
    my $cursor;
    for my $page (1 .. 200) {
        my $q = "limit=$limit$extra" . (defined $cursor ? "&cursor=$cursor" : '');
        my $r = api(method => 'GET', path => ROUTE . "?$q", token => $token);
        if ($r->{status} != 200 || ref $r->{json} ne 'HASH' || ref $r->{json}{leadlists} ne 'ARRAY') {
            push @bad, describe($r);
            last;
        }
        my $n = @{ $r->{json}{leadlists} };
        push @bad, "page $page has $n items, over limit $limit" if $n > $limit;
        push @items, @{ $r->{json}{leadlists} };
        $cursor = $r->{json}{nextCursor};
        last if !defined $cursor;
        push @bad, 'walk did not end in 200 pages' if $page == 200;
    }
    ok(!@bad, "walk with limit=$limit$extra: every page is a 200 within the limit") or diag(join "\n", @bad);
    my @ids = map { $_->{id} } @items;
    my @order = grep { $ids[$_ - 1] le $ids[$_] } 1 .. $#ids;
    ok(!@order, "walk with limit=$limit$extra: newest first, no list twice") or diag("out of order at @order");
    return @items;
}

{
    my $orgP = "org_t47p_$tag";
    my $orgQ = "org_t47q_$tag";
    my $p_owner  = "user_t47_powner_$tag";
    my $p_member = "user_t47_pmember_$tag";
    my %pt = (
        owner    => mint_session(user => $p_owner, org => $orgP),
        member   => mint_session(user => $p_member, org => $orgP),
        outsider => mint_session(user => "user_t47_poutsider_$tag", org => $orgP),
        admin    => mint_session(user => "user_t47_padmin_$tag", org => $orgP, role => 'admin'),
        # The same two user ids in another org.
        q_owner  => mint_session(user => $p_owner, org => $orgQ),
        q_member => mint_session(user => $p_member, org => $orgQ),
        q_admin  => mint_session(user => "user_t47_padmin_$tag", org => $orgQ, role => 'admin'),
    );
    my (%by, %type);
    my $make = sub ($who, $kind, $share) {
        my $body = valid_body(name => uniq_name('t47 page'), type => $kind,
                              $kind eq 'company' ? (personIds => [], companyIds => ['660e8400-e29b-41d4-a716-446655440002']) : ());
        my $r = api(token => $pt{$who}, body => $body);
        my $id = ref $r->{json} eq 'HASH' ? $r->{json}{id} : undef;
        if ($r->{status} != 201 || !defined $id) {
            fail("page set-up: create by $who") or diag(describe($r));
            return;
        }
        $type{$id} = $kind;
        push @{ $by{$who} }, $id;
        if ($share) {
            my $s = api(path => ROUTE . "/$id/add-users", token => $pt{$who}, body => { userIds => [$p_member] });
            is($s->{status}, 200, "page set-up: shared with the member") or diag(describe($s));
            push @{ $by{"$who shared"} }, $id;
        }
    };
    # Interleaved, so that the lists a member may see are scattered among those it may not.
    for my $i (1 .. 13) {
        $make->('owner', $i % 4 == 0 ? 'company' : 'person', $i % 2);
        $make->('q_owner', 'person', $i % 3 == 0) if $i <= 9;
        $make->('member', $i % 5 == 0 ? 'company' : 'person', 0) if $i % 4 == 1;
    }
    my @p_all    = (@{ $by{owner} }, @{ $by{member} });
    my @q_all    = @{ $by{q_owner} };
    my @m_sees   = (@{ $by{'owner shared'} }, @{ $by{member} });
    my @qm_sees  = @{ $by{'q_owner shared'} // [] };
    my %want = (owner => $by{owner}, member => \@m_sees, outsider => [],
                admin => \@p_all, q_owner => \@q_all, q_member => \@qm_sees, q_admin => \@q_all);
    cmp_ok(scalar @p_all, '>', 10, 'org P has lists enough for three pages of 5');
    cmp_ok(scalar @m_sees, '>', 5, 'the member of org P may see more than one page of them');
    cmp_ok(scalar @qm_sees, '>', 0, 'lists of org Q are shared with the same user id');

    my %users_of = map { $_ => $p_member } qw(member q_member);
    for my $who (sort keys %want) {
        my @want = sort { $b cmp $a } @{ $want{$who} };
        for my $filter ('', '&type=person', '&type=company') {
            my @items = walk($pt{$who}, 5, $filter);
            my @w = $filter eq '' ? @want : grep { "&type=$type{$_}" eq $filter } @want;
            is_deeply([ map { $_->{id} } @items ], \@w, "$who$filter: exactly the lists they may act on, on all pages");
            if (defined $users_of{$who}) {
                my @own = grep { !grep { $_ eq $p_member } @{ $_->{userIds} // [] } } @items;
                is(scalar @own, 0, "$who$filter: every list shown holds them in userIds")
                  or diag('not in userIds: ' . join ' ', map { $_->{id} } @own);
            }
        }
    }
    # A cursor from org P's walk, replayed by org Q's admin, pages through org Q only.
    my $r = api(method => 'GET', path => ROUTE . '?limit=5', token => $pt{admin});
    my $cursor = $r->{json}{nextCursor};
    ok(defined $cursor, "org P's admin gets a next cursor");
    $r = api(method => 'GET', path => ROUTE . "?limit=200&cursor=$cursor", token => $pt{q_admin});
    is($r->{status}, 200, "org Q's admin replays org P's cursor: 200") or diag(describe($r));
    my %q = map { $_ => 1 } @q_all;
    my @leak = grep { !$q{ $_->{id} } } @{ $r->{json}{leadlists} // [] };
    is(scalar @leak, 0, "... and sees no list of org P") or diag('leaked: ' . join ' ', map { $_->{id} } @leak);

    for my $who (qw(expired revoked)) {
        my $x = api(method => 'GET', path => ROUTE . '?limit=5', token => $tok{$who});
        error_ok($x, 401, 'UNAUTHORIZED', "list endpoint with the $who session");
    }
}

done_testing();
