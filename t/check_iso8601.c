/* gmtime_r serves as an independent oracle for the calendar arithmetic. */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso8601.h"

#define MS_PER_DAY 86400000LL

/* ck_assert reports every passing check to the runner through a pipe; loops over millions of
 * values report only failures. */
#define REQUIRE(expr, ...)                                                                         \
    do {                                                                                           \
        if (!(expr))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)
#define RANDOM_ROUNDS 5000

struct valid_case {
    const char *s;
    int64_t ms;
};

/* Expected values were computed independently of this code. */
static const struct valid_case valid_cases[] = {
    {"1970-01-01", 0LL},
    {"2024-01-01", 1704067200000LL},
    {"2024-01-01T10:00Z", 1704103200000LL},
    {"2024-01-01T10:00:00Z", 1704103200000LL},
    {"2024-06-15T08:09:10Z", 1718438950000LL},
    {"2024-01-01T00:30:00+01:00", 1704065400000LL},
    {"2023-12-31T23:30:00-01:00", 1704069000000LL},
    {"2024-01-01T10:00+05:30", 1704083400000LL},
    {"2024-01-01T10:00:00.250-23:59", 1704189540250LL},
    {"2024-01-01T10:00:00+23:59", 1704016860000LL},
    {"2024-03-01T00:00:00+00:00", 1709251200000LL},
    {"2024-03-01T00:00:00-00:00", 1709251200000LL},
    {"2000-02-29", 951782400000LL},
    {"2024-02-29T23:59:59.999Z", 1709251199999LL},
    {"1600-02-29", -11670998400000LL},
    {"2400-02-29", 13574563200000LL},
    {"1900-02-28", -2203977600000LL},
    {"1900-03-01", -2203891200000LL},
    {"2023-02-28", 1677542400000LL},
    {"2024-01-31", 1706659200000LL},
    {"2024-03-31", 1711843200000LL},
    {"2024-04-30", 1714435200000LL},
    {"2024-05-31", 1717113600000LL},
    {"2024-06-30", 1719705600000LL},
    {"2024-07-31", 1722384000000LL},
    {"2024-08-31", 1725062400000LL},
    {"2024-09-30", 1727654400000LL},
    {"2024-10-31", 1730332800000LL},
    {"2024-11-30", 1732924800000LL},
    {"2024-12-31", 1735603200000LL},
    {"1969-12-31T23:59:59.999Z", -1LL},
    {"1969-12-31", -86400000LL},
    {"2001-09-09T01:46:40Z", 1000000000000LL},
    {"1000-01-01", ISO8601_MIN_MS},
    {"1000-01-01T00:00:00.000Z", ISO8601_MIN_MS},
    {"1000-01-01T01:00:00+01:00", ISO8601_MIN_MS},
    {"0999-12-31T23:00:00-01:00", ISO8601_MIN_MS},
    {"9999-12-31T23:59:59.999Z", ISO8601_MAX_MS},
    {"9999-12-31T23:59:59.999999999Z", ISO8601_MAX_MS},
    {"9999-12-31T22:59:59.999-01:00", ISO8601_MAX_MS},
    {"9999-12-31T23:59:59.999+00:00", ISO8601_MAX_MS},
};

START_TEST(test_parse_valid)
{
    const struct valid_case *c = &valid_cases[_i];
    int64_t ms = 42;
    enum iso8601_status st = iso8601_parse(c->s, strlen(c->s), &ms);
    ck_assert_msg(st == ISO8601_OK, "%s: status %d", c->s, (int)st);
    ck_assert_msg(ms == c->ms, "%s: got %lld want %lld", c->s, (long long)ms, (long long)c->ms);
}
END_TEST

struct fraction_case {
    const char *fraction;
    int millis;
};

static const struct fraction_case fraction_cases[] = {
    {"1", 100},       {"12", 120},      {"123", 123},      {"1234", 123},      {"12345", 123},
    {"123456", 123},  {"1234567", 123}, {"12345678", 123}, {"123456789", 123}, {"9", 900},
    {"99", 990},      {"999", 999},     {"9999", 999},     {"999999999", 999}, {"0", 0},
    {"000000009", 0}, {"0019", 1},      {"000999999", 0},  {"5", 500},         {"050", 50},
};

START_TEST(test_parse_fraction)
{
    const struct fraction_case *c = &fraction_cases[_i];
    const int64_t base = 1704103200000LL; /* 2024-01-01T10:00:00Z */
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "2024-01-01T10:00:00.%sZ", c->fraction);
    int64_t ms = 0;
    ck_assert_int_eq(iso8601_parse(buf, (size_t)n, &ms), ISO8601_OK);
    ck_assert_msg(ms == base + c->millis, "%s: got %lld", buf, (long long)(ms - base));

    /* The same fraction with an offset: truncation happens before the zone is applied. */
    n = snprintf(buf, sizeof(buf), "2024-01-01T11:00:00.%s+01:00", c->fraction);
    ck_assert_int_eq(iso8601_parse(buf, (size_t)n, &ms), ISO8601_OK);
    ck_assert_msg(ms == base + c->millis, "%s: got %lld", buf, (long long)(ms - base));
}
END_TEST

struct bad_case {
    const char *s;
    size_t len; /* 0: strlen(s) */
};

static const struct bad_case syntax_cases[] = {
    {"", 0},
    {"2024-1-01", 0},
    {"2024-01-1", 0},
    {"24-01-01", 0},
    {"12024-01-01", 0},
    {"+2024-01-01", 0},
    {"-2024-01-01", 0},
    {" 2024-01-01", 0},
    {"2024-01-01 ", 0},
    {"2024/01/01", 0},
    {"20240101", 0},
    {"2024-01-01Z", 0},
    {"2024-01-01T", 0},
    {"2024-01-01T10Z", 0},
    {"2024-01-01T1:00Z", 0},
    {"2024-01-01T10:0Z", 0},
    {"2024-01-01T10:00", 0},
    {"2024-01-01T10:00:00", 0},
    {"2024-01-01T10:00:00.123", 0},
    {"2024-01-01 10:00:00Z", 0},
    {"2024-01-01t10:00:00Z", 0},
    {"2024-01-01T10:00:00z", 0},
    {"2024-01-01T10:00:0Z", 0},
    {"2024-01-01T10:00:00.Z", 0},
    {"2024-01-01T10:00:00,5Z", 0},
    {"2024-01-01T10:00:00.1234567890Z", 0},
    {"2024-01-01T10:00:00Z ", 0},
    {"2024-01-01T10:00:00ZZ", 0},
    {"2024-01-01T10:00:00+01", 0},
    {"2024-01-01T10:00:00+0100", 0},
    {"2024-01-01T10:00:00+1:00", 0},
    {"2024-01-01T10:00:00+01:0", 0},
    {"2024-01-01T10:00:00+01:00:00", 0},
    {"2024-01-01T10:00:00+24:00", 0},
    {"2024-01-01T10:00:00+01:60", 0},
    {"2024-01-01T10:00:00-24:00", 0},
    {"2024-01-01T10:00:00Z+01:00", 0},
    {"2024-01-01T10:00:00.5", 0},
    {"2024-01-01T24:00Z", 0},
    {"2024-01-01T24:00:00Z", 0},
    {"2024-01-01T23:60Z", 0},
    {"2024-01-01T23:59:60Z", 0},
    {"2024-01-01T99:99:99Z", 0},
    {"2024-00-10", 0},
    {"2024-13-01", 0},
    {"2024-99-01", 0},
    {"2024-01-00", 0},
    {"2024-01-32", 0},
    {"2024-04-31", 0},
    {"2024-06-31", 0},
    {"2024-09-31", 0},
    {"2024-11-31", 0},
    {"2024-02-30", 0},
    {"1900-02-29", 0},
    {"2023-02-29", 0},
    {"2100-02-29", 0},
    {"0001-02-29", 0},
    {"2O24-01-01", 0},
    {"2024-0a-01", 0},
    {"\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x94-01-01", 0},
    {"2024-01-01T10:00:00\xc2\xa0Z", 0},
    {"2024-01-01\0", 11},
    {"2024-01\0-01", 10},
    {"2024-01-01T10:00:00\0Z", 21},
    {"2024-01-01T10:00:00Z\0", 21},
};

static size_t bad_len(const struct bad_case *c)
{
    return c->len != 0 ? c->len : strlen(c->s);
}

START_TEST(test_parse_syntax)
{
    const struct bad_case *c = &syntax_cases[_i];
    int64_t ms = 42;
    enum iso8601_status st = iso8601_parse(c->s, bad_len(c), &ms);
    ck_assert_msg(st == ISO8601_SYNTAX, "case %d (%s): status %d", _i, c->s, (int)st);
    ck_assert_msg(ms == 42, "case %d: output written on failure", _i);
}
END_TEST

static const struct bad_case range_cases[] = {
    {"0999-12-31", 0},
    {"0000-01-01", 0},
    {"0000-02-29", 0},
    {"0999-12-31T23:59:59.999Z", 0},
    {"1000-01-01T00:30:00+01:00", 0},
    {"1000-01-01T00:00:00.000+00:01", 0},
    {"1000-01-01T00:00:00+23:59", 0},
    {"9999-12-31T23:00:00-05:00", 0},
    {"9999-12-31T23:59:59.999-00:01", 0},
    {"9999-12-31T00:01:00-23:59", 0},
};

START_TEST(test_parse_range)
{
    const struct bad_case *c = &range_cases[_i];
    int64_t ms = 42;
    enum iso8601_status st = iso8601_parse(c->s, bad_len(c), &ms);
    ck_assert_msg(st == ISO8601_RANGE, "%s: status %d", c->s, (int)st);
    ck_assert_msg(ms == 42, "%s: output written on failure", c->s);
}
END_TEST

START_TEST(test_parse_prefixes)
{
    /* Every proper prefix of a full date-time is incomplete except the bare date. */
    static const char full[] = "2024-01-01T10:00:00.123+01:00";
    const size_t n = sizeof(full) - 1;
    for (size_t len = 0; len < n; len++) {
        int64_t ms;
        enum iso8601_status want = len == 10 ? ISO8601_OK : ISO8601_SYNTAX;
        ck_assert_msg(iso8601_parse(full, len, &ms) == want, "prefix length %zu", len);
    }
    int64_t ms;
    ck_assert_int_eq(iso8601_parse(full, n, &ms), ISO8601_OK);
    ck_assert(ms == 1704099600123LL);
}
END_TEST

START_TEST(test_parse_reads_only_len)
{
    /* The bytes after len are not part of the input, valid or not. */
    int64_t ms;
    ck_assert_int_eq(iso8601_parse("2024-01-01T10:00Zgarbage", 17, &ms), ISO8601_OK);
    ck_assert(ms == 1704103200000LL);
    ck_assert_int_eq(iso8601_parse("2024-01-01xyz", 10, &ms), ISO8601_OK);
    ck_assert(ms == 1704067200000LL);
}
END_TEST

struct format_case {
    int64_t ms;
    const char *s;
};

static const struct format_case format_cases[] = {
    {ISO8601_MIN_MS, "1000-01-01T00:00:00.000Z"},
    {ISO8601_MIN_MS + 1, "1000-01-01T00:00:00.001Z"},
    {ISO8601_MAX_MS, "9999-12-31T23:59:59.999Z"},
    {ISO8601_MAX_MS - 1, "9999-12-31T23:59:59.998Z"},
    {-1, "1969-12-31T23:59:59.999Z"},
    {-1000, "1969-12-31T23:59:59.000Z"},
    {-1001, "1969-12-31T23:59:58.999Z"},
    {-86400000LL, "1969-12-31T00:00:00.000Z"},
    {-86400001LL, "1969-12-30T23:59:59.999Z"},
    {0, "1970-01-01T00:00:00.000Z"},
    {1, "1970-01-01T00:00:00.001Z"},
    {951782400000LL, "2000-02-29T00:00:00.000Z"},
    {1709251199999LL, "2024-02-29T23:59:59.999Z"},
    {-2203891200001LL, "1900-02-28T23:59:59.999Z"},
    {-11670998400000LL, "1600-02-29T00:00:00.000Z"},
    {1000000000000LL, "2001-09-09T01:46:40.000Z"},
    {1718438950123LL, "2024-06-15T08:09:10.123Z"},
};

START_TEST(test_format)
{
    const struct format_case *c = &format_cases[_i];
    char out[ISO8601_FORMAT_LEN + 2];
    memset(out, 'x', sizeof(out));
    iso8601_format(c->ms, out);
    ck_assert_str_eq(out, c->s);
    ck_assert_int_eq(out[ISO8601_FORMAT_LEN + 1], 'x');
}
END_TEST

START_TEST(test_tm_fields)
{
    struct iso8601_tm tm;
    iso8601_to_tm(ISO8601_MIN_MS, &tm);
    ck_assert_int_eq(tm.year, 1000);
    ck_assert_int_eq(tm.month, 1);
    ck_assert_int_eq(tm.day, 1);
    ck_assert_int_eq(tm.hour, 0);
    ck_assert_int_eq(tm.minute, 0);
    ck_assert_int_eq(tm.second, 0);
    ck_assert_int_eq(tm.millis, 0);

    iso8601_to_tm(-1, &tm);
    ck_assert_int_eq(tm.year, 1969);
    ck_assert_int_eq(tm.month, 12);
    ck_assert_int_eq(tm.day, 31);
    ck_assert_int_eq(tm.hour, 23);
    ck_assert_int_eq(tm.minute, 59);
    ck_assert_int_eq(tm.second, 59);
    ck_assert_int_eq(tm.millis, 999);

    struct iso8601_tm max = {9999, 12, 31, 23, 59, 59, 999};
    ck_assert(iso8601_from_tm(&max) == ISO8601_MAX_MS);
}
END_TEST

static int oracle_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

START_TEST(test_every_day)
{
    /* Walks the whole range one day at a time, so every date maps to the next millisecond
     * count and back again. */
    int64_t expect = ISO8601_MIN_MS;
    for (int y = 1000; y <= 9999; y++) {
        for (int m = 1; m <= 12; m++) {
            int dim = oracle_days_in_month(y, m);
            for (int d = 1; d <= dim; d++) {
                struct iso8601_tm tm = {y, m, d, 0, 0, 0, 0};
                int64_t ms = iso8601_from_tm(&tm);
                REQUIRE(ms == expect, "%04d-%02d-%02d", y, m, d);
                struct iso8601_tm back;
                iso8601_to_tm(ms, &back);
                REQUIRE(back.year == y && back.month == m && back.day == d,
                        "%04d-%02d-%02d came back as %04d-%02d-%02d", y, m, d, back.year,
                        back.month, back.day);
                expect += MS_PER_DAY;
            }
            /* Every day past the end of this month must be rejected. */
            for (int d = dim + 1; d <= 31 && y % 97 == 0; d++) {
                char buf[16];
                int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, d);
                int64_t ms;
                REQUIRE(iso8601_parse(buf, (size_t)n, &ms) == ISO8601_SYNTAX, "%s accepted", buf);
            }
        }
    }
    ck_assert(expect == ISO8601_MAX_MS + 1);
}
END_TEST

/* splitmix64: a fixed, seedable sequence so failures reproduce. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t random_ms(uint64_t *state)
{
    uint64_t span = (uint64_t)(ISO8601_MAX_MS - ISO8601_MIN_MS) + 1;
    return ISO8601_MIN_MS + (int64_t)(next_random(state) % span);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

START_TEST(test_random_round_trip)
{
    uint64_t state = 0x1234567890abcdefULL;
    for (int i = 0; i < RANDOM_ROUNDS; i++) {
        int64_t ms = random_ms(&state);
        if (i == 0)
            ms = ISO8601_MIN_MS;
        else if (i == 1)
            ms = ISO8601_MAX_MS;
        else if (i < 100)
            ms = (int64_t)(next_random(&state) % 200000) - 100000; /* near the epoch */

        char out[ISO8601_FORMAT_LEN + 1];
        iso8601_format(ms, out);
        REQUIRE(strlen(out) == ISO8601_FORMAT_LEN, "%lld -> %s", (long long)ms, out);
        int64_t back = 0;
        REQUIRE(iso8601_parse(out, ISO8601_FORMAT_LEN, &back) == ISO8601_OK, "%s rejected", out);
        REQUIRE(back == ms, "%lld -> %s -> %lld", (long long)ms, out, (long long)back);

        struct iso8601_tm tm;
        iso8601_to_tm(ms, &tm);
        REQUIRE(iso8601_from_tm(&tm) == ms, "%s: tm round trip", out);

        time_t secs = (time_t)floor_div(ms, 1000);
        struct tm g;
        REQUIRE(gmtime_r(&secs, &g) != NULL, "gmtime_r failed for %lld", (long long)secs);
        int millis = (int)(ms - floor_div(ms, 1000) * 1000);
        REQUIRE(tm.year == g.tm_year + 1900 && tm.month == g.tm_mon + 1 && tm.day == g.tm_mday &&
                    tm.hour == g.tm_hour && tm.minute == g.tm_min && tm.second == g.tm_sec &&
                    tm.millis == millis,
                "%s: gmtime gives %d-%d-%d %d:%d:%d", out, g.tm_year + 1900, g.tm_mon + 1,
                g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec);
    }
}
END_TEST

START_TEST(test_random_offsets)
{
    /* A local time with an offset names the same instant as its UTC value minus the offset,
     * and the range check applies to that instant. */
    uint64_t state = 0xfeedfacecafebeefULL;
    for (int i = 0; i < RANDOM_ROUNDS; i++) {
        int64_t local = random_ms(&state);
        if (i % 5 == 0)
            local = ISO8601_MIN_MS + (int64_t)(next_random(&state) % (2 * MS_PER_DAY));
        else if (i % 5 == 1)
            local = ISO8601_MAX_MS - (int64_t)(next_random(&state) % (2 * MS_PER_DAY));
        int offset = (int)(next_random(&state) % (2 * (23 * 60 + 59) + 1)) - (23 * 60 + 59);

        struct iso8601_tm tm;
        iso8601_to_tm(local, &tm);
        int a = offset < 0 ? -offset : offset;
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02d:%02d", tm.year,
                         tm.month, tm.day, tm.hour, tm.minute, tm.second, tm.millis,
                         offset < 0 ? '-' : '+', a / 60, a % 60);
        int64_t want = local - (int64_t)offset * 60000;
        int64_t got = 0;
        enum iso8601_status st = iso8601_parse(buf, (size_t)n, &got);
        if (want < ISO8601_MIN_MS || want > ISO8601_MAX_MS) {
            REQUIRE(st == ISO8601_RANGE, "%s: status %d", buf, (int)st);
        } else {
            REQUIRE(st == ISO8601_OK, "%s: status %d", buf, (int)st);
            REQUIRE(got == want, "%s: got %lld want %lld", buf, (long long)got, (long long)want);
        }
    }
}
END_TEST

#define N_CASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *iso8601_suite(void)
{
    Suite *s = suite_create("iso8601");

    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_parse_valid, 0, N_CASES(valid_cases));
    tcase_add_loop_test(tc, test_parse_fraction, 0, N_CASES(fraction_cases));
    tcase_add_loop_test(tc, test_parse_syntax, 0, N_CASES(syntax_cases));
    tcase_add_loop_test(tc, test_parse_range, 0, N_CASES(range_cases));
    tcase_add_test(tc, test_parse_prefixes);
    tcase_add_test(tc, test_parse_reads_only_len);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_loop_test(tc, test_format, 0, N_CASES(format_cases));
    tcase_add_test(tc, test_tm_fields);
    suite_add_tcase(s, tc);

    tc = tcase_create("exhaustive");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_every_day);
    tcase_add_test(tc, test_random_round_trip);
    tcase_add_test(tc, test_random_offsets);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(iso8601_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failures = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failures != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
