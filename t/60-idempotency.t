#!/usr/bin/perl
# Idempotency-Key: replays, reuse with another body, concurrent duplicates, failures that do
# not consume the key.
use v5.36;
use Test::More;
use POSIX ();
use Leadlists::Test;

need_stack();

my $user   = 'user_t60_' . $$;
my $user2  = 'other_t60_' . $$;
my $token  = mint_session(user => $user, org => 'org_t60');
my $token2 = mint_session(user => $user2, org => 'org_t60');
my $before = counts();
my $run    = "$$-" . time;

sub post_key($key, $body, $tok = $token) {
    return api(token => $tok, body => $body, headers => { 'Idempotency-Key' => $key });
}

# --- first use and replay -------------------------------------------------------------------

{
    my $key  = "key-a-$run";
    my $body = json_text(valid_body());
    my $r1 = post_key($key, $body);
    my $b1 = created_ok($r1, $user, 'first request with a key');
    stored_ok($b1, 'first request with a key');
    ok(lc(header($r1, 'idempotent-replayed') // 'false') ne 'true', 'first request: not marked as replayed');
    $before->{$_}++ for qw(leadlists);

    my $r2 = post_key($key, $body);
    is($r2->{status}, 201, 'same key, same body: 201 again') or diag(describe($r2));
    is(lc(header($r2, 'idempotent-replayed') // ''), 'true', 'same key, same body: Idempotent-Replayed: true');
    is($r2->{content}, $r1->{content}, 'same key, same body: the same body, byte for byte');
    is(header($r2, 'location'), header($r1, 'location'), 'same key, same body: the same Location');
    $before = counts_ok($before, 'the replay wrote nothing');

    my $r3 = post_key($key, json_text(valid_body()));
    error_ok($r3, 422, 'IDEMPOTENCY_KEY_REUSED', 'same key, another body');
    $before = nothing_written($before, 'same key, another body');

    my $r4 = post_key($key, $body, $token2);
    my $b4 = created_ok($r4, $user2, 'same key and body from another user');
    isnt($b4->{id} // '', $b1->{id} // '', 'another user: keys are per user, a new list');
    $before->{$_}++ for qw(leadlists);
    $before = counts_ok($before, 'another user wrote exactly one list');
}

# --- failures do not consume the key ------------------------------------------------------

{
    my $key = "key-b-$run";
    my $r = post_key($key, json_text(valid_body(name => '')));
    error_ok($r, 400, 'BAD_REQUEST', 'a bad body with a fresh key');
    $before = nothing_written($before, 'a bad body with a fresh key');
    $r = post_key($key, json_text(valid_body()));
    my $b = created_ok($r, $user, 'the fixed body with the same key');
    $before->{$_}++ for qw(leadlists);
    $before = counts_ok($before, 'the fixed body wrote exactly one list');

    $key = "key-c-$run";
    $r = api(body => json_text(valid_body()), headers => { 'Idempotency-Key' => $key });
    error_ok($r, 401, 'UNAUTHORIZED', 'no session with a fresh key');
    $r = api(token => $token, body => json_text(valid_body()), content_type => 'text/plain',
             headers => { 'Idempotency-Key' => $key });
    error_ok($r, 415, 'UNSUPPORTED_MEDIA_TYPE', 'wrong media type with the same key');
    $r = post_key($key, json_text(valid_body()));
    created_ok($r, $user, 'a good request with a key that only failed before');
    $before->{$_}++ for qw(leadlists);
    $before = counts_ok($before, 'only the good request wrote');
}

# --- bad keys --------------------------------------------------------------------------------

for my $c ([ '256 characters', 'k' x 256 ], [ 'non-ASCII', "cl\xc3\xa9-$run" ]) {
    my ($name, $key) = @$c;
    my $r = raw_post(body => json_text(valid_body()),
                     headers => [ "Authorization: Bearer $token", 'Content-Type: application/json',
                                  "Idempotency-Key: $key" ]);
    error_ok($r, 400, 'BAD_REQUEST', "Idempotency-Key of $name");
}
{
    my $r = raw_post(body => json_text(valid_body()),
                     headers => [ "Authorization: Bearer $token", 'Content-Type: application/json',
                                  "Idempotency-Key: ab\x01cd" ]);
    error_ok($r, 400, 'BAD_REQUEST', 'Idempotency-Key with a control character');
    my $ok = post_key('k' x 255 . '', json_text(valid_body()));
    created_ok($ok, $user, 'Idempotency-Key of 255 characters is accepted');
    $before->{$_}++ for qw(leadlists);
    $before = counts_ok($before, 'bad keys wrote nothing, the 255-character key one list');
}

# --- the same key at once: exactly one list -------------------------------------------------

{
    my $key  = "key-d-$run";
    my $body = json_text(valid_body());
    my $N    = 10;
    pipe my $go_r, my $go_w or die;
    my @kids;
    for (1 .. $N) {
        pipe my $rd, my $wr or die;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $go_w;
            close $rd;
            sysread $go_r, my $x, 1;
            my $r = eval { post_key($key, $body) } // { status => 'died' };
            my $id = ref $r->{json} eq 'HASH' ? $r->{json}{id} // '-' : '-';
            print {$wr} "$r->{status} $id\n";
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [ $pid, $rd ];
    }
    close $go_r;
    close $go_w;
    my @got;
    for my $k (@kids) {
        my $fh = $k->[1];
        my $line = <$fh> // "none -\n";
        chomp $line;
        push @got, [ split / /, $line ];
        waitpid $k->[0], 0;
    }
    my @ok  = grep { $_->[0] eq '201' } @got;
    my @bad = grep { $_->[0] ne '201' && $_->[0] ne '409' } @got;
    ok(@ok >= 1, "$N at once with one key: at least one 201");
    is(scalar @bad, 0, "$N at once with one key: only 201 or 409") or diag(join ', ', map { $_->[0] } @bad);
    my %ids = map { $_->[1] => 1 } @ok;
    is(scalar keys %ids, 1, "$N at once with one key: every 201 has the same id");
    $before->{$_}++ for qw(leadlists);
    counts_ok($before, "$N at once with one key: exactly one list written");
}

done_testing();
