#!/usr/bin/perl
# Hostile paths, queries and bodies on the operations that read and change lists: each gets
# the contract's JSON 400/404 (or nginx's own 400/413/414, as JSON too), never a 500 or a page
# that is not JSON; a refused change writes nothing; the same workers go on serving. What is
# accepted is stored verbatim: SQL metacharacters in names and ids come back byte for byte.
use v5.36;
use utf8;
use Test::More;
use Leadlists::Test;

need_stack();

my $tag   = $$ . '_' . time % 100000;
my $user  = "user_t48_$tag";
my $org   = "org_t48_$tag";
my $token = mint_session(user => $user, org => $org);
my $MAX_BODY = config_value('max_body_bytes', 1048576);

my @pids0 = pool_worker_pids();
cmp_ok(scalar @pids0, '>', 0, 'the pool has workers');

sub new_list(%over) {
    return create_list_ok($token, $user, 'set-up: create', name => uniq_name('t48'), %over)->{id};
}

# Never a 500, never a body that is not JSON (HEAD and 204/304 have none).
my (@status_seen, @non_json);
sub seen($r) {
    push @status_seen, $r->{status};
    push @non_json, describe($r)
      if ($r->{content} // '') ne '' && (ref $r->{json} ne 'HASH'
                                         || (header($r, 'content-type') // '') ne 'application/json; charset=utf-8');
    return $r;
}

sub the_same_workers_ok($name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply([ pool_worker_pids() ], \@pids0, "$name: the same workers are serving");
    my $r = seen(api(token => $token, body => valid_body()));
    is($r->{status}, 201, "$name: a normal request succeeds after") or diag(describe($r));
}

my $list  = new_list();
my $ucid  = uc $list;
my $state = list_state($list);

# --- hostile paths ---------------------------------------------------------------------------------

# Each path is the real list's id bent out of shape: a lax matcher would reach the list. Paths
# are sent as they are (nothing is normalized on the way) through raw_request.
my %esc = map { $_ => sprintf '%%%02X', ord $_ } ('0' .. '9', 'a' .. 'f', '-');
(my $esc_first = $list) =~ s/^(.)/$esc{$1}/;
(my $esc_dash = $list) =~ s/-/%2D/;
(my $g_id = $list) =~ s/.$/g/;
my @bad_paths = (
    [ 'not a UUID',                      'not-a-uuid' ],
    [ 'the id without dashes',           hex_of($list) ],
    [ 'the id with a digit more',        "${list}0" ],
    [ 'the id with a digit less',        substr($list, 0, -1) ],
    [ 'a non-hex digit',                 $g_id ],
    [ 'the id in braces',                "{$list}" ],
    [ 'urn:uuid: before the id',         "urn:uuid:$list" ],
    [ 'a trailing slash',                "$list/" ],
    [ 'an extra segment',                "$list/extra" ],
    [ 'two slashes before the id',       "/$list" ],
    [ 'a dot segment before the id',     "./$list" ],
    [ 'a parent segment before the id',  "x/../$list" ],
    [ 'a parent segment after the id',   "$list/../$list" ],
    [ '%2F for the slash',               "$list%2Fadd-members" ],
    [ 'an escaped first digit',          $esc_first ],
    [ 'an escaped dash',                 $esc_dash ],
    [ 'an escaped operation letter',     "$list/%61dd-members" ],
    [ 'an escaped space after the id',   "$list%20" ],
    [ 'a semicolon parameter',           "$list;x=1" ],
    [ 'SQL after the id',                "$list%27%20OR%20%271%27=%271" ],
    [ 'an upper-case operation',         "$list/ADD-MEMBERS" ],
    [ 'an operation with a slash',       "$list/add-members/" ],
    [ 'an operation with a segment',     "$list/add-members/x" ],
    [ '10 KB segment',                   'a' x 10240 ],
    [ '10 KB after the id',              $list . ('0' x 10240) ],
    [ '10 KB operation',                 "$list/" . ('x' x 10240) ],
    [ 'fullwidth digits (UTF-8)',        '%EF%BC%90' x 8 . substr($list, 8) ],
);
sub raw($method, $path, %a) {
    my $body = defined $a{body} ? json_text($a{body}) : undef;
    return seen(raw_read(method => $method, path => $path, token => $a{token},
                         defined $body ? (body => $body, headers => ['Content-Type: application/json']) : ()));
}
my @methods = ([ 'GET', '' ], [ 'PATCH', '', { name => 'reached' } ], [ 'DELETE', '' ],
               [ 'POST', '/add-members', { personIds => ['lead_reached'] } ],
               [ 'POST', '/add-users', { userIds => ['user_reached'] } ]);
for my $case (@bad_paths) {
    my ($what, $seg) = @$case;
    for my $m (@methods) {
        my ($method, $suffix, $body) = @$m;
        my $path = ROUTE . "/$seg" . ($seg =~ m{/|%2F} ? '' : $suffix);
        for my $auth (1, 0) {
            my $name = "$method" . ($suffix ne "" ? " $suffix" : "") . ", $what" . ($auth ? '' : ' without a session');
            my $r = raw($method, $path, token => $auth ? $token : undef, body => $body);
            error_ok($r, 404, 'NOT_FOUND', $name);
            is(error_message($r), 'No such resource', "$name: 'No such resource'");
        }
    }
}
list_unchanged_ok($list, $state, 'no bent path reached the list');

# What nginx refuses itself still comes back as the JSON envelope.
for my $case ([ '%00 in the id',              ROUTE . "/$list%00", 400, 'BAD_REQUEST' ],
              [ '%00 alone',                  ROUTE . '/%00', 400, 'BAD_REQUEST' ],
              [ 'parent segments above root', ROUTE . '/../../../../../../../x', 400, 'BAD_REQUEST' ],
              [ 'a 20 KB path',               ROUTE . '/' . ('a' x 20480), 414, 'BAD_REQUEST' ],
              [ 'a 20 KB query',              ROUTE . "/$list?" . ('a' x 20480), 414, 'BAD_REQUEST' ]) {
    my ($what, $path, $status, $code) = @$case;
    for my $method (qw(GET DELETE)) {
        error_ok(raw($method, $path, token => $token), $status, $code, "$method $what");
    }
    error_ok(raw('POST', "$path/add-members", token => $token, body => { personIds => ['lead_reached'] }),
             $status, $code, "POST add-members, $what");
}
list_unchanged_ok($list, $state, 'nothing nginx refused reached the list');

# An upper-case id is the same list.
{
    my $r = seen(api(method => 'GET', path => ROUTE . "/$ucid", token => $token));
    is($r->{status}, 200, 'GET of the upper-case id: 200') or diag(describe($r));
    is($r->{json}{id}, $list, 'GET of the upper-case id: the list, its id in lower case');
    (my $mixed = $list) =~ s/([a-f])/rand() < 0.5 ? uc $1 : $1/ge;
    $r = seen(api(method => 'HEAD', path => ROUTE . "/$mixed", token => $token));
    is($r->{status}, 200, 'HEAD of a mixed-case id: 200') or diag(describe($r));
    $r = seen(api(path => ROUTE . "/$ucid/add-members", token => $token, body => { personIds => ['lead_upper'] }));
    is($r->{status}, 200, 'add-members through the upper-case id: 200') or diag(describe($r));
    is($r->{json}{id}, $list, 'add-members through the upper-case id: the list');
    is_deeply($r->{json}{added}, ['lead_upper'], 'add-members through the upper-case id: added');
    $r = seen(api(method => 'PATCH', path => ROUTE . "/$ucid", token => $token, body => { name => 'upper case reached it' }));
    is($r->{status}, 200, 'PATCH through the upper-case id: 200') or diag(describe($r));
    is(seen(api(method => 'GET', path => ROUTE . "/$list", token => $token))->{json}{name}, 'upper case reached it',
       'the change is seen through the lower-case id');
    $state = list_state($list);
}
the_same_workers_ok('after the hostile paths');

# --- hostile queries on the list endpoint ------------------------------------------------------------

# A few lists so that a page can have a next cursor.
new_list() for 1 .. 3;
my $page = seen(api(method => 'GET', path => ROUTE . '?limit=1', token => $token));
my $cursor = $page->{json}{nextCursor} // '';
like($cursor, qr/^[A-Za-z0-9_-]+$/, 'a first page of one has a base64url next cursor');
my $pcursor = seen(api(method => 'GET', path => ROUTE . '?limit=1&type=person', token => $token))->{json}{nextCursor} // '';
my @b64 = ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_');
my $forged = join '', map { $b64[ rand @b64 ] } 1 .. length $cursor;
(my $flipped = $cursor) =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;
(my $last_flip = $cursor) =~ s/(.)$/$1 eq 'A' ? 'B' : 'A'/e;
# The cursor in standard base64 (+ and / for - and _), escaped so that + stays +.
my $std_b64 = $cursor =~ tr/-_/+\//r;
substr($std_b64, 0, 1) = '+' if $std_b64 eq $cursor;
$std_b64 =~ s/\+/%2B/g;
$std_b64 =~ s{/}{%2F}g;
my @bad_queries = (
    [ 'limit=5&limit=5',        'limit' ],
    [ 'limit=5&limit=6',        'limit' ],
    [ 'limit=',                 'limit' ],
    [ 'limit',                  'limit' ],
    [ 'limit=-1',               'limit' ],
    [ 'limit=0',                'limit' ],
    [ 'limit=201',              'limit' ],
    [ 'limit=1000',             'limit' ],
    [ 'limit=99999999999999999999999999999999', 'limit' ],
    [ 'limit=18446744073709551617', 'limit' ],
    [ 'limit=abc',              'limit' ],
    [ 'limit=5abc',             'limit' ],
    [ 'limit=5.0',              'limit' ],
    [ 'limit=1e2',              'limit' ],
    [ 'limit=0x10',             'limit' ],
    [ 'limit=+5',               'limit' ],
    [ 'limit=%205',             'limit' ],
    [ 'limit=5%00',             'limit' ],
    [ 'limit=%EF%BC%95',        'limit' ],
    [ 'limit=' . ('9' x 10240), 'limit' ],
    [ 'foo=1',                  'foo' ],
    [ 'limit=5&foo=1',          'foo' ],
    [ 'LIMIT=5',                'LIMIT' ],
    [ '=5',                     'query' ],
    [ '%00=1',                  'query' ],
    [ 'li%mit=5',               'query' ],
    [ 'limit=%zz',              'query' ],
    [ ('a' x 10240) . '=1',     'query' ],
    [ 'x=' . ('a' x 10240),     'x' ],
    [ join('&', map { "p$_=1" } 1 .. 1000), qr/^p\d+$/ ],
    [ 'type=',                  'type' ],
    [ 'type=PERSON',            'type' ],
    [ 'type=person&type=person', 'type' ],
    [ "type=person'--",         'type' ],
    [ 'cursor=',                'cursor' ],
    [ "cursor=$forged",         'cursor' ],
    [ 'cursor=' . substr($cursor, 0, -1), 'cursor' ],
    [ 'cursor=' . substr($cursor, 1),     'cursor' ],
    [ "cursor=${cursor}A",      'cursor' ],
    [ "cursor=$cursor==",       'cursor' ],
    [ "cursor=$flipped",        'cursor' ],
    [ "cursor=$last_flip",      'cursor' ],
    [ "cursor=$cursor&cursor=$cursor", 'cursor' ],
    [ "cursor=$cursor&type=person", 'cursor' ],
    [ "cursor=$pcursor",        'cursor' ],
    [ "cursor=$pcursor&type=company", 'cursor' ],
    [ "cursor=$std_b64&limit=1", 'cursor' ],
    [ 'cursor=%27%20OR%201=1--', 'cursor' ],
    [ 'cursor=' . ('A' x 10240), 'cursor' ],
    [ 'cursor=%00',              'cursor' ],
);
for my $q (@bad_queries) {
    my ($query, $field) = @$q;
    my $shown = length $query > 80 ? substr($query, 0, 60) . '...(' . length($query) . ' bytes)' : $query;
    my $r = seen(api(method => 'GET', path => ROUTE . "?$query", token => $token));
    error_ok($r, 400, 'BAD_REQUEST', "?$shown");
    is(error_message($r), 'Request validation failed', "?$shown: 'Request validation failed'");
    has_detail($r, ref $field ? $field : qr/^\Q$field\E$/, "?$shown");
    cmp_ok(length($r->{content} // ''), '<', 64 * 1024, "?$shown: the error stays small");
}
for my $query ('', 'limit=1', 'limit=200', 'limit=50&type=company', "cursor=$cursor", "limit=1&cursor=$cursor",
               "type=person&cursor=$pcursor", '&&limit=2&&') {
    my $r = seen(api(method => 'GET', path => ROUTE . "?$query", token => $token));
    is($r->{status}, 200, "?$query: 200") or diag(describe($r));
    is(ref $r->{json} eq 'HASH' ? ref $r->{json}{leadlists} : '', 'ARRAY', "?$query: a page");
}
{
    # Empty parameters are no parameters: 10 KB of them around a good one is a normal page.
    my $r = seen(api(method => 'GET', path => ROUTE . '?limit=5&' . ('&' x 10240), token => $token));
    is($r->{status}, 200, '?limit=5 followed by 10 KB of empty parameters: 200') or diag(describe($r));
    error_ok(seen(raw('GET', ROUTE . '?' . ('a' x 20480), token => $token)), 414, 'BAD_REQUEST', 'a 20 KB query: nginx 414 as JSON');
}
the_same_workers_ok('after the hostile queries');

# --- hostile bodies ---------------------------------------------------------------------------------

my %ops = (
    PATCH         => [ 'PATCH', '',             'name' ],
    'add-members' => [ 'POST',  '/add-members', 'personIds' ],
    'add-users'   => [ 'POST',  '/add-users',   'userIds' ],
);
# $text with $x spliced into the operation's one field: an id array for the membership routes.
sub field_body($op, $x) {
    my $f = $ops{$op}[2];
    return $f eq 'name' ? qq({"name":$x}) : qq({"$f":[$x]});
}
for my $op (sort keys %ops) {
    my ($method, $suffix, $field) = @{ $ops{$op} };
    my $path = ROUTE . "/$list$suffix";
    my $send = sub ($body, %a) {
        return seen(api(method => $method, path => $path, token => $token, body => $body,
                        exists $a{ct} ? (content_type => $a{ct}) : ()));
    };
    my $refused = sub ($r, $status, $code, $name, %o) {
        local $Test::Builder::Level = $Test::Builder::Level + 1;
        error_ok($r, $status, $code, "$op, $name");
        has_detail($r, $o{field}, "$op, $name") if defined $o{field};
        cmp_ok($r->{elapsed}, '<', within($o{within}), "$op, $name: answered in under $o{within} s") if $o{within};
        list_unchanged_ok($list, $state, "$op, $name: nothing written");
    };
    $refused->($send->('[' x 100_000), 400, 'BAD_REQUEST', '100,000 nested [ as the body', within => 0.1);
    $refused->($send->(field_body($op, '[' x 100_000)), 400, 'BAD_REQUEST', "100,000 nested [ in $field", within => 0.1);
    $refused->($send->('{"a":' x 100_000), 400, 'BAD_REQUEST', '100,000 nested objects', within => 0.1);
    for my $bad ([ 'invalid UTF-8 (\xff)', "\"a\xffb\"" ], [ 'a truncated UTF-8 sequence', "\"a\xc3\"" ],
                 [ 'an over-long UTF-8 encoding', "\"\xc0\xaf\"" ], [ 'a UTF-8 encoded surrogate', "\"\xed\xa0\x80\"" ],
                 [ '\u0000 in a string', '"a\u0000b"' ], [ 'a lone high surrogate', '"a\ud800b"' ],
                 [ 'a lone low surrogate', '"a\udc00"' ], [ 'a reversed surrogate pair', '"\udc00\ud800"' ],
                 [ 'a high surrogate at the end', '"a\ud83d"' ]) {
        my ($what, $x) = @$bad;
        $refused->($send->(field_body($op, $x)), 400, 'BAD_REQUEST', $what);
    }
    {
        # One string filling the body to exactly the cap: refused for its length, not its size.
        my $pre  = $field eq 'name' ? '{"name":"' : qq({"$field":[");
        my $post = $field eq 'name' ? '"}' : '"]}';
        my $body = $pre . ('x' x ($MAX_BODY - length($pre) - length($post))) . $post;
        is(length $body, $MAX_BODY, "$op: the one-string body is exactly max_body_bytes");
        $refused->($send->($body), 400, 'BAD_REQUEST', 'one string filling the body to the cap',
                   field => qr/^\Q$field\E(?:\[0\])?$/, within => 2);
        $refused->($send->($body . ' '), 413, 'PAYLOAD_TOO_LARGE', 'max_body_bytes + 1');
    }
    $refused->($send->(field_body($op, '"x"'), ct => 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE', 'text/plain');
    $refused->($send->(field_body($op, '"x"'), ct => 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE', 'a form');
    $refused->($send->(field_body($op, '"x"'), ct => 'application/merge-patch+json'), 415, 'UNSUPPORTED_MEDIA_TYPE',
               'application/merge-patch+json') if $op ne 'PATCH';
    my $r = seen(raw_read(method => $method, path => $path, token => $token, body => '{"x":"y"} '));
    $refused->($r, 415, 'UNSUPPORTED_MEDIA_TYPE', 'no Content-Type');
}
the_same_workers_ok('after the hostile bodies');

# --- SQL metacharacters are data ------------------------------------------------------------------------

{
    my @names = ("Robert'); DROP TABLE leadlists;--", q{" OR ""="}, q{\\'; SELECT SLEEP(5); --},
                 q{%_%_ LIKE '%' \\% \\_}, "`backticks` /* comment */ # hash", "semi;colon\\\\back\\slash",
                 "0x27 CHAR(39) \x{1F600} \x{00E9}", "UNION SELECT token_hash FROM sessions --");
    for my $name (@names) {
        # The test names show characters beyond ASCII as escapes: TAP output is bytes.
        my $label = $name =~ s/([^\x20-\x7e])/sprintf '\\x{%X}', ord $1/ger;
        my $t0 = Time::HiRes::time();
        my $r = seen(api(method => 'PATCH', path => ROUTE . "/$list", token => $token, body => { name => $name }));
        is($r->{status}, 200, "PATCH name <$label>: 200") or diag(describe($r));
        cmp_ok(Time::HiRes::time() - $t0, '<', within(3), "PATCH name <$label>: no SLEEP ran");
        is($r->{json}{name}, $name, "PATCH name <$label>: answered as sent");
        my $got = seen(api(method => 'GET', path => ROUTE . "/$list", token => $token));
        is($got->{json}{name}, $name, "PATCH name <$label>: read back byte-exact");
        my $bytes = $name;
        utf8::encode($bytes);
        is(sql_value("SELECT HEX(name) FROM leadlists WHERE id = UNHEX('" . hex_of($list) . "')"),
           uc unpack('H*', $bytes), "PATCH name <$label>: stored byte-exact");
    }
    my $tables = sql_value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
                           . " AND table_name IN ('leadlists', 'leadlist_users', 'sessions')");
    is($tables, 3, 'every table is still there');

    # The id alphabet holds SQL's comment, wildcard and separator characters.
    my $m = new_list(personIds => [ 'a_b', 'axb', 'a_bc' ]);
    my @ids = ('--', '_', '__', 'a_b_', '.', '..', ':', '-1', '1:1', 'x--', '_.', 'a.b:c-d_e');
    my $r = seen(api(path => ROUTE . "/$m/add-members", token => $token, body => { personIds => \@ids }));
    is($r->{status}, 200, 'add-members of ids made of - _ . :') or diag(describe($r));
    is_deeply($r->{json}{added}, \@ids, 'add-members: each id added as sent');
    # '_' is LIKE's one-character wildcard: removing a_b must not remove axb.
    $r = seen(api(path => ROUTE . "/$m/remove-members", token => $token, body => { personIds => [ 'a_b', '_' ] }));
    is_deeply($r->{json}{removed}, [ 'a_b', '_' ], 'remove-members a_b and _: exactly those removed');
    my $got = seen(api(method => 'GET', path => ROUTE . "/$m", token => $token))->{json}{personIds};
    is_deeply($got, [ 'axb', 'a_bc', grep { $_ ne '_' } @ids ], 'the members read back byte-exact, axb kept');
    is(sql_value("SELECT person_ids FROM leadlists WHERE id = UNHEX('" . hex_of($m) . "')"),
       json_text($got), 'the stored person_ids are those read back');

    my @users = ('--', '_', 'u_1', '1:1', 'x.y-z');
    $r = seen(api(path => ROUTE . "/$m/add-users", token => $token, body => { userIds => \@users }));
    is($r->{status}, 200, 'add-users of ids made of - _ . :') or diag(describe($r));
    is_deeply($r->{json}{userIds}, [ $user, @users ], 'add-users: userIds as sent');
    is_deeply([ map { $_->[0] } sql("SELECT user_id FROM leadlist_users WHERE leadlist_id = UNHEX('"
                                    . hex_of($m) . "') ORDER BY position") ], \@users, 'the stored users are those sent');
    $r = seen(api(path => ROUTE . "/$m/remove-users", token => $token, body => { userIds => ['_'] }));
    is_deeply($r->{json}{userIds}, [ $user, grep { $_ ne '_' } @users ], 'remove-users _: only _ removed');

    # Quotes and the like are outside the alphabet: a 400, and nothing written.
    my $mstate = list_state($m);
    for my $bad ("x'--", 'a"b', "a\\b", 'a;b', 'a b', "a%b", "a'); DROP TABLE leadlists;--") {
        for my $c ([ 'add-members', 'personIds' ], [ 'remove-members', 'personIds' ],
                   [ 'add-users', 'userIds' ], [ 'remove-users', 'userIds' ]) {
            my $x = seen(api(path => ROUTE . "/$m/$c->[0]", token => $token, body => { $c->[1] => [ 'ok_id', $bad ] }));
            error_ok($x, 400, 'BAD_REQUEST', "$c->[0] <$bad>");
            has_detail($x, qr/^\Q$c->[1]\E\[1\]$/, "$c->[0] <$bad>");
        }
    }
    list_unchanged_ok($m, $mstate, 'ids outside the alphabet wrote nothing');
}
the_same_workers_ok('at the end');

is(scalar(grep { $_ >= 500 } @status_seen), 0, 'no answer was a 5xx')
  or diag('statuses: ' . join ' ', grep { $_ >= 500 } @status_seen);
is(scalar @non_json, 0, 'every answer with a body was JSON') or diag(join "\n", @non_json[0 .. ($#non_json < 4 ? $#non_json : 4)]);

done_testing();
