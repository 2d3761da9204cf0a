#!/usr/bin/env bash
# Measures the two ways of storing a lead list's members, on a private throwaway MariaDB:
#
#   A   the compact layout of sql/001_initial.sql: the person ids are a JSON array in the
#       list row (person_ids MEDIUMTEXT); a create is one INSERT and a COMMIT.
#   B1  a member table, leadlist_persons (leadlist_id, position, person_id), one row per id:
#       the list row, then multi-row INSERTs of 1000 members each, then COMMIT.
#   B2  the same table written with one INSERT per member (list sizes up to 100 only).
#
# For list sizes 1, 10, 100, 1000 and 10000 it times N create transactions from one client
# and from 8 concurrent clients, and reads the space taken per list from
# information_schema (data_length + index_length, after ANALYZE TABLE). Person ids are
# 21 characters ("lead_" and 16 hex digits). Commits are durable
# (innodb_flush_log_at_trx_commit=1). Each client is the mariadb command-line client
# sending SQL text with autocommit off and an explicit COMMIT; the service does the same
# with prepared statements.
#
# Each row of the table is the median of 3 runs of about 1.5 seconds. The CPU taken by other
# processes during a run is shown (others%); on a shared machine, runs disturbed by more
# than 10% are redone, within a time budget.
#
# usage: bench/members-layout.sh [--quick]
#   --quick   a few seconds in all (sizes 1 and 1000, a handful of transactions), so the
#             test suite can check that the script still runs; its numbers mean little.
#
# The server listens on a Unix socket in a mktemp -d directory only (--skip-networking),
# is stopped by its PID, and the directory is removed on exit.
set -eu

quick=no
case "${1:-}" in
'') ;;
--quick) quick=yes ;;
*)
    echo "usage: $0 [--quick]" >&2
    exit 2
    ;;
esac

for prog in mariadb-install-db mariadbd mariadb mariadb-admin perl; do
    command -v "$prog" >/dev/null || {
        echo "error: $prog not found (install mariadb-server, mariadb-client, perl)" >&2
        exit 1
    }
done

# The socket path must fit sun_path, so the directory goes under /tmp whatever TMPDIR says.
work=$(mktemp -d /tmp/members-layout.XXXXXX)
sock=$work/mysqld.sock
pid=

cleanup() {
    local i
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 600; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
trap 'exit 141' PIPE

die() {
    printf 'error: %s\n' "$*" >&2
    if [ -r "$work/mysqld.err" ]; then
        echo "--- last lines of the server log ---" >&2
        tail -n 20 "$work/mysqld.err" >&2
    fi
    exit 1
}

root_opt=()
if [ "$(id -u)" -eq 0 ]; then root_opt=(--user=root); fi
dbuser=$(id -un)

db() {
    mariadb --no-defaults --protocol=socket "--socket=$sock" "--user=$dbuser" "$@"
}

# --- the server ----------------------------------------------------------------------------

mariadb-install-db --no-defaults "--datadir=$work/data" --auth-root-authentication-method=socket \
    --skip-test-db "${root_opt[@]}" >"$work/install-db.log" 2>&1 ||
    {
        tail -n 20 "$work/install-db.log" >&2
        die "mariadb-install-db failed"
    }

mariadbd --no-defaults "--datadir=$work/data" "--socket=$sock" "--pid-file=$work/mysqld.pid" \
    "--log-error=$work/mysqld.err" --skip-networking --innodb-flush-log-at-trx-commit=1 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
    --sql-mode=STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION \
    "${root_opt[@]}" >"$work/mysqld.out" 2>&1 &
pid=$!

for ((i = 0; ; i++)); do
    mariadb-admin --no-defaults --protocol=socket "--socket=$sock" "--user=$dbuser" \
        --connect-timeout=1 ping >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || die "mariadbd exited during start-up"
    [ "$i" -lt 600 ] || die "mariadbd did not answer within 60s"
    sleep 0.1
done

# --- the schemas ---------------------------------------------------------------------------

db <<'SQL'
CREATE DATABASE bench_a;
CREATE TABLE bench_a.leadlists (
    id             BINARY(16)                 NOT NULL,
    org_id         VARCHAR(64)                NOT NULL,
    created_by     VARCHAR(64)                NOT NULL,
    icp_id         BINARY(16)                 NULL,
    name           VARCHAR(255)               NOT NULL,
    type           ENUM('person', 'company')  NOT NULL,
    start_date     DATETIME(3)                NOT NULL,
    end_date       DATETIME(3)                NOT NULL,
    person_count   INT UNSIGNED               NOT NULL,
    person_ids     MEDIUMTEXT                 NOT NULL,
    company_count  INT UNSIGNED               NOT NULL,
    company_ids    MEDIUMBLOB                 NOT NULL,
    created_at     DATETIME(3)                NOT NULL,
    updated_at     DATETIME(3)                NOT NULL,
    PRIMARY KEY (id),
    KEY leadlists_org_created (org_id, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE DATABASE bench_b;
CREATE TABLE bench_b.leadlists (
    id             BINARY(16)                 NOT NULL,
    org_id         VARCHAR(64)                NOT NULL,
    created_by     VARCHAR(64)                NOT NULL,
    icp_id         BINARY(16)                 NULL,
    name           VARCHAR(255)               NOT NULL,
    type           ENUM('person', 'company')  NOT NULL,
    start_date     DATETIME(3)                NOT NULL,
    end_date       DATETIME(3)                NOT NULL,
    person_count   INT UNSIGNED               NOT NULL,
    company_count  INT UNSIGNED               NOT NULL,
    created_at     DATETIME(3)                NOT NULL,
    updated_at     DATETIME(3)                NOT NULL,
    PRIMARY KEY (id),
    KEY leadlists_org_created (org_id, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE bench_b.leadlist_persons (
    leadlist_id  BINARY(16)    NOT NULL,
    position     INT UNSIGNED  NOT NULL,
    person_id    VARCHAR(64)   NOT NULL,
    PRIMARY KEY (leadlist_id, position)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
SQL

# --- the workload --------------------------------------------------------------------------

# The generator of the SQL of COUNT create transactions for one client, to stdout:
#   perl gen.pl LAYOUT SIZE COUNT CLIENT CLIENTS
# List ids ascend like UUIDv7s and are unique across the CLIENTS clients of one run.
cat >"$work/gen.pl" <<'PERL'
use strict;
use warnings;
my ($layout, $size, $count, $client, $clients) = @ARGV;
my $cols = 'id, org_id, created_by, icp_id, name, type, start_date, end_date, person_count';
my $common = q{'org_1', 'user_1', NULL, 'Bench list', 'person', '2024-01-01 00:00:00.000', }
    . q{'2024-12-31 00:00:00.000'};
my $batch = $layout eq 'b1' ? 1000 : 1;
print "SET autocommit = 0;\n";
for my $t (0 .. $count - 1) {
    my $n = $t * $clients + $client + 1;
    my $id = sprintf("X'0190%028x'", $n);
    my @ids = map { sprintf('lead_%08x%08x', $n, $_) } 0 .. $size - 1;
    if ($layout eq 'a') {
        my $json = '[' . join(',', map {qq{"$_"}} @ids) . ']';
        print "INSERT INTO leadlists ($cols, person_ids, company_count, company_ids, created_at,",
            " updated_at) VALUES ($id, $common, $size, '$json', 0, '', UTC_TIMESTAMP(3),",
            " UTC_TIMESTAMP(3));\n";
    } else {
        print "INSERT INTO leadlists ($cols, company_count, created_at, updated_at)",
            " VALUES ($id, $common, $size, 0, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3));\n";
        for (my $i = 0; $i < $size; $i += $batch) {
            my $end = $i + $batch < $size ? $i + $batch : $size;
            print 'INSERT INTO leadlist_persons (leadlist_id, position, person_id) VALUES ',
                join(',', map {"($id,$_,'$ids[$_]')"} $i .. $end - 1), ";\n";
        }
    }
    print "COMMIT;\n";
}
PERL

gen() { perl "$work/gen.pl" "$@"; }

schema_of() { case "$1" in a) echo bench_a ;; *) echo bench_b ;; esac; }
tables_of() { case "$1" in a) echo leadlists ;; *) echo leadlists leadlist_persons ;; esac; }

hz=$(getconf CLK_TCK)
ncpu=$(nproc)

# User + system CPU seconds the server has used so far (threads included).
server_cpu() {
    awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz }' "/proc/$pid/stat"
}

# The script's process group: the server and the clients are in it.
pgrp=$(awk '{ sub(/^.*\) /, ""); print $3 }' /proc/$$/stat)

# Writes "pid cpu-ticks" for every process outside that group that is not a kernel thread,
# counting the CPU of the children it has reaped.
others_snapshot() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v me="$pgrp" '
        { pid = $1; sub(/^.*\) /, "")
          if (pid != 2 && $2 != 2 && $3 != me) print pid, $12 + $13 + $14 + $15 }' >"$1"
}

now() { date +%s.%N; }

# Writes the SQL of COUNT create transactions (rounded up to a multiple of CLIENTS) into
# $work/load.N.sql, one file per client, and sets count to the number written.
#   prepare LAYOUT SIZE COUNT CLIENTS
prepare() {
    local layout=$1 size=$2 clients=$4 per c
    per=$((($3 + clients - 1) / clients))
    rm -f "$work"/load.*.sql
    for ((c = 0; c < clients; c++)); do
        gen "$layout" "$size" "$per" "$c" "$clients" >"$work/load.$c.sql"
    done
    count=$((per * clients))
}

# Empties the layout's tables, runs the prepared files with one client each, and sets secs
# (wall time), cpu (server CPU seconds) and others (the share of the machine's CPU taken
# by other processes, kernel threads aside, in percent: other work disturbing the run).
#   run LAYOUT CLIENTS
run() {
    local layout=$1 clients=$2 schema c t t0 t1 cpu0 cpu1
    local pids=()
    schema=$(schema_of "$layout")
    for t in $(tables_of "$layout"); do db -D "$schema" -e "TRUNCATE TABLE $t"; done
    # Let the truncation's own I/O settle so it is not charged to the run.
    sleep "$settle"
    others_snapshot "$work/others.0"
    cpu0=$(server_cpu)
    t0=$(now)
    for ((c = 0; c < clients; c++)); do
        db -D "$schema" <"$work/load.$c.sql" &
        pids+=($!)
    done
    for c in "${pids[@]}"; do wait "$c" || die "a client failed ($layout, $clients clients)"; done
    t1=$(now)
    cpu1=$(server_cpu)
    others_snapshot "$work/others.1"
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.3f", b - a }')
    # Processes that started during the run count in full; those that ended uncounted
    # (unless reaped by a process still there) are missed.
    others=$(awk -v hz="$hz" -v s="$secs" -v n="$ncpu" '
        FNR == NR { before[$1] = $2; next }
        { o += $2 - before[$1] }
        END { o = 100 * o / hz / (s * n); if (o > 100) o = 100; printf "%.0f", o }' \
        "$work/others.0" "$work/others.1")
}

# Measures one layout, list size and number of clients, and prints a row of the table.
# The full run first times a pilot of PILOT transactions, then prepares as many as fill
# about $target seconds (within PILOT and the caps) and runs them $reps times, reporting
# the run with the median wall time; --quick runs PILOT transactions once.
#   measure LAYOUT SIZE PILOT CLIENTS
measure() {
    local layout=$1 size=$2 pilot=$3 clients=$4 schema bytes max want r t runs=()
    schema=$(schema_of "$layout")
    prepare "$layout" "$size" "$pilot" "$clients"
    if [ "$quick" = no ]; then
        max=$((max_members / size < max_tx ? max_members / size : max_tx))
        # A pilot that took under a third of the target is too short to scale from: redo it
        # (up to twice) with what it suggests.
        for ((r = 0; r < 3; r++)); do
            run "$layout" "$clients"
            want=$(awk -v n="$count" -v s="$secs" -v t="$target" -v lo="$pilot" -v hi="$max" \
                'BEGIN { c = int(n * t / s); if (c < lo) c = lo; if (c > hi) c = hi; print c }')
            prepare "$layout" "$size" "$want" "$clients"
            awk -v s="$secs" -v t="$target" 'BEGIN { exit !(s < t / 3) }' || break
        done
    fi
    # A run during which other work took more than $max_others% of the CPU is redone (full
    # run only, at most $reps extra times, and only in the first $retry_budget seconds of
    # the script); if that does not give $reps quiet runs, the median is taken over all of
    # them and its others% shows it.
    local quiet=() all=()
    for ((r = 0; r < 2 * reps && ${#quiet[@]} < reps; r++)); do
        if [ "$r" -ge "$reps" ] && { [ "$quick" = yes ] || [ "$SECONDS" -ge "$retry_budget" ]; }; then
            break
        fi
        run "$layout" "$clients"
        for t in $(tables_of "$layout"); do db -D "$schema" -N -e "ANALYZE TABLE $t" >/dev/null; done
        bytes=$(db -N -e "SELECT SUM(data_length + index_length) FROM information_schema.tables
            WHERE table_schema = '$schema'")
        all+=("$secs $cpu $bytes $others")
        if [ "$others" -le "$max_others" ]; then quiet+=("$secs $cpu $bytes $others"); fi
    done
    if [ "${#quiet[@]}" -ge "$reps" ]; then runs=("${quiet[@]}"); else runs=("${all[@]}"); fi
    rm -f "$work"/load.*.sql
    printf '%s\n' "${runs[@]}" | sort -g | sed -n "$(((${#runs[@]} + 1) / 2))p" |
        awk -v size="$size" -v layout="$layout" -v clients="$clients" -v n="$count" \
            -v floor="$size_floor" '{
            s = $1; cpu = $2; bytes = $3; others = $4
            name["a"] = "A  JSON in row"; name["b1"] = "B1 rows, 1000/INSERT"
            name["b2"] = "B2 rows, 1/INSERT"
            per = bytes >= floor ? sprintf("%.0f", bytes / n) : "-"
            printf "%6d  %-21s %7d %6d %9.1f %8.2f %10.2f %10.2f %11s %7d\n", size, name[layout],
                clients, n, n / s, s * 1000 / n, s * 1e6 / (n * size), cpu * 1000 / n, per, others
        }'
}

if [ "$quick" = yes ]; then
    sizes="1 1000"
    declare -A pilot=([1]=40 [1000]=8)
    settle=0
    reps=1
    size_floor=0
else
    sizes="1 10 100 1000 10000"
    declare -A pilot=([1]=300 [10]=300 [100]=150 [1000]=60 [10000]=12)
    settle=0.3
    reps=3
    size_floor=$((8 << 20)) # bytes: smaller tables are mostly InnoDB's extent allocation
fi
target=1.5           # seconds per run (full run)
max_tx=20000         # caps on one run, to bound the SQL files and the time taken
max_members=3000000
max_others=10        # percent
retry_budget=120     # seconds

printf '%s, %s CPUs, MariaDB %s, innodb_flush_log_at_trx_commit=1, load average %s\n' \
    "$(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release)" "$(nproc)" \
    "$(db -N -e 'SELECT VERSION()')" "$(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$quick" = no ]; then
    printf 'each row: the median of %s runs of about %ss each\n' "$reps" "$target"
fi
printf '%6s  %-21s %7s %6s %9s %8s %10s %10s %11s %7s\n' size layout clients tx tx/s ms/tx \
    "µs/member" "srv cpu ms" bytes/list others%
for size in $sizes; do
    for layout in a b1 b2; do
        if [ "$layout" = b2 ] && [ "$size" -gt 100 ]; then
            continue
        fi
        for clients in 1 8; do
            measure "$layout" "$size" "${pilot[$size]}" "$clients"
        done
    done
done
echo "B2 (one INSERT per member) is not run above 100 ids: it is the slowest per member."
echo "ms/tx, µs/member and srv cpu ms (mariadbd user+system CPU per transaction) are totals"
echo "divided by the transactions: with 8 clients they are the inverse of throughput, not latency."
echo "bytes/list: data_length + index_length of the layout's tables after the run, per list; in a"
echo "full run shown only when they hold 8 MiB or more, as InnoDB allocates space in 1 MiB extents."
echo "others%: CPU used during the run by processes other than this script's (kernel threads aside),"
echo "as a share of all CPUs; runs above $max_others% are redone in a full run, time permitting."
