#!/usr/bin/env bash
# Measures changing the members of large lists in the two storage layouts, on a private
# throwaway MariaDB (the companion of bench/members-layout.sh, which measures creates):
#
#   A   the service's layout: the person ids are a JSON array in the list row. An add or a
#       remove does what the service does: reads the row FOR UPDATE (the whole array comes
#       back to the client), then writes the whole new array back in an UPDATE (the client
#       has parsed and merged it: here the new array is precomputed), records the change,
#       COMMIT.
#   B1  a member table with PRIMARY KEY (leadlist_id, position) and KEY (person_id), the
#       table sql/README.md's "When to switch" describes: lock the list row, look up which
#       of the ids are members, INSERT the new ones in one multi-row statement after the
#       highest position (or DELETE them), update the list row's count and version, record
#       the change, COMMIT.
#   B2  the same with PRIMARY KEY (leadlist_id, person_id) and KEY (leadlist_id, position):
#       no reverse lookup, the membership test on the primary key.
#
# Operations, on LISTS lists of BASE members each (person ids of 21 characters):
#   add      ADD new ids to every list (BASE -> BASE + ADD);
#   remove   the same ids removed again (BASE + ADD -> BASE);
#   read     every member of the list, in order (what a get of the list reads): A one
#            column, B one row per member.
# A run is one operation on every list, by 1 client (each list in turn: the latency of one
# change) or by 8 clients (each its own lists: throughput). Runs alternate add, remove, read
# so that every add finds BASE members, and each is checked after it (the lists' counts
# and their arrays or member rows). For each: ms per operation (the run's wall time, from
# the first statement any client sends to the last one's answer, over the operations),
# mariadbd's CPU per operation during the run and until InnoDB's purge has
# caught up with it (old array versions and deleted rows are purged in the background),
# redo log bytes per operation, and others%, the CPU share of other processes (noise).
# Commits are durable (innodb_flush_log_at_trx_commit=1); the tables stay in the buffer
# pool (1 GiB), which the lists fill to a few hundred MiB at most.
#
# usage: bench/members-change.sh [--quick] [--base N] [--add N] [--lists N] [--reps N]
#   --quick    a few seconds in all (4 lists of 1,000, 1 client, one repetition): checks that
#              the script runs; its numbers mean little
#   --base N   members before an add (default 9900)
#   --add N    ids added and removed (default 100)
#   --lists N  lists per layout (default 96)
#   --reps N   repetitions of each run; the median is shown (default 5)
#
# Each row is the median (by wall time) of the repetitions. The server listens on a Unix
# socket in a mktemp -d directory only (--skip-networking), is stopped by its PID, and the
# directory is removed on exit.
set -eu

quick=no
base=9900
add=100
lists=96
reps=5
usage() { sed -n 's/^# usage: //p' "$0" >&2; exit 2; }
number() { case $2 in '' | *[!0-9]*) echo "$1 wants a whole number" >&2; exit 2 ;; esac; }
while [ "$#" -gt 0 ]; do
    case $1 in
    --quick) quick=yes ;;
    --base) [ "$#" -ge 2 ] || usage; number "$1" "$2"; base=$2; shift ;;
    --add) [ "$#" -ge 2 ] || usage; number "$1" "$2"; add=$2; shift ;;
    --lists) [ "$#" -ge 2 ] || usage; number "$1" "$2"; lists=$2; shift ;;
    --reps) [ "$#" -ge 2 ] || usage; number "$1" "$2"; reps=$2; shift ;;
    *) usage ;;
    esac
    shift
done
if [ "$quick" = yes ]; then
    base=1000
    lists=4
    reps=1
fi
if [ "$add" -lt 1 ] || [ "$lists" -lt 1 ] || [ "$reps" -lt 1 ]; then usage; fi
client_counts="1 8"
[ "$quick" = no ] || client_counts=1

for prog in mariadb-install-db mariadbd mariadb mariadb-admin perl; do
    command -v "$prog" >/dev/null || {
        echo "error: $prog not found (install mariadb-server, mariadb-client, perl)" >&2
        exit 1
    }
done

# The socket path must fit sun_path, so the directory goes under /tmp whatever TMPDIR says.
work=$(mktemp -d /tmp/members-change.XXXXXX)
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
    --innodb-buffer-pool-size=1G --max-allowed-packet=64M \
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

# The list row as the service has it (sql/001 to 004), and its change records; B's list rows
# keep the count and version but not the members.
list_table() {
    local members=$1
    cat <<SQL
CREATE TABLE leadlists (
    id             BINARY(16)                 NOT NULL,
    org_id         VARCHAR(64)                NOT NULL,
    created_by     VARCHAR(64)                NOT NULL,
    icp_id         BINARY(16)                 NULL,
    name           VARCHAR(255)               NOT NULL,
    type           ENUM('person', 'company')  NOT NULL,
    start_date     DATETIME(3)                NOT NULL,
    end_date       DATETIME(3)                NOT NULL,
    person_count   INT UNSIGNED               NOT NULL,
    $members
    company_count  INT UNSIGNED               NOT NULL,
    created_at     DATETIME(3)                NOT NULL,
    updated_at     DATETIME(3)                NOT NULL,
    version        INT UNSIGNED               NOT NULL,
    PRIMARY KEY (id),
    KEY leadlists_org_type (org_id, type, id),
    KEY leadlists_creator_type (org_id, created_by, type, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE leadlist_changes (
    leadlist_id  BINARY(16)    NOT NULL,
    version      INT UNSIGNED  NOT NULL,
    change_id    BINARY(16)    NOT NULL,
    changed_at   DATETIME(3)   NOT NULL,
    PRIMARY KEY (leadlist_id, version),
    KEY leadlist_changes_changed (changed_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
SQL
}

{
    echo "CREATE DATABASE bench_a; USE bench_a;"
    list_table "person_ids MEDIUMTEXT NOT NULL, company_ids MEDIUMBLOB NOT NULL,"
    echo "CREATE DATABASE bench_b1; USE bench_b1;"
    list_table ""
    cat <<'SQL'
CREATE TABLE leadlist_persons (
    leadlist_id  BINARY(16)    NOT NULL,
    position     INT UNSIGNED  NOT NULL,
    person_id    VARCHAR(64)   NOT NULL,
    PRIMARY KEY (leadlist_id, position),
    KEY leadlist_persons_person (person_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
SQL
    echo "CREATE DATABASE bench_b2; USE bench_b2;"
    list_table ""
    cat <<'SQL'
CREATE TABLE leadlist_persons (
    leadlist_id  BINARY(16)    NOT NULL,
    position     INT UNSIGNED  NOT NULL,
    person_id    VARCHAR(64)   NOT NULL,
    PRIMARY KEY (leadlist_id, person_id),
    KEY leadlist_persons_order (leadlist_id, position)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
SQL
} | db

# --- the workload --------------------------------------------------------------------------

# The SQL of one client's part of a run, to stdout:
#   perl gen.pl LAYOUT OP BASE ADD LISTS CLIENTS CLIENT
# OP is fill (create the lists with BASE members), add, remove or read. The client's lists
# are CLIENT+1, CLIENT+1+CLIENTS, ...; list n's members are lead_<n><i> for i = 0, 1, ...,
# the added ones i = BASE .. BASE+ADD-1.
cat >"$work/gen.pl" <<'PERL'
use strict;
use warnings;
my ($layout, $op, $base, $add, $lists, $clients, $client) = @ARGV;
sub lid { sprintf("X'0190%028x'", $_[0]) }
sub pid { sprintf('lead_%08x%08x', $_[0], $_[1]) }
sub array { my ($n, $count) = @_; '[' . join(',', map { '"' . pid($n, $_) . '"' } 0 .. $count - 1) . ']' }
my $change = 'INSERT INTO leadlist_changes (leadlist_id, version, change_id, changed_at)'
    . ' SELECT id, version, UNHEX(MD5(RAND())), UTC_TIMESTAMP(3) FROM leadlists WHERE id = %s;';
# The run's time is taken between these two stamps, without starting the client.
print $op eq 'read' ? "SET autocommit = 1;\n" : "SET autocommit = 0;\n";
print "SELECT 'T0', UNIX_TIMESTAMP(NOW(6));\n";
END { print "SELECT 'T1', UNIX_TIMESTAMP(NOW(6));\n" }
for (my $n = $client + 1; $n <= $lists; $n += $clients) {
    my $id = lid($n);
    my @new = map { pid($n, $_) } $base .. $base + $add - 1;
    my $in = join(',', map {"'$_'"} @new);
    if ($op eq 'fill') {
        my $cols = 'id, org_id, created_by, icp_id, name, type, start_date, end_date, person_count,'
            . ' company_count, created_at, updated_at, version';
        my $vals = "$id, 'org_1', 'user_1', NULL, 'Bench list', 'person', '2024-01-01 00:00:00.000',"
            . " '2024-12-31 00:00:00.000', $base, 0, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), 1";
        if ($layout eq 'a') {
            print "INSERT INTO leadlists ($cols, person_ids, company_ids) VALUES ($vals, '",
                array($n, $base), "', '');\n";
        } else {
            print "INSERT INTO leadlists ($cols) VALUES ($vals);\n";
            for (my $i = 0; $i < $base; $i += 1000) {
                my $end = $i + 1000 < $base ? $i + 1000 : $base;
                print 'INSERT INTO leadlist_persons (leadlist_id, position, person_id) VALUES ',
                    join(',', map { "($id," . ($_ + 1) . ",'" . pid($n, $_) . "')" } $i .. $end - 1), ";\n";
            }
        }
        print "COMMIT;\n";
    } elsif ($op eq 'read') {
        if ($layout eq 'a') {
            print "SELECT person_ids FROM leadlists WHERE id = $id;\n";
        } else {
            print "SELECT person_id FROM leadlist_persons WHERE leadlist_id = $id ORDER BY position;\n";
        }
    } elsif ($layout eq 'a') {
        my $count = $op eq 'add' ? $base + $add : $base;
        print "SELECT person_count, person_ids, version FROM leadlists WHERE id = $id FOR UPDATE;\n";
        print "UPDATE leadlists SET person_count = $count, person_ids = '", array($n, $count),
            "', version = version + 1, updated_at = UTC_TIMESTAMP(3) WHERE id = $id;\n";
        printf "$change\n", $id;
        print "COMMIT;\n";
    } else {
        print "SELECT person_count, version FROM leadlists WHERE id = $id FOR UPDATE;\n";
        print "SELECT person_id FROM leadlist_persons WHERE leadlist_id = $id AND person_id IN ($in);\n";
        if ($op eq 'add') {
            print "SELECT COALESCE(MAX(position), 0) INTO \@p FROM leadlist_persons WHERE leadlist_id = $id;\n";
            my $k = 0;
            print 'INSERT INTO leadlist_persons (leadlist_id, position, person_id) VALUES ',
                join(',', map { $k++; "($id,\@p+$k,'$_')" } @new), ";\n";
            print "UPDATE leadlists SET person_count = person_count + $add,";
        } else {
            print "DELETE FROM leadlist_persons WHERE leadlist_id = $id AND person_id IN ($in);\n";
            print "UPDATE leadlists SET person_count = person_count - $add,";
        }
        print " version = version + 1, updated_at = UTC_TIMESTAMP(3) WHERE id = $id;\n";
        printf "$change\n", $id;
        print "COMMIT;\n";
    }
}
PERL

layouts="a b1 b2"
schema_of() { echo "bench_$1"; }
name_of() {
    case $1 in
    a) echo "A  JSON array in row" ;;
    b1) echo "B1 rows, KEY person" ;;
    b2) echo "B2 rows, PK list+person" ;;
    esac
}

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

status_value() {
    db -N -e "SHOW GLOBAL STATUS LIKE '$1'" | awk '{ print $2 }'
}

# InnoDB's history list: undo logs not yet purged.
history_len() {
    db -N -e "SELECT COUNT FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'"
}

# Waits (up to 30 s) until the purge has caught up: the history list back to 0 or to what it
# was before the run.
wait_purge() {
    local floor=$1 h i
    for ((i = 0; i < 600; i++)); do
        h=$(history_len)
        [ "$h" -gt "$floor" ] || return 0
        sleep 0.05
    done
    echo "warning: the purge did not catch up within 30 s (history list $h)" >&2
}

# The SQL files of every run, one per layout, operation, client count and client.
prepare() {
    local layout op clients c
    for layout in $layouts; do
        for op in fill add remove read; do
            for clients in $client_counts; do
                [ "$op" != fill ] || [ "$clients" = 1 ] || continue
                for ((c = 0; c < clients; c++)); do
                    perl "$work/gen.pl" "$layout" "$op" "$base" "$add" "$lists" "$clients" "$c" \
                        >"$work/$layout.$op.$clients.$c.sql"
                done
            done
        done
    done
}

# run LAYOUT OP CLIENTS: one run; sets secs, cpu (server CPU seconds during the run), cpu_all
# (the same until the purge caught up), redo (bytes), others (percent of all CPUs).
run() {
    local layout=$1 op=$2 clients=$3 schema c cpu0 cpu1 lsn0 lsn1 h0
    local pids=()
    schema=$(schema_of "$layout")
    h0=$(history_len)
    lsn0=$(status_value Innodb_lsn_current)
    others_snapshot "$work/others.0"
    cpu0=$(server_cpu)
    rm -f "$work"/stamps.*
    for ((c = 0; c < clients; c++)); do
        (
            db -D "$schema" -N -B <"$work/$layout.$op.$clients.$c.sql" |
                awk '/^T[01]\t/' >"$work/stamps.$c"
            exit "${PIPESTATUS[0]}"
        ) &
        pids+=($!)
    done
    for c in "${pids[@]}"; do wait "$c" || die "a client failed ($layout $op, $clients clients)"; done
    cpu1=$(server_cpu)
    others_snapshot "$work/others.1"
    lsn1=$(status_value Innodb_lsn_current)
    wait_purge "$h0"
    cpu_all=$(awk -v a="$cpu0" -v b="$(server_cpu)" 'BEGIN { printf "%.3f", b - a }')
    # From the first client's first statement to the last client's last: without starting
    # the clients.
    secs=$(cat "$work"/stamps.* | awk '
        $1 == "T0" && (s == "" || $2 < s) { s = $2 }
        $1 == "T1" && (e == "" || $2 > e) { e = $2 }
        END { printf "%.6f", e - s }')
    cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.3f", b - a }')
    redo=$((lsn1 - lsn0))
    others=$(awk -v hz="$hz" -v s="$secs" -v n="$ncpu" '
        FNR == NR { before[$1] = $2; next }
        { o += $2 - before[$1] }
        END { o = 100 * o / hz / (s * n); if (o > 100) o = 100; printf "%.0f", o }' \
        "$work/others.0" "$work/others.1")
}

# check LAYOUT MEMBERS: every list holds MEMBERS ids, in its count and in its array or rows.
check() {
    local layout=$1 members=$2 schema got want=$(($2 * lists))
    schema=$(schema_of "$layout")
    if [ "$layout" = a ]; then
        got=$(db -D "$schema" -N -e "SELECT SUM(person_count), SUM(JSON_LENGTH(person_ids)),
            SUM(person_count <> $members) FROM leadlists")
    else
        got=$(db -D "$schema" -N -e "SELECT SUM(person_count), (SELECT COUNT(*) FROM leadlist_persons),
            SUM(person_count <> $members) FROM leadlists")
    fi
    [ "$got" = "$(printf '%s\t%s\t0' "$want" "$want")" ] ||
        die "$layout: lists hold $got (count, members, lists off), expected $want members"
}

prepare
for layout in $layouts; do
    run "$layout" fill 1
    check "$layout" "$base"
    db -D "$(schema_of "$layout")" -N -e "ANALYZE TABLE leadlists" >/dev/null
    [ "$layout" = a ] || db -D "$(schema_of "$layout")" -N -e "ANALYZE TABLE leadlist_persons" >/dev/null
done

# The runs, interleaved: in each repetition every layout does add, remove and read with each
# client count, so drifts of the machine hit all alike.
declare -A results
for ((r = 0; r < reps; r++)); do
    for clients in $client_counts; do
        for layout in $layouts; do
            for op in add remove read; do
                run "$layout" "$op" "$clients"
                case $op in
                add) check "$layout" $((base + add)) ;;
                remove) check "$layout" "$base" ;;
                esac
                results[$layout.$op.$clients]+="$secs $cpu $cpu_all $redo $others"$'\n'
            done
        done
    done
done

printf '%s, %s CPUs, MariaDB %s, innodb_flush_log_at_trx_commit=1, buffer pool 1 GiB, load average %s\n' \
    "$(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release)" "$(nproc)" \
    "$(db -N -e 'SELECT VERSION()')" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s lists per layout of %s members; add and remove of %s ids; median of %s runs\n' \
    "$lists" "$base" "$add" "$reps"
printf '%-24s %-7s %7s %8s %8s %11s %13s %9s %7s\n' layout op clients ops/s ms/op \
    "srv cpu ms" "+purge cpu ms" "redo KB" others%
for clients in $client_counts; do
    for layout in $layouts; do
        for op in add remove read; do
            printf '%s' "${results[$layout.$op.$clients]}" | sed '/^$/d' | sort -g |
                sed -n "$(((reps + 1) / 2))p" |
                awk -v name="$(name_of "$layout")" -v op="$op" -v c="$clients" -v n="$lists" '{
                    printf "%-24s %-7s %7d %8.1f %8.2f %11.2f %13.2f %9.1f %7d\n", name, op, c,
                        n / $1, $1 * 1000 / n, $2 * 1000 / n, $3 * 1000 / n, $4 / n / 1024, $5
                }'
        done
    done
done
echo "ms/op: the run's wall time (first statement to last answer) over its operations (with 8"
echo "clients, the inverse of throughput, not a latency). srv cpu ms: mariadbd's user+system CPU per"
echo "operation during the run; +purge: the same until InnoDB's purge had caught up after it."
echo "redo KB: redo log written per operation."
echo "others%: CPU used during the run by processes other than this script's, as a share of all CPUs."
