/* ISO 8601 dates and date-times as the API accepts and returns them. Pure: no I/O. */
#ifndef LEADLISTS_ISO8601_H
#define LEADLISTS_ISO8601_H

#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
#define ISO8601_FORMAT_LEN 24

/* The instants the store can hold (MariaDB DATETIME): 1000-01-01T00:00:00.000Z to
 * 9999-12-31T23:59:59.999Z, as milliseconds since the Unix epoch. */
#define ISO8601_MIN_MS (-30610224000000LL)
#define ISO8601_MAX_MS (253402300799999LL)

enum iso8601_status {
    ISO8601_OK = 0,
    ISO8601_SYNTAX, /* not one of the accepted forms, or not a real calendar date/time */
    ISO8601_RANGE   /* well formed, but outside ISO8601_MIN_MS..ISO8601_MAX_MS once in UTC */
};

/* A broken-down UTC instant. */
struct iso8601_tm {
    int year;   /* 1000..9999 */
    int month;  /* 1..12 */
    int day;    /* 1..31 */
    int hour;   /* 0..23 */
    int minute; /* 0..59 */
    int second; /* 0..59 */
    int millis; /* 0..999 */
};

/*
 * Parses exactly len bytes (no NUL needed) in one of the accepted forms:
 *   YYYY-MM-DD                                  midnight UTC
 *   YYYY-MM-DDTHH:MM[:SS[.f{1,9}]](Z|+HH:MM|-HH:MM)
 * 'T' and 'Z' are upper case. Hours 00-23, minutes and seconds 00-59 (no leap second,
 * no 24:00), offsets up to +/-23:59. Fractions beyond milliseconds are truncated.
 * The date must exist in the proleptic Gregorian calendar (leap years included).
 * On ISO8601_OK, *ms_out (if not NULL) holds the instant in UTC milliseconds since the epoch;
 * on failure it is left untouched.
 */
enum iso8601_status iso8601_parse(const char *s, size_t len, int64_t *ms_out);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" and a NUL into out. ms outside the range above is clamped
 * to it, so out can never overflow. */
void iso8601_format(int64_t ms, char out[ISO8601_FORMAT_LEN + 1]);

/* Splits ms into UTC calendar fields (clamped to the range above, like iso8601_format). */
void iso8601_to_tm(int64_t ms, struct iso8601_tm *tm);

/* The inverse of iso8601_to_tm; fields are assumed valid. */
int64_t iso8601_from_tm(const struct iso8601_tm *tm);

#endif
