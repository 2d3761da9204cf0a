#!/usr/bin/perl
# The service on a MariaDB Galera cluster (script/cluster: three nodes, three pools behind one
# nginx). Skips unless the stack is such a cluster (LEADLISTS_CLUSTER=1 in its stack.env).
#  - every node is Synced in a cluster of three; GET /api/v1/health answers 200 through every
#    pool, without a session;
#  - a worker takes the first usable node of its list: it passes over a node that refuses
#    connections and a node that is not Synced (wsrep_desync), and answers 503 with the
#    JSON envelope and Retry-After only when no node is usable;
#  - a client reads its own writes through another node (wsrep_sync_wait), and a cursor made
#    by one host is accepted by another that has its own copy of the key file;
#  - two clients adding distinct members to one list through two nodes at once: certification
#    conflicts are retried, and every id is stored on every node;
#  - the cost of the causal reads, measured;
#  - a mixed load of LEADLISTS_CLUSTER_LOAD_SECONDS (default 30) seconds with reconciliation:
#    node 2 is SIGKILLed at +10 s and started again at +20 s (by script/cluster --start-node,
#    which recovers its position, so it rejoins by IST), one whole pool is SIGKILLed at
#    +25 s. Never a 500; the 503s come only while Galera has not yet evicted the dead node,
#    the 502s only from the killed pool's requests in flight, and so does a DELETE answered
#    404 for a list it deleted (nginx sent it again to the next pool); every 201's list and every
#    answered change is stored, alike, on every node; the nodes' table checksums are equal;
#    the rejoined node is Synced.
use v5.36;
use Test::More;
use Time::HiRes qw(time sleep);
use JSON::PP ();
use File::Temp ();
use File::Copy ();
use IO::Socket::INET;
use POSIX ();
use List::Util qw(shuffle sum max);
use Leadlists::Test;

need_stack();

plan skip_all => 'not a cluster (start one with script/cluster; its stack.env sets LEADLISTS_CLUSTER=1)'
  if ($ENV{LEADLISTS_CLUSTER} // '') ne '1';

my @SOCK      = split ' ', $ENV{LEADLISTS_CLUSTER_NODE_SOCKETS} // '';
my @PORT      = split ' ', $ENV{LEADLISTS_CLUSTER_NODE_PORTS} // '';
my @NODE_PID  = split ' ', $ENV{LEADLISTS_CLUSTER_NODE_PIDFILES} // '';
my @NODE_LOG  = split ' ', $ENV{LEADLISTS_CLUSTER_NODE_ERRLOGS} // '';
my @POOL_PID  = split ' ', $ENV{LEADLISTS_CLUSTER_POOL_PIDFILES} // '';
my @CONF      = split ' ', $ENV{LEADLISTS_CLUSTER_CONFIGS} // '';
BAIL_OUT('LEADLISTS_CLUSTER is set, but not the three nodes and pools (source var/cluster/stack.env)')
  if @SOCK != 3 || @PORT != 3 || @NODE_PID != 3 || @NODE_LOG != 3 || @POOL_PID != 3 || @CONF != 3;

my $JSON    = JSON::PP->new->utf8->canonical;
my $JSON_CT = 'application/json; charset=utf-8';
my $dir     = File::Temp->newdir('t88-XXXXXX', TMPDIR => 1);
my $run     = "t88-$$-" . int(time);
my $org     = "org_t88_$$";
my $me      = getpwuid($<) // 'root';
my $workers = config_value('workers', 4);
my $seconds = ($ENV{LEADLISTS_CLUSTER_LOAD_SECONDS} // '') =~ /^\d+$/ ? $ENV{LEADLISTS_CLUSTER_LOAD_SECONDS} : 30;
$seconds = 30 if $seconds < 30;    # the kills happen at +10, +20 and +25 s

# --- the nodes, as their administrator ----------------------------------------------------------

# Rows of QUERY on node N (0-based), through its socket as the administrator. wait => 0 reads
# without the causal wait (a node that is not Synced would make every read wait).
sub node_sql($n, $query, %o) {
    my @cmd = ('mariadb', '--no-defaults', '--protocol=socket', "--socket=$SOCK[$n]", "--user=$me", '-N', '-B',
               '--connect-timeout=3', '--default-character-set=utf8mb4',
               '--init-command=SET SESSION wsrep_sync_wait = ' . ($o{wait} // 1), $o{db} // $ENV{LEADLISTS_DB_NAME},
               '-e', $query);
    local $ENV{MYSQL_PWD};
    delete $ENV{MYSQL_PWD};
    open my $fh, '-|', @cmd or die "mariadb: $!";
    my @rows = map { chomp; [ map { $_ eq 'NULL' ? undef : $_ } split /\t/, $_, -1 ] } <$fh>;
    close $fh;
    die "node " . ($n + 1) . ": mariadb failed (exit " . ($? >> 8) . ") on: $query\n" if $? != 0;
    return @rows;
}

sub node_status($n, $name) {
    my ($row) = eval { node_sql($n, "SHOW GLOBAL STATUS LIKE '$name'", wait => 0) };
    return $row ? $row->[1] : undef;
}

sub node_pid($n) {
    open my $fh, '<', $NODE_PID[$n] or return undef;
    my ($pid) = (do { local $/; <$fh> } // '') =~ /(\d+)/;
    return $pid && pid_alive($pid, 'mariadbd') ? $pid + 0 : undef;
}

sub synced($n) { return (node_status($n, 'wsrep_local_state_comment') // '') eq 'Synced' }

sub pool_of($i) {
    open my $fh, '<', $POOL_PID[$i] or return undef;
    my ($pid) = (do { local $/; <$fh> } // '') =~ /(\d+)/;
    return $pid && pid_alive($pid, 'leadlists-fcgi') ? $pid + 0 : undef;
}

sub pool_workers($i) {
    my $mw = pool_of($i) // return ();
    my @kids;
    for my $f (glob "/proc/$mw/task/*/children") {
        open my $fh, '<', $f or next;
        push @kids, split ' ', (<$fh> // '');
    }
    my @pids = sort { $a <=> $b } grep { pid_alive($_) } @kids;
    return @pids;    # in scalar context: how many
}

sub text_of($file, $from = 0) {
    open my $fh, '<', $file or return '';
    binmode $fh;
    seek $fh, $from, 0;
    return do { local $/; <$fh> } // '';
}

# --- clean-up, whatever happens ---------------------------------------------------------------------

my $parent = $$;
my (@kids, @private, $desynced);
$SIG{INT} = $SIG{TERM} = sub { exit 1 };
END {
    if (defined $parent && $$ == $parent) {
        my $rc = $?;
        if (@kids) {
            if (open my $fh, '>', "$dir/stop") { close $fh }
            waitpid $_, 0 for @kids;
        }
        stop_private_worker($_) for @private;
        eval { node_sql(1, 'SET GLOBAL wsrep_desync = OFF', wait => 0) } if $desynced;
        # The next tests get the whole cluster back.
        if (!node_pid(1)) {
            diag('starting node 2 again for the next tests');
            stack_script('cluster', '--start-node', 2);
        }
        $? = $rc;
    }
}

# --- private workers, each with a node list (and a cursor key) of its own ---------------------------

# A worker pool of one, outside the cluster's pools, on a Unix socket of its own, with pool 1's
# configuration but db_host (and cursor_key_file) as given.
sub private_worker(%a) {
    my $wdir = File::Temp->newdir('worker-XXXXXX', DIR => $dir);
    my $conf = "$wdir/leadlists.conf";
    open my $in, '<', $CONF[0] or die "$CONF[0]: $!";
    open my $out, '>', $conf or die "$conf: $!";
    while (my $line = <$in>) {
        $line = "db_host = $a{nodes}\n" if $line =~ /^\s*db_host\s*=/;
        $line = "cursor_key_file = $a{cursor_key}\n" if defined $a{cursor_key} && $line =~ /^\s*cursor_key_file\s*=/;
        print {$out} $line;
    }
    close $out;
    local $ENV{LEADLISTS_CONFIG} = $conf;
    my $w = start_private_worker(dir => "$wdir", workers => $a{workers} // 1);
    $w->{dir} = $wdir;
    push @private, $w;
    # The worker connects as it starts: wait for its first log line about the database.
    wait_for(within(10), sub { text_of($w->{log}) =~ /database: (connected|.*failed|.*not ready|.*cannot say)/ }, 0.05);
    return $w;
}

sub node_addr($n) { return "127.0.0.1:$PORT[$n]" }

# One request straight to a private worker: the FastCGI parameters nginx would send.
sub fcgi($w, $method, $path, %a) {
    my ($uri, $query) = split /\?/, $path, 2;
    my $body = exists $a{body} ? (ref $a{body} ? json_text($a{body}) : $a{body}) : '';
    my %p = (REQUEST_METHOD => $method, REQUEST_URI => $path, DOCUMENT_URI => $uri, SCRIPT_NAME => $uri,
             QUERY_STRING => $query // '', CONTENT_TYPE => length $body ? 'application/json' : undef,
             %{ $a{params} // {} });
    my $r = fcgi_request(socket => $w->{socket}, body => $body, token => $a{token}, params => \%p,
                         timeout => $a{timeout} // 30);
    return $r;
}

sub closed_port() {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die "bind: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# --- the cluster ----------------------------------------------------------------------------------------

for my $n (0 .. 2) {
    ok(node_pid($n), 'node ' . ($n + 1) . ' runs');
    is(node_status($n, 'wsrep_local_state_comment'), 'Synced', 'node ' . ($n + 1) . ' is Synced');
    is(node_status($n, 'wsrep_cluster_size'), 3, 'node ' . ($n + 1) . ' sees a cluster of three');
}
for my $i (0 .. 2) {
    is(scalar(pool_workers($i)), $workers, 'pool ' . ($i + 1) . " has its $workers workers");
}

# nginx hands requests to the pools in turn: six in a row reach every pool twice.
{
    my @r = map { api(method => 'GET', path => '/api/v1/health') } 1 .. 6;
    is(scalar(grep { $_->{status} == 200 } @r), 6, 'GET /api/v1/health without a session: 200, through every pool')
      or diag(describe((grep { $_->{status} != 200 } @r)[0]));
    is($r[0]{content}, '{"status":"ok"}', 'the health answer is {"status":"ok"}');
    is(header($r[0], 'content-type'), $JSON_CT, 'as JSON');
}

# --- which node a worker takes ---------------------------------------------------------------------------

my $token = mint_session(user => "user_t88_$$", org => $org);
{
    my $dead = closed_port();
    my $w = private_worker(nodes => "127.0.0.1:$dead, " . node_addr(1));
    my $r = fcgi($w, 'GET', '/api/v1/health');
    is($r->{status}, 200, 'a worker whose first node refuses connections: health 200');
    my $log = text_of($w->{log});
    like($log, qr/connect to 127\.0\.0\.1:$dead as \S+ failed/, 'it tried the first node');
    like($log, qr/connected to \Q${\ node_addr(1)}\E \(server [^)]*a Galera node\)/, 'and took the second, a Galera node');
    $r = fcgi($w, 'POST', ROUTE, token => $token, body => valid_body(name => "$run-second-node"));
    is($r->{status}, 201, 'and serves a create through it');

    my $none = private_worker(nodes => "127.0.0.1:$dead");
    $r = fcgi($none, 'GET', '/api/v1/health');
    is($r->{status}, 503, 'a worker that reaches no node: health 503');
    is(ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{code} : undef, 'SERVICE_UNAVAILABLE',
       'in the JSON envelope, SERVICE_UNAVAILABLE');
    like($r->{json}{error}{requestId} // '', qr/^\S+$/, 'with its request id');
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'and Retry-After');
    $r = fcgi($none, 'POST', ROUTE, token => $token, body => valid_body());
    is($r->{status}, 503, 'a create through it: 503');
}

# A node that is not Synced (here desynced by hand; a joiner or a donor is the same) is passed over.
{
    node_sql(1, 'SET GLOBAL wsrep_desync = ON', wait => 0);
    $desynced = 1;
    ok(wait_for(10, sub { (node_status(1, 'wsrep_local_state_comment') // '') =~ /Desynced/ }, 0.1), 'node 2 is desynced')
      or diag('state: ' . (node_status(1, 'wsrep_local_state_comment') // 'no answer'));
    my $w = private_worker(nodes => join(', ', node_addr(1), node_addr(0)));
    my $r = fcgi($w, 'GET', '/api/v1/health');
    is($r->{status}, 200, 'a worker whose first node is desynced: health 200');
    my $log = text_of($w->{log});
    like($log, qr/\Q${\ node_addr(1)}\E is a Galera node not ready for clients \(wsrep_ready ON, state Donor\/Desynced\)/,
         'it passed over the desynced node, saying why');
    like($log, qr/connected to \Q${\ node_addr(0)}\E/, 'and took the next');
    my $only = private_worker(nodes => node_addr(1));
    $r = fcgi($only, 'GET', '/api/v1/health');
    is("$r->{status} " . ($r->{headers}{'retry-after'} // '-'), '503 1', 'a worker with no other node: 503 with Retry-After');
    node_sql(1, 'SET GLOBAL wsrep_desync = OFF', wait => 0);
    $desynced = 0;
    ok(wait_for(20, sub { synced(1) }, 0.1), 'node 2 is Synced again');
}

# --- reading one's writes through another node; the cursor on another host --------------------------------

my $w2 = private_worker(nodes => node_addr(1));
my $w3 = private_worker(nodes => node_addr(2));
like(text_of($w2->{log}), qr/connected to \Q${\ node_addr(1)}\E/, 'one private worker on node 2');
like(text_of($w3->{log}), qr/connected to \Q${\ node_addr(2)}\E/, 'one on node 3');
{
    my ($stale, $n) = (0, 0);
    for my $i (1 .. 25) {
        my ($a, $b) = $i % 2 ? ($w2, $w3) : ($w3, $w2);
        my $c = fcgi($a, 'POST', ROUTE, token => $token, body => valid_body(name => "$run-ryw-$i"));
        my $id = ref $c->{json} eq 'HASH' ? $c->{json}{id} : undef;
        $n++;
        if ($c->{status} != 201 || !defined $id) {
            $stale++;
            diag('create: ' . describe($c));
            next;
        }
        my $g = fcgi($b, 'GET', ROUTE . "/$id", token => $token);
        $stale++ if $g->{status} != 200 || ($g->{json}{name} // '') ne "$run-ryw-$i";
        my $p = fcgi($b, 'PATCH', ROUTE . "/$id", token => $token, body => { name => "$run-ryw-$i-renamed" });
        my $g2 = fcgi($a, 'GET', ROUTE . "/$id", token => $token);
        $stale++ if $p->{status} != 200 || $g2->{status} != 200 || ($g2->{json}{name} // '') ne "$run-ryw-$i-renamed"
          || ($g2->{headers}{etag} // '') ne '"2"';
    }
    is($stale, 0, "a create on one node and a PATCH on the other, each read at once through the other node: never stale ($n lists)");
}
{
    # Another host: its own copy of the key file, and one with another key.
    my $key = config_value('cursor_key_file');
    my $copy = "$dir/cursor-key-copy";
    File::Copy::copy($key, $copy) or die "copy $key: $!";
    chmod 0600, $copy;
    my $other = "$dir/cursor-key-other";
    open my $fh, '>', $other or die "$other: $!";
    print {$fh} "another key, not the cluster's: $$ " . time, "\n";
    close $fh;
    my $host2 = private_worker(nodes => node_addr(2), cursor_key => $copy);
    my $host3 = private_worker(nodes => node_addr(0), cursor_key => $other);
    my $p1 = fcgi($w2, 'GET', ROUTE . '?limit=2', token => $token);
    my $cursor = ref $p1->{json} eq 'HASH' ? $p1->{json}{nextCursor} : undef;
    ok(defined $cursor, 'page 1 from one host has a cursor') or diag(describe($p1));
    my $p2 = fcgi($host2, 'GET', ROUTE . "?limit=2&cursor=$cursor", token => $token);
    is($p2->{status}, 200, 'a host with its own copy of the cursor key accepts the cursor');
    my @ids1 = map { $_->{id} } @{ $p1->{json}{leadlists} // [] };
    my @ids2 = map { $_->{id} } @{ $p2->{json}{leadlists} // [] };
    ok(@ids2 == 2 && $ids2[0] lt $ids1[1], 'and answers the next page, older lists') or diag("@ids1 / @ids2");
    my $p3 = fcgi($host3, 'GET', ROUTE . "?limit=2&cursor=$cursor", token => $token);
    is("$p3->{status} " . ($p3->{json}{error}{code} // ''), '400 BAD_REQUEST', 'a host with another key refuses it (400)');
}

# --- two clients, one list, two nodes ---------------------------------------------------------------------

{
    my $list = fcgi($w2, 'POST', ROUTE, token => $token, body => valid_body(name => "$run-shared", personIds => ['p_first']));
    my $id = $list->{json}{id} // die 'create: ' . describe($list) . "\n";
    my $mark2 = -s $w2->{log};
    my $mark3 = -s $w3->{log};
    my $start = time + 0.5;
    my @client;
    for my $c (0, 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $w = $c ? $w3 : $w2;
            open my $out, '>', "$dir/adds-$c" or POSIX::_exit(1);
            sleep($start - time) if $start > time;
            for my $k (1 .. 40) {
                my @ids = map { sprintf 'p%d_%02d_%d', $c, $k, $_ } 1 .. 3;
                my ($r, $tries, $n503) = (undef, 0, 0);
                while (++$tries <= 30) {
                    $r = fcgi($w, 'POST', ROUTE . "/$id/add-members", token => $token, body => { personIds => \@ids });
                    last if $r->{status} != 503;
                    $n503++;
                    sleep 0.1;
                }
                print {$out} $JSON->encode({ status => $r->{status}, n503 => $n503, ids => \@ids,
                                             added => $r->{json}{added}, present => $r->{json}{alreadyPresent} }), "\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @client, $pid;
    }
    waitpid $_, 0 for @client;
    my @ans;
    for my $c (0, 1) {
        open my $fh, '<', "$dir/adds-$c" or next;
        push @ans, map { $JSON->decode($_) } <$fh>;
    }
    is(scalar @ans, 80, 'both clients sent their 40 add-members');
    my @bad = grep { $_->{status} != 200 } @ans;
    is(scalar @bad, 0, 'every add-members was answered 200 in the end') or diag($JSON->encode($bad[0]));
    my @wrong = grep { join(',', sort(@{ $_->{added} // [] }, @{ $_->{present} // [] })) ne join(',', sort @{ $_->{ids} }) } @ans;
    is(scalar @wrong, 0, 'each answer accounts for the ids it was sent');
    my $retried_503 = sum(map { $_->{n503} } @ans) // 0;
    my $conflicts = () = (text_of($w2->{log}, $mark2) . text_of($w3->{log}, $mark3)) =~ /\(1213\); rolled back/g;
    cmp_ok($conflicts, '>', 0, "the clients collided: $conflicts certification conflicts, each rolled back and retried");
    diag("two clients, one list, nodes 2 and 3: 80 add-members, $conflicts conflicts retried by the workers, "
         . "$retried_503 answers 503 (after three conflicts in a row) retried by the clients");
    my %want = map { $_ => 1 } 'p_first', map { @{ $_->{ids} } } @ans;
    (my $hex = $id) =~ tr/-//d;
    for my $n (0 .. 2) {
        my ($row) = node_sql($n, "SELECT person_ids, person_count FROM leadlists WHERE id = X'$hex'");
        my $ids = $row ? eval { $JSON->decode($row->[0]) } // [] : [];
        my %have = map { $_ => 1 } @$ids;
        my @missing = grep { !$have{$_} } sort keys %want;
        ok(!@missing && @$ids == keys %want && ($row->[1] // 0) == keys %want,
           'node ' . ($n + 1) . ': all ' . scalar(keys %want) . ' ids stored, each once')
          or diag(scalar(@missing) . ' missing, ' . scalar(@$ids) . ' stored, e.g. missing ' . ($missing[0] // '-'));
    }
}

# One Idempotency-Key sent to two nodes at once: one list, whichever node certifies first.
{
    my (@bad, $both, $conflicts);
    for my $round (1 .. 10) {
        my $name = "$run-same-key-$round";
        my $body = json_text(valid_body(name => $name));
        my $start = time + 0.2;
        my @pair;
        for my $w ($w2, $w3) {
            pipe my $rd, my $wr or die "pipe: $!";
            my $pid = fork // die "fork: $!";
            if ($pid == 0) {
                close $rd;
                sleep($start - time) if $start > time;
                my $r = fcgi($w, 'POST', ROUTE, token => $token, body => $body, params => { HTTP_IDEMPOTENCY_KEY => $name });
                print {$wr} $JSON->encode({ status => $r->{status}, id => $r->{json}{id} // '',
                                            code => ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{code} : '' });
                close $wr;
                POSIX::_exit(0);
            }
            close $wr;
            push @pair, [ $pid, $rd ];
        }
        my @a = map { my $fh = $_->[1]; my $t = do { local $/; <$fh> }; waitpid $_->[0], 0; eval { $JSON->decode($t) } // {} } @pair;
        my @ok = grep { ($_->{status} // '') eq '201' } @a;
        $conflicts += grep { ($_->{status} // '') eq '409' && $_->{code} eq 'CONFLICT' } @a;
        $both++ if @ok == 2;
        my @stored = map { my $n = $_; scalar node_sql($n, 'SELECT 1 FROM leadlists WHERE name = ' . sql_quote($name)) } 0 .. 2;
        push @bad, "$name: answers " . $JSON->encode(\@a) . ", stored @stored"
          if !@ok || (@ok == 2 && $ok[0]{id} ne $ok[1]{id}) || grep({ !/^(201|409)$/ } map { $_->{status} // '' } @a)
          || grep { $_ != 1 } @stored;
    }
    is(scalar @bad, 0, 'one Idempotency-Key sent through two nodes at once, 10 times: one list each time, on every node; '
                       . 'both answers 201 with its id, or one 409 while the other was in flight')
      or diag(join "\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
    diag('same key through two nodes at once, 10 rounds: ' . ($both // 0) . ' with both answers 201 (one a replay), '
         . ($conflicts // 0) . ' answers 409');
}

# --- the cost of a causal read ------------------------------------------------------------------------------

{
    my @hex = map { $_->[0] } node_sql(1, 'SELECT HEX(id) FROM leadlists WHERE org_id = ' . sql_quote($org) . ' LIMIT 50');
    my $file = "$dir/reads.sql";
    open my $fh, '>', $file or die "$file: $!";
    print {$fh} "SELECT name, version FROM leadlists WHERE id = X'$_';\n" for map { @hex } 1 .. 20;
    close $fh;
    my $reads = 20 * @hex;
    my %us;
    for my $round (1 .. 5) {
        for my $wait ($round % 2 ? (0, 1) : (1, 0)) {
            my $t0 = time;
            system("mariadb --no-defaults --protocol=socket --socket='$SOCK[1]' --user='$me' -N -B "
                   . "--init-command='SET SESSION wsrep_sync_wait = $wait' '$ENV{LEADLISTS_DB_NAME}' <'$file' >/dev/null");
            push @{ $us{$wait} }, 1e6 * (time - $t0) / $reads if $? == 0;
        }
    }
    my $median = sub ($l) { my @s = sort { $a <=> $b } @$l; return $s[ int(@s / 2) ] };
    ok(@{ $us{0} // [] } == 5 && @{ $us{1} // [] } == 5, "$reads point reads on node 2, five rounds each way");
    diag(sprintf 'a point read on an idle cluster, median of 5 rounds: %.0f us without the causal wait, %.0f us with '
                 . 'wsrep_sync_wait = 1 (+%.0f us; a GET makes two such reads)', $median->($us{0}), $median->($us{1}),
         $median->($us{1}) - $median->($us{0})) if @{ $us{0} // [] } && @{ $us{1} // [] };
}

stop_private_worker($_) for @private;
@private = ();

# --- the mixed load: a node killed and restarted, a pool killed --------------------------------------------

my $clients = 3 * $workers;
my %tok = map { $_ => mint_session(user => "user_t88_${$}_$_", org => $org) } 1 .. $clients;

# One client: its own lists, one request at a time; the model of each list is what its answers
# said. A lost answer (502, 503, 504, none) to a change is resolved by reading the list back
# (it is as before or as after the change), to a create by sending it again with its
# Idempotency-Key. Writes one JSON line per request to log-C, the models to model-C.
sub client($c, $stop_at) {
    my $token = $tok{$c};
    open my $log, '>', "$dir/log-$c" or POSIX::_exit(1);
    $log->autoflush(1);
    srand($parent * 100 + $c);
    my (%L, @order);
    my $n = 0;
    my $call = sub ($kind, %a) {
        my $t0 = time;
        my $r = eval { api(%a, token => $token, timeout => 40) } // { status => 'died', content => "$@", headers => {} };
        @$r{qw(t0 t1 kind)} = ($t0, time, $kind);
        return $r;
    };
    my $code = sub ($r) { ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{code} // '' : '' };
    my $lost = sub ($r) { $r->{status} !~ /^\d{3}$/ || $r->{status} =~ /^50[234]$/ || $r->{status} == 599 };
    my $record = sub ($r, %x) {
        my %rec = (c => $c, kind => $r->{kind}, status => "$r->{status}", code => $code->($r),
                   ctype => header($r, 'content-type') // '', t0 => $r->{t0}, t1 => $r->{t1}, problems => [], %x);
        $rec{content} = substr($r->{content} // '', 0, 200) if $r->{status} !~ /^(200|201|204)$/;
        print {$log} $JSON->encode(\%rec), "\n";
    };
    my $state = sub ($r) {
        return $r->{status} == 404 ? 'gone'
          : $r->{status} == 200 && ref $r->{json} eq 'HASH' ? join('|', $r->{json}{name}, join(',', @{ $r->{json}{personIds} }), etag_version($r) // -1)
          : undef;
    };
    my $model = sub ($m) { $m->{deleted} ? 'gone' : join('|', $m->{name}, join(',', @{ $m->{persons} }), $m->{version}) };
    my $read_back = sub ($id) {
        my $r;
        for (1 .. 100) {
            $r = $call->('resolve', method => 'GET', path => ROUTE . "/$id");
            last if !$lost->($r);
            sleep 0.2;
        }
        return $r;
    };
    my $change = sub ($kind, $id, $req, $after, $expect, $check) {
        my $before = { %{ $L{$id} } };
        my $r = $call->($kind, %$req);
        if ($lost->($r)) {
            sleep 0.3;
            my $g = $read_back->($id);
            my $s = $state->($g) // "unreadable ($g->{status})";
            my $was = $s eq $model->($after) ? 'after' : $s eq $model->($before) ? 'before' : undef;
            $record->($r, id => $id, lost => 1, settled => $was // 'neither',
                      problems => [ defined $was ? () : "lost $kind of $id: read back as $s; before " . $model->($before)
                                                      . ', after ' . $model->($after) ]);
            $L{$id} = $was && $was eq 'before' ? $before : $after;
            return;
        }
        # nginx passes a DELETE whose pool died to the next pool (docs/scaling.md): if the first
        # had deleted the list, the next one answers 404, and the list is gone as asked.
        if ($kind eq 'delete' && $r->{status} == 404) {
            my $s = $state->($read_back->($id)) // '?';
            $record->($r, id => $id, resent => 1, settled => $s eq 'gone' ? 'after' : 'neither',
                      problems => [ $s eq 'gone' ? () : "delete of $id: 404, yet read back as $s" ]);
            $L{$id} = $after if $s eq 'gone';
            return;
        }
        my @p;
        if ($r->{status} != $expect) {
            push @p, "$kind of $id: $r->{status} " . $code->($r) . ", want $expect";
        } else {
            push @p, $check->($r);
            $L{$id} = $after;
        }
        $record->($r, id => $id, problems => \@p);
    };
    my $pick = sub { my @live = grep { !$L{$_}{deleted} } @order; @live ? $live[ int rand @live ] : undef };
    my %ops;
    $ops{create} = sub {
        my $name = sprintf '%s-c%02d-%04d', $run, $c, ++$n;
        my @persons = map { "p${c}_${n}_$_" } 1 .. 1 + int rand 3;
        my $body = valid_body(name => $name, personIds => \@persons);
        my $r = $call->('create', body => $body, headers => { 'Idempotency-Key' => $name });
        my %x;
        if ($lost->($r)) {
            my $first = $r;
            for (1 .. 100) {
                sleep 0.2;
                $r = $call->('resolve', body => $body, headers => { 'Idempotency-Key' => $name });
                last if $r->{status} == 201;
            }
            $x{settled} = $r->{status} != 201 ? 'failed' : (header($r, 'idempotent-replayed') // '') eq 'true' ? 'replayed' : 'created';
            $record->($first, name => $name, lost => 1, settled => $x{settled});
        }
        my @p;
        if ($r->{status} == 201 && ref $r->{json} eq 'HASH' && ($r->{json}{id} // '') =~ /^[0-9a-f-]{36}$/) {
            push @p, "create $name: answered " . $model->({ name => $r->{json}{name}, persons => $r->{json}{personIds}, version => etag_version($r) })
              if join(',', @{ $r->{json}{personIds} }) ne join(',', @persons) || $r->{json}{name} ne $name;
            $L{ $r->{json}{id} } = { name => $name, persons => \@persons, version => 1 };
            push @order, $r->{json}{id};
            $x{id} = $r->{json}{id};
        } else {
            push @p, "create $name: $r->{status} " . $code->($r);
        }
        $record->($r, name => $name, problems => \@p, %x);
    };
    $ops{get} = sub {
        my $id = $pick->() // return;
        my $r = $call->('get', method => 'GET', path => ROUTE . "/$id");
        return $record->($r, id => $id, lost => 1, settled => 'a read') if $lost->($r);
        my $s = $state->($r) // "$r->{status}";
        $record->($r, id => $id, problems => [ $s eq $model->($L{$id}) ? () : "get of $id: $s, want " . $model->($L{$id}) ]);
    };
    $ops{list} = sub {
        my $r = $call->('list', method => 'GET', path => ROUTE . '?limit=5');
        return $record->($r, lost => 1, settled => 'a read') if $lost->($r);
        my @want = (reverse grep { !$L{$_}{deleted} } @order)[0 .. 4];
        @want = grep { defined } @want;
        my @got = map { $_->{id} } @{ ref $r->{json} eq 'HASH' ? $r->{json}{leadlists} // [] : [] };
        $record->($r, problems => [ "@got" eq "@want" ? () : "list: [@got], want [@want]" ]);
    };
    $ops{patch} = sub {
        my $id = $pick->() // return;
        my $m = $L{$id};
        my $after = { %$m, name => sprintf('%s-c%02d-%04d r', $run, $c, ++$n), version => $m->{version} + 1 };
        $change->('patch', $id, { method => 'PATCH', path => ROUTE . "/$id", body => { name => $after->{name} },
                                  headers => rand() < 0.5 ? { 'If-Match' => qq{"$m->{version}"} } : {} },
                  $after, 200, sub ($r) { ($state->($r) // '') eq $model->($after) ? () : 'patch answered ' . ($state->($r) // '?') });
    };
    $ops{'add-members'} = sub {
        my $id = $pick->() // return;
        my $m = $L{$id};
        my @new = map { "p${c}_" . ++$n } 1 .. 2;
        my $after = { %$m, persons => [ @{ $m->{persons} }, @new ], version => $m->{version} + 1 };
        $change->('add-members', $id, { path => ROUTE . "/$id/add-members", body => { personIds => \@new } }, $after, 200, sub ($r) {
            my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
            return join(',', @{ $b->{added} // [] }) eq join(',', @new) && ($b->{memberCount} // -1) == @{ $after->{persons} }
              && etag_version($r) == $after->{version} ? () : 'add-members answered ' . $JSON->encode($b);
        });
    };
    $ops{'remove-members'} = sub {
        my $id = $pick->() // return;
        my $m = $L{$id};
        return $ops{'add-members'}->() if !@{ $m->{persons} };
        my $gone = $m->{persons}[ int rand @{ $m->{persons} } ];
        my $after = { %$m, persons => [ grep { $_ ne $gone } @{ $m->{persons} } ], version => $m->{version} + 1 };
        $change->('remove-members', $id, { path => ROUTE . "/$id/remove-members", body => { personIds => [ $gone, "absent_$n" ] } },
                  $after, 200, sub ($r) {
            my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
            return join(',', @{ $b->{removed} // [] }) eq $gone && ($b->{memberCount} // -1) == @{ $after->{persons} }
              ? () : 'remove-members answered ' . $JSON->encode($b);
        });
    };
    $ops{delete} = sub {
        my @live = grep { !$L{$_}{deleted} } @order;
        return $ops{create}->() if @live < 4;
        my $id = $pick->();
        $change->('delete', $id, { method => 'DELETE', path => ROUTE . "/$id" }, { %{ $L{$id} }, deleted => 1 }, 204, sub ($r) { () });
    };
    my @weighted = ((('create') x 14), (('get') x 24), (('list') x 6), (('patch') x 18), (('add-members') x 20),
                    (('remove-members') x 14), (('delete') x 4));
    while (time < $stop_at && !-e "$dir/stop") {
        my $op = @order < 2 ? 'create' : $weighted[ int rand @weighted ];
        $ops{$op}->();
    }
    close $log;
    if (open my $out, '>', "$dir/model-$c.tmp") {
        print {$out} $JSON->encode({ map { $_ => $L{$_} } @order });
        close $out;
        rename "$dir/model-$c.tmp", "$dir/model-$c";
    }
    POSIX::_exit(0);
}

my $node2_log_mark = -s $NODE_LOG[1] // 0;
my $node2_pid = node_pid(1);
my $pool3 = pool_of(2);
my @pool3_workers = pool_workers(2);
my $t_start = time;
my $stop_at = $t_start + $seconds;
for my $c (1 .. $clients) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(INT TERM);
        eval { client($c, $stop_at) };
        POSIX::_exit(1);
    }
    push @kids, $pid;
}
my $until = sub ($t) { sleep($t_start + $t - time) if $t_start + $t > time };

$until->(10);
my $t_kill = time;
ok(kill('KILL', $node2_pid), "SIGKILL node 2 (mariadbd $node2_pid) at +10 s");

$until->(20);
my $t_restart = time;
my $restarter = fork // die "fork: $!";
if ($restarter == 0) {
    my $rc = stack_script('cluster', '--start-node', 2);
    if (open my $fh, '>', "$dir/restarted") {
        printf {$fh} "%d %.3f\n", $rc, time;
        close $fh;
    }
    POSIX::_exit(0);
}

$until->(25);
my $t_pool_kill = time;
ok(kill('KILL', $pool3, @pool3_workers), "SIGKILL pool 3 (pool $pool3 and its workers @pool3_workers) at +25 s");

waitpid $_, 0 for @kids;
@kids = ();
my $t_end = time;
waitpid $restarter, 0;
my ($restart_rc, $t_synced) = split ' ', text_of("$dir/restarted");
is($restart_rc, 0, 'script/cluster --start-node 2 started it again and saw it Synced');
my $new_pool3 = pool_of(2);
ok(defined $new_pool3 && $new_pool3 != $pool3 && wait_for(within(10), sub { pool_workers(2) == $workers }, 0.1),
   "the supervisor started pool 3 again, with its $workers workers");

# --- the cluster after it ------------------------------------------------------------------------------------

ok(wait_for(60, sub { synced(1) }, 0.2), 'node 2 is Synced');
my $node2_now = node_pid(1);
ok($node2_now && $node2_now != $node2_pid, "node 2 runs again (mariadbd $node2_now)");
for my $n (0 .. 2) {
    is(node_status($n, 'wsrep_cluster_size'), 3, 'node ' . ($n + 1) . ' sees a cluster of three again');
}
my $rejoin = text_of($NODE_LOG[1], $node2_log_mark);
like($rejoin, qr/WSREP: Recovered position/, 'node 2 was started from its recovered position');
# rsync's script is run for an IST too, and says which it did.
like($rejoin, qr/rsync IST completed on joiner/, 'and rejoined by IST');
unlike($rejoin, qr/rsync SST completed on joiner/, 'without a full state transfer');
my ($ist_events) = $rejoin =~ /Receiving IST\.\.\. 100\.0% \((\d+)\/\d+ events\) complete/;

my (@rec, %model);
for my $c (1 .. $clients) {
    if (open my $fh, '<', "$dir/log-$c") {
        push @rec, map { eval { $JSON->decode($_) } // { kind => '?', status => 'unreadable', problems => ["unreadable: $_"] } } <$fh>;
    }
    my $m = eval { open my $fh, '<', "$dir/model-$c" or die; $JSON->decode(do { local $/; <$fh> }) };
    ok(ref $m eq 'HASH', "client $c finished") or next;
    $model{$_} = $m->{$_} for keys %$m;
}

my @load = grep { $_->{kind} ne 'resolve' } @rec;
my %by;
$by{ $_->{status} =~ /^(200|201|204)$/ ? $_->{status} : "$_->{status} $_->{code}" }++ for @load;
my $stall = max(map { $_->{t1} - $_->{t0} } grep { $_->{t0} >= $t_kill - 1 && $_->{t0} <= $t_kill + 8 } @load) // 0;
my $slow_before = max(map { $_->{t1} - $_->{t0} } grep { $_->{t1} < $t_kill } @load) // 0;
diag(sprintf 'mixed load: %d clients, %.1f s; %d requests (%.0f/s): %s', $clients, $t_end - $t_start, scalar @load,
             @load / (($t_end - $t_start) || 1), join(', ', map { "$_ x $by{$_}" } sort keys %by));
diag(sprintf 'node 2 killed at +%.1f s: the slowest answer to a request sent within 8 s after it took %.2f s (%.2f s before the kill); '
             . 'restarted at +%.1f s, Synced %.1f s later; pool 3 killed at +%.1f s', $t_kill - $t_start, $stall, $slow_before,
             $t_restart - $t_start, ($t_synced // $t_restart) - $t_restart, $t_pool_kill - $t_start);
diag('node 2 rejoined by IST: ' . ($ist_events // '?') . ' write-sets copied from a donor\'s gcache');
cmp_ok(scalar @load, '>=', 20 * $clients, 'the load sent requests');

my @five = grep { $_->{status} eq '500' || $_->{code} eq 'INTERNAL_ERROR' } @rec;
is(scalar @five, 0, 'never a 500') or diag(join "\n", map { "$_->{kind} $_->{status}: " . ($_->{content} // '') } @five[0 .. ($#five < 4 ? $#five : 4)]);
my @lost = grep { $_->{lost} } @rec;
my @odd = grep { !($_->{status} =~ /^50[234]$/ && $_->{code} eq 'SERVICE_UNAVAILABLE' && $_->{ctype} eq $JSON_CT) } @lost;
is(scalar @odd, 0, 'every failed request got the JSON envelope with SERVICE_UNAVAILABLE (502, 503 or 504)')
  or diag(join "\n", map { "$_->{kind} $_->{status} $_->{code} ($_->{ctype}): " . ($_->{content} // '') } @odd[0 .. ($#odd < 4 ? $#odd : 4)]);
my @late503 = grep { $_->{status} eq '503' && !($_->{t1} >= $t_kill && $_->{t0} <= $t_kill + 10) } @rec;
is(scalar @late503, 0, 'a 503 came only while the killed node was not yet evicted (the 10 s after the kill)')
  or diag(join "\n", map { sprintf '%s sent at %+.2f s, answered at %+.2f s from the kill', $_->{kind}, $_->{t0} - $t_kill, $_->{t1} - $t_kill }
                       @late503[0 .. ($#late503 < 4 ? $#late503 : 4)]);
my @late502 = grep { $_->{status} =~ /^50[24]$/ && !($_->{t0} <= $t_pool_kill + 0.05 && $_->{t1} >= $t_pool_kill - 0.05) } @rec;
is(scalar @late502, 0, 'a 502 came only to a request in flight when the pool was killed (nginx passed the others to the next pool)')
  or diag(join "\n", map { sprintf '%s %s sent at %+.2f s from the pool kill', $_->{kind}, $_->{status}, $_->{t0} - $t_pool_kill }
                       @late502[0 .. ($#late502 < 4 ? $#late502 : 4)]);
my @resent = grep { $_->{resent} && !($_->{t0} <= $t_pool_kill + 0.05 && $_->{t1} >= $t_pool_kill - 0.05) } @rec;
is(scalar @resent, 0, 'a DELETE answered 404 for a list it deleted was in flight when the pool was killed (nginx sent it again)')
  or diag(join "\n", map { sprintf 'delete sent at %+.2f s from the pool kill', $_->{t0} - $t_pool_kill } @resent[0 .. ($#resent < 4 ? $#resent : 4)]);
my @unsettled = grep { ($_->{settled} // '') =~ /^(failed|neither)$/ } @rec;
is(scalar @unsettled, 0, 'every lost request was resolved: a create by its Idempotency-Key, a change by reading the list back');
my @wrong = grep { @{ $_->{problems} // [] } } @rec;
is(scalar @wrong, 0, 'every answer agrees with its client\'s model, whichever pool and node served it (reads see the writes before them)')
  or diag(join "\n", map { "$_->{kind} ($_->{status}): @{ $_->{problems} }" } @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)]);

# Every list of the run, as each node stores it: the model of its client, on every node.
my $fmt = q{CONCAT(LOWER(HEX(id)), '|', HEX(name), '|', person_ids, '|', version)};
my @live = grep { !$model{$_}{deleted} } sort keys %model;
my %want = map { ($_ =~ tr/-//dr) => join('|', $_ =~ tr/-//dr, uc unpack('H*', $model{$_}{name}),
                                             $JSON->encode($model{$_}{persons}), $model{$_}{version}) } @live;
my @rows_on;
for my $n (0 .. 2) {
    my %got = map { (split /\|/, $_->[0])[0] => $_->[0] =~ s/\|(\[.*\])\|/'|' . $JSON->encode($JSON->decode($1)) . '|'/er }
      node_sql($n, "SELECT $fmt FROM leadlists WHERE org_id = " . sql_quote($org) . " AND name LIKE " . sql_quote("$run-c%"));
    push @rows_on, scalar keys %got;
    my @missing = grep { !exists $got{$_} } sort keys %want;
    my @differ = grep { exists $got{$_} && $got{$_} ne $want{$_} } sort keys %want;
    my @extra = grep { !exists $want{$_} } sort keys %got;
    is(scalar(@missing) + scalar(@differ) + scalar(@extra), 0,
       'node ' . ($n + 1) . ': every list of the load is stored as its answers said (' . scalar(@live) . ' lists, '
       . (keys(%model) - @live) . ' deleted)')
      or diag(scalar(@missing) . ' missing, ' . scalar(@differ) . ' differ, ' . scalar(@extra) . " unknown; e.g.\n  "
              . join("\n  ", map { "$_: stored " . ($got{$_} // 'nothing') . ', model ' . ($want{$_} // 'none') } (@missing, @differ, @extra)[0 .. 2]));
}
my $created = grep { $_->{kind} eq 'create' && $_->{status} eq '201' } @rec;
diag("lists of the load: $created created with a 201 answer, " . scalar(@live) . ' left after the deletes; stored on the nodes: '
     . join(', ', map { 'node ' . ($_ + 1) . " $rows_on[$_]" } 0 .. 2));

my @tables = qw(leadlists leadlist_users leadlist_changes idempotency_keys sessions);
my @sums = map { my $n = $_; join ' ', map { $_->[1] // 'NULL' } node_sql($n, 'CHECKSUM TABLE ' . join(', ', @tables)) } 0 .. 2;
ok($sums[0] eq $sums[1] && $sums[1] eq $sums[2], "the table checksums of the three nodes are equal (@tables)")
  or diag(join "\n", map { 'node ' . ($_ + 1) . ": $sums[$_]" } 0 .. 2);
my @counts = map { my $n = $_; join '/', map { $_->[0] } node_sql($n, join ' UNION ALL ', map { "SELECT COUNT(*) FROM $_" } @tables) } 0 .. 2;
diag("rows (@tables) on each node: " . join(', ', map { 'node ' . ($_ + 1) . " $counts[$_]" } 0 .. 2));

{
    my $r = api(token => $tok{1}, body => valid_body(), timeout => 20);
    is($r->{status}, 201, 'a create after it all');
}

done_testing();
