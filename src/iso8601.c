#include "iso8601.h"

#include <stdbool.h>

#define MS_PER_SECOND 1000LL
#define MS_PER_MINUTE (60 * MS_PER_SECOND)
#define MS_PER_HOUR (60 * MS_PER_MINUTE)
#define MS_PER_DAY (24 * MS_PER_HOUR)

/* Days from 0000-03-01 to 1970-01-01 in the shifted calendar below. */
#define EPOCH_SHIFT_DAYS 719468
#define DAYS_PER_ERA 146097

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y))
        return 29;
    return days[m - 1];
}

/*
 * Howard Hinnant's days_from_civil. Counting years from March puts the leap day at the end
 * of the year, and 400-year eras make the arithmetic exact for dates before the epoch.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * DAYS_PER_ERA + doe - EPOCH_SHIFT_DAYS;
}

/* Howard Hinnant's civil_from_days, the exact inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y_out, int *m_out, int *d_out)
{
    z += EPOCH_SHIFT_DAYS;
    int64_t era = (z >= 0 ? z : z - (DAYS_PER_ERA - 1)) / DAYS_PER_ERA;
    int64_t doe = z - era * DAYS_PER_ERA;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y_out = yoe + era * 400 + (m <= 2);
    *m_out = m;
    *d_out = d;
}

/* Reads exactly n ASCII digits; isdigit() would also accept locale digits. */
static bool read_digits(const char *s, size_t len, size_t *pos, int n, int *out)
{
    if (len - *pos < (size_t)n)
        return false;
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = s[*pos + (size_t)i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *pos += (size_t)n;
    *out = v;
    return true;
}

static bool read_char(const char *s, size_t len, size_t *pos, char want)
{
    if (*pos >= len || s[*pos] != want)
        return false;
    (*pos)++;
    return true;
}

static bool parse_fraction(const char *s, size_t len, size_t *pos, int *millis)
{
    int digits = 0;
    int ms = 0;
    while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
        if (digits == 9)
            return false;
        /* Truncation, not rounding: rounding could carry into the next second or day. */
        if (digits < 3)
            ms = ms * 10 + (s[*pos] - '0');
        digits++;
        (*pos)++;
    }
    if (digits == 0)
        return false;
    for (int i = digits; i < 3; i++)
        ms *= 10;
    *millis = ms;
    return true;
}

/* Parses the zone designator into the minutes to subtract from local time to reach UTC. */
static bool parse_zone(const char *s, size_t len, size_t *pos, int *offset_min)
{
    if (read_char(s, len, pos, 'Z')) {
        *offset_min = 0;
        return true;
    }
    int sign;
    if (read_char(s, len, pos, '+'))
        sign = 1;
    else if (read_char(s, len, pos, '-'))
        sign = -1;
    else
        return false;
    int oh, om;
    if (!read_digits(s, len, pos, 2, &oh) || !read_char(s, len, pos, ':') ||
        !read_digits(s, len, pos, 2, &om))
        return false;
    if (oh > 23 || om > 59)
        return false;
    *offset_min = sign * (oh * 60 + om);
    return true;
}

enum iso8601_status iso8601_parse(const char *s, size_t len, int64_t *ms_out)
{
    size_t pos = 0;
    int year, month, day;
    int hour = 0, minute = 0, second = 0, millis = 0, offset_min = 0;

    if (s == NULL)
        return ISO8601_SYNTAX;
    if (!read_digits(s, len, &pos, 4, &year) || !read_char(s, len, &pos, '-') ||
        !read_digits(s, len, &pos, 2, &month) || !read_char(s, len, &pos, '-') ||
        !read_digits(s, len, &pos, 2, &day))
        return ISO8601_SYNTAX;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return ISO8601_SYNTAX;

    if (pos < len) {
        if (!read_char(s, len, &pos, 'T') || !read_digits(s, len, &pos, 2, &hour) ||
            !read_char(s, len, &pos, ':') || !read_digits(s, len, &pos, 2, &minute))
            return ISO8601_SYNTAX;
        if (read_char(s, len, &pos, ':')) {
            if (!read_digits(s, len, &pos, 2, &second))
                return ISO8601_SYNTAX;
            if (read_char(s, len, &pos, '.') && !parse_fraction(s, len, &pos, &millis))
                return ISO8601_SYNTAX;
        }
        if (!parse_zone(s, len, &pos, &offset_min) || pos != len)
            return ISO8601_SYNTAX;
        if (hour > 23 || minute > 59 || second > 59)
            return ISO8601_SYNTAX;
    }

    int64_t ms = days_from_civil(year, month, day) * MS_PER_DAY + hour * MS_PER_HOUR +
                 minute * MS_PER_MINUTE + second * MS_PER_SECOND + millis -
                 offset_min * MS_PER_MINUTE;
    if (ms < ISO8601_MIN_MS || ms > ISO8601_MAX_MS)
        return ISO8601_RANGE;
    if (ms_out != NULL)
        *ms_out = ms;
    return ISO8601_OK;
}

void iso8601_to_tm(int64_t ms, struct iso8601_tm *tm)
{
    /* Clamped so a caller's bad value can never yield a year wider than four digits. */
    if (ms < ISO8601_MIN_MS)
        ms = ISO8601_MIN_MS;
    else if (ms > ISO8601_MAX_MS)
        ms = ISO8601_MAX_MS;

    int64_t days = ms / MS_PER_DAY;
    int64_t rem = ms % MS_PER_DAY;
    /* C division truncates toward zero; instants before the epoch need floor division. */
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    int64_t year;
    civil_from_days(days, &year, &tm->month, &tm->day);
    tm->year = (int)year;
    tm->hour = (int)(rem / MS_PER_HOUR);
    tm->minute = (int)(rem % MS_PER_HOUR / MS_PER_MINUTE);
    tm->second = (int)(rem % MS_PER_MINUTE / MS_PER_SECOND);
    tm->millis = (int)(rem % MS_PER_SECOND);
}

int64_t iso8601_from_tm(const struct iso8601_tm *tm)
{
    return days_from_civil(tm->year, tm->month, tm->day) * MS_PER_DAY + tm->hour * MS_PER_HOUR +
           tm->minute * MS_PER_MINUTE + tm->second * MS_PER_SECOND + tm->millis;
}

static char *put_digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

void iso8601_format(int64_t ms, char out[ISO8601_FORMAT_LEN + 1])
{
    struct iso8601_tm tm;
    iso8601_to_tm(ms, &tm);

    char *p = out;
    p = put_digits(p, tm.year, 4);
    *p++ = '-';
    p = put_digits(p, tm.month, 2);
    *p++ = '-';
    p = put_digits(p, tm.day, 2);
    *p++ = 'T';
    p = put_digits(p, tm.hour, 2);
    *p++ = ':';
    p = put_digits(p, tm.minute, 2);
    *p++ = ':';
    p = put_digits(p, tm.second, 2);
    *p++ = '.';
    p = put_digits(p, tm.millis, 3);
    *p++ = 'Z';
    *p = '\0';
}
