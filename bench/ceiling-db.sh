#!/bin/sh
# Writes the database ceiling's transaction for mariadb-slap to stdout: the statements one
# create runs in the worker (src/db.c, src/leadlist_store.c), as SQL text, one per line,
# each ended by ';' (run it with --delimiter=';').
#
# usage: bench/ceiling-db.sh SIZE TOKEN_HASH_HEX ORG USER NAME_PREFIX
#
#   SIZE            person ids in the list: the same ids, in the same JSON text, as the
#                   service stores for bench/create.lua's requests
#   TOKEN_HASH_HEX  SHA-256 of an existing session's token, 64 hex digits
#   ORG, USER       the session's org_id and user_id, written as the service would
#   NAME_PREFIX     each list is named NAME_PREFIX-<UUID_SHORT()>, so the rows of a round
#                   can be counted
#
# What differs from the worker, and why it does not flatter the ceiling:
#   - text protocol instead of prepared statements: the server parses each statement,
#     including the whole JSON literal, every time (the worker binds it);
#   - the list id is a version 1 UUID from UUID() (MariaDB 10.11 has no UUIDv7 and no
#     UUID_TO_BIN), hex-decoded: its first bytes are the low bits of the clock, so ids do
#     not ascend like the worker's UUIDv7 and inserts land all over the primary key instead
#     of appending; with one table this small the difference is not measurable, but it is
#     one;
#   - the timestamps come from UTC_TIMESTAMP(3) instead of being bound.
# The session is looked up and the list row inserted, with autocommit on and READ
# COMMITTED (script/bench's --init-command), exactly as the worker does for a create without
# an Idempotency-Key: the INSERT commits by itself (the creator's access is the row's
# created_by), two round trips per create.
set -eu

if [ "$#" -ne 5 ]; then
    echo "usage: $0 SIZE TOKEN_HASH_HEX ORG USER NAME_PREFIX" >&2
    exit 2
fi
size=$1 hash=$2 org=$3 user=$4 prefix=$5

# shellcheck source=bench/ceiling-args.sh
. "$(dirname "$0")/ceiling-args.sh"
ceiling_check "$size" "$hash" "ORG, USER and NAME_PREFIX" "$org" "$user" "$prefix"

cat <<EOF
SELECT user_id, org_id, role FROM sessions WHERE token_hash = X'$hash' AND expires_at > UTC_TIMESTAMP(3) AND revoked_at IS NULL;
EOF
# The ids: "lead_" and the 16-hex-digit form of i * 2654435761 mod 2^32, i = 1..SIZE, as in
# bench/create.lua (an odd multiplier modulo 2^32 is a bijection: the ids are distinct).
awk -v size="$size" -v org="$org" -v user="$user" -v prefix="$prefix" -v q="'" 'BEGIN {
    printf "INSERT INTO leadlists (id, org_id, created_by, icp_id, name, type, start_date,"
    printf " end_date, person_count, person_ids, company_count, company_ids, created_at,"
    printf " updated_at) VALUES (@id := UNHEX(REPLACE(UUID(), %s-%s, %s%s)),", q, q, q, q
    printf " %s%s%s, %s%s%s, NULL, CONCAT(%s%s-%s, UUID_SHORT()), %sperson%s,", q, org, q, q, user, q, q, prefix, q, q, q
    printf " %s2024-01-01 00:00:00.000%s, %s2024-03-31 23:59:59.000%s, %d, %s[", q, q, q, q, size, q
    for (i = 1; i <= size; i++) {
        # 16-bit halves: some awks print %x of values over 2^31 wrongly.
        v = (i * 2654435761) % 4294967296
        printf "%s\"lead_00000000%04x%04x\"", (i > 1 ? "," : ""), int(v / 65536), v % 65536
    }
    printf "]%s, 0, %s%s, @now := UTC_TIMESTAMP(3), @now);\n", q, q, q
}'
