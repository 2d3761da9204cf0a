/* UUIDs in their canonical text form and time-ordered version 7 generation. Pure: the caller
 * supplies the clock and the random bytes, so tests are deterministic. */
#ifndef LEADLISTS_UUID_H
#define LEADLISTS_UUID_H

#include <stddef.h>
#include <stdint.h>

#define UUID_LEN 16
#define UUID_STR_LEN 36

/* Accepts exactly the 8-4-4-4-12 hex form (either case) in len bytes; any version.
 * Returns 0 and fills out, or -1. */
int uuid_parse(const char *s, size_t len, uint8_t out[UUID_LEN]);

/* Lower-case 8-4-4-4-12 plus a NUL. */
void uuid_format(const uint8_t in[UUID_LEN], char out[UUID_STR_LEN + 1]);

/* State that keeps the UUIDs one process makes strictly increasing, even within one
 * millisecond or when the clock steps back. Zero-initialise it. */
struct uuid_v7_gen {
    int64_t last_ms;
    uint16_t counter; /* the 12-bit rand_a field, used as a counter within one millisecond */
};

/*
 * RFC 9562 version 7: 48-bit Unix milliseconds, version 7, a 12-bit counter, variant 10, and
 * 62 random bits from random[2..9]. When now_ms is ahead of the last value, the counter starts
 * from random[0..1] with its top bit cleared (room to count within the millisecond). Otherwise
 * (same millisecond, or the clock stepped back) the last timestamp is kept and the counter
 * incremented; when it overflows, the timestamp is advanced by one so ordering holds.
 * now_ms must be below 2^48 (the year 10889). Returns the timestamp (ms) encoded in the UUID.
 */
int64_t uuid_v7_make(struct uuid_v7_gen *gen, int64_t now_ms, const uint8_t random[10],
                     uint8_t out[UUID_LEN]);

#endif
