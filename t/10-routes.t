#!/usr/bin/perl
# Routing, methods, media type, size and the order in which they are checked.
use v5.36;
use utf8;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Leadlists::Test;

need_stack();

my $user  = 'user_t10_' . $$;
my $token = mint_session(user => $user, org => 'org_t10');
my $before = counts();

# --- unknown paths: 404 before authentication ----------------------------------------------

my $ID = '0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d';
for my $path ('/api/v1/nope', '/api/v1/entities', '/api/v1/entities/', '/api/v1/entities/leadlists/',
              '/api/v1/entities/leadlistsx', '/api/v1/entities/LEADLISTS', '/api/v1/',
              ROUTE . '/not-a-uuid', ROUTE . "/$ID/", ROUTE . "/$ID/extra", ROUTE . "/$ID/add-members/",
              ROUTE . '/0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8', ROUTE . '/0193f1d26c1e7a4b9c2d3e4f5a6b7c8d',
              ROUTE . '/0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d0', ROUTE . '/0193f1d2%2D6c1e-7a4b-9c2d-3e4f5a6b7c8d',
              ROUTE . '/%30193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d', ROUTE . "/$ID/%61dd-members",
              ROUTE . "/../leadlists/$ID", ROUTE . "/x/../$ID", ROUTE . '/' . ('a' x 10000)) {
    my $r = api(path => $path, body => valid_body());
    error_ok($r, 404, 'NOT_FOUND', "unauthenticated POST $path");
    $r = api(path => $path, token => $token, body => valid_body());
    error_ok($r, 404, 'NOT_FOUND', "authenticated POST $path");
    $before = nothing_written($before, "authenticated POST $path");
    $r = api(method => 'GET', path => $path);
    error_ok($r, 404, 'NOT_FOUND', "GET $path");
}
$before = nothing_written($before, 'unknown paths');

# --- wrong methods: 405 with the path's Allow, before authentication ------------------------

my %ALLOW = (ROUTE, 'GET, HEAD, POST', ROUTE . "/$ID", 'GET, HEAD, PATCH, DELETE',
             map { (ROUTE . "/$ID/$_", 'POST') } qw(add-members remove-members add-users remove-users));
my %WRONG = (ROUTE, [qw(PUT DELETE PATCH OPTIONS)], ROUTE . "/$ID", [qw(POST PUT OPTIONS)],
             map { (ROUTE . "/$ID/$_", [qw(GET PUT DELETE PATCH)]) } qw(add-members remove-members add-users remove-users));
for my $path (sort keys %WRONG) {
    for my $method (@{ $WRONG{$path} }) {
        my $r = api(method => $method, path => $path);
        error_ok($r, 405, 'METHOD_NOT_ALLOWED', "unauthenticated $method $path");
        is(header($r, 'allow'), $ALLOW{$path}, "unauthenticated $method $path: Allow: $ALLOW{$path}");
        $r = api(method => $method, path => $path, token => $token, body => valid_body());
        error_ok($r, 405, 'METHOD_NOT_ALLOWED', "authenticated $method $path with a valid body");
        $before = nothing_written($before, "authenticated $method $path with a valid body");
    }
}
{
    # An upper-case id is the same list: it reaches the operation (404: no such list).
    my $r = api(method => 'GET', path => ROUTE . '/' . uc $ID, token => $token);
    error_ok($r, 404, 'NOT_FOUND', 'GET of an upper-case id that names no list');
    is($r->{json}{error}{message}, 'Lead list not found', 'an upper-case id is matched as an id');
    # HEAD has no body in the answer, but the status and Allow are the same.
    $r = api(method => 'HEAD', path => ROUTE . "/$ID/add-members");
    is($r->{status}, 405, 'HEAD on add-members: 405') or diag(describe($r));
    is(header($r, 'allow'), 'POST', 'HEAD on add-members: Allow: POST');
    $r = api(method => 'TRACE');
    error_ok($r, 405, 'METHOD_NOT_ALLOWED', 'TRACE on the route');
}
$before = nothing_written($before, 'wrong methods');

# --- request ids ----------------------------------------------------------------------------

{
    my @ids = map { header(api(method => 'PUT'), 'x-request-id') // '' } 1 .. 3;
    my %seen = map { $_ => 1 } grep { $_ ne '' } @ids;
    is(scalar keys %seen, 3, 'three requests get three distinct X-Request-Id values')
      or diag("got: @ids");
}

# --- check order: path/method, then auth, then media type and size, then body ---------------

{
    my $r = api(body => '{"bad json', content_type => 'text/plain');
    error_ok($r, 401, 'UNAUTHORIZED', 'no auth + text/plain + bad body gives 401 first');

    $r = api(token => $token, body => '{"bad json', content_type => 'text/plain');
    error_ok($r, 415, 'UNSUPPORTED_MEDIA_TYPE', 'auth + text/plain + bad body gives 415 before 400');

    $r = api(token => $token, body => '{"bad json');
    error_ok($r, 400, 'BAD_REQUEST', 'auth + application/json + bad body gives 400');

    $r = api(method => 'PUT', body => '{"bad json', content_type => 'text/plain');
    error_ok($r, 405, 'METHOD_NOT_ALLOWED', 'no auth + PUT + text/plain gives 405 first');

    $r = api(path => '/api/v1/nope', body => '{"bad json', content_type => 'text/plain');
    error_ok($r, 404, 'NOT_FOUND', 'no auth + unknown path + text/plain gives 404 first');
}
$before = nothing_written($before, 'check order');

# --- media type ------------------------------------------------------------------------------

for my $ct ('text/plain', 'application/x-www-form-urlencoded', 'application/jsonx',
            'application/xml', 'multipart/form-data; boundary=x', 'json') {
    my $r = api(token => $token, body => valid_body(), content_type => $ct);
    error_ok($r, 415, 'UNSUPPORTED_MEDIA_TYPE', "Content-Type '$ct' with a valid body");
    $before = nothing_written($before, "Content-Type '$ct' with a valid body");
}
{
    my $r = raw_post(body => json_text(valid_body()), headers => ["Authorization: Bearer $token"]);
    error_ok($r, 415, 'UNSUPPORTED_MEDIA_TYPE', 'no Content-Type header with a valid body');
    $r = raw_post(body => '', headers => ["Authorization: Bearer $token"]);
    error_ok($r, 415, 'UNSUPPORTED_MEDIA_TYPE', 'no Content-Type header and no body');
    $r = raw_post(body => json_text(valid_body()), headers => ["Authorization: Bearer $token", 'Content-Type:']);
    error_ok($r, 415, 'UNSUPPORTED_MEDIA_TYPE', 'an empty Content-Type header with a valid body');
}
$before = nothing_written($before, 'unsupported media types');

for my $ct ('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-8',
            'Application/Json') {
    my $r = api(token => $token, body => valid_body(), content_type => $ct);
    my $b = created_ok($r, $user, "Content-Type '$ct' is accepted");
    stored_ok($b, "Content-Type '$ct'");
    $before->{leadlists}++;
}
$before = counts_ok($before, 'accepted media types wrote exactly one list each');

# A query string does not change the path.
{
    my $r = api(path => ROUTE . '?x=1&name=evil', token => $token, body => valid_body());
    my $b = created_ok($r, $user, 'POST with a query string');
    isnt($b->{name} // '', 'evil', 'POST with a query string: the query is not read as a field');
    $before->{leadlists}++;
    $before = counts_ok($before, 'POST with a query string wrote exactly one list');
}

# --- size -------------------------------------------------------------------------------------

{
    # A syntactically valid object one byte over 1 MiB.
    my $cap  = 1024 * 1024;
    my $head = '{"name":"';
    my $tail = '","icpId":null,"startDate":"2024-01-01","endDate":"2024-01-02","personIds":[]}';
    my $body = $head . ('x' x ($cap + 1 - length($head) - length($tail))) . $tail;
    is(length $body, $cap + 1, 'oversized body is 1 MiB + 1 byte');
    my $r = api(token => $token, body => $body);
    error_ok($r, 413, 'PAYLOAD_TOO_LARGE', 'body of 1 MiB + 1 byte');

    $body = $head . ('x' x (8 * $cap)) . $tail;
    $r = api(token => $token, body => $body);
    error_ok($r, 413, 'PAYLOAD_TOO_LARGE', 'body of 8 MiB');
    cmp_ok($r->{elapsed}, '<', within(5), '8 MiB body is refused within 5 s');

    # The same over-size body sent chunked (no Content-Length).
    my $chunks = [ $head, ('x' x (256 * 1024)) x 5, $tail ];
    my $i = 0;
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 30);
    $r = $http->request('POST', $ENV{LEADLISTS_URL} . ROUTE, {
        headers => { Authorization => "Bearer $token", 'Content-Type' => 'application/json' },
        content => sub { $i < @$chunks ? $chunks->[$i++] : undef } });
    $r->{json} = eval { JSON::PP->new->utf8->decode($r->{content}) };
    $r->{request} = 'POST chunked 1.25 MiB';
    error_ok($r, 413, 'PAYLOAD_TOO_LARGE', 'chunked body over 1 MiB');
}
$before = nothing_written($before, 'oversized bodies');

{
    # A valid body sent chunked is an ordinary create.
    my @chunks = (json_text(valid_body()) =~ /(.{1,7})/gs);
    my $i = 0;
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 30);
    my $r = $http->request('POST', $ENV{LEADLISTS_URL} . ROUTE, {
        headers => { Authorization => "Bearer $token", 'Content-Type' => 'application/json' },
        content => sub { $i < @chunks ? $chunks[$i++] : undef } });
    $r->{json} = eval { JSON::PP->new->utf8->decode($r->{content}) };
    $r->{request} = 'POST chunked valid body';
    my $b = created_ok($r, $user, 'valid body sent with chunked transfer encoding');
    stored_ok($b, 'chunked body');
    $before->{leadlists}++;
    $before = counts_ok($before, 'chunked create wrote exactly one list');
}

done_testing();
