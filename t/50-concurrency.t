#!/usr/bin/perl
# 100 creates at once: exactly 100 answers of 201, exactly 100 new rows, 100 distinct ids.
use v5.36;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use POSIX ();
use Leadlists::Test;

need_stack();

my $N      = 100;
my $user   = 'user_t50_' . $$;
my $token  = mint_session(user => $user, org => 'org_t50');
my $prefix = "conc-$$-" . time . '-';
my @names  = map { $prefix . sprintf('%03d', $_) } 1 .. $N;
my $before = counts();

# Every child waits on $go until the parent closes it, so all requests start together.
pipe my $go_r, my $go_w or die "pipe: $!";
my %kids;    # pid => result pipe
for my $i (0 .. $N - 1) {
    pipe my $res_r, my $res_w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $go_w;
        close $res_r;
        my $dummy;
        sysread $go_r, $dummy, 1;    # returns 0 at EOF: the start signal
        my $r = eval { api(token => $token, body => valid_body(name => $names[$i]), timeout => 60) }
          // { status => 'died', content => $@ };
        my $id = ref $r->{json} eq 'HASH' ? $r->{json}{id} // '' : '';
        my $nm = ref $r->{json} eq 'HASH' ? $r->{json}{name} // '' : '';
        my $code = ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{code} // '' : '';
        print {$res_w} join("\t", $r->{status}, $id, $nm, $code, $i), "\n";
        close $res_w;
        POSIX::_exit(0);
    }
    close $res_w;
    $kids{$pid} = $res_r;
}
close $go_r;
my $t0 = time;
close $go_w;    # go

my @results;
for my $pid (keys %kids) {
    my $fh = $kids{$pid};
    my $line = <$fh>;
    close $fh;
    waitpid $pid, 0;
    push @results, $line if defined $line;
}
my $took = time - $t0;
chomp @results;
my @rows = map { [ split /\t/, $_, -1 ] } @results;

is(scalar @rows, $N, "$N children reported an answer");
my %by_status;
$by_status{ $_->[0] }++ for @rows;
is($by_status{201} // 0, $N, "$N answers of 201")
  or diag('statuses: ' . join(', ', map { "$_ x $by_status{$_}" } sort keys %by_status)
          . '; error codes: ' . join(', ', map { $_->[3] } grep { $_->[0] != 201 } @rows));
my %ids = map { $_->[1] => 1 } grep { $_->[0] == 201 && $_->[1] ne '' } @rows;
is(scalar keys %ids, $N, "$N distinct ids");
is_deeply([ sort map { $_->[2] } grep { $_->[0] == 201 } @rows ], [ sort @names ],
          'each answer carries the name it was sent with');

my $after = counts();
is($after->{leadlists} - $before->{leadlists}, $N, "exactly $N new rows in leadlists");
is($after->{leadlist_users}, $before->{leadlist_users}, 'no rows in leadlist_users: the creator is the list\'s created_by');

my @stored = map { $_->[0] } sql("SELECT name FROM leadlists WHERE name LIKE " . sql_quote("$prefix%") . " ORDER BY name");
is_deeply(\@stored, [ sort @names ], "the $N stored names are exactly the $N names sent");

my @stored_ids = map { $_->[0] } sql("SELECT LOWER(HEX(id)) FROM leadlists WHERE name LIKE " . sql_quote("$prefix%"));
is_deeply([ sort @stored_ids ], [ sort map { tr/-//dr } keys %ids ], 'the stored ids are the ids answered');
is(sql_value("SELECT COUNT(*) FROM leadlists WHERE name LIKE " . sql_quote("$prefix%")
             . " AND created_by = " . sql_quote($user)),
   $N, "each of the $N lists has its creator as created_by");

diag(sprintf '%d concurrent creates took %d s', $N, $took) if $ENV{TEST_VERBOSE};

done_testing();
