#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"
#include "uuid.h"

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* After the type: parameters, each `; name=value`; a charset must be UTF-8. */
static bool media_parameters_ok(const char *p)
{
    p = skip_ows(p);
    while (*p == ';') {
        p = skip_ows(p + 1);
        size_t name_len = strcspn(p, "=;");
        const char *v = p + name_len;
        size_t value_len = 0;
        if (*v == '=') {
            v++;
            value_len = strcspn(v, ";");
        }
        while (value_len > 0 && (v[value_len - 1] == ' ' || v[value_len - 1] == '\t'))
            value_len--;
        if (name_len == 7 && strncasecmp(p, "charset", 7) == 0) {
            if (value_len >= 2 && v[0] == '"' && v[value_len - 1] == '"') {
                v++;
                value_len -= 2;
            }
            if (!((value_len == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
                  (value_len == 4 && strncasecmp(v, "utf8", 4) == 0)))
                return false;
        }
        p = skip_ows(v + value_len + (v[value_len] == '"' ? 1 : 0));
    }
    return *p == '\0';
}

static bool media_type_is(const char *value, const char *type)
{
    size_t n = strlen(type);
    if (strncasecmp(value, type, n) != 0)
        return false;
    char next = value[n];
    return (next == '\0' || next == ';' || next == ' ' || next == '\t') &&
           media_parameters_ok(value + n);
}

bool http_json_media_type(const char *value, bool merge_patch)
{
    if (value == NULL)
        return false;
    value = skip_ows(value);
    return media_type_is(value, "application/json") ||
           (merge_patch && media_type_is(value, "application/merge-patch+json"));
}

bool http_path_match(const char *pattern, const char *path, uint8_t id[UUID_LEN])
{
    static const char slot[] = "{id}";
    const char *p = pattern, *s = path;
    while (*p != '\0') {
        if (strncmp(p, slot, sizeof(slot) - 1) == 0) {
            size_t seg = strcspn(s, "/");
            if (uuid_parse(s, seg, id) != 0)
                return false;
            s += seg;
            p += sizeof(slot) - 1;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return *s == '\0';
}

long long http_content_length(const char *value)
{
    if (value == NULL || *value == '\0')
        return 0;
    for (const char *p = value; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
    }
    errno = 0;
    long long n = strtoll(value, NULL, 10);
    return errno != 0 ? -1 : n;
}

bool http_idempotency_key_valid(const char *value)
{
    size_t n = 0;
    for (; value[n] != '\0'; n++) {
        if (value[n] < 0x20 || value[n] > 0x7E)
            return false;
    }
    return n >= 1 && n <= 255;
}

size_t http_etag(uint32_t version, char *buf)
{
    int n = snprintf(buf, HTTP_ETAG_MAX + 1, "\"%u\"", (unsigned)version);
    return n > 0 ? (size_t)n : 0;
}

/* etagc = %x21 / %x23-7E / obs-text */
static bool etag_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7F);
}

/* Reads one entity tag at *p. Returns false when there is none there; else sets weak and the
 * opaque text (between the quotes) and moves *p past it. */
static bool read_etag(const char **p, bool *weak, const char **text, size_t *len)
{
    const char *s = *p;
    *weak = false;
    if (s[0] == 'W' && s[1] == '/') {
        *weak = true;
        s += 2;
    }
    if (*s != '"')
        return false;
    const char *start = ++s;
    while (*s != '"') {
        if (*s == '\0' || !etag_char((unsigned char)*s))
            return false;
        s++;
    }
    *text = start;
    *len = (size_t)(s - start);
    *p = s + 1;
    return true;
}

/* Walks the list; with match set, stops at the first tag naming version. Returns -1 when
 * the value is malformed, 1 when a tag matched, 0 otherwise. */
static int walk_etags(const char *value, uint32_t version, bool weak_comparison, bool match)
{
    const char *p = skip_ows(value);
    if (*p == '*')
        return *skip_ows(p + 1) == '\0' ? 1 : -1;
    char want[HTTP_ETAG_MAX + 1];
    size_t want_len = http_etag(version, want);
    int tags = 0;
    for (;;) {
        p = skip_ows(p);
        if (*p == ',') { /* empty list elements are allowed */
            p++;
            continue;
        }
        if (*p == '\0')
            return tags > 0 ? 0 : -1;
        bool weak;
        const char *text;
        size_t len;
        if (!read_etag(&p, &weak, &text, &len))
            return -1;
        tags++;
        if (match && (!weak || weak_comparison) && len + 2 == want_len &&
            memcmp(text, want + 1, len) == 0)
            return 1;
        p = skip_ows(p);
        if (*p != ',' && *p != '\0')
            return -1;
    }
}

bool http_etags_valid(const char *value)
{
    return value != NULL && walk_etags(value, 0, false, false) >= 0;
}

bool http_etags_match(const char *value, uint32_t version, bool weak_comparison)
{
    return walk_etags(value, version, weak_comparison, true) == 1;
}

/* --- the list's query ------------------------------------------------------------------- */

/* Percent-decodes [s, s+len) ('+' is a space) into the arena; NULL when an escape is broken
 * or memory ran out. */
static char *decode(struct arena *a, const char *s, size_t len, size_t *out_len)
{
    char *out = arena_alloc(a, len + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < len ? text_hex_digit((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? text_hex_digit((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return NULL;
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* A parameter's name, echoed back in a problem when it is short printable ASCII. */
static const char *echo_name(const char *name, size_t len)
{
    if (len == 0 || len > 32)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < 0x21 || name[i] > 0x7E)
            return NULL;
    }
    return name;
}

enum param { P_LIMIT, P_TYPE, P_CURSOR, P__COUNT };
static const char *const param_names[P__COUNT] = {"limit", "type", "cursor"};

static void set_param(struct http_list_query *q, enum param p, const char *v, size_t len,
                      struct arena *a, struct problems *problems)
{
    switch (p) {
    case P_LIMIT: {
        unsigned long n = 0;
        bool ok = len >= 1 && len <= 3;
        for (size_t i = 0; ok && i < len; i++) {
            ok = v[i] >= '0' && v[i] <= '9';
            n = n * 10 + (unsigned long)(v[i] - '0');
        }
        if (!ok || n < 1 || n > HTTP_LIMIT_MAX)
            problems_add(problems, a, "limit", "must be a whole number from 1 to 200");
        else
            q->limit = (unsigned)n;
        break;
    }
    case P_TYPE:
        if (len == 6 && memcmp(v, "person", 6) == 0) {
            q->has_type = true;
            q->type = LEADLIST_PERSON;
        } else if (len == 7 && memcmp(v, "company", 7) == 0) {
            q->has_type = true;
            q->type = LEADLIST_COMPANY;
        } else {
            problems_add(problems, a, "type", "must be \"person\" or \"company\"");
        }
        break;
    case P_CURSOR:
        if (len == 0) {
            problems_add(problems, a, "cursor", "must be the nextCursor of a previous page");
        } else {
            q->cursor = v;
            q->cursor_len = len;
        }
        break;
    default:
        break;
    }
}

int http_list_query_parse(struct arena *a, const char *query, struct http_list_query *q,
                          struct problems *problems)
{
    memset(q, 0, sizeof(*q));
    q->limit = HTTP_LIMIT_DEFAULT;
    problems_init(problems);
    bool seen[P__COUNT] = {false, false, false};
    const char *p = query != NULL ? query : "";
    while (*p != '\0') {
        size_t part = strcspn(p, "&");
        const char *eq = memchr(p, '=', part);
        size_t name_len = eq != NULL ? (size_t)(eq - p) : part;
        const char *raw_value = eq != NULL ? eq + 1 : p + part;
        size_t raw_value_len = (size_t)(p + part - raw_value);
        if (part > 0) {
            size_t nlen = 0, vlen = 0;
            char *name = decode(a, p, name_len, &nlen);
            char *value = name != NULL ? decode(a, raw_value, raw_value_len, &vlen) : NULL;
            int which = -1;
            for (int i = 0; name != NULL && i < P__COUNT; i++) {
                if (strlen(param_names[i]) == nlen && memcmp(param_names[i], name, nlen) == 0)
                    which = i;
            }
            if (name == NULL || value == NULL) {
                problems_add(problems, a, "query", "has a broken percent escape");
            } else if (which < 0) {
                const char *shown = echo_name(name, nlen);
                problems_add(problems, a, shown != NULL ? shown : "query",
                             shown != NULL ? "is not a known parameter"
                                           : "has a parameter that is not known");
            } else if (seen[which]) {
                problems_add(problems, a, param_names[which], "must appear only once");
            } else {
                seen[which] = true;
                set_param(q, (enum param)which, value, vlen, a, problems);
            }
        }
        p += part;
        if (*p == '&')
            p++;
    }
    return problems_none(problems) ? 0 : -1;
}
