#!/usr/bin/perl
# Every limit a client controls, at the limit and one past it: body size, nesting depth,
# string lengths, array lengths, header sizes and Idempotency-Key length. At the limit the
# create succeeds (201, stored as sent); one past it gives the contract's JSON error, writes
# nothing, and the next request still gets 201.
#
# The plain over-the-limit cases that t/30-validation.t, t/20-auth.t and t/60-idempotency.t
# already assert (256 ASCII/emoji names, a 65-character id, 10,001 distinct ids, a 10 KB
# token, a 256-character key, 100,000 brackets inside a field) are not repeated here; the
# one-past cases below are other shapes of the same limits.
use v5.36;
use utf8;
use Test::More;
use Leadlists::Test;

need_stack();

my $user  = 'user_t70_' . $$;
my $token = mint_session(user => $user, org => 'org_t70');

my $MAX_BODY  = config_value('max_body_bytes', 1048576);
my $MAX_IDS   = config_value('max_ids', 10000);
my $MAX_DEPTH = config_value('max_depth', 16);
# nginx: large_client_header_buffers 4 16k (conf/nginx/leadlists-api.conf).
my $HEADER_BUF   = 16 * 1024;
my $HEADER_BUFS  = 4;

my @pids   = worker_pids();
my $before = counts();

# A 201 for $name: the contract's body, stored as returned, exactly one more list.
sub accepted($r, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $b = created_ok($r, $user, $name);
    stored_ok($b, $name);
    $before->{$_}++ for qw(leadlists);
    $before = counts_ok($before, "$name: exactly one list written");
    return $b;
}

# A refused request: the JSON error, nothing written, and the service still creates.
# %o: fields => [details that must be named], small => max error body bytes.
sub refused($r, $status, $code, $name, %o) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    error_ok($r, $status, $code, $name);
    has_detail($r, $_, $name) for @{ $o{fields} // [] };
    if (defined $o{small}) {
        cmp_ok(length($r->{content} // ''), '<', $o{small}, "$name: the error body stays under $o{small} bytes");
    }
    $before = nothing_written($before, $name);
    my $next = api(token => $token, body => valid_body());
    created_ok($next, $user, "$name: the next request");
    $before->{$_}++ for qw(leadlists);
    $before = counts_ok($before, "$name: the next request wrote one list");
    return;
}

my $valid = json_text(valid_body());
(my $inner = $valid) =~ s/^\{|\}\z//g;

# --- body size ---------------------------------------------------------------------------------

# A valid body padded with JSON white space (inside the object and after it) to $size bytes.
sub padded_body($size) {
    my $b = valid_body();
    my $text = json_text($b);
    my $pad = $size - length $text;
    die "padded_body: $size is too small" if $pad < 2;
    my $ws = " \t\r\n" x ($pad / 4 + 1);
    my $half = int($pad / 2);
    $text =~ s/^\{/'{' . substr($ws, 0, $half)/e;
    $text .= substr($ws, 0, $pad - $half);
    die "padded_body: got " . length($text) if length $text != $size;
    return ($b, $text);
}

{
    my ($b, $text) = padded_body($MAX_BODY);
    my $r = api(token => $token, body => $text);
    my $got = accepted($r, "valid body padded with white space to exactly max_body_bytes ($MAX_BODY)");
    is($got->{name}, $b->{name}, 'padded body at the cap: the name is the one sent');

    ($b, $text) = padded_body($MAX_BODY + 1);
    $r = api(token => $token, body => $text);
    refused($r, 413, 'PAYLOAD_TOO_LARGE', 'valid body padded to max_body_bytes + 1 (through nginx)');
}

# The worker's own limit, reached without nginx (whose client_max_body_size is the same 1 MiB
# and so always answers first): a FastCGI request straight to the pool's socket.
SKIP: {
    my $sock = fcgi_socket();
    skip 'no FastCGI socket to reach the workers directly', 8 if !defined $sock || !-S $sock || !-w _;
    my ($b, $text) = padded_body($MAX_BODY);
    my $r = fcgi_request(socket => $sock, token => $token, body => $text, params => { REQUEST_ID => "t70fcgi$$" . 'a' });
    accepted($r, 'straight to a worker: body of exactly max_body_bytes');
    is(header($r, 'x-request-id'), "t70fcgi$$" . 'a', "straight to a worker: the worker takes nginx's request id");

    ($b, $text) = padded_body($MAX_BODY + 1);
    $r = fcgi_request(socket => $sock, token => $token, body => $text);
    refused($r, 413, 'PAYLOAD_TOO_LARGE', 'straight to a worker: body of max_body_bytes + 1 (the worker\'s own 413)');
}

# A body at the cap made of one long string: refused quickly, never truncated into a 201.
# (t/30 sends the long string as the name; here it is an id and an unknown field's value.)
for my $c ([ 'an id', '{"personIds":["', '"],' . $inner =~ s/"personIds":\[[^\]]*\],?//r . '}', 'personIds' ],
           [ 'an unknown field\'s value', '{"foo":"', '",' . $inner . '}', 'foo' ]) {
    my ($what, $head, $tail, $field) = @$c;
    my $body = $head . ('x' x ($MAX_BODY - length($head) - length($tail))) . $tail;
    is(length $body, $MAX_BODY, "one long string as $what: the body is max_body_bytes");
    my $r = api(token => $token, body => $body);
    cmp_ok($r->{elapsed}, '<', within(1), "one long string as $what: answered in under 1 s")
      or diag("took $r->{elapsed} s");
    refused($r, 400, 'BAD_REQUEST', "body of max_body_bytes with one long string as $what",
            fields => [$field], small => 4096);
}

# The whole body at the cap made of '[': the depth limit stops it at once.
{
    my $r = api(token => $token, body => '[' x $MAX_BODY);
    cmp_ok($r->{elapsed}, '<', within(1), 'max_body_bytes of [ answered in under 1 s') or diag("took $r->{elapsed} s");
    refused($r, 400, 'BAD_REQUEST', 'body of max_body_bytes made of [', fields => ['body']);
}

# --- nesting -------------------------------------------------------------------------------------
# max_depth counts every array and object, the body's own object included: the body object is
# level 1, so an unknown field may hold max_depth - 1 nested containers.

sub depth_detail($r) {
    my $e = ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error} : {};
    return grep { ref $_ eq 'HASH' && ($_->{field} // '') eq 'body' && ($_->{message} // '') =~ /nest|deep/i }
      @{ ref $e->{details} eq 'ARRAY' ? $e->{details} : [] };
}

{
    my $n = $MAX_DEPTH - 1;
    for my $c ([ 'arrays', '[' x $n, ']' x $n ],
               [ 'objects', '{"a":' x $n, '1' . ('}' x $n) ],
               [ 'arrays and objects', ('[{"a":' x int($n / 2)) . ($n % 2 ? '[' : ''),
                 ($n % 2 ? ']' : '') . ('}]' x int($n / 2)) ]) {
        my ($kind, $open, $close) = @$c;
        my $name = "depth $MAX_DEPTH (an unknown field holding $n nested $kind)";
        my $r = api(token => $token, body => '{"foo":' . $open . $close . ',' . $inner . '}');
        refused($r, 400, 'BAD_REQUEST', $name, fields => ['foo']);
        is(scalar(depth_detail($r)), 0, "$name: not refused for its depth")
          or diag(describe($r));

        $name = 'depth ' . ($MAX_DEPTH + 1) . ' (an unknown field holding ' . ($n + 1) . " nested $kind)";
        $r = api(token => $token, body => '{"foo":[' . $open . $close . '],' . $inner . '}');
        refused($r, 400, 'BAD_REQUEST', $name, fields => ['body']);
        is(scalar(depth_detail($r)), 1, "$name: the body detail is about nesting") or diag(describe($r));
    }
}

# 100,000 brackets as the whole body (t/30 nests them inside a field): answered at once.
for my $c ([ '100,000 unclosed [ as the body', '[' x 100_000 ],
           [ '100,000 nested arrays as the body', ('[' x 100_000) . (']' x 100_000) ],
           [ '100,000 nested arrays in personIds', '{"personIds":' . ('[' x 100_000) . (']' x 100_000) . '}' ]) {
    my ($name, $body) = @$c;
    my $r = api(token => $token, body => $body);
    cmp_ok($r->{elapsed}, '<', within(0.1), "$name: answered in under 100 ms") or diag("took $r->{elapsed} s");
    refused($r, 400, 'BAD_REQUEST', $name, fields => ['body']);
    ok(scalar(depth_detail($r)), "$name: the body detail is about nesting") or diag(describe($r));
}

# --- strings ---------------------------------------------------------------------------------------

{
    # 255 characters counted as code points: 4-byte emoji, 3-, 2- and 1-byte characters mixed.
    my $mixed = ("a\x{1F600}é€\x{10348}" x 51);
    is(length $mixed, 255, 'the mixed name has 255 characters');
    my $r = api(token => $token, body => valid_body(name => $mixed));
    my $b = accepted($r, 'name of 255 mixed 1- to 4-byte characters');
    is($b->{name}, $mixed, 'name of 255 mixed characters: returned exactly');

    my $emoji = join '', map { chr(0x1F300 + $_) } 0 .. 254;    # 255 different 4-byte characters
    $r = api(token => $token, body => valid_body(name => $emoji));
    $b = accepted($r, 'name of 255 different 4-byte emoji');
    is($b->{name}, $emoji, 'name of 255 different emoji: returned exactly');
    (my $id = $b->{id} // '') =~ tr/0-9a-f//cd;
    is(sql_value("SELECT LENGTH(name) FROM leadlists WHERE id = UNHEX('$id')"), 1020,
       'name of 255 emoji: 1,020 bytes of UTF-8 stored');

    $r = api(token => $token, body => valid_body(name => $mixed . "\x{1F600}"));
    refused($r, 400, 'BAD_REQUEST', 'name of 256 mixed characters', fields => ['name']);
    $r = api(token => $token, body => valid_body(name => $mixed . 'z'));
    refused($r, 400, 'BAD_REQUEST', 'name of 255 mixed characters and one ASCII letter', fields => ['name']);
}

{
    # Person ids: 64 characters of the whole allowed set.
    my $set = join '', 'A' .. 'Z', 'a' .. 'z', 0 .. 9, '.', '_', ':', '-';
    my $id64 = substr($set x 2, 0, 64);
    my $id64b = substr($set x 2, 1, 64);
    my $r = api(token => $token, body => valid_body(personIds => [ $id64, 'lead_x', $id64b ]));
    my $b = accepted($r, 'person ids of 64 characters of every allowed kind');
    is_deeply($b->{personIds}, [ $id64, 'lead_x', $id64b ], '64-character person ids returned as sent');

    my $id65 = substr($set x 2, 0, 65);
    $r = api(token => $token, body => valid_body(personIds => [ $id64, $id65, 'lead_x' ]));
    refused($r, 400, 'BAD_REQUEST', 'a 65-character person id after a 64-character one',
            fields => [qr/^personIds\[1\]$/]);
    ok(!grep({ $_ eq 'personIds[0]' } detail_fields($r)), 'the 64-character id is not named');
}

# --- arrays ----------------------------------------------------------------------------------------
# Counted as sent, before duplicates are removed.

{
    my @ids = map { sprintf 'lead_t70_%06d', $_ } 1 .. $MAX_IDS;
    my $r = api(token => $token, body => valid_body(personIds => \@ids));
    my $b = accepted($r, "exactly max_ids ($MAX_IDS) person ids");
    is(scalar @{ $b->{personIds} // [] }, $MAX_IDS, "max_ids person ids: all $MAX_IDS returned");
    (my $id = $b->{id} // '') =~ tr/0-9a-f//cd;
    is(sql_value("SELECT person_count FROM leadlists WHERE id = UNHEX('$id')"), $MAX_IDS,
       "max_ids person ids: $MAX_IDS stored");

    $r = api(token => $token, body => valid_body(personIds => [ @ids, $ids[0] ]));
    refused($r, 400, 'BAD_REQUEST', 'max_ids person ids and one duplicate (max_ids + 1 as sent)',
            fields => ['personIds'], small => 8192);

    my @cids = map { sprintf '0193f1d2-6c1e-7a4b-9c2d-%012x', $_ } 1 .. $MAX_IDS;
    $r = api(token => $token, body => valid_body(type => 'company', personIds => [], companyIds => \@cids));
    $b = accepted($r, "exactly max_ids ($MAX_IDS) company ids");
    is(scalar @{ $b->{companyIds} // [] }, $MAX_IDS, "max_ids company ids: all $MAX_IDS returned");
    ($id = $b->{id} // '') =~ tr/0-9a-f//cd;
    is(sql_value("SELECT company_count FROM leadlists WHERE id = UNHEX('$id')"), $MAX_IDS,
       "max_ids company ids: $MAX_IDS stored");

    $r = api(token => $token, body => valid_body(type => 'company', personIds => [], companyIds => [ @cids, uc $cids[0] ]));
    refused($r, 400, 'BAD_REQUEST', 'max_ids company ids and the first again in upper case (max_ids + 1 as sent)',
            fields => ['companyIds'], small => 8192);
}

# --- headers ---------------------------------------------------------------------------------------

{
    my $body = json_text(valid_body());
    my @ct = ('Content-Type: application/json');
    # The longest header line nginx takes fills one large header buffer with its CRLF.
    my $prefix = 'Authorization: Bearer ';
    my $line = $prefix . ('a' x ($HEADER_BUF - 2 - length $prefix));
    is(length($line) + 2, $HEADER_BUF, 'the Authorization line with its CRLF is exactly one 16 KiB buffer');
    my $r = raw_post(body => $body, headers => [ $line, @ct ]);
    refused($r, 401, 'UNAUTHORIZED', 'Authorization header line of 16 KiB (the largest nginx takes): the service\'s 401');

    $line = $prefix . ('a' x ($HEADER_BUF - 1 - length $prefix));
    $r = raw_post(body => $body, headers => [ $line, @ct ]);
    refused($r, 400, 'BAD_REQUEST', 'Authorization header line one byte over 16 KiB: nginx\'s JSON 400');

    $r = raw_post(body => $body, headers => [ 'X-Filler: ' . ('f' x 20_000), "Authorization: Bearer $token", @ct ]);
    refused($r, 400, 'BAD_REQUEST', 'a 20 KB header line of another name: nginx\'s JSON 400');

    # Total: each line under 16 KiB, one line per large buffer; four fit, five do not.
    my @pad = map { "X-Pad-$_: " . ('p' x 15_000) } 1 .. $HEADER_BUFS + 1;
    $r = raw_post(body => json_text(valid_body()),
                  headers => [ "Authorization: Bearer $token", @ct, @pad[0 .. $HEADER_BUFS - 1] ]);
    accepted($r, "$HEADER_BUFS header lines of 15 KB (about 60 KB of headers)");
    $r = raw_post(body => json_text(valid_body()), headers => [ "Authorization: Bearer $token", @ct, @pad ]);
    refused($r, 400, 'BAD_REQUEST', ($HEADER_BUFS + 1) . ' header lines of 15 KB (more than the large header buffers): nginx\'s JSON 400');
}

{
    # Idempotency-Key: 255 printable ASCII characters of every kind (no space at either end,
    # which HTTP would strip), then 256.
    my $chars = join '', map { chr } 0x21 .. 0x7e;
    my $key255 = substr("t70-$$-" . time . '-' . ($chars x 3), 0, 255);
    substr($key255, 100, 1) = ' ';    # a space inside is printable ASCII too
    my $key256 = $key255 . 'k';
    my $b1 = valid_body();
    my $r = api(token => $token, body => $b1, headers => { 'Idempotency-Key' => $key256 });
    refused($r, 400, 'BAD_REQUEST', 'Idempotency-Key of 256 printable characters', fields => ['Idempotency-Key']);
    $r = api(token => $token, body => $b1, headers => { 'Idempotency-Key' => $key255 });
    my $b = accepted($r, 'Idempotency-Key of 255 printable characters of every kind');
    is(sql_value('SELECT COUNT(*) FROM idempotency_keys WHERE user_id = ' . sql_quote($user)
                 . ' AND idem_key = ' . sql_quote($key255)), 1, 'the 255-character key is stored whole');
    $r = api(token => $token, body => $b1, headers => { 'Idempotency-Key' => $key255 });
    is($r->{status}, 201, 'the 255-character key replays');
    is(header($r, 'idempotent-replayed'), 'true', 'the 255-character key replays: Idempotent-Replayed');
    is($r->{json}{id}, $b->{id}, 'the 255-character key replays the same list');
    $before = nothing_written($before, 'the replay');
}

# --- the workers survived it all --------------------------------------------------------------------

SKIP: {
    skip 'no worker pids', 1 if !@pids;
    my @dead = grep { !kill 0, $_ } @pids;
    is(scalar @dead, 0, 'every worker from the start is still alive') or diag("dead: @dead");
}

done_testing();
