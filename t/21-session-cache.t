#!/usr/bin/perl
# The workers keep a session they found valid for session_cache seconds (default 1): a session
# revoked (or expired) after use goes on working for at most that long on each worker, then
# never again. With session_cache = 0 every request is looked up: a private worker started
# with it refuses a revoked session on the very next request.
use v5.36;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp ();
use Leadlists::Test;

need_stack();

my $bound   = config_value('session_cache', 1);
my $workers = config_value('workers', 8);
my $org     = "org_t21_$$";

# Requests on every worker of the pool, so that each one has the session kept.
sub warm($token) {
    my @got = api_burst(3 * $workers, sub { api(method => 'GET', token => $token, timeout => 20) });
    return scalar grep { $_->{status} eq '200' } @got;
}

# From the moment of $cut, each request's status and when it was sent, until $seconds.
sub watch($token, $cut, $seconds) {
    my @seen;
    while (time - $cut < $seconds) {
        my $t0 = time;
        my $r = api(method => 'GET', token => $token, timeout => 20);
        push @seen, [ $t0 - $cut, $r->{status} ];
    }
    return @seen;
}

sub bound_ok($how, $token, $cut_sub) {
    is(warm($token), 3 * $workers, "$how: the session works on every worker first");
    $cut_sub->();
    my $cut = time;
    my @seen = watch($token, $cut, $bound + 1.5);
    my @late = grep { $_->[1] == 200 && $_->[0] > $bound + 0.1 } @seen;
    my @odd = grep { $_->[1] != 200 && $_->[1] != 401 } @seen;
    my ($last) = sort { $b <=> $a } map { $_->[0] } grep { $_->[1] == 200 } @seen;
    diag(sprintf '%s: %d requests in the %.1f s after; the last 200 %s', $how, scalar @seen, $bound + 1.5,
                 defined $last ? sprintf('%.3f s after', $last) : 'never');
    is(scalar @odd, 0, "$how: only 200 or 401") or diag(join ', ', map { $_->[1] } @odd);
    is(scalar @late, 0, "$how: no 200 later than session_cache ($bound s) after") or diag(sprintf '%.3f s', $late[0][0]);
    my @after = grep { $_->[0] > $bound + 0.1 } @seen;
    ok(@after && !grep({ $_->[1] != 401 } @after), "$how: 401 on every request once the bound has passed");
    my $r = api(method => 'GET', token => $token, timeout => 20);
    error_ok($r, 401, 'UNAUTHORIZED', "$how: still refused later");
}

{
    my $token = mint_session(user => "user_t21_r_$$", org => $org);
    bound_ok('revoked after use', $token, sub { revoke_session_now($token) });
}
{
    my $token = mint_session(user => "user_t21_e_$$", org => $org);
    bound_ok('expired after use', $token, sub { expire_session_now($token) });
}

# A session never used before it is revoked is not kept anywhere: refused at once.
{
    my $token = mint_session(user => "user_t21_n_$$", org => $org);
    revoke_session_now($token);
    my $r = api(method => 'GET', token => $token, timeout => 20);
    error_ok($r, 401, 'UNAUTHORIZED', 'revoked before any use: refused at once');
}

# session_cache = 0: no session is kept.
SKIP: {
    my $conf = $ENV{LEADLISTS_CONFIG};
    my $dir = File::Temp->newdir('t21-XXXXXX', TMPDIR => 1);
    open my $in, '<', $conf or skip "cannot read $conf: $!", 3;
    my $text = do { local $/; <$in> };
    close $in;
    open my $out, '>', "$dir/leadlists.conf" or skip "cannot write: $!", 3;
    print {$out} $text, "\nsession_cache = 0\n";
    close $out;
    local $ENV{LEADLISTS_CONFIG} = "$dir/leadlists.conf";
    my $w = eval { start_private_worker(dir => "$dir") };
    skip "no private worker: $@", 3 if !$w;
    my $t0 = time;
    sleep 0.05 while time - $t0 < 5 && !-S $w->{socket};
    my $token = mint_session(user => "user_t21_z_$$", org => $org);
    my $q = { REQUEST_METHOD => 'GET', CONTENT_TYPE => undef, CONTENT_LENGTH => undef };
    my $r = fcgi_request(socket => $w->{socket}, token => $token, params => $q);
    is($r->{status}, 200, 'session_cache = 0: the session works') or diag(describe($r));
    revoke_session_now($token);
    $r = fcgi_request(socket => $w->{socket}, token => $token, params => $q);
    is($r->{status}, 401, 'session_cache = 0: refused on the very next request') or diag(describe($r));
    is(stop_private_worker($w), 0, 'session_cache = 0: the private worker exits cleanly');
}

done_testing();
