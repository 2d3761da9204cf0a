package Leadlists::Test;

# Shared helpers for the integration tests (t/*.t). Perl core only.
#
# The tests talk to a running stack (nginx + leadlists-fcgi + MariaDB) described by the
# environment that script/server writes to var/stack.env and script/test exports:
#   LEADLISTS_URL, LEADLISTS_DB_SOCKET, LEADLISTS_DB_NAME, LEADLISTS_DB_USER,
#   LEADLISTS_DB_PASSWORD, LEADLISTS_ROOT, LEADLISTS_CONFIG, LEADLISTS_CTL,
#   LEADLISTS_WORKER_PIDFILE, LEADLISTS_WORKER_LOG
# Without LEADLISTS_URL every test skips (so `make check` passes without a stack).

use v5.36;
use Exporter 'import';
use Test::More ();
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Select;
use JSON::PP ();
use Digest::SHA qw(sha256_hex);
use Time::HiRes ();
use Time::Local qw(timegm);
use Fcntl qw(:flock);
use File::Spec;

our @EXPORT = qw(
  need_stack ROUTE OMIT
  api raw_request raw_post describe header
  mint_session revoke_session expire_session revoke_session_now expire_session_now
  sql sql_value sql_quote counts counts_ok nothing_written
  valid_body json_text uniq_name
  error_ok detail_fields has_detail
  created_ok stored_ok top_level_keys iso_ms
  worker_pids within
);

use constant ROUTE => '/api/v1/entities/leadlists';

# valid_body(name => OMIT) removes a field.
use constant OMIT => bless {}, 'Leadlists::Test::Omit';

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $LOCK;

# Skips the whole test file unless a stack is running; then takes a lock so that test files
# run one at a time even under `make -j check` (they compare global row counts, and t/90
# stops the database).
sub need_stack {
    if (!defined $ENV{LEADLISTS_URL} || $ENV{LEADLISTS_URL} eq '') {
        Test::More::plan(skip_all => 'no running stack (start one with script/server)');
    }
    my @missing = grep { !defined $ENV{$_} || $ENV{$_} eq '' }
      qw(LEADLISTS_DB_NAME LEADLISTS_DB_USER LEADLISTS_CONFIG LEADLISTS_CTL);
    Test::More::BAIL_OUT("LEADLISTS_URL is set but not: @missing (source var/stack.env)")
      if @missing;
    $ENV{LEADLISTS_URL} =~ s{/+\z}{};
    my $dir = File::Spec->tmpdir;
    if (defined $ENV{LEADLISTS_ROOT} && -d "$ENV{LEADLISTS_ROOT}/var" && -w _) {
        $dir = "$ENV{LEADLISTS_ROOT}/var";
    }
    if (open $LOCK, '>>', "$dir/integration-tests.lock") {
        flock $LOCK, LOCK_EX;
    }
    return;
}

# --- HTTP --------------------------------------------------------------------------------

sub json_text($data) { return $JSON->encode($data) }

# api(method => 'POST', path => ROUTE, token => TOKEN | authorization => 'raw header value',
#     body => HASHREF | ARRAYREF | 'raw text', content_type => 'application/json' | undef,
#     headers => {...}, timeout => 30)
# Returns HTTP::Tiny's response plus {json} (decoded body or undef) and {elapsed} (seconds).
# content_type defaults to application/json when a body is given; pass undef to send none
# (HTTP::Tiny then sends application/octet-stream for a non-empty body: use raw_request to
# send no Content-Type at all).
sub api(%a) {
    my $method = $a{method} // 'POST';
    my $path   = $a{path}   // ROUTE;
    my %h      = %{ $a{headers} // {} };
    $h{'Authorization'} = "Bearer $a{token}" if defined $a{token};
    $h{'Authorization'} = $a{authorization}  if defined $a{authorization};
    my $content;
    $content = ref $a{body} ? json_text($a{body}) : $a{body} if exists $a{body};
    my $ct = exists $a{content_type} ? $a{content_type} : (defined $content ? 'application/json' : undef);
    $h{'Content-Type'} = $ct if defined $ct;
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => $a{timeout} // 30,
                               agent => 'leadlists-itest/1');
    my %opt = (headers => \%h);
    $opt{content} = $content if defined $content;
    my $t0 = Time::HiRes::time();
    my $r  = $http->request($method, $ENV{LEADLISTS_URL} . $path, \%opt);
    $r->{elapsed} = Time::HiRes::time() - $t0;
    $r->{json}    = _decode($r->{content});
    $r->{request} = "$method $path" . (defined $h{Authorization} ? ' (with Authorization)' : '')
      . (defined $content ? ' body: ' . _clip($content) : '');
    # HTTP::Tiny's own 599: no answer came (its reason is in content).
    $r->{no_answer} = $r->{content} // 'HTTP::Tiny: 599' if $r->{status} == 599;
    return openapi_check($method, $path, $r);
}

# Writes $out while also reading (the peer may answer early, e.g. 413, and close), then reads
# until $done->($buf) holds, the peer closes or the deadline passes. Returns what was read.
sub _exchange($sock, $out, $deadline, $done) {
    local $SIG{PIPE} = 'IGNORE';
    my $sel = IO::Select->new($sock);
    my ($off, $buf) = (0, '');
    while ($off < length $out) {
        my $left = $deadline - Time::HiRes::time();
        last if $left <= 0;
        my ($r, $w) = IO::Select::select($sel, $sel, undef, $left);
        if ($r && @$r) {
            my $n = sysread $sock, $buf, 65536, length $buf;
            last if !$n;
        }
        if ($w && @$w) {
            my $n = syswrite $sock, $out, 65536, $off;
            last if !defined $n;
            $off += $n;
        }
    }
    until ($done->($buf)) {
        my $left = $deadline - Time::HiRes::time();
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread $sock, $buf, 65536, length $buf;
        last if !$n;
    }
    return $buf;
}

# Sends exact bytes (a whole HTTP request) and parses the answer. Returns the same shape as api():
# {status, reason, headers (lower-case keys; arrays for repeated headers), content, json, elapsed}.
# status 599 when no answer came within the timeout.
sub raw_request($bytes, %a) {
    my $timeout = $a{timeout} // 30;
    my ($host, $port) = $ENV{LEADLISTS_URL} =~ m{^https?://([^/:]+)(?::(\d+))?} or die "bad LEADLISTS_URL";
    $port //= 80;
    my $t0 = Time::HiRes::time();
    my $res = { status => 599, reason => 'Internal Exception', headers => {}, content => '',
                request => 'raw: ' . _clip($bytes) };
    my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp',
                                     Timeout => $timeout);
    if (!$sock) {
        $res->{content} = "connect: $!";
        $res->{no_answer} = $res->{content};
        return openapi_check(_oa_request_line($bytes), $res);
    }
    binmode $sock;
    my $buf = _exchange($sock, $bytes, $t0 + $timeout, \&_complete);
    close $sock;
    $res->{elapsed} = Time::HiRes::time() - $t0;
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    if (!defined $head || $head !~ m{^HTTP/\d\.\d (\d{3}) ?([^\r\n]*)}) {
        $res->{no_answer} = $buf eq '' ? "nothing came in $timeout s or the connection closed"
          : 'no status line in the ' . length($buf) . ' bytes that came: ' . _clip($buf);
        return openapi_check(_oa_request_line($bytes), $res);
    }
    @$res{qw(status reason)} = ($1, $2);
    for my $line (split /\r\n/, $head) {
        next if $line !~ /^([^:\s]+):\s*(.*?)\s*$/;
        my ($k, $v) = (lc $1, $2);
        if (exists $res->{headers}{$k}) {
            $res->{headers}{$k} = [ ref $res->{headers}{$k} ? @{ $res->{headers}{$k} } : $res->{headers}{$k}, $v ];
        } else {
            $res->{headers}{$k} = $v;
        }
    }
    $body //= '';
    if ((header($res, 'transfer-encoding') // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    } elsif (defined(my $cl = header($res, 'content-length'))) {
        $body = substr($body, 0, $cl) if $cl =~ /^\d+$/;
    }
    $res->{content} = $body;
    $res->{json}    = _decode($body);
    return openapi_check(_oa_request_line($bytes), $res);
}

sub _complete($buf) {
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    return 0 if !defined $body;
    return length($body) >= $1 if $head =~ /^content-length:\s*(\d+)/mi;
    return $body =~ /(?:^|\r\n)0\r\n\r\n\z/ if $head =~ /^transfer-encoding:\s*chunked/mi;
    return 0;
}

# A hand-written POST: raw_post(body => BYTES, headers => ["Name: value", ...], path => ROUTE).
# Content-Length is added unless headers already has one; nothing else is added but Host and
# Connection: close (so no Content-Type unless given).
sub raw_post(%a) {
    my $path = $a{path} // ROUTE;
    my $body = $a{body} // '';
    my @h = @{ $a{headers} // [] };
    my ($hostport) = $ENV{LEADLISTS_URL} =~ m{^https?://([^/]+)};
    my $req = "POST $path HTTP/1.1\r\nHost: $hostport\r\nConnection: close\r\n";
    $req .= "$_\r\n" for @h;
    $req .= "Content-Length: " . length($body) . "\r\n" if !grep { /^content-length:/i } @h;
    $req .= "\r\n$body";
    return raw_request($req, %a);
}

sub _decode($text) {
    return undef if !defined $text || $text eq '';
    return eval { $JSON->decode($text) };
}

sub _clip($s) {
    $s //= '';
    my $t = length($s) > 300 ? substr($s, 0, 300) . '...(' . length($s) . ' bytes)' : $s;
    $t =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
    return $t;
}

# The first value of a response header (names are case-insensitive).
sub header($r, $name) {
    my $v = $r->{headers}{ lc $name };
    return ref $v ? $v->[0] : $v;
}

# One line for diagnostics: the request and what came back.
sub describe($r) {
    my @h = map { my $v = $r->{headers}{$_}; "$_: " . (ref $v ? join(' | ', @$v) : $v) }
      sort grep { /^(content-type|x-request-id|location|allow|www-authenticate|retry-after)$/ } keys %{ $r->{headers} };
    return sprintf "%s\n  -> %s %s [%s] %s", $r->{request} // '?', $r->{status} // '?',
      $r->{reason} // '', join('; ', @h), _clip($r->{content});
}

# --- every answer against docs/openapi.json ----------------------------------------------
#
# api(), raw_request() (and so raw_post() and raw_read()) and fcgi_request() hand each answer
# to openapi_check() before returning it. One t/openapi-check.py batch process per test file,
# started at the first answer, checks it against the document: the status must be one the
# operation (found from the method and the path as sent) documents, the headers and the body
# must be that response's; an answer the document has no place for (an undocumented status,
# an unknown path answering other than x-unknown-path says) fails too. Each answer that does
# not conform is a failed test with the reasons, describe() and the line that asked. Not
# checked, explicitly: an answer with {no_answer} set, which the helpers set, with the
# reason, only when no HTTP answer came (status 599: nothing came in time, the connection
# was refused or closed first, what came has no status line).
#
# The checker works while the test goes on: its verdicts are read as they come, at the next
# answer (at most 64 wait), and all of them before done_testing() prints the plan. A forked
# process (race(), api_burst(), load_start(), a test's own children) does not report: it
# appends its answers to a spool file that the test file's own process checks in the same
# way. LEADLISTS_OPENAPI names another document to check against. A test that gets an answer
# some other way (HTTP::Tiny with a streamed body) hands it to openapi_check() itself.

push @EXPORT, qw(openapi_check);

my $OA_MAIN = $$;
my $OA_CHECKER = File::Spec->rel2abs(__FILE__) =~ s{/[^/]*\z}{}r . '/../../openapi-check.py';
my $OA_SPOOL = File::Spec->catfile(File::Spec->tmpdir, "leadlists-openapi-$$.spool");
my ($OA_PID, $OA_TO, $OA_FROM);
my ($OA_OUT, $OA_IN, $OA_SPOOL_AT, $OA_DONE) = ('', '', 0, 0);
my @OA_WAIT;    # [method, path, answer, where asked] of each answer sent, oldest first
unlink $OA_SPOOL;

# Starts the checker; returns why it could not, or undef.
sub _oa_start() {
    require IPC::Open2;
    my @cmd = -x $OA_CHECKER ? ($OA_CHECKER) : ('python3', $OA_CHECKER);
    push @cmd, '--doc', $ENV{LEADLISTS_OPENAPI} if ($ENV{LEADLISTS_OPENAPI} // '') ne '';
    $OA_PID = eval { IPC::Open2::open2($OA_FROM, $OA_TO, @cmd, 'batch') };
    return "cannot run @cmd batch: " . ($@ =~ s/\s+\z//r) if !$OA_PID;
    binmode $_ for $OA_TO, $OA_FROM;
    $OA_TO->blocking(0);
    return undef;
}

sub _oa_report($w, $verdict) {
    my ($method, $path, $r, $asked) = @$w;
    return 1 if $verdict eq 'ok';
    # The line of the test that is running now (done_testing's at the end); the one that
    # asked is in the diagnostic.
    my $up = 0;
    $up++ while ((caller($up))[0] // '') =~ /\A(?:Leadlists::Test|Test2::.*|Test::Builder.*|Test::More)\z/;
    local $Test::Builder::Level = $up + 2;
    Test::More::fail("$method $path: the $r->{status} answer conforms to docs/openapi.json");
    Test::More::diag(($verdict =~ s/^fail: //r) . "\n(asked $asked)\n" . describe($r));
    return 0;
}

# Writes what is pending to the checker and reports the verdicts that came, until at most
# $keep answers wait (undef: none is waited for, only what is ready is done).
sub _oa_pump($keep) {
    local $SIG{PIPE} = 'IGNORE';
    while ($OA_PID && @OA_WAIT) {
        my ($rin, $win) = ('', '');
        vec($rin, fileno $OA_FROM, 1) = 1;
        vec($win, fileno $OA_TO, 1) = 1 if $OA_OUT ne '';
        my $wait = !defined $keep || @OA_WAIT <= $keep ? 0 : undef;
        my $n = select(my $rout = $rin, my $wout = $win, undef, $wait);
        last if !$n && defined $wait;
        if ($OA_OUT ne '' && vec($wout, fileno $OA_TO, 1)) {
            my $sent = syswrite $OA_TO, $OA_OUT, 1 << 20;
            if (defined $sent) {
                substr($OA_OUT, 0, $sent, '');
            } elsif (!$!{EAGAIN}) {
                _oa_ended();
                last;
            }
        }
        if (vec($rout, fileno $OA_FROM, 1)) {
            my $got = sysread $OA_FROM, $OA_IN, 65536, length $OA_IN;
            if (!$got) {
                _oa_ended();
                last;
            }
            while ($OA_IN =~ s/\A([^\n]*)\n//) {
                my $verdict = $1;
                _oa_report(shift(@OA_WAIT), $verdict) if @OA_WAIT;
            }
        }
        last if defined $keep && @OA_WAIT <= $keep && $OA_OUT eq '';
    }
    return;
}

# The checker ended: what waits for a verdict fails; the next answer starts it again.
sub _oa_ended() {
    close $OA_TO;
    close $OA_FROM;
    waitpid $OA_PID, 0;
    my $why = "fail: $OA_CHECKER ended (wait status $?) before its verdict";
    $OA_PID = undef;
    ($OA_OUT, $OA_IN) = ('', '');
    _oa_report($_, $why) for splice @OA_WAIT;
    return;
}

sub _oa_send($method, $path, $r, $asked) {
    if (!$OA_PID) {
        my $err = _oa_start();
        return _oa_report([ $method, $path, $r, $asked ], "fail: $err") if defined $err;
    }
    my $head = '';
    for my $k (sort keys %{ $r->{headers} // {} }) {
        my $v = $r->{headers}{$k};
        $head .= "$k: $_\r\n" for ref $v ? @$v : ($v);
    }
    my $body = $r->{content} // '';
    utf8::encode($body) if !utf8::downgrade($body, 1);
    my $raw = "$head\r\n$body";
    my $esc = sub ($s) { $s eq '' ? '-' : $s =~ s/([^\x21-\x7e])/sprintf '%%%02X', ord $1/ger };
    $OA_OUT .= join(' ', $esc->($method), $esc->($path), $r->{status}, length $raw) . "\n" . $raw;
    push @OA_WAIT, [ $method, $path, $r, $asked ];
    return _oa_pump(@OA_WAIT > 64 ? 16 : undef);
}

# Sends the answers the forked processes spooled (each a 4-byte length, then Storable's
# image of [pid, method, path, where asked, answer]).
sub _oa_spooled() {
    return if $$ != $OA_MAIN || !-s $OA_SPOOL || !open my $fh, '<:raw', $OA_SPOOL;
    flock $fh, LOCK_SH;
    seek $fh, $OA_SPOOL_AT, 0;
    my $data = do { local $/; <$fh> } // '';
    close $fh;
    require Storable;
    my $pos = 0;
    while (length($data) - $pos >= 4) {
        my $n = unpack 'N', substr($data, $pos, 4);
        last if length($data) - $pos - 4 < $n;
        my $x = eval { Storable::thaw(substr($data, $pos + 4, $n)) };
        $pos += 4 + $n;
        if (ref $x ne 'ARRAY' || ref $x->[4] ne 'HASH') {
            Test::More::fail("an answer of a forked process could be read back from $OA_SPOOL");
            next;
        }
        my ($pid, $method, $path, $asked, $r) = @$x;
        _oa_send($method, $path, $r, "by process $pid $asked");
    }
    $OA_SPOOL_AT += $pos;
    return;
}

# All verdicts, the spooled answers' too.
sub _oa_finish() {
    _oa_spooled();
    _oa_pump(0);
    return;
}

# openapi_check($method, $path, $answer): see above. Returns $answer.
sub openapi_check($method, $path, $r) {
    return $r if defined $r->{no_answer};
    my $up = 0;
    $up++ while (caller($up))[0] && (caller($up))[0] eq __PACKAGE__;
    my (undef, $file, $line) = caller($up);
    my $asked = 'at ' . ($file // '?') . ' line ' . ($line // '?');
    if ($$ != $OA_MAIN) {
        require Storable;
        my %a = map { $_ => $r->{$_} } qw(status reason headers content request);
        my $rec = Storable::nfreeze([ $$, $method, $path, $asked, \%a ]);
        if (open my $fh, '>>:raw', $OA_SPOOL) {
            flock $fh, LOCK_EX;
            print {$fh} pack('N', length $rec), $rec;
            close $fh;
        } else {
            warn "$OA_SPOOL: $!: this answer is not checked against docs/openapi.json\n";
        }
        return $r;
    }
    _oa_spooled();
    _oa_send($method, $path, $r, $asked);
    return $r;
}

# The method and the path of a request written by hand (an absolute URI cut to its path);
# '-' for what is not there.
sub _oa_request_line($bytes) {
    my ($method, $target) = $bytes =~ /\A([^ \r\n]*) ?([^ \r\n]*)/;
    $target =~ s{\A[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*}{} if defined $target;
    return ($method // '-', $target // '-');
}

Test2::API::test2_add_callback_testing_done(sub { $OA_DONE = 1; _oa_finish() if $$ == $OA_MAIN });

END {
    if ($$ == $OA_MAIN) {
        local $?;
        _oa_finish() if !$OA_DONE;
        if ($OA_PID) {
            close $OA_TO;
            close $OA_FROM;
            require POSIX;
            my $t0 = Time::HiRes::time();
            my $gone;
            until (($gone = waitpid($OA_PID, POSIX::WNOHANG())) || Time::HiRes::time() - $t0 > 5) {
                Time::HiRes::sleep(0.01);
            }
            if (!$gone) {
                kill 'TERM', $OA_PID;
                waitpid $OA_PID, 0;
            }
        }
        unlink $OA_SPOOL;
    }
}

# --- sessions ----------------------------------------------------------------------------

# Mints a session through leadlistsctl and returns its token.
sub mint_session(%a) {
    my @cmd = ($ENV{LEADLISTS_CTL}, '-c', $ENV{LEADLISTS_CONFIG}, 'session', 'create',
               '--user', $a{user} // 'user_itest', '--org', $a{org} // 'org_itest');
    push @cmd, '--role', $a{role} if defined $a{role};
    push @cmd, '--ttl',  $a{ttl}  if defined $a{ttl};
    open my $fh, '-|', @cmd or die "cannot run $cmd[0]: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    die "@cmd failed (exit " . ($? >> 8) . ")\n" if $? != 0;
    my ($token) = grep { /\S/ } reverse split /\n/, $out;
    die "@cmd printed no token\n" if !defined $token;
    $token =~ s/^\s+|\s+\z//g;
    return $token;
}

# A worker keeps a session it found valid for session_cache seconds: a revoked or expired
# session may go on working that long. revoke_session and expire_session return once it has
# passed, so that a test can expect the 401 at once; the _now forms return at once (t/21
# tests the bound itself).
sub _session_cache_passes() {
    my $f = $ENV{LEADLISTS_CONFIG};
    my $bound = 1;
    if (defined $f && open my $fh, '<', $f) {
        while (my $line = <$fh>) {
            $bound = $1 if $line =~ /^\s*session_cache\s*=\s*(\d+)\s*$/;
        }
    }
    Time::HiRes::sleep($bound + 0.1) if $bound > 0;
    return;
}

sub revoke_session_now($token) {
    system($ENV{LEADLISTS_CTL}, '-c', $ENV{LEADLISTS_CONFIG}, 'session', 'revoke', $token) == 0
      or die "leadlistsctl session revoke failed (exit " . ($? >> 8) . ")\n";
    return;
}

sub revoke_session($token) {
    revoke_session_now($token);
    _session_cache_passes();
    return;
}

# Moves a session's expiry one minute into the past.
sub expire_session($token) {
    expire_session_now($token);
    _session_cache_passes();
    return;
}

sub expire_session_now($token) {
    my $hash = sha256_hex($token);
    sql("UPDATE sessions SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE"
        . " WHERE token_hash = UNHEX('$hash')");
    my $n = sql_value("SELECT COUNT(*) FROM sessions WHERE token_hash = UNHEX('$hash')"
                      . " AND expires_at < UTC_TIMESTAMP(3)");
    die "expire_session: no session row for that token\n" if $n != 1;
    return;
}

# --- database ----------------------------------------------------------------------------

# Runs SQL through the mariadb client; returns rows as array refs of byte strings
# (NULL as undef). Dies when the client fails.
sub sql($query) {
    my @cmd = ('mariadb', '-N', '-B', '--default-character-set=utf8mb4',
               '-u' . $ENV{LEADLISTS_DB_USER});
    push @cmd, "--socket=$ENV{LEADLISTS_DB_SOCKET}" if $ENV{LEADLISTS_DB_SOCKET};
    push @cmd, $ENV{LEADLISTS_DB_NAME}, '-e', $query;
    local $ENV{MYSQL_PWD} = $ENV{LEADLISTS_DB_PASSWORD} // '';
    return _mariadb_rows(\@cmd, $query, 'mariadb');
}

# Runs a mariadb client command in batch mode (-N -B) and returns its rows, each an array of
# columns with NULL as undef; dies, naming $who and the query, when the client fails.
sub _mariadb_rows($cmd, $query, $who) {
    open my $fh, '-|', @$cmd or die "cannot run mariadb: $!";
    binmode $fh;
    my @rows;
    while (my $line = <$fh>) {
        chomp $line;
        push @rows, [ map { $_ eq 'NULL' ? undef : _unescape($_) } split /\t/, $line, -1 ];
    }
    close $fh;
    die "$who failed (exit " . ($? >> 8) . ") on: $query\n" if $? != 0;
    return @rows;
}

sub _unescape($s) {
    $s =~ s/\\(.)/$1 eq 'n' ? "\n" : $1 eq 't' ? "\t" : $1 eq '0' ? "\0" : $1/ge;
    return $s;
}

sub sql_value($query) {
    my @rows = sql($query);
    return @rows ? $rows[0][0] : undef;
}

# A string literal for SQL built in tests (bytes).
sub sql_quote($s) {
    return "X'" . unpack('H*', $s) . "'";
}

# Row counts of the tables a create writes.
sub counts() {
    my ($row) = sql('SELECT (SELECT COUNT(*) FROM leadlists), (SELECT COUNT(*) FROM leadlist_users)');
    return { leadlists => $row->[0] + 0, leadlist_users => $row->[1] + 0 };
}

# Asserts that the counts equal $want; returns the current counts.
sub counts_ok($want, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $now = counts();
    Test::More::is_deeply($now, $want, $name)
      or Test::More::diag("counts want: " . json_text($want) . " got: " . json_text($now));
    return $now;
}

# Asserts that the counts still equal $before; returns the current counts.
sub nothing_written($before, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return counts_ok($before, "$name: nothing written");
}

# --- bodies ------------------------------------------------------------------------------

my $SEQ = 0;

sub uniq_name($prefix = 'itest') {
    return sprintf '%s %d-%d-%d', $prefix, $$, int(Time::HiRes::time() * 1000), ++$SEQ;
}

# A valid create body with overrides; a value OMIT removes the field.
sub valid_body(%over) {
    my %b = (
        name       => uniq_name(),
        type       => 'person',
        icpId      => '660e8400-e29b-41d4-a716-446655440001',
        startDate  => '2024-01-01',
        endDate    => '2024-03-31T23:59:59Z',
        personIds  => [ 'lead_abc123', 'lead_def456' ],
        companyIds => [],
    );
    while (my ($k, $v) = each %over) {
        if (ref $v && ref $v eq 'Leadlists::Test::Omit') {
            delete $b{$k};
        } else {
            $b{$k} = $v;
        }
    }
    return \%b;
}

# --- assertions --------------------------------------------------------------------------

# One assertion: $r is the error envelope with $status and $code, JSON content type,
# a message, and X-Request-Id equal to error.requestId; 405 also needs an Allow list and 401
# WWW-Authenticate: Bearer; 503 needs Retry-After; 400 needs a non-empty details array of
# {field, message} strings.
sub error_ok($r, $status, $code, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @why;
    push @why, "status $r->{status}, want $status" if ($r->{status} // 0) != $status;
    my $ct = header($r, 'content-type') // '';
    push @why, "Content-Type '$ct'" if $ct ne 'application/json; charset=utf-8';
    my $e = ref $r->{json} eq 'HASH' ? $r->{json}{error} : undef;
    if (ref $e ne 'HASH') {
        push @why, 'body is not {"error":{...}}';
    } else {
        push @why, "code " . ($e->{code} // 'undef') . ", want $code" if ($e->{code} // '') ne $code;
        push @why, 'no message' if !defined $e->{message} || ref $e->{message} || $e->{message} eq '';
        my $rid = header($r, 'x-request-id');
        push @why, 'no X-Request-Id header' if !defined $rid || $rid eq '';
        push @why, 'error.requestId differs from X-Request-Id'
          if !defined $e->{requestId} || !defined $rid || $e->{requestId} ne $rid;
        my @extra = grep { !/^(code|message|requestId|details)$/ } keys %$e;
        push @why, "unexpected keys in error: @extra" if @extra;
        if ($code eq 'BAD_REQUEST') {
            my $d = $e->{details};
            if (ref $d ne 'ARRAY' || !@$d) {
                push @why, 'no details';
            } elsif (grep { ref $_ ne 'HASH' || !defined $_->{field} || ref $_->{field}
                            || !defined $_->{message} || ref $_->{message} || $_->{message} eq '' } @$d) {
                push @why, 'a details entry lacks field or message';
            }
        } elsif (exists $e->{details} && ref $e->{details} ne 'ARRAY') {
            push @why, 'details is not an array';
        }
    }
    if ($status == 405) {
        # The methods of the path: the route's own checks say which.
        my $allow = header($r, 'allow') // '';
        push @why, "Allow '$allow' is not a list of the API's methods"
          if $allow !~ /^\s*(?:GET|HEAD|POST|PATCH|DELETE)(?:\s*,\s*(?:GET|HEAD|POST|PATCH|DELETE))*\s*$/;
    }
    if ($status == 401) {
        my $wa = header($r, 'www-authenticate') // '';
        push @why, "WWW-Authenticate '$wa'" if $wa !~ /^Bearer\b/;
    }
    if ($status == 503) {
        my $ra = header($r, 'retry-after') // '';
        push @why, "Retry-After '$ra'" if $ra !~ /^\s*\d+\s*$/;
    }
    my $ok = Test::More::ok(!@why, "$name: $status $code JSON error");
    Test::More::diag(join('; ', @why) . "\n" . describe($r)) if !$ok;
    return $ok;
}

# The fields named in error.details.
sub detail_fields($r) {
    my $d = ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{details} : undef;
    return ref $d eq 'ARRAY' ? map { ref $_ eq 'HASH' ? $_->{field} // '' : '' } @$d : ();
}

# One assertion: details has an entry for $field: a string matches the field or an item of it
# ("personIds" matches "personIds" and "personIds[3]"); a Regexp is matched as is.
sub has_detail($r, $field, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $re = ref $field eq 'Regexp' ? $field : qr/^\Q$field\E(?:\[\d+\])?$/;
    my $label = ref $field eq 'Regexp' ? 'a field matching /' . ("$field" =~ s/^\(\?\^\w*:(.*)\)\z/$1/sr) . '/' : $field;
    my @f = detail_fields($r);
    my $ok = Test::More::ok(scalar(grep { $_ =~ $re } @f), "$name: details name $label");
    Test::More::diag('details fields: [' . join(', ', @f) . "]\n" . describe($r)) if !$ok;
    return $ok;
}

# Top-level keys of a JSON object text, in the order they appear.
sub top_level_keys($text) {
    my @keys;
    my $depth = 0;
    while ($text =~ /\G(?:("(?:[^"\\]|\\.)*")(\s*:)?|([\{\[])|([\}\]])|[^"\{\}\[\]]+)/gcs) {
        if (defined $1) {
            push @keys, $JSON->decode($1) if $depth == 1 && defined $2;
        } elsif (defined $3) {
            $depth++;
        } elsif (defined $4) {
            $depth--;
        }
    }
    return @keys;
}

# Milliseconds since the epoch of "YYYY-MM-DDTHH:MM:SS.mmmZ", undef when not that form.
sub iso_ms($s) {
    return undef if !defined $s || $s !~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/;
    return timegm($6, $5, $4, $3, $2 - 1, $1) * 1000 + $7;
}

my @FIELD_ORDER = qw(id icpId name type startDate endDate personIds companyIds userIds createdAt updatedAt);
my $UUID7 = qr/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

# One assertion: $r is a 201 of the contract's shape (headers, field order and types, UUIDv7 id,
# Location, userIds == [$user], createdAt == updatedAt close to now). Returns the body or undef.
sub created_ok($r, $user, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @why;
    push @why, "status $r->{status}, want 201" if ($r->{status} // 0) != 201;
    my $ct = header($r, 'content-type') // '';
    push @why, "Content-Type '$ct'" if $ct ne 'application/json; charset=utf-8';
    my $rid = header($r, 'x-request-id');
    push @why, 'no X-Request-Id' if !defined $rid || $rid eq '';
    my $b = $r->{json};
    if (ref $b ne 'HASH') {
        push @why, 'body is not a JSON object';
    } else {
        my @keys = top_level_keys($r->{content});
        push @why, "keys in order [@keys], want [@FIELD_ORDER]" if "@keys" ne "@FIELD_ORDER";
        push @why, "id '" . ($b->{id} // 'undef') . "' is not a lower-case UUIDv7"
          if !defined $b->{id} || ref $b->{id} || $b->{id} !~ $UUID7;
        my $loc = header($r, 'location') // '';
        push @why, "Location '$loc'" if !defined $b->{id} || $loc ne ROUTE . "/$b->{id}";
        push @why, 'icpId neither null nor a lower-case UUID'
          if defined $b->{icpId} && (ref $b->{icpId} || $b->{icpId} !~ /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        push @why, 'name is not a string' if !defined $b->{name} || ref $b->{name};
        push @why, "type '" . ($b->{type} // 'undef') . "'" if ($b->{type} // '') !~ /^(person|company)$/;
        for my $f (qw(startDate endDate createdAt updatedAt)) {
            push @why, "$f '" . ($b->{$f} // 'undef') . "' is not YYYY-MM-DDTHH:MM:SS.mmmZ" if !defined iso_ms($b->{$f});
        }
        for my $f (qw(personIds companyIds userIds)) {
            push @why, "$f is not an array of strings"
              if ref $b->{$f} ne 'ARRAY' || grep { !defined || ref } @{ $b->{$f} };
        }
        push @why, 'companyIds has a non-lower-case UUID'
          if ref $b->{companyIds} eq 'ARRAY' && grep { !defined || ref || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/ } @{ $b->{companyIds} };
        push @why, 'userIds is not [' . $user . ']'
          if defined $user && (ref $b->{userIds} ne 'ARRAY' || @{ $b->{userIds} } != 1 || ($b->{userIds}[0] // '') ne $user);
        push @why, 'createdAt != updatedAt' if ($b->{createdAt} // 'a') ne ($b->{updatedAt} // 'b');
        my $ms = iso_ms($b->{createdAt});
        push @why, "createdAt $b->{createdAt} is not within 60 s of now"
          if defined $ms && abs($ms / 1000 - Time::HiRes::time()) > 60;
    }
    my $ok = Test::More::ok(!@why, "$name: 201 with the contract's body");
    Test::More::diag(join('; ', @why) . "\n" . describe($r)) if !$ok;
    return $ok ? $b : (ref $b eq 'HASH' ? $b : undef);
}

# One assertion: the row for the 201 body $b is in leadlists as returned (userIds[0] is its
# created_by), and leadlist_users holds no row for it: the creator needs none.
sub stored_ok($b, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $b ne 'HASH' || !defined $b->{id} || $b->{id} !~ /^[0-9a-f-]{36}$/) {
        Test::More::fail("$name: stored as returned");
        Test::More::diag('no usable id in the response');
        return 0;
    }
    (my $hex = $b->{id}) =~ tr/-//d;
    my $fmt = sub ($col) { "CONCAT(DATE_FORMAT($col, '%Y-%m-%dT%H:%i:%s.'), LEFT(DATE_FORMAT($col, '%f'), 3), 'Z')" };
    my @rows = sql("SELECT LOWER(HEX(id)), LOWER(HEX(icp_id)), HEX(name), type, "
                   . $fmt->('start_date') . ', ' . $fmt->('end_date') . ', '
                   . "person_count, person_ids, company_count, LOWER(HEX(company_ids)), created_by, "
                   . $fmt->('created_at') . ', ' . $fmt->('updated_at')
                   . " FROM leadlists WHERE id = UNHEX('$hex')");
    my @users = sql("SELECT position, user_id FROM leadlist_users WHERE leadlist_id = UNHEX('$hex') ORDER BY position");
    my %got;
    if (@rows == 1) {
        my $r = $rows[0];
        my $persons = eval { JSON::PP->new->utf8->decode($r->[7]) };
        my @companies = map { join '-', unpack 'A8 A4 A4 A4 A12', $_ } ($r->[9] // '') =~ /(.{32})/g;
        %got = (id => $r->[0], icpId => $r->[1], name_hex => $r->[2], type => $r->[3],
                startDate => $r->[4], endDate => $r->[5], person_count => $r->[6] + 0,
                personIds => $persons, company_count => $r->[8] + 0, companyIds => \@companies,
                created_by => $r->[10], createdAt => $r->[11], updatedAt => $r->[12],
                users => [ map { [ $_->[0] + 0, $_->[1] ] } @users ]);
    } else {
        %got = (rows => scalar @rows);
    }
    my $name_bytes = $b->{name} // '';
    utf8::encode($name_bytes);
    my $icp = $b->{icpId};
    $icp =~ tr/-//d if defined $icp;
    my %want = (id => $hex, icpId => $icp, name_hex => uc unpack('H*', $name_bytes), type => $b->{type},
                startDate => $b->{startDate}, endDate => $b->{endDate},
                person_count => scalar @{ $b->{personIds} // [] }, personIds => $b->{personIds},
                company_count => scalar @{ $b->{companyIds} // [] }, companyIds => $b->{companyIds},
                created_by => $b->{userIds}[0], createdAt => $b->{createdAt}, updatedAt => $b->{updatedAt},
                users => []);
    return Test::More::is_deeply(\%got, \%want, "$name: stored as returned");
}

# A time limit in seconds, stretched by LEADLISTS_TEST_TIME_FACTOR (e.g. 10 for workers built
# with ASan or run under valgrind).
sub within($seconds) {
    my $f = $ENV{LEADLISTS_TEST_TIME_FACTOR};
    return $seconds * (defined $f && $f =~ /^\d+(?:\.\d+)?$/ && $f > 0 ? $f : 1);
}

# --- processes ---------------------------------------------------------------------------

# The pids listed in LEADLISTS_WORKER_PIDFILE (one or more, any separator).
sub worker_pids() {
    my $f = $ENV{LEADLISTS_WORKER_PIDFILE};
    return () if !defined $f || !open my $fh, '<', $f;
    my $text = do { local $/; <$fh> } // '';
    return sort { $a <=> $b } grep { $_ > 1 } $text =~ /(\d+)/g;
}

# --- additions for the limits and fault suites (t/70, t/80) ------------------------------
#
# Kept in a block of their own, with their own export list, so that they never change what
# the helpers above do.

push @EXPORT, qw(
  config_value sql_root db_pid worker_log_mark worker_log_since
  fcgi_socket fcgi_request start_private_worker stop_private_worker
);

# The value of KEY in the stack's configuration file (LEADLISTS_CONFIG), or $default.
sub config_value($key, $default = undef) {
    my $f = $ENV{LEADLISTS_CONFIG};
    return $default if !defined $f || !open my $fh, '<', $f;
    my $v;
    while (my $line = <$fh>) {
        $v = $1 if $line =~ /^\s*\Q$key\E\s*=\s*(.*?)\s*$/;
    }
    close $fh;
    return defined $v && $v ne '' ? $v : $default;
}

# Runs SQL as the database's administrator: the OS user running the tests, through the Unix
# socket (unix_socket authentication, as script/server sets it up). Extra client options
# (e.g. '--delimiter=//') come after the query. Returns rows like sql(); dies on failure.
sub sql_root($query, @opts) {
    my $me = getpwuid($<) // 'root';
    my @cmd = ('mariadb', '--no-defaults', '--protocol=socket', '-N', '-B',
               '--default-character-set=utf8mb4', "--user=$me");
    push @cmd, "--socket=$ENV{LEADLISTS_DB_SOCKET}" if $ENV{LEADLISTS_DB_SOCKET};
    push @cmd, @opts, $ENV{LEADLISTS_DB_NAME}, '-e', $query;
    local $ENV{MYSQL_PWD};
    delete $ENV{MYSQL_PWD};
    return _mariadb_rows(\@cmd, $query, "mariadb (as $me)");
}

# The PID of the stack's mariadbd (from LEADLISTS_DB_PIDFILE), or undef when it is not running.
sub db_pid() {
    my $f = $ENV{LEADLISTS_DB_PIDFILE};
    return undef if !defined $f || !open my $fh, '<', $f;
    my ($pid) = (do { local $/; <$fh> } // '') =~ /(\d+)/;
    close $fh;
    return undef if !$pid || !open my $c, '<', "/proc/$pid/comm";
    my $comm = <$c> // '';
    chomp $comm;
    return $comm eq 'mariadbd' ? $pid : undef;
}

# The workers' log (LEADLISTS_WORKER_LOG): worker_log_mark() is its current size;
# worker_log_since($mark) the lines written since.
sub worker_log_mark() {
    my $f = $ENV{LEADLISTS_WORKER_LOG};
    return 0 if !defined $f;
    return -s $f // 0;
}

sub worker_log_since($mark) {
    my $f = $ENV{LEADLISTS_WORKER_LOG};
    return () if !defined $f || !open my $fh, '<', $f;
    binmode $fh;
    seek $fh, $mark, 0;
    my @lines = <$fh>;
    close $fh;
    chomp @lines;
    return @lines;
}

# The FastCGI socket the workers listen on: LEADLISTS_FCGI_SOCKET, else fcgi_socket in the
# stack's configuration.
sub fcgi_socket() {
    return $ENV{LEADLISTS_FCGI_SOCKET} if defined $ENV{LEADLISTS_FCGI_SOCKET} && $ENV{LEADLISTS_FCGI_SOCKET} ne '';
    return config_value('fcgi_socket');
}

sub _fcgi_len($n) { return $n < 128 ? chr($n) : pack('N', $n | 0x8000_0000) }

sub _fcgi_record($type, $content) {
    my $pad = (8 - length($content) % 8) % 8;
    return pack('CCnnCx', 1, $type, 1, length $content, $pad) . $content . ("\0" x $pad);
}

# One FastCGI request straight to a worker's socket, bypassing nginx:
#   fcgi_request(socket => PATH (default fcgi_socket()), body => BYTES, token => TOKEN,
#                params => { NAME => value or undef to drop a default }, timeout => 30)
# The parameters are those nginx's fastcgi_params sends for a POST to ROUTE with a JSON body.
# Returns the shape of raw_request(): {status, headers, content, json, elapsed}; status 599
# when the worker gave no complete answer in time.
sub fcgi_request(%a) {
    my $path = $a{socket} // fcgi_socket();
    my $body = $a{body} // '';
    my $timeout = $a{timeout} // 30;
    my %p = (GATEWAY_INTERFACE => 'CGI/1.1', SERVER_SOFTWARE => 'leadlists-itest',
             SERVER_PROTOCOL => 'HTTP/1.1', REQUEST_SCHEME => 'http', REQUEST_METHOD => 'POST',
             REQUEST_URI => ROUTE, DOCUMENT_URI => ROUTE, SCRIPT_NAME => ROUTE, QUERY_STRING => '',
             CONTENT_TYPE => 'application/json', CONTENT_LENGTH => length $body,
             REMOTE_ADDR => '127.0.0.1', REMOTE_PORT => '40000', SERVER_ADDR => '127.0.0.1',
             SERVER_PORT => '8080', SERVER_NAME => 'localhost', HTTP_HOST => 'localhost');
    $p{HTTP_AUTHORIZATION} = "Bearer $a{token}" if defined $a{token};
    while (my ($k, $v) = each %{ $a{params} // {} }) {
        $p{$k} = $v;
    }
    my $params = '';
    for my $k (sort grep { defined $p{$_} } keys %p) {
        $params .= _fcgi_len(length $k) . _fcgi_len(length $p{$k}) . $k . $p{$k};
    }
    my $out = _fcgi_record(1, pack('nCx5', 1, 0));    # BEGIN_REQUEST, responder, no keep-alive
    $out .= _fcgi_record(4, substr($params, 0, 65528, '')) while length $params;
    $out .= _fcgi_record(4, '');
    my $b = $body;
    $out .= _fcgi_record(5, substr($b, 0, 65528, '')) while length $b;
    $out .= _fcgi_record(5, '');

    my $res = { status => 599, reason => 'Internal Exception', headers => {}, content => '',
                request => "fcgi $path: " . _clip($body) };
    my $t0 = Time::HiRes::time();
    require IO::Socket::UNIX;
    my @line = ($p{REQUEST_METHOD} // '-', $p{REQUEST_URI} // '-');
    my $sock = IO::Socket::UNIX->new(Peer => $path, Type => Socket::SOCK_STREAM(), Timeout => $timeout);
    if (!$sock) {
        $res->{content} = "connect $path: $!";
        $res->{elapsed} = Time::HiRes::time() - $t0;
        $res->{no_answer} = $res->{content};
        return openapi_check(@line, $res);
    }
    binmode $sock;
    my $ended = sub ($buf) {
        my $pos = 0;
        while (length($buf) - $pos >= 8) {
            my ($type, $len, $pad) = (unpack 'CCnnC', substr($buf, $pos, 8))[1, 3, 4];
            return 0 if length($buf) - $pos < 8 + $len + $pad;
            return 1 if $type == 3;    # END_REQUEST
            $pos += 8 + $len + $pad;
        }
        return 0;
    };
    my $buf = _exchange($sock, $out, $t0 + $timeout, $ended);
    close $sock;
    $res->{elapsed} = Time::HiRes::time() - $t0;
    if (!$ended->($buf)) {
        $res->{no_answer} = 'no END_REQUEST in ' . length($buf) . " bytes within $timeout s";
        return openapi_check(@line, $res);
    }
    my $stdout = '';
    while (length($buf) >= 8) {
        my ($type, $len, $pad) = (unpack 'CCnnC', substr($buf, 0, 8))[1, 3, 4];
        my $content = substr($buf, 8, $len);
        substr($buf, 0, 8 + $len + $pad, '');
        $stdout .= $content if $type == 6;
        last if $type == 3;
    }
    my ($head, $rest) = split /\r?\n\r?\n/, $stdout, 2;
    if (!defined $head) {
        # The request ended without a byte of answer: a broken answer, checked (and refused).
        $res->{reason} = 'the worker ended the request without writing an answer';
        return openapi_check(@line, $res);
    }
    $res->{status} = 200;
    $res->{reason} = 'OK';
    for my $line (split /\r?\n/, $head) {
        next if $line !~ /^([^:\s]+):\s*(.*?)\s*$/;
        my ($k, $v) = (lc $1, $2);
        if ($k eq 'status' && $v =~ /^(\d{3})\s*(.*)$/) {
            @$res{qw(status reason)} = ($1, $2);
            next;
        }
        if (exists $res->{headers}{$k}) {
            $res->{headers}{$k} = [ ref $res->{headers}{$k} ? @{ $res->{headers}{$k} } : $res->{headers}{$k}, $v ];
        } else {
            $res->{headers}{$k} = $v;
        }
    }
    $res->{content} = $rest // '';
    $res->{json}    = _decode($res->{content});
    return openapi_check(@line, $res);
}

# Starts one leadlists-fcgi of our own, outside the stack's pool, on a new socket:
#   start_private_worker(dir => DIR [, workers => N]) -> { pid, socket, log }
# It gets the stack's configuration (LEADLISTS_CONFIG) and the listening socket as descriptor
# 0, as spawn-fcgi would hand it, and runs a pool of its own of N workers (default 1); pid is
# that pool process's. Its stderr goes to DIR/private-worker.log. Stop it with
# stop_private_worker, which returns its wait status.
sub start_private_worker(%a) {
    require IO::Socket::UNIX;
    require POSIX;
    my $dir = $a{dir} // File::Spec->tmpdir;
    my $bin = $a{binary} // (defined $ENV{LEADLISTS_ROOT} ? "$ENV{LEADLISTS_ROOT}/src/leadlists-fcgi" : undef);
    die "start_private_worker: no worker binary\n" if !defined $bin || !-x $bin;
    my $w = { socket => "$dir/private-$$.sock", log => "$dir/private-worker-$$.log" };
    unlink $w->{socket};
    my $listen = IO::Socket::UNIX->new(Local => $w->{socket}, Type => Socket::SOCK_STREAM(), Listen => 16)
      or die "start_private_worker: listen on $w->{socket}: $!\n";
    my $pid = fork // die "start_private_worker: fork: $!\n";
    if ($pid == 0) {
        open STDIN, '<&', $listen or POSIX::_exit(127);
        open STDOUT, '>', '/dev/null' or POSIX::_exit(127);
        open STDERR, '>>', $w->{log} or POSIX::_exit(127);
        { exec $bin, '-c', $ENV{LEADLISTS_CONFIG}, '-w', $a{workers} // 1 };
        POSIX::_exit(127);
    }
    close $listen;
    $w->{pid} = $pid;
    return $w;
}

sub stop_private_worker($w, $wait = 15) {
    require POSIX;
    return undef if !$w || !$w->{pid};
    kill 'TERM', $w->{pid};
    my $t0 = Time::HiRes::time();
    my $status;
    while (Time::HiRes::time() - $t0 < $wait) {
        my $got = waitpid $w->{pid}, POSIX::WNOHANG();
        if ($got == $w->{pid}) {
            $status = $?;
            last;
        }
        Time::HiRes::sleep(0.05);
    }
    if (!defined $status) {
        kill 'KILL', $w->{pid};
        waitpid $w->{pid}, 0;
        $status = $?;
    }
    delete $w->{pid};
    unlink $w->{socket};
    return $status;
}

# --- additions for the load and process-fault suites (t/85, t/86) ------------------------
#
# A block of their own, with their own export list; nothing above changes. The pool runs
# under conf/leadlists-pool (the supervisor), which runs spawn-fcgi and the pool process
# (leadlists-fcgi, the workers' parent); var/stack.env names their pid files in
# LEADLISTS_SUPERVISOR_PIDFILE and LEADLISTS_POOL_PIDFILE.

push @EXPORT, qw(
  pid_alive pool_pid supervisor_pid pool_worker_pids wait_for stack_script api_burst
  load_start load_stop load_finish load_settle status_counts reconcile_ok
);

# True while PID exists and is not a zombie; with $comm, only if its name (/proc/PID/comm) is
# $comm, so that a reused PID is not taken for the process we mean.
sub pid_alive($pid, $comm = undef) {
    return 0 if !defined $pid || $pid !~ /^\d+$/ || $pid < 2;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    close $fh;
    my ($name, $state) = $stat =~ /^\d+ \((.*)\) (\S)/s or return 0;
    return 0 if $state eq 'Z' || $state eq 'X';
    return !defined $comm || $name eq $comm;
}

sub _live_pid_in($file, $comm) {
    return undef if !defined $file || $file eq '' || !open my $fh, '<', $file;
    my ($pid) = (do { local $/; <$fh> } // '') =~ /(\d+)/;
    close $fh;
    return $pid && pid_alive($pid, $comm) ? $pid + 0 : undef;
}

# The pool process's PID (LEADLISTS_POOL_PIDFILE) and the supervisor's
# (LEADLISTS_SUPERVISOR_PIDFILE), or undef when not running.
sub pool_pid()       { return _live_pid_in($ENV{LEADLISTS_POOL_PIDFILE}, 'leadlists-fcgi') }
sub supervisor_pid() { return _live_pid_in($ENV{LEADLISTS_SUPERVISOR_PIDFILE}, 'leadlists-pool') }

# The pool's workers now, sorted: the pool process's live children read from /proc; in scalar
# context, how many. Empty while no pool runs.
sub pool_worker_pids() {
    my $mw = pool_pid() // return wantarray ? () : 0;
    my @kids;
    for my $f (glob "/proc/$mw/task/*/children") {
        open my $fh, '<', $f or next;
        push @kids, split ' ', (<$fh> // '');
        close $fh;
    }
    my @pids = sort { $a <=> $b }
      grep { pid_alive($_) } @kids;
    return @pids;    # in scalar context: how many
}

# Calls $cond every $step seconds until it returns true or $seconds have passed. Returns the
# seconds it took (at least 0.000001, so the result is true), or undef on time-out.
sub wait_for($seconds, $cond, $step = 0.02) {
    my $t0 = Time::HiRes::time();
    while (1) {
        return (Time::HiRes::time() - $t0) || 1e-6 if $cond->();
        return undef if Time::HiRes::time() - $t0 > $seconds;
        Time::HiRes::sleep($step);
    }
}

# Runs script/NAME ARGS... of the stack's tree with its output on stderr (out of the TAP
# stream); returns its exit status.
sub stack_script($name, @args) {
    my $script = "$ENV{LEADLISTS_ROOT}/script/$name";
    return 127 if !defined $ENV{LEADLISTS_ROOT} || !-x $script;
    my $rc = system('sh', '-c', 'exec "$0" "$@" 1>&2', $script, @args);
    return $rc == -1 ? 127 : $rc >> 8 || ($rc & 127 ? 128 + ($rc & 127) : 0);
}

# A load of creates from forked clients:
# $n requests at once, each from a process of its own that calls $request (a sub returning
# api()'s answer; it runs in the child, so a valid_body() in it is a new body each time).
# Returns one hash per request, in the order started: {status, elapsed, rid, ct, code
# (error.code, or ''), content}; status is 'died' when $request died (content: the error),
# 'none' when the child reported nothing readable.
sub api_burst($n, $request) {
    require POSIX;
    my @kids;
    for my $i (1 .. $n) {
        pipe my $rd, my $wr or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $rd;
            my $r = eval { $request->() } // { status => 'died', elapsed => 0, content => $@ };
            my $e = ref $r->{json} eq 'HASH' ? $r->{json}{error} : undef;
            print {$wr} json_text({ status => $r->{status}, elapsed => $r->{elapsed},
                                    rid => header($r, 'x-request-id') // '', ct => header($r, 'content-type') // '',
                                    code => (ref $e eq 'HASH' ? $e->{code} : undef) // '',
                                    content => $r->{content} // '' });
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [ $pid, $rd ];
    }
    my @got;
    for my $k (@kids) {
        my $fh = $k->[1];
        my $text = do { local $/; <$fh> } // '';
        close $fh;
        waitpid $k->[0], 0;
        push @got, eval { JSON::PP->new->utf8->decode($text) } // { status => 'none', code => '', content => $text };
    }
    return @got;
}

#   my $load = load_start(token => TOKEN, clients => N, seconds => S, prefix => 'unique-tag-',
#                         timeout => 40, idempotency => 0);
# Each client sends valid bodies named PREFIX<client>-<seq> one after the other until S seconds
# have passed (or load_stop), always finishing the request in hand, and logs every answer to a
# file of its own. load_finish($load) waits for the clients and returns one hash per request:
#   {t0, t1 (epoch seconds), status, json (1: a JSON object), code (error.code), id, name
#    (sent), got_name (answered), ctype, content (clipped, non-201 only), client}
sub load_start(%a) {
    require File::Temp;
    require POSIX;
    my $clients = $a{clients} // 8;
    my $dir = File::Temp::tempdir('leadlists-load-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $t_start = Time::HiRes::time();
    my $stop_at = $t_start + ($a{seconds} // 20);
    my @pids;
    for my $c (1 .. $clients) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM);
            my $ok = open my $out, '>', "$dir/client-$c";
            POSIX::_exit(1) if !$ok;
            $out->autoflush(1);
            my $seq = 0;
            while (Time::HiRes::time() < $stop_at && !-e "$dir/stop") {
                my $name = sprintf '%s%02d-%06d', $a{prefix}, $c, ++$seq;
                my $body = valid_body(name => $name);
                my %h;
                $h{'Idempotency-Key'} = $name if $a{idempotency};
                my $t0 = Time::HiRes::time();
                my $r = eval { api(token => $a{token}, body => $body, headers => \%h, timeout => $a{timeout} // 40) }
                  // { status => 'died', content => $@ };
                my $t1 = Time::HiRes::time();
                my $j = ref $r->{json} eq 'HASH' ? $r->{json} : undef;
                my $code = $j && ref $j->{error} eq 'HASH' ? $j->{error}{code} // '' : '';
                my $content = ($r->{status} // '') eq '201' ? '' : _clip(substr($r->{content} // '', 0, 200));
                my @f = (sprintf('%.4f', $t0), sprintf('%.4f', $t1), $r->{status} // '', $j ? 1 : 0,
                         $code, $j && ($r->{status} // '') eq '201' ? $j->{id} // '' : '', $name,
                         $j ? $j->{name} // '' : '', header($r, 'content-type') // '', $content, $c);
                s/[\t\n\r]/ /g for @f;
                print {$out} join("\t", @f), "\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return { dir => $dir, pids => \@pids, started => $t_start, stop_at => $stop_at, clients => $clients };
}

# Asks the clients to stop after the request in hand.
sub load_stop($load) {
    if (open my $fh, '>', "$load->{dir}/stop") {
        close $fh;
    }
    return;
}

sub load_finish($load) {
    waitpid $_, 0 for @{ $load->{pids} };
    $load->{ended} = Time::HiRes::time();
    my @res;
    for my $c (1 .. $load->{clients}) {
        open my $fh, '<', "$load->{dir}/client-$c" or next;
        while (my $line = <$fh>) {
            chomp $line;
            my %r;
            @r{qw(t0 t1 status json code id name got_name ctype content client)} = split /\t/, $line, -1;
            push @res, \%r;
        }
        close $fh;
    }
    return sort { $a->{t0} <=> $b->{t0} } @res;
}

# For a load started with idempotency => 1: sends each request that did not get 201 again,
# with its Idempotency-Key and the same body, until it gets 201 (at most $seconds each). The
# answer tells what the first attempt did: a replay (Idempotent-Replayed: true) means it had
# been committed although its client saw a failure. Each such result gets first_status (the
# original status), settled ('replayed', 'created' or 'failed') and, once 201, the status and
# id of the retry, so that reconcile_ok() can then require an exact match. Returns the
# results that had been committed.
sub load_settle($res, %a) {
    my @committed;
    for my $r (grep { $_->{status} ne '201' } @$res) {
        $r->{first_status} = "$r->{status} $r->{code}";
        $r->{settled} = 'failed';
        my $t0 = Time::HiRes::time();
        while (Time::HiRes::time() - $t0 < ($a{seconds} // 15)) {
            my $x = api(token => $a{token}, body => valid_body(name => $r->{name}),
                        headers => { 'Idempotency-Key' => $r->{name} }, timeout => 40);
            if ($x->{status} == 201 && ref $x->{json} eq 'HASH') {
                $r->{status} = '201';
                $r->{id} = $x->{json}{id} // '';
                $r->{got_name} = $x->{json}{name} // '';
                $r->{settled} = (header($x, 'idempotent-replayed') // '') eq 'true' ? 'replayed' : 'created';
                push @committed, $r if $r->{settled} eq 'replayed';
                last;
            }
            Time::HiRes::sleep(0.2);
        }
    }
    return @committed;
}

# {"201" => n, "503 SERVICE_UNAVAILABLE" => n, "502 non-JSON" => n, ...} for load results.
sub status_counts(@res) {
    my %n;
    for my $r (@res) {
        my $k = $r->{status};
        $k .= $r->{code} ne '' ? " $r->{code}" : $r->{json} ? '' : ' non-JSON' if $k ne '201';
        $n{$k}++;
    }
    return \%n;
}

# Assertions that the rows named PREFIX... are exactly the 201 answers among the load results:
# no duplicate ids, each answer carries the name sent, count(201) == rows, every 201's id is a
# stored row of that name, every stored row had a 201, and nothing is partial (each row has
# its creator as created_by, no leadlist_users row, and person_count matching its person_ids). Returns the number
# of stored rows.
sub reconcile_ok($prefix, $res, $label) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @ok = grep { $_->{status} eq '201' } @$res;
    my %answered;
    my @dup;
    for my $r (@ok) {
        (my $hex = $r->{id}) =~ tr/-//d;
        push @dup, $r->{id} if exists $answered{$hex};
        $answered{$hex} = $r->{name};
    }
    Test::More::is(scalar @dup, 0, "$label: no id answered twice") or Test::More::diag("duplicates: @dup[0 .. ($#dup < 9 ? $#dup : 9)]");
    my @renamed = grep { $_->{got_name} ne $_->{name} || $_->{id} !~ /^[0-9a-f-]{36}$/ } @ok;
    Test::More::is(scalar @renamed, 0, "$label: every 201 carries an id and the name it was sent with")
      or Test::More::diag(scalar(@renamed) . ' do not, e.g. ' . json_text($renamed[0]));
    my @rows = sql('SELECT LOWER(HEX(l.id)), l.name, l.person_count, JSON_LENGTH(l.person_ids), '
                   . '(SELECT COUNT(*) FROM leadlist_users u WHERE u.leadlist_id = l.id), l.created_by '
                   . 'FROM leadlists l WHERE l.name LIKE ' . sql_quote("$prefix%"));
    my %stored = map { $_->[0] => $_ } @rows;
    Test::More::is(scalar @rows, scalar @ok, "$label: count(201) == rows stored (" . scalar(@ok) . ')');
    my @lost = grep { !exists $stored{$_} || $stored{$_}[1] ne $answered{$_} } sort keys %answered;
    Test::More::is(scalar @lost, 0, "$label: every 201's id is a stored row with its name")
      or Test::More::diag(scalar(@lost) . " missing, e.g. $lost[0]");
    my @extra = grep { !exists $answered{ $_->[0] } } @rows;
    if (!Test::More::is(scalar @extra, 0, "$label: every stored row had a 201")) {
        my %by_name = map { $_->{name} => $_ } @$res;
        for my $x (@extra[0 .. ($#extra < 4 ? $#extra : 4)]) {
            my $r = $by_name{ $x->[1] };
            Test::More::diag("stored without a 201: $x->[1] (id $x->[0]); its answer: "
                             . ($r ? "$r->{status} $r->{code} after " . sprintf('%.3f s', $r->{t1} - $r->{t0}) : 'none recorded'));
        }
    }
    my @partial = grep { $_->[4] != 0 || ($_->[5] // '') eq '' || $_->[2] != 2 || ($_->[3] // -1) != 2 } @rows;
    Test::More::is(scalar @partial, 0, "$label: no partial list (each row has its creator and its 2 person ids)")
      or Test::More::diag('e.g. ' . join(' ', map { $_ // 'NULL' } @{ $partial[0] }));
    return scalar @rows;
}

# --- the family: reading and changing lists (t/41 and later) ---
#
# Helpers for the tests of the operations on one list and of the list endpoint; nothing above
# changes. The first part asserts nothing: a test says what a failure means. The fixtures,
# create_list and share_list, die with the request and its answer when the stack refuses
# them, since a test cannot go on without its lists. The assertions (the names ending in _ok)
# come last, each saying how many tests it adds.

push @EXPORT, qw(
  family_cast create_list share_list get_list change_list etag_of etag_version raw_read
  list_page all_pages page_item list_row list_row_counts family_counts list_state comparable
  hex_of random_uuid error_message detail_message answer_without_rid clip race
  create_list_ok share_list_ok list_unchanged_ok refused_ok account_ok
);

# family_cast($file): the callers most family tests need, in two orgs of the run's own ($file
# names the test file in the ids, e.g. 't43'; the ids also carry tag, the pid and the time):
#   { tag => '<pid>_<time % 100000>', orgA, orgB, creator, sharee (user ids),
#     tok => { creator, sharee, outsider, admin (sessions of orgA: the list's creator, a user
#              a test shares it with, one it does not, an admin), other_member (the creator's
#              own user id in orgB: the id matches, the org does not), other_admin (an admin
#              of orgB, with the user id of orgA's admin) } }
sub family_cast($file) {
    my $tag = $$ . '_' . time % 100000;
    my %c = (tag => $tag, orgA => "org_${file}a_$tag", orgB => "org_${file}b_$tag",
             creator => "user_${file}_creator_$tag", sharee => "user_${file}_sharee_$tag");
    my $admin = "user_${file}_admin_$tag";
    $c{tok} = {
        creator      => mint_session(user => $c{creator}, org => $c{orgA}),
        sharee       => mint_session(user => $c{sharee}, org => $c{orgA}),
        outsider     => mint_session(user => "user_${file}_outsider_$tag", org => $c{orgA}),
        admin        => mint_session(user => $admin, org => $c{orgA}, role => 'admin'),
        other_member => mint_session(user => $c{creator}, org => $c{orgB}),
        other_admin  => mint_session(user => $admin, org => $c{orgB}, role => 'admin'),
    };
    return \%c;
}

my %CREATED_BY;    # list id in hex => the session that created it (create_list*)

# create_list(token => TOKEN, %body_overrides): POSTs valid_body(%body_overrides) (OMIT removes
# a field) and returns the 201 body as a hash.
sub create_list(%a) {
    my $token = delete $a{token} // die "create_list: no token\n";
    my $r = api(token => $token, body => valid_body(%a));
    die 'create_list: ' . describe($r) . "\n" if ($r->{status} // 0) != 201 || ref $r->{json} ne 'HASH';
    my $hex = _list_hex($r->{json}{id});
    $CREATED_BY{$hex} = $token if defined $hex;
    return $r->{json};
}

# share_list($token, $id, @user_ids): POST .../{id}/add-users; returns the 200 body.
sub share_list($token, $id, @users) {
    my $r = api(path => ROUTE . "/$id/add-users", token => $token, body => { userIds => \@users });
    die 'share_list: ' . describe($r) . "\n" if ($r->{status} // 0) != 200 || ref $r->{json} ne 'HASH';
    return $r->{json};
}

# get_list($token, $id, %headers): GET /api/v1/entities/leadlists/{id}; api()'s answer.
sub get_list($token, $id, %headers) {
    return api(method => 'GET', path => ROUTE . "/$id", token => $token, headers => \%headers);
}

# change_list($method, $path, $body, token => TOKEN, if_match => TAG, content_type => CT,
# headers => {...}): one request that changes a list ($body undef: none; token undef: no
# session), api()'s answer. It waits 3 ms first, so that a real change's updatedAt
# (milliseconds) is never that of the change before it.
sub change_list($method, $path, $body, %a) {
    Time::HiRes::sleep(0.003);
    my %h = %{ $a{headers} // {} };
    $h{'If-Match'} = $a{if_match} if defined $a{if_match};
    return api(method => $method, path => $path, token => $a{token}, headers => \%h,
               defined $body ? (body => $body) : (), exists $a{content_type} ? (content_type => $a{content_type}) : ());
}

# The ETag header of an answer, or undef.
sub etag_of($r) { return header($r, 'etag') }

# The version the ETag of an answer names ('"7"' -> 7), or undef.
sub etag_version($r) { return (header($r, 'etag') // '') =~ /^"(\d+)"$/ ? $1 + 0 : undef }

# raw_read(method => 'HEAD', path => PATH, token => TOKEN, headers => ['Name: value', ...],
# body => BYTES): a request written by hand with Connection: close, so that the answer's bytes
# are all read whatever its headers say: {content} is '' only when no body came (HTTP::Tiny
# does not read a body after HEAD or 304). A body goes with its Content-Length and no
# Content-Type but one in headers. The shape of raw_request().
sub raw_read(%a) {
    my ($hostport) = $ENV{LEADLISTS_URL} =~ m{^https?://([^/]+)};
    my $req = sprintf "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", $a{method} // 'GET',
      $a{path} // ROUTE, $hostport;
    $req .= "Authorization: Bearer $a{token}\r\n" if defined $a{token};
    $req .= "$_\r\n" for @{ $a{headers} // [] };
    $req .= 'Content-Length: ' . length($a{body}) . "\r\n" if defined $a{body};
    return raw_request("$req\r\n" . ($a{body} // ''), %a);
}

# list_page($token, %query): GET of the list endpoint with the query (names sorted, values
# percent-escaped); api()'s answer.
sub list_page($token, %q) {
    my $esc = sub ($s) { $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ger };
    my $qs = join '&', map { $esc->($_) . '=' . $esc->($q{$_}) } sort keys %q;
    return api(method => 'GET', path => ROUTE . ($qs eq '' ? '' : "?$qs"), token => $token);
}

# all_pages($token, %query): walks every page from the first (query as list_page, cursor
# added) and returns the items of all pages in order; in scalar context, how many pages.
# Dies on an answer other than 200 {"leadlists": [...], "nextCursor": ...} or after 1000 pages.
sub all_pages($token, %q) {
    my @items;
    my $pages = 1;
    while (1) {
        my $r = list_page($token, %q);
        my $j = $r->{json};
        die 'all_pages: ' . describe($r) . "\n"
          if ($r->{status} // 0) != 200 || ref $j ne 'HASH' || ref $j->{leadlists} ne 'ARRAY';
        push @items, @{ $j->{leadlists} };
        last if !defined $j->{nextCursor};
        die "all_pages: more than 1000 pages\n" if ++$pages > 1000;
        $q{cursor} = $j->{nextCursor};
    }
    return wantarray ? @items : $pages;
}

# The page item the list endpoint shows for the list object $l (a 201 or GET body): personIds
# and companyIds replaced by their counts.
sub page_item($l) {
    my %i = %$l;
    $i{personCount}  = scalar @{ delete $i{personIds}  // [] };
    $i{companyCount} = scalar @{ delete $i{companyIds} // [] };
    return \%i;
}

# The id without its dashes, as the tables' UNHEX() wants it.
sub hex_of($id) { return $id =~ tr/-//dr }

sub _list_hex($id) {
    (my $hex = lc($id // '')) =~ tr/-//d;
    return $hex =~ /^[0-9a-f]{32}$/ ? $hex : undef;
}

my %LIST_COLUMN = (icp_id => 'LOWER(HEX(icp_id))', company_ids => 'LOWER(HEX(company_ids))',
                   map { $_ => "DATE_FORMAT($_, '%Y-%m-%d %H:%i:%s.%f')" } qw(start_date end_date created_at updated_at));
my @LIST_COLUMNS = qw(org_id created_by icp_id name type start_date end_date person_count person_ids
                      company_count company_ids created_at updated_at version shared_with);

sub _list_columns($hex) {
    my ($row) = sql('SELECT ' . join(', ', map { $LIST_COLUMN{$_} // $_ } @LIST_COLUMNS)
                    . " FROM leadlists WHERE id = UNHEX('$hex')");
    return undef if !$row;
    my %l = (id => $hex);
    @l{@LIST_COLUMNS} = @$row;
    return \%l;
}

sub _list_users($hex) {
    return [ sql("SELECT position, user_id, org_id, type, DATE_FORMAT(granted_at, '%Y-%m-%d %H:%i:%s.%f')"
                 . " FROM leadlist_users WHERE leadlist_id = UNHEX('$hex') ORDER BY user_id") ];
}

sub _list_changes($hex) {
    return [ sql("SELECT version, HEX(change_id), DATE_FORMAT(changed_at, '%Y-%m-%d %H:%i:%s.%f')"
                 . " FROM leadlist_changes WHERE leadlist_id = UNHEX('$hex') ORDER BY version") ];
}

# The stored list with id $id (either case) as a hash of strings read with sql(), for
# before/after comparisons: its columns (name and person_ids as stored bytes, icp_id and
# company_ids as lower-case hex, times as 'YYYY-MM-DD HH:MM:SS.ffffff'), users => [[position,
# user_id, org_id, type, granted_at], ...] and changes => [[version, change_id (hex),
# changed_at], ...] (its leadlist_changes rows). undef when no row.
sub list_row($id) {
    my $hex = _list_hex($id) // return undef;
    my $l = _list_columns($hex) // return undef;
    $l->{users} = _list_users($hex);
    $l->{changes} = _list_changes($hex);
    return $l;
}

# Rows stored for the list $id, wherever they are: {leadlists, leadlist_users,
# leadlist_changes} (numbers).
sub list_row_counts($id) {
    my $h = _list_hex($id) // die "list_row_counts: '$id' is not a list id\n";
    my ($r) = sql("SELECT (SELECT COUNT(*) FROM leadlists WHERE id = UNHEX('$h')),"
                  . " (SELECT COUNT(*) FROM leadlist_users WHERE leadlist_id = UNHEX('$h')),"
                  . " (SELECT COUNT(*) FROM leadlist_changes WHERE leadlist_id = UNHEX('$h'))");
    return { leadlists => $r->[0] + 0, leadlist_users => $r->[1] + 0, leadlist_changes => $r->[2] + 0 };
}

# Row counts of the three tables the family writes: {leadlists, leadlist_users, leadlist_changes}.
sub family_counts() {
    my ($r) = sql('SELECT (SELECT COUNT(*) FROM leadlists), (SELECT COUNT(*) FROM leadlist_users),'
                  . ' (SELECT COUNT(*) FROM leadlist_changes)');
    return { leadlists => $r->[0] + 0, leadlist_users => $r->[1] + 0, leadlist_changes => $r->[2] + 0 };
}

my %READER;    # org id => a session of an admin of that org, for list_state

# list_state($id): everything stored about one list and what GET answers for it, for
# before/after comparisons:
#   { row => its columns as list_row() gives them, without users and changes (undef: no row),
#     users => its leadlist_users rows, changes => its leadlist_changes rows (as list_row()'s,
#              read whether or not the row is there),
#     get => {status, etag, content} of a GET by the session that created the list (through
#            create_list or create_list_ok), else by an admin of the list's org,
#     version => the stored version (a number; undef without a row), json => the GET's body }
# comparable() keeps of it what must not change.
sub list_state($id) {
    my $hex = _list_hex($id) // die "list_state: '$id' is not a list id\n";
    my $row = _list_columns($hex);
    my $org = $row ? $row->{org_id} : 'org_itest_no_list';
    my $token = $CREATED_BY{$hex}
      // ($READER{$org} //= mint_session(user => 'user_itest_reader', org => $org, role => 'admin'));
    my $g = get_list($token, $id);
    return { row => $row, users => _list_users($hex), changes => _list_changes($hex),
             get => { status => $g->{status}, etag => etag_of($g), content => $g->{content} },
             version => $row ? $row->{version} + 0 : undef, json => $g->{json} };
}

# What of a list_state() must not change when nothing is written: the row, its users, its
# change records and the GET answer; a value longer than 2,000 bytes (a long member array, a
# long GET body) by its SHA-256 and length, so that a difference stays readable.
sub comparable($s) {
    my $short = sub ($v) {
        return defined $v && length $v > 2000 ? 'sha256 ' . sha256_hex($v) . ' of ' . length($v) . ' bytes' : $v;
    };
    my $row = $s->{row} ? { map { $_ => $short->($s->{row}{$_}) } keys %{ $s->{row} } } : undef;
    my %get = %{ $s->{get} };
    $get{content} = $short->($get{content});
    return { row => $row, users => $s->{users}, changes => $s->{changes}, get => \%get };
}

# A random UUID of the form the service gives (version 7, the RFC 9562 variant), lower case:
# an id that names no list.
sub random_uuid() {
    my $h = join '', map { sprintf '%04x', int rand 65536 } 1 .. 8;
    substr($h, 12, 1) = '7';
    substr($h, 16, 1) = (qw(8 9 a b))[ int rand 4 ];
    return join '-', unpack 'A8 A4 A4 A4 A12', $h;
}

# error.message of an answer, or undef.
sub error_message($r) {
    return ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{message} : undef;
}

# The message of the error.details entry for $field (exactly that field), or undef.
sub detail_message($r, $field) {
    my $d = ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{details} : undef;
    for my $x (ref $d eq 'ARRAY' ? @$d : ()) {
        return $x->{message} if ref $x eq 'HASH' && ($x->{field} // '') eq $field;
    }
    return undef;
}

# An answer with what differs between two identical answers taken out: {status, headers
# (but Date and X-Request-Id), body (the request id in it replaced by RID)}. Two refusals that
# must not be told apart compare equal this way.
sub answer_without_rid($r) {
    my $rid = header($r, 'x-request-id') // '';
    my $body = $r->{content} // '';
    $body =~ s/\Q$rid\E/RID/g if $rid ne '';
    my %h = map { my $v = $r->{headers}{$_}; ($_ => ref $v ? join("\n", @$v) : $v) }
      grep { !/^(date|x-request-id)$/ } keys %{ $r->{headers} // {} };
    return { status => $r->{status}, headers => \%h, body => $body };
}

# $s cut to $max characters for a test name or a diagnostic, saying how long it was.
sub clip($s, $max = 300) {
    return length $s > $max ? substr($s, 0, $max) . '...(' . length($s) . ' characters)' : $s;
}

# race(@requests): each request (a sub returning an api() answer, or {run => SUB, delay =>
# SECONDS}) in a process of its own, all released at once; a delay waits that long after the
# release. Returns the answers in order, each as api()'s (status, reason, headers, content,
# json, elapsed, request) with t0 and t1 (epoch seconds around the call), etag and ct (the
# ETag and Content-Type headers, '' when none); status 'died' when the sub died (content: the
# error), 'none' when its process reported nothing readable.
sub race(@reqs) {
    require POSIX;
    pipe my $go_r, my $go_w or die "pipe: $!";
    my @kids;
    for my $q (@reqs) {
        my %q = ref $q eq 'CODE' ? (run => $q) : %$q;
        pipe my $rd, my $wr or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $go_w;
            close $rd;
            sysread $go_r, my $start, 1;    # 0 at EOF: the release
            Time::HiRes::sleep($q{delay}) if $q{delay};
            my $t0 = Time::HiRes::time();
            my $r = eval { $q{run}->() } // { status => 'died', content => "$@", headers => {}, elapsed => 0 };
            my $t1 = Time::HiRes::time();
            print {$wr} json_text({ (map { $_ => $r->{$_} } qw(status reason headers content elapsed request)),
                                    t0 => $t0, t1 => $t1 });
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
        my $text = do { local $/; <$fh> } // '';
        close $fh;
        waitpid $k->[0], 0;
        my $r = _decode($text) // { status => 'none', headers => {}, content => $text, elapsed => 0 };
        $r->{json} = _decode($r->{content});
        $r->{etag} = header($r, 'etag') // '';
        $r->{ct}   = header($r, 'content-type') // '';
        push @got, $r;
    }
    return @got;
}

# create_list_ok($token, $user, $name, %body_overrides): one assertion, created_ok() of the POST
# of valid_body(%body_overrides) with $token, $user the user it must name in userIds (undef:
# not checked). Returns the 201 body (in list context, also the answer); dies when no list
# came back, since a test cannot go on without it.
sub create_list_ok($token, $user, $name, %body) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = api(token => $token, body => valid_body(%body));
    my $b = created_ok($r, $user, $name);
    die "$name: no list\n" if ref $b ne 'HASH' || !defined $b->{id};
    my $hex = _list_hex($b->{id});
    $CREATED_BY{$hex} = $token if defined $hex;
    return wantarray ? ($b, $r) : $b;
}

# share_list_ok($token, $id, $name, @user_ids): one assertion, that POST .../{id}/add-users of
# @user_ids with $token answers 200. Returns the answer.
sub share_list_ok($token, $id, $name, @users) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = api(path => ROUTE . "/$id/add-users", token => $token, body => { userIds => \@users });
    Test::More::is($r->{status}, 200, $name) or Test::More::diag(describe($r));
    return $r;
}

# list_unchanged_ok($id, $before, $name): one assertion, that the list_state() of $id is
# $before in everything comparable() keeps.
sub list_unchanged_ok($id, $before, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::is_deeply(comparable(list_state($id)), comparable($before), $name);
}

# refused_ok($id, $before, $r, $status, $code, $name, %opt): $r, a request on the list $id
# whose list_state() was $before, is refused and wrote nothing:
#   error_ok($r, $status, $code) (one test); for each of details => [FIELD or qr//, ...] a
#   has_detail() (one each); only => [FIELD, ...]: the details name exactly those fields, in
#   any order (one); detail_message => {FIELD => qr//}: that detail's message matches (one
#   each); message => TEXT: error.message is TEXT (one); a 412 carries the current ETag (one);
#   and list_unchanged_ok() (one).
sub refused_ok($id, $before, $r, $status, $code, $name, %o) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    error_ok($r, $status, $code, $name);
    has_detail($r, $_, $name) for @{ $o{details} // [] };
    Test::More::is_deeply([ sort(detail_fields($r)) ], [ sort @{ $o{only} } ], "$name: details name exactly @{ $o{only} }")
      if $o{only};
    for my $f (sort keys %{ $o{detail_message} // {} }) {
        my $m = $o{detail_message}{$f};
        Test::More::like(detail_message($r, $f) // '', $m, "$name: the $f detail says $m");
    }
    Test::More::is(error_message($r), $o{message}, "$name: message '$o{message}'") if defined $o{message};
    Test::More::is(etag_of($r), $before->{get}{etag}, "$name: the current ETag in the answer") if $status == 412;
    return list_unchanged_ok($id, $before, "$name: nothing written, GET unchanged");
}

# account_ok($id, $before, $r, $op, [\@done, \@other], \@now, $name): one assertion, that $r is
# the 200 of $op ('add-members', 'remove-members', 'add-users' or 'remove-users') on the list
# $id, whose list_state() was $before: the account exactly, keys in order (@done: the ids added
# or removed; @other: those already present, or not present), the ETag, and the list read
# back, @now being its members (personIds or companyIds, as its type says) or its userIds (the
# creator first, then the others as its leadlist_users rows, in that order, of the list's org);
# when @done is not empty the version one more, updatedAt later, one change record more and
# every other field as before, else nothing stored changed. Returns the list_state() after.
sub account_ok($id, $before, $r, $op, $want, $now, $name) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($verb, $what) = $op =~ /^(add|remove)-(members|users)\z/ or die "account_ok: no operation '$op'\n";
    my $users = $what eq 'users';
    my @why;
    push @why, "status $r->{status}, want 200" if ($r->{status} // 0) != 200;
    push @why, 'Content-Type ' . (header($r, 'content-type') // 'none')
      if (header($r, 'content-type') // '') ne 'application/json; charset=utf-8';
    my ($did, $other) = $verb eq 'add' ? qw(added alreadyPresent) : qw(removed notPresent);
    my $keys_want = $users ? "id $did $other userIds updatedAt" : "id type $did $other memberCount updatedAt";
    my @keys = top_level_keys($r->{content} // '');
    push @why, "keys [@keys], want [$keys_want]" if "@keys" ne $keys_want;
    my $b = ref $r->{json} eq 'HASH' ? $r->{json} : {};
    my $type = $before->{json}{type} // '';
    my %w = (id => $id, $did => $want->[0], $other => $want->[1],
             $users ? (userIds => $now) : (type => $type, memberCount => scalar @$now));
    for my $k (sort keys %w) {
        push @why, "$k is " . json_text([ $b->{$k} ]) . ', want ' . json_text([ $w{$k} ])
          if json_text([ $b->{$k} ]) ne json_text([ $w{$k} ]);
    }
    push @why, 'memberCount is not a JSON number' if !$users && ($r->{content} // '') !~ /"memberCount":\d+[,}]/;
    my $changed = @{ $want->[0] } > 0;
    my $v = $before->{version} + ($changed ? 1 : 0);
    push @why, 'ETag ' . (etag_of($r) // 'none') . ", want \"$v\"" if (etag_of($r) // '') ne "\"$v\"";
    my $after = list_state($id);
    my $field = $users ? 'userIds' : $type eq 'company' ? 'companyIds' : 'personIds';
    push @why, "GET answers $field " . json_text($after->{json}{$field}) . ', want ' . json_text($now)
      if json_text($after->{json}{$field} // []) ne json_text($now);
    push @why, 'GET answers ETag ' . ($after->{get}{etag} // 'none') if ($after->{get}{etag} // '') ne "\"$v\"";
    push @why, 'updatedAt ' . ($b->{updatedAt} // 'none') . " differs from GET's " . ($after->{json}{updatedAt} // 'none')
      if ($b->{updatedAt} // '') ne ($after->{json}{updatedAt} // 'x');
    my %row = %{ $after->{row} // {} };
    if ($users) {
        # The order of userIds is the row's shared_with; leadlist_users is the index of the
        # lists shared with a user: one row for each of them, whatever its position.
        my @rows = sort map { $_->[1] } @{ $after->{users} };
        my @shared = sort @$now[1 .. $#$now];
        push @why, "leadlist_users rows [@rows], want [@shared]" if "@rows" ne "@shared";
        my $in_row = eval { JSON::PP->new->utf8->decode($row{shared_with} // 'null') };
        push @why, 'shared_with ' . ($row{shared_with} // 'none') . ', want ' . json_text([ @$now[1 .. $#$now] ])
          if json_text($in_row // 'none') ne json_text([ @$now[1 .. $#$now] ]);
        my $org = ($before->{row} // {})->{org_id} // '';
        push @why, 'the list moved to org ' . ($row{org_id} // 'none') if ($row{org_id} // '') ne $org;
        push @why, 'a row of another org or type' if grep { $_->[2] ne $org || $_->[3] ne 'person' } @{ $after->{users} };
        push @why, 'created_by ' . ($row{created_by} // 'none') if ($row{created_by} // '') ne ($now->[0] // '');
    }
    if ($changed) {
        my ($was, $at) = (iso_ms($before->{json}{updatedAt}), iso_ms($b->{updatedAt}));
        push @why, 'updatedAt ' . ($b->{updatedAt} // 'none') . ' is not after ' . ($before->{json}{updatedAt} // 'none')
          if !defined $at || !defined $was || $at <= $was;
        push @why, 'stored version ' . ($after->{version} // 'none') . ", want $v" if ($after->{version} // 0) != $v;
        push @why, 'change records ' . @{ $after->{changes} } . ', want ' . (@{ $before->{changes} } + 1)
          if @{ $after->{changes} } != @{ $before->{changes} } + 1;
        if (!$users) {
            my $count = $row{ $type eq 'company' ? 'company_count' : 'person_count' };
            push @why, 'stored count ' . ($count // 'none') . ', want ' . @$now if ($count // -1) != @$now;
        }
        for my $k (grep { $_ ne $field && $_ ne 'updatedAt' } sort keys %{ $before->{json} }) {
            push @why, "$k changed" if json_text([ $before->{json}{$k} ]) ne json_text([ $after->{json}{$k} ]);
        }
    } else {
        push @why, 'something stored changed' if json_text(comparable($after)) ne json_text(comparable($before));
    }
    my $ok = Test::More::ok(!@why, "$name: 200, $did " . @{ $want->[0] } . ", $other " . @{ $want->[1] } . ', '
                                   . ($users ? @$now . ' users' : 'memberCount ' . @$now)
                                   . ($changed ? ", version $v" : ', nothing changed'));
    Test::More::diag(join("\n", map { clip($_, 400) } @why) . "\n" . describe($r)) if !$ok;
    return $after;
}

1;
