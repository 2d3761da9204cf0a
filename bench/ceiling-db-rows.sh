#!/bin/sh
# Writes the transaction of the conventional database ceiling ("db ceiling, rows") for
# mariadb-slap to stdout: the statements a conventional relational implementation of the
# same create sends, one row per member, as SQL text, one per line, each ended by ';' (run
# it with --delimiter=';', in the database bench/ceiling-db-rows.sql was loaded into;
# script/bench makes that database and empties it between chunks of a round).
#
# usage: bench/ceiling-db-rows.sh SIZE TOKEN_HASH_HEX ORG USER NAME_PREFIX SESSIONS_DB
#
#   SIZE            person ids in the list: the same ids as bench/create.lua sends and
#                   bench/ceiling-db.sh writes
#   TOKEN_HASH_HEX  SHA-256 of an existing session's token, 64 hex digits
#   ORG, USER       the session's org_id and user_id, written as the service would
#   NAME_PREFIX     each list is named NAME_PREFIX-<UUID_SHORT()>, so the rows of a round
#                   can be counted
#   SESSIONS_DB     the service's database: the session is looked up in its sessions table,
#                   so the same token serves every round
#
# Why: the service's target ratios are measured against this, the work a conventional
# implementation (the reference is PHP with PDO) gives the database for one create. bench/ceiling-db.sh is the other database ceiling, the service's own statements
# with the members in the list row (sql/README.md, "Why members live in the list row").
#
# The transaction, with autocommit off and READ COMMITTED (script/bench's --init-command,
# the same as for bench/ceiling-db.sh):
#   1. the session SELECT by token hash, as the worker does it;
#   2. INSERT of the list row (the list columns only);
#   3. INSERT of the members into leadlist_persons, position 0..SIZE-1 in request order,
#      1,000 rows per statement at most: ceil(SIZE / 1000) statements;
#   4. INSERT of the creator into leadlist_users;
#   5. COMMIT.
# That is 4 + ceil(SIZE / 1000) statements and round trips per create (script/bench counts
# the lines ending in ';' of this output). Each member row costs an entry in two B-trees
# (the primary key and KEY (person_id)) and a foreign-key check against the list row.
#
# Like bench/ceiling-db.sh it sends SQL text, which is also what PHP's PDO sends for MySQL
# and MariaDB by default (emulated prepares). Where it differs from a real conventional
# implementation, it makes this ceiling higher (stricter), not lower:
#   - the list id ascends (UUID_SHORT(), the server's increasing 64-bit counter, in the
#     id's first 8 bytes, like a UUIDv7's clock), so each list's member rows append to the
#     primary key; random UUIDv4 ids would insert them all over it;
#   - one multi-row INSERT per 1,000 members, where an implementation may send one INSERT
#     per member (B2 in sql/README.md, several times slower);
#   - every list has the same SIZE ids, so the person_id index is written at the same SIZE
#     places each time; real lists spread over more of it;
#   - script/bench keeps the tables small (emptied whenever they would fill a third of the
#     buffer pool), where real tables only grow.
# The timestamps come from UTC_TIMESTAMP(3).
set -eu

if [ "$#" -ne 6 ]; then
    echo "usage: $0 SIZE TOKEN_HASH_HEX ORG USER NAME_PREFIX SESSIONS_DB" >&2
    exit 2
fi
size=$1 hash=$2 org=$3 user=$4 prefix=$5 sessions_db=$6

# shellcheck source=bench/ceiling-args.sh
. "$(dirname "$0")/ceiling-args.sh"
ceiling_check "$size" "$hash" "ORG, USER, NAME_PREFIX and SESSIONS_DB" "$org" "$user" "$prefix" \
    "$sessions_db"

cat <<EOF
SELECT user_id, org_id, role FROM \`$sessions_db\`.sessions WHERE token_hash = X'$hash' AND expires_at > UTC_TIMESTAMP(3) AND revoked_at IS NULL;
INSERT INTO leadlists (id, org_id, created_by, icp_id, name, type, start_date, end_date, created_at, updated_at) VALUES (@id := UNHEX(CONCAT(LPAD(HEX(UUID_SHORT()), 16, '0'), '0000000000000000')), '$org', '$user', NULL, CONCAT('$prefix-', UUID_SHORT()), 'person', '2024-01-01 00:00:00.000', '2024-03-31 23:59:59.000', @now := UTC_TIMESTAMP(3), @now);
EOF
# The ids: "lead_" and the 16-hex-digit form of i * 2654435761 mod 2^32, i = 1..SIZE, as in
# bench/create.lua (an odd multiplier modulo 2^32 is a bijection: the ids are distinct);
# id i is at position i - 1.
awk -v size="$size" -v q="'" 'BEGIN {
    for (i = 1; i <= size; i++) {
        if ((i - 1) % 1000 == 0)
            printf "INSERT INTO leadlist_persons (leadlist_id, position, person_id) VALUES "
        # 16-bit halves: some awks print %x of values over 2^31 wrongly.
        v = (i * 2654435761) % 4294967296
        printf "(@id, %d, %slead_00000000%04x%04x%s)", i - 1, q, int(v / 65536), v % 65536, q
        printf "%s", (i % 1000 == 0 || i == size) ? ";\n" : ", "
    }
}'
cat <<EOF
INSERT INTO leadlist_users (leadlist_id, position, user_id, granted_at) VALUES (@id, 0, '$user', @now);
COMMIT;
EOF
