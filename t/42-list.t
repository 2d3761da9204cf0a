#!/usr/bin/perl
# The list endpoint: a caller's lists, newest first, in pages cut by id. A member sees the lists
# they created or that were shared with them, an admin every list of the org, nobody a list of
# another org, on any page. Every limit walks to the same set, each list once; a cursor is
# bound to its type filter and cannot be forged; a bad query is a 400 naming the parameter and
# never harms the worker. Walks stay exact while lists are created and deleted under them.
use v5.36;
use Test::More;
use Time::HiRes qw(sleep time);
use POSIX ();
use Leadlists::Test;

need_stack();

# Orgs of this run alone, so that every count below is exact.
my $tag  = $$ . '_' . time % 100000;
my $org  = "org_t42_$tag";
my $orgX = "org_t42x_$tag";
my $orgC = "org_t42c_$tag";

my $me        = "user_t42_me_$tag";
my $colleague = "user_t42_colleague_$tag";
my $stranger  = "user_t42_stranger_$tag";

my %tok = (
    me        => mint_session(user => $me, org => $org),
    colleague => mint_session(user => $colleague, org => $org),
    admin     => mint_session(user => "user_t42_admin_$tag", org => $org, role => 'admin'),
    nobody    => mint_session(user => "user_t42_nobody_$tag", org => $org),
    stranger  => mint_session(user => $stranger, org => $orgX),
    # My own user id in another org: lists there shared with "me" are not mine here.
    me_in_x   => mint_session(user => $me, org => $orgX),
    admin_x   => mint_session(user => "user_t42_admin_$tag", org => $orgX, role => 'admin'),
    bulk      => mint_session(user => "user_t42_bulk_$tag", org => $orgC),
);

my @ITEM_FIELDS = qw(id icpId name type startDate endDate personCount companyCount userIds createdAt updatedAt);
my $JSON_CT = 'application/json; charset=utf-8';

sub newest_first(@ids) { return [ sort { $b cmp $a } @ids ] }

# The key order of each item of a page's text: the objects one level inside "leadlists".
sub item_key_orders($text) {
    my (@orders, $depth);
    $depth = 0;
    while ($text =~ /\G(?:("(?:[^"\\]|\\.)*")(\s*:)?|([\{\[])|([\}\]])|[^"\{\}\[\]]+)/gcs) {
        if (defined $1) {
            push @{ $orders[-1] }, JSON::PP->new->allow_nonref->decode($1) if $depth == 3 && defined $2;
        } elsif (defined $3) {
            $depth++;
            push @orders, [] if $depth == 3 && $3 eq '{';
        } elsif (defined $4) {
            $depth--;
        }
    }
    return @orders;
}

# --- the lists ----------------------------------------------------------------------------

my %item;     # id -> the page item it must be shown as
my %owner;    # id -> 'me', 'colleague', ...
my %kind;     # id -> 'person' or 'company'
my $seq = 0;

sub make($who, $type, %over) {
    $seq++;
    my %body = (name => uniq_name("t42 $who $type"), type => $type);
    if ($type eq 'company') {
        %body = (%body, personIds => [], companyIds => [ map { sprintf '0193f1d2-6c1e-7a4b-9c2d-%012x', $seq * 100 + $_ } 1 .. 1 + $seq % 3 ]);
    } else {
        %body = (%body, personIds => [ map { "lead_t42_${seq}_$_" } 1 .. 1 + $seq % 4 ]);
    }
    $body{icpId} = undef if $seq % 2;
    my $b = create_list(token => $tok{$who}, %body, %over);
    $owner{ $b->{id} } = $who;
    $kind{ $b->{id} } = $type;
    return $b->{id};
}

# Interleaved in time, so that every walk has to merge its sources (own, shared; both types).
my (@mine, @colleagues, @x_lists, @shared_with_me);
for my $i (0 .. 13) {
    push @mine, make('me', $i % 3 == 0 ? 'company' : 'person');
    push @colleagues, make('colleague', $i % 3 == 1 ? 'company' : 'person') if $i < 9;
    push @x_lists, make($i % 3 == 2 ? 'me_in_x' : 'stranger', $i % 2 ? 'company' : 'person') if $i < 6;
}
for my $i (0, 1, 4, 5) {
    share_list($tok{colleague}, $colleagues[$i], $me);
    push @shared_with_me, $colleagues[$i];
}
# Shared with someone else: not mine.
share_list($tok{colleague}, $colleagues[6], "user_t42_someone_else_$tag");
# In the other org, shared with my user id: mine there, not here.
my ($x_for_me) = grep { $owner{$_} eq 'stranger' } @x_lists;
share_list($tok{stranger}, $x_for_me, $me);

# Org C: more lists than the default page, one of them with 10,000 members.
my @bulk = map { make('bulk', $_ % 4 ? 'person' : 'company') } 1 .. 52;
push @bulk, make('bulk', 'person', personIds => [ map { "lead_t42_big_$_" } 1 .. 10000 ]);

# What each list must look like in a page: its GET, as it stands after the sharing.
for my $id (@mine, @colleagues, @x_lists, @bulk) {
    my $who = $owner{$id};
    my $r = get_list($tok{$who}, $id);
    die 'GET ' . describe($r) . "\n" if $r->{status} != 200;
    $item{$id} = page_item($r->{json});
}

my %want = (
    me        => newest_first(@mine, @shared_with_me),
    colleague => newest_first(@colleagues),
    admin     => newest_first(@mine, @colleagues),
    nobody    => [],
    stranger  => newest_first(grep { $owner{$_} eq 'stranger' } @x_lists),
    me_in_x   => newest_first((grep { $owner{$_} eq 'me_in_x' } @x_lists), $x_for_me),
    admin_x   => newest_first(@x_lists),
    bulk      => newest_first(@bulk),
);
is(scalar @{ $want{me} }, 18, 'fixture: I see 14 lists of my own and 4 shared with me');
is(scalar @{ $want{admin} }, 23, 'fixture: the org has 23 lists');
is(scalar(@mine) + @colleagues + @x_lists, 29, 'fixture: 29 lists in the two orgs');

my %org_of = ((map { $_ => $org } @mine, @colleagues), (map { $_ => $orgX } @x_lists), (map { $_ => $orgC } @bulk));

# --- walking -------------------------------------------------------------------------------

# Walks every page of $who's lists with the query %q and asserts, under $label: each page is
# a 200 {"leadlists": [...], "nextCursor": ...} of at most `limit` items, all but the last
# full, nextCursor URL-safe and null only on the last; the items are $want (ids), newest
# first, each as %item says, fields in order. Returns the pages' answers.
sub walk_ok($who, $label, $want, %q) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $limit = $q{limit} // 50;
    my (@items, @orders, @why, @pages);
    while (1) {
        my $r = list_page($tok{$who}, %q);
        push @pages, $r;
        my $n = @pages;
        my $j = $r->{json};
        if ($r->{status} != 200 || ref $j ne 'HASH' || ref $j->{leadlists} ne 'ARRAY') {
            push @why, "page $n: " . describe($r);
            last;
        }
        my @keys = top_level_keys($r->{content});
        push @why, "page $n: keys [@keys]" if "@keys" ne 'leadlists nextCursor';
        push @why, "page $n: Content-Type " . (header($r, 'content-type') // 'none') if (header($r, 'content-type') // '') ne $JSON_CT;
        my $count = @{ $j->{leadlists} };
        push @why, "page $n: $count items, over the limit $limit" if $count > $limit;
        my $next = $j->{nextCursor};
        push @why, "page $n: $count items, not $limit, and a next page" if defined $next && $count != $limit;
        push @why, "page $n: nextCursor " . json_text($next) . ' is not a URL-safe string'
          if defined $next && (ref $next || $next !~ /^[A-Za-z0-9_-]+\z/);
        my $counts = () = $r->{content} =~ /"personCount":\d+,"companyCount":\d+,/g;
        push @why, "page $n: personCount and companyCount are not numbers in every item" if $counts != $count;
        push @orders, item_key_orders($r->{content});
        push @items, @{ $j->{leadlists} };
        last if !defined $next;
        if ($n > 300) {
            push @why, 'more than 300 pages';
            last;
        }
        $q{cursor} = $next;
    }
    ok(!@why, "$label: " . @pages . ' pages of the page shape') or diag(join "\n", @why);
    my @ids = map { ref $_ eq 'HASH' ? $_->{id} // 'no id' : 'not an object' } @items;
    is_deeply(\@ids, $want, "$label: the " . @$want . ' expected lists, newest first, each once')
      or diag('got ' . @ids . ": @ids\nwant " . @$want . ": @$want");
    my @bad_order = grep { "@{ $orders[$_] }" ne "@ITEM_FIELDS" } 0 .. $#orders;
    ok(!@bad_order, "$label: every item's fields in the order [@ITEM_FIELDS]")
      or diag("item $bad_order[0]: [@{ $orders[ $bad_order[0] ] }]");
    my @differ = grep { !exists $item{ $_->{id} // '' } || json_text($_) ne json_text($item{ $_->{id} }) } @items;
    ok(!@differ, "$label: every item is its list's GET with personCount and companyCount")
      or diag('e.g. got ' . json_text($differ[0]) . "\nwant " . json_text($item{ $differ[0]{id} // '' } // {}));
    my @later = grep { (iso_ms($items[ $_ - 1 ]{createdAt}) // 0) < (iso_ms($items[$_]{createdAt}) // 0) } 1 .. $#items;
    ok(!@later, "$label: createdAt never increases") or diag("item $later[0] is newer than the one before it");
    return @pages;
}

for my $limit (1, 7, 50, 200) {
    walk_ok('me', "me, limit $limit", $want{me}, limit => $limit);
}
my @pages = walk_ok('me', 'me, no limit (default 50)', $want{me});
is(scalar @pages, 1, 'me, no limit: one page');
walk_ok('admin', 'admin, limit 7', $want{admin}, limit => 7);
walk_ok('admin', 'admin, limit 200', $want{admin}, limit => 200);
walk_ok('colleague', 'colleague, limit 4', $want{colleague}, limit => 4);
walk_ok('stranger', 'a member of the other org', $want{stranger}, limit => 2);
walk_ok('me_in_x', 'my user id in the other org', $want{me_in_x}, limit => 1);
walk_ok('admin_x', 'the admin of the other org', $want{admin_x}, limit => 5);

{
    my $r = list_page($tok{nobody});
    is($r->{status}, 200, 'a member with no lists: 200') or diag(describe($r));
    is($r->{content}, '{"leadlists":[],"nextCursor":null}', 'a member with no lists: no lists, no next page');
}

# Default limit: 50, then the rest.
{
    my @p = walk_ok('bulk', 'org C, no limit', $want{bulk});
    is(scalar @p, 2, 'org C, no limit: two pages');
    is(scalar @{ ($p[0]{json} // {})->{leadlists} // [] }, 50, 'org C, no limit: 50 on the first page');
    is(scalar @{ ($p[-1]{json} // {})->{leadlists} // [] }, 3, 'org C, no limit: 3 on the second');
    my @one = walk_ok('bulk', 'org C, limit 200', $want{bulk}, limit => 200);
    is(scalar @one, 1, 'org C, limit 200: one page');
    my ($big) = grep { $_->{id} eq $bulk[-1] } @{ ($one[0]{json} // {})->{leadlists} // [] };
    is(($big // {})->{personCount}, 10000, 'the list of 10,000 members: personCount 10000');
    cmp_ok(length($one[0]{content} // ''), '<', 40_000, 'a page of 53 lists, one of them of 10,000 members, stays small');
}

# Nobody sees another org's list on any page: checked over every walk above, and here for
# every caller against the ids of the other orgs.
for my $who (sort keys %want) {
    my $home = $who =~ /_x$|^stranger$/ ? $orgX : $who eq 'bulk' ? $orgC : $org;
    my @seen = all_pages($tok{$who}, limit => 3);
    my @foreign = grep { ($org_of{ $_->{id} } // '') ne $home } @seen;
    ok(!@foreign, "$who: no list of another org on any page") or diag('e.g. ' . json_text($foreign[0]));
}

# --- the type filter -------------------------------------------------------------------------

for my $type (qw(person company)) {
    for my $who (qw(me admin)) {
        my $w = [ grep { $kind{$_} eq $type } @{ $want{$who} } ];
        walk_ok($who, "$who, type=$type", $w, type => $type);
        walk_ok($who, "$who, type=$type, limit 2", $w, type => $type, limit => 2);
    }
}

# A cursor belongs to the filter it was issued for; limit may change from page to page.
{
    my %cursor;
    for my $type ('person', 'company', '') {
        my $r = list_page($tok{me}, limit => 2, $type ne '' ? (type => $type) : ());
        $cursor{$type} = ($r->{json} // {})->{nextCursor};
        ok(defined $cursor{$type}, "a cursor for type='$type'") or diag(describe($r));
    }
    for my $c ([ 'person', 'company' ], [ 'person', '' ], [ '', 'person' ], [ 'company', '' ], [ '', 'company' ]) {
        my ($issued, $used) = @$c;
        my $r = list_page($tok{me}, cursor => $cursor{$issued} // '', $used ne '' ? (type => $used) : ());
        error_ok($r, 400, 'BAD_REQUEST', "a cursor issued for type='$issued' used with type='$used'");
        has_detail($r, 'cursor', "a cursor issued for type='$issued' used with type='$used'");
    }
    my $r = list_page($tok{me}, cursor => $cursor{person} // '', type => 'person', limit => 5);
    is($r->{status}, 200, 'a cursor with its type and another limit: 200') or diag(describe($r));
    my @persons = grep { $kind{$_} eq 'person' } @{ $want{me} };
    is_deeply([ map { $_->{id} } @{ ($r->{json} // {})->{leadlists} // [] } ], [ @persons[ 2 .. 6 ] ],
              'a cursor with another limit: the next five after the first two');

    # Issued to me; in the other org it shows nothing of my org.
    my $x = list_page($tok{stranger}, cursor => $cursor{''} // '', limit => 200);
    ok($x->{status} == 400 || $x->{status} == 200, "my cursor used in the other org: 400 or 200")
      or diag(describe($x));
    my @leak = grep { ($org_of{ $_->{id} // '' } // '') ne $orgX } @{ ($x->{json} // {})->{leadlists} // [] };
    ok(!@leak, 'my cursor used in the other org: none of my org\'s lists') or diag(json_text($leak[0]));
}

# --- bad queries -----------------------------------------------------------------------------

my $cursor = do {
    my $r = list_page($tok{me}, limit => 2);
    ($r->{json} // {})->{nextCursor} // die 'no cursor: ' . describe($r) . "\n";
};
my @B64 = ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_');
sub b64_random($n) { return join '', map { $B64[ rand @B64 ] } 1 .. $n }

my @pids_before = pool_worker_pids();

my @bad = (
    [ 'limit=0',                    'limit' ],
    [ 'limit=201',                  'limit' ],
    [ 'limit=-1',                   'limit' ],
    [ 'limit=abc',                  'limit' ],
    [ 'limit=',                     'limit' ],
    [ 'limit=1.5',                  'limit' ],
    [ 'limit=99999999999999999999', 'limit' ],
    [ 'limit=4294967297',           'limit' ],
    [ 'limit=1e1',                  'limit' ],
    [ 'limit=%205',                 'limit' ],
    [ 'limit=5%00',                 qr/^(limit|query)$/ ],
    [ 'type=robot',                 'type' ],
    [ 'type=',                      'type' ],
    [ 'type=PERSON',                'type' ],
    [ 'type=person%00',             qr/^(type|query)$/ ],
    [ 'sort=name',                  'sort' ],
    [ 'limit=5&limit=5',            'limit' ],
    [ 'limit=5&limit=6',            'limit' ],
    [ 'type=person&type=person',    'type' ],
    [ "cursor=$cursor&cursor=$cursor", 'cursor' ],
    [ 'cursor=',                    'cursor' ],
    [ 'cursor=' . substr($cursor, 0, -1), 'cursor' ],
    [ 'cursor=' . substr($cursor, 0, length($cursor) / 2), 'cursor' ],
    [ "cursor=${cursor}A",          'cursor' ],
    [ "cursor=$cursor%3D%3D",       'cursor' ],
    [ 'cursor=' . b64_random(length $cursor), 'cursor' ],
    [ 'cursor=' . b64_random(10240), 'cursor' ],
    [ 'limit=%zz',                  qr/^(query|limit)$/ ],
    [ 'limit=0&type=robot&sort=x',  'limit' ],
);
for my $c (@bad) {
    my ($q, $field) = @$c;
    my $label = 'GET ?' . clip($q);
    my $r = api(method => 'GET', path => ROUTE . "?$q", token => $tok{me});
    error_ok($r, 400, 'BAD_REQUEST', $label);
    has_detail($r, $field, $label);
    is(error_message($r), 'Request validation failed', "$label: the message");
}
{
    my $r = api(method => 'GET', path => ROUTE . '?limit=0&type=robot&sort=x', token => $tok{me});
    is_deeply([ sort(detail_fields($r)) ], [qw(limit sort type)], 'three bad parameters: a detail for each');
}

# Every one-character change of a real cursor, at every position, is a cursor not issued.
{
    my @accepted;
    for my $i (0 .. length($cursor) - 1) {
        my $ch = substr $cursor, $i, 1;
        my ($k) = grep { $B64[$_] eq $ch } 0 .. $#B64;
        for my $step (1, 32) {
            (my $forged = $cursor) =~ s/^(.{$i})./$1 . $B64[ ($k + $step) % @B64 ]/e;
            my $r = list_page($tok{me}, cursor => $forged);
            push @accepted, "$forged: " . describe($r) if $r->{status} != 400 || !grep { $_ eq 'cursor' } detail_fields($r);
        }
    }
    ok(!@accepted, 'every one-character change of a cursor (' . 2 * length($cursor) . ' of them): 400 naming cursor')
      or diag(scalar(@accepted) . " accepted, e.g.\n$accepted[0]");
}

# The session is checked before the query.
error_ok(api(method => 'GET', path => ROUTE . '?limit=0&sort=x'), 401, 'UNAUTHORIZED', 'a bad query without a session');

# Long queries: the worker's 400 below nginx's limit, nginx's 414 (as JSON) above it; never 500.
for my $c ([ 'a' x 10240, '10 KB of one unknown name' ], [ 'limit=5&pad=' . ('x' x 10240), '10 KB, an unknown parameter' ],
           [ join('&', map { "p$_=1" } 1 .. 2000), '2,000 unknown parameters' ],
           [ join('&', ('limit=5') x 1500), 'limit 1,500 times' ], [ 'a' x 20480, '20 KB' ]) {
    my ($q, $what) = @$c;
    my $r = api(method => 'GET', path => ROUTE . "?$q", token => $tok{me});
    ok($r->{status} == 400 || $r->{status} == 414, "$what: 400 or 414") or diag(describe($r));
    error_ok($r, $r->{status}, 'BAD_REQUEST', "$what: the JSON envelope") if $r->{status} =~ /^4/;
}

{
    my $r = list_page($tok{me}, limit => 1);
    is($r->{status}, 200, 'after the bad queries: the next request is answered') or diag(describe($r));
    is(scalar @{ ($r->{json} // {})->{leadlists} // [] }, 1, 'after the bad queries: one list');
    is_deeply([ pool_worker_pids() ], \@pids_before, 'after the bad queries: the same workers (none died)')
      if @pids_before;
}

# --- HEAD -------------------------------------------------------------------------------------

{
    my $g = list_page($tok{me}, limit => 5);
    my $h = raw_read(method => 'HEAD', path => ROUTE . '?limit=5', token => $tok{me});
    is($h->{status}, 200, 'HEAD of the collection: 200') or diag(describe($h));
    is($h->{content}, '', 'HEAD of the collection: no body');
    is(header($h, 'content-type'), $JSON_CT, 'HEAD of the collection: Content-Type');
    is(header($h, 'content-length'), length($g->{content} // ''), "HEAD of the collection: the GET's Content-Length");
    ok((header($h, 'x-request-id') // '') =~ /\S/, 'HEAD of the collection: X-Request-Id');
    my $hb = raw_read(method => 'HEAD', path => ROUTE . '?limit=0', token => $tok{me});
    is($hb->{status}, 400, 'HEAD with a bad limit: 400') or diag(describe($hb));
    is($hb->{content}, '', 'HEAD with a bad limit: no body');
    my $hu = raw_read(method => 'HEAD', path => ROUTE);
    is($hu->{status}, 401, 'HEAD without a session: 401') or diag(describe($hu));
    is($hu->{content}, '', 'HEAD without a session: no body');
}

# --- paging while lists are created ----------------------------------------------------------

# A process of its own creates my lists, one type then the other, until told to stop; each
# create is logged with the time it was sent and the time it was answered.
sub start_creator($dir) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open my $log, '>', "$dir/created" or POSIX::_exit(1);
        $log->autoflush(1);
        my $n = 0;
        while (!-e "$dir/stop" && $n < 400) {
            $n++;
            my %body = $n % 2 ? (type => 'company', personIds => [], companyIds => ['0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d'])
                              : (type => 'person');
            my $t0 = time;
            my $r = eval { api(token => $tok{me}, body => valid_body(name => "t42 live $tag $n", %body)) };
            my $t1 = time;
            printf {$log} "%.6f %.6f %s %s %s\n", $t0, $t1, $r ? $r->{status} : 'died',
              ($r && ref $r->{json} eq 'HASH' ? $r->{json}{id} // '-' : '-'), $body{type};
            sleep 0.01;
        }
        close $log;
        POSIX::_exit(0);
    }
    return $pid;
}

sub read_created($dir) {
    open my $fh, '<', "$dir/created" or return ();
    my @c;
    while (<$fh>) {
        my ($t0, $t1, $status, $id, $type) = split;
        push @c, { t0 => $t0, t1 => $t1, status => $status, id => $id, type => $type };
    }
    return @c;
}

# Walks $who's pages (limit 2, a pause between pages) while the creator runs; returns the
# pages, each {t0, t1, ids}, and whether every page was a 200.
sub slow_walk($who, %q) {
    my (@pages, $ok);
    $ok = 1;
    while (1) {
        my $t0 = time;
        my $r = list_page($tok{$who}, limit => 2, %q);
        my $t1 = time;
        if ($r->{status} != 200 || ref $r->{json} ne 'HASH') {
            diag('a page during the walk: ' . describe($r));
            $ok = 0;
            last;
        }
        push @pages, { t0 => $t0, t1 => $t1, ids => [ map { $_->{id} } @{ $r->{json}{leadlists} } ] };
        last if !defined $r->{json}{nextCursor} || @pages > 200;
        $q{cursor} = $r->{json}{nextCursor};
        sleep 0.05;
    }
    return (\@pages, $ok);
}

# The assertions of a walk made under creates: each id once, newest first; every list that
# existed throughout (in $existing, or created and answered before the walk began) on a page;
# none created after the first page was answered on a later page.
sub stable_ok($label, $pages, $existing, $created, $type = undef) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @ids = map { @{ $_->{ids} } } @$pages;
    my %n;
    $n{$_}++ for @ids;
    my @twice = grep { $n{$_} > 1 } sort keys %n;
    ok(!@twice, "$label: no list twice (" . @ids . ' seen on ' . @$pages . ' pages)') or diag("twice: @twice");
    is_deeply(\@ids, newest_first(@ids), "$label: newest first throughout");
    my $begin = $pages->[0]{t0};
    my @throughout = (@$existing, map { $_->{id} } grep { $_->{t1} < $begin && (!defined $type || $_->{type} eq $type) } @$created);
    my @missing = grep { !$n{$_} } @throughout;
    ok(!@missing, "$label: every list that existed throughout (" . @throughout . ') seen')
      or diag(scalar(@missing) . " missing: @missing");
    my $first_answered = $pages->[0]{t1};
    my %after = map { $_->{id} => 1 } grep { $_->{t0} > $first_answered } @$created;
    my @late = grep { $after{$_} } map { @{ $_->{ids} } } @$pages[ 1 .. $#$pages ];
    ok(!@late, "$label: no list created after the walk began on a later page ("
       . scalar(keys %after) . ' created during it)') or diag("on a later page: @late");
    return;
}

{
    require File::Temp;
    my $dir = File::Temp::tempdir('t42-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $pid = start_creator($dir);
    wait_for(within(20), sub { my @c = read_created($dir); @c >= 3 });
    my ($p1, $ok1) = slow_walk('me');
    my ($p2, $ok2) = slow_walk('admin', type => 'company');
    my ($p3, $ok3) = slow_walk('me', type => 'person');
    if (open my $fh, '>', "$dir/stop") {
        close $fh;
    }
    waitpid $pid, 0;
    my @created = read_created($dir);
    my @ok = grep { $_->{status} eq '201' } @created;
    is(scalar @ok, scalar @created, 'the creator: every create a 201 (' . @created . ')')
      or diag(join ' ', map { $_->{status} } @created);
    cmp_ok(scalar(grep { $_->{t0} > $p1->[0]{t1} && $_->{t1} < $p1->[-1]{t0} } @ok), '>=', 3,
           'the creator made lists while the first walk ran');
    ok($ok1 && $ok2 && $ok3, 'every page of the three walks: 200');
    stable_ok('me, walking while lists are created', $p1, $want{me}, \@ok);
    stable_ok('admin, type=company, walking while lists are created', $p2,
              [ grep { $kind{$_} eq 'company' } @{ $want{admin} } ], \@ok, 'company');
    stable_ok('me, type=person, walking while lists are created', $p3,
              [ grep { $kind{$_} eq 'person' } @{ $want{me} } ], \@ok, 'person');
    # They are mine from now on.
    for my $c (@ok) {
        $kind{ $c->{id} } = $c->{type};
        $org_of{ $c->{id} } = $org;
    }
    $want{me} = newest_first(@{ $want{me} }, map { $_->{id} } @ok);
    is_deeply([ map { $_->{id} } all_pages($tok{me}, limit => 200) ], $want{me},
              'after the creates: a quiet walk shows every one of them once');
}

# --- paging while lists are deleted ----------------------------------------------------------

{
    my @order = @{ $want{me} };
    my (%deleted_at, @seen, @pages_ids);
    my %q = (limit => 3);
    my $page = 0;
    my $del = sub ($id) {
        my $r = api(method => 'DELETE', path => ROUTE . "/$id", token => $tok{admin});
        diag('DELETE ' . describe($r)) if $r->{status} != 204;
        $deleted_at{$id} = $page if $r->{status} == 204;
    };
    while (1) {
        my $r = list_page($tok{me}, %q);
        $page++;
        last if $r->{status} != 200 || ref $r->{json} ne 'HASH';
        my @ids = map { $_->{id} } @{ $r->{json}{leadlists} };
        push @seen, @ids;
        push @pages_ids, \@ids;
        last if !defined $r->{json}{nextCursor} || $page > 100;
        $q{cursor} = $r->{json}{nextCursor};
        # The lists still to come, newest first.
        my @coming = grep { $_ lt $ids[-1] && !exists $deleted_at{$_} } @order;
        if ($page == 1) {
            # The list the cursor points after, one already seen, and the next two to come.
            $del->($ids[-1]);
            $del->($ids[0]);
            $del->($_) for @coming[ 0, 1 ];
        } elsif ($page == 3) {
            $del->($coming[-1]);    # the oldest, long before its page
            $del->($coming[0]);     # the first of the next page
        }
    }
    is(scalar keys %deleted_at, 6, 'six lists deleted during the walk');
    my %n;
    $n{$_}++ for @seen;
    ok(!grep({ $n{$_} > 1 } keys %n), 'deletes during a walk: no list twice');
    is_deeply(\@seen, newest_first(@seen), 'deletes during a walk: newest first');
    my @missing = grep { !$n{$_} && !exists $deleted_at{$_} } @order;
    ok(!@missing, 'deletes during a walk: every list not deleted seen once') or diag("missing: @missing");
    # A list deleted before its page was fetched is not on it.
    my %page_of;
    for my $i (0 .. $#pages_ids) {
        $page_of{$_} = $i + 1 for @{ $pages_ids[$i] };
    }
    my @ghosts = grep { exists $page_of{$_} && $page_of{$_} > $deleted_at{$_} } keys %deleted_at;
    ok(!@ghosts, 'deletes during a walk: no list on a page fetched after its deletion')
      or diag(join ', ', map { "$_ deleted after page $deleted_at{$_}, shown on page $page_of{$_}" } @ghosts);
    my %del = %deleted_at;
    $want{me} = [ grep { !exists $del{$_} } @{ $want{me} } ];
    is_deeply([ map { $_->{id} } all_pages($tok{me}, limit => 7) ], $want{me},
              'after the deletes: a quiet walk shows the rest, each once');
}

done_testing();
