#include "respond.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "iso8601.h"
#include "uuid.h"

#define GEN(call)                                                                                  \
    do {                                                                                           \
        if ((call) != yajl_gen_status_ok)                                                          \
            goto cleanup;                                                                          \
    } while (0)

static yajl_gen gen_new(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g != NULL)
        yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

static yajl_gen_status gen_cstr(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static yajl_gen_status gen_key_str(yajl_gen g, const char *key, const char *value)
{
    yajl_gen_status st = gen_cstr(g, key);
    return st != yajl_gen_status_ok ? st : gen_cstr(g, value);
}

static yajl_gen_status gen_uuid(yajl_gen g, const uint8_t id[UUID_LEN])
{
    char text[UUID_STR_LEN + 1];
    uuid_format(id, text);
    return yajl_gen_string(g, (const unsigned char *)text, UUID_STR_LEN);
}

static yajl_gen_status gen_time(yajl_gen g, int64_t ms)
{
    char text[ISO8601_FORMAT_LEN + 1];
    iso8601_format(ms, text);
    return yajl_gen_string(g, (const unsigned char *)text, ISO8601_FORMAT_LEN);
}

static yajl_gen_status gen_strings(yajl_gen g, const struct leadlist_str *items, size_t count)
{
    yajl_gen_status st = yajl_gen_array_open(g);
    for (size_t i = 0; i < count && st == yajl_gen_status_ok; i++)
        st = yajl_gen_string(g, (const unsigned char *)items[i].ptr, items[i].len);
    return st != yajl_gen_status_ok ? st : yajl_gen_array_close(g);
}

/* Copies the generated text into the arena so the generator can be freed at once. */
static int take(struct arena *a, yajl_gen g, const char **out, size_t *len)
{
    const unsigned char *buf;
    size_t n;
    if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok)
        return -1;
    char *copy = arena_strndup(a, (const char *)buf, n);
    if (copy == NULL)
        return -1;
    *out = copy;
    *len = n;
    return 0;
}

/* The fields every list answer starts with: id, icpId, name, type, startDate, endDate. */
static yajl_gen_status gen_head(yajl_gen g, const struct leadlist *l)
{
    yajl_gen_status st = gen_cstr(g, "id");
    if (st == yajl_gen_status_ok)
        st = gen_uuid(g, l->id);
    if (st == yajl_gen_status_ok)
        st = gen_cstr(g, "icpId");
    if (st == yajl_gen_status_ok)
        st = l->has_icp_id ? gen_uuid(g, l->icp_id) : yajl_gen_null(g);
    if (st == yajl_gen_status_ok)
        st = gen_cstr(g, "name");
    if (st == yajl_gen_status_ok)
        st = yajl_gen_string(g, (const unsigned char *)l->name, l->name_len);
    if (st == yajl_gen_status_ok)
        st = gen_key_str(g, "type", leadlist_type_name(l->type));
    if (st == yajl_gen_status_ok)
        st = gen_cstr(g, "startDate");
    if (st == yajl_gen_status_ok)
        st = gen_time(g, l->start_ms);
    if (st == yajl_gen_status_ok)
        st = gen_cstr(g, "endDate");
    if (st == yajl_gen_status_ok)
        st = gen_time(g, l->end_ms);
    return st;
}

static yajl_gen_status gen_uuids(yajl_gen g, const uint8_t (*ids)[UUID_LEN], size_t count)
{
    yajl_gen_status st = yajl_gen_array_open(g);
    for (size_t i = 0; i < count && st == yajl_gen_status_ok; i++)
        st = gen_uuid(g, ids[i]);
    return st != yajl_gen_status_ok ? st : yajl_gen_array_close(g);
}

/* ... and end with: userIds, createdAt, updatedAt. */
static yajl_gen_status gen_tail(yajl_gen g, const struct leadlist *l)
{
    yajl_gen_status st = gen_cstr(g, "userIds");
    if (st == yajl_gen_status_ok)
        st = gen_strings(g, l->user_ids, l->user_count);
    if (st == yajl_gen_status_ok)
        st = gen_cstr(g, "createdAt");
    if (st == yajl_gen_status_ok)
        st = gen_time(g, l->created_ms);
    if (st == yajl_gen_status_ok)
        st = gen_cstr(g, "updatedAt");
    if (st == yajl_gen_status_ok)
        st = gen_time(g, l->updated_ms);
    return st;
}

int respond_leadlist(struct arena *a, const struct leadlist *l, const char **body, size_t *len)
{
    int rc = -1;
    yajl_gen g = gen_new();
    if (g == NULL)
        return -1;
    GEN(yajl_gen_map_open(g));
    GEN(gen_head(g, l));
    GEN(gen_cstr(g, "personIds"));
    GEN(gen_strings(g, l->person_ids, l->person_count));
    GEN(gen_cstr(g, "companyIds"));
    GEN(gen_uuids(g, (const uint8_t(*)[UUID_LEN])l->company_ids, l->company_count));
    GEN(gen_tail(g, l));
    GEN(yajl_gen_map_close(g));
    rc = take(a, g, body, len);
cleanup:
    yajl_gen_free(g);
    return rc;
}

int respond_page(struct arena *a, const struct leadlist *items, size_t count,
                 const char *next_cursor, const char **body, size_t *len)
{
    int rc = -1;
    yajl_gen g = gen_new();
    if (g == NULL)
        return -1;
    GEN(yajl_gen_map_open(g));
    GEN(gen_cstr(g, "leadlists"));
    GEN(yajl_gen_array_open(g));
    for (size_t i = 0; i < count; i++) {
        const struct leadlist *l = &items[i];
        GEN(yajl_gen_map_open(g));
        GEN(gen_head(g, l));
        GEN(gen_cstr(g, "personCount"));
        GEN(yajl_gen_integer(g, (long long)l->person_count));
        GEN(gen_cstr(g, "companyCount"));
        GEN(yajl_gen_integer(g, (long long)l->company_count));
        GEN(gen_tail(g, l));
        GEN(yajl_gen_map_close(g));
    }
    GEN(yajl_gen_array_close(g));
    GEN(gen_cstr(g, "nextCursor"));
    GEN(next_cursor != NULL ? gen_cstr(g, next_cursor) : yajl_gen_null(g));
    GEN(yajl_gen_map_close(g));
    rc = take(a, g, body, len);
cleanup:
    yajl_gen_free(g);
    return rc;
}

/* The request's ids picked by indexes, as strings (company UUIDs in lower case). */
static yajl_gen_status gen_picked(yajl_gen g, const struct respond_ids *ids, const size_t *pick,
                                  size_t count)
{
    yajl_gen_status st = yajl_gen_array_open(g);
    for (size_t i = 0; i < count && st == yajl_gen_status_ok; i++) {
        size_t k = pick[i];
        st = ids->strs != NULL
                 ? yajl_gen_string(g, (const unsigned char *)ids->strs[k].ptr, ids->strs[k].len)
                 : gen_uuid(g, ids->uuids[k]);
    }
    return st != yajl_gen_status_ok ? st : yajl_gen_array_close(g);
}

int respond_members(struct arena *a, const struct leadlist *l, bool added,
                    const struct respond_ids *ids, const size_t *done, size_t done_count,
                    const size_t *other, size_t other_count, const char **body, size_t *len)
{
    int rc = -1;
    yajl_gen g = gen_new();
    if (g == NULL)
        return -1;
    size_t members = l->type == LEADLIST_COMPANY ? l->company_count : l->person_count;
    GEN(yajl_gen_map_open(g));
    GEN(gen_cstr(g, "id"));
    GEN(gen_uuid(g, l->id));
    GEN(gen_key_str(g, "type", leadlist_type_name(l->type)));
    GEN(gen_cstr(g, added ? "added" : "removed"));
    GEN(gen_picked(g, ids, done, done_count));
    GEN(gen_cstr(g, added ? "alreadyPresent" : "notPresent"));
    GEN(gen_picked(g, ids, other, other_count));
    GEN(gen_cstr(g, "memberCount"));
    GEN(yajl_gen_integer(g, (long long)members));
    GEN(gen_cstr(g, "updatedAt"));
    GEN(gen_time(g, l->updated_ms));
    GEN(yajl_gen_map_close(g));
    rc = take(a, g, body, len);
cleanup:
    yajl_gen_free(g);
    return rc;
}

int respond_users(struct arena *a, const struct leadlist *l, bool added,
                  const struct respond_ids *ids, const size_t *done, size_t done_count,
                  const size_t *other, size_t other_count, const char **body, size_t *len)
{
    int rc = -1;
    yajl_gen g = gen_new();
    if (g == NULL)
        return -1;
    GEN(yajl_gen_map_open(g));
    GEN(gen_cstr(g, "id"));
    GEN(gen_uuid(g, l->id));
    GEN(gen_cstr(g, added ? "added" : "removed"));
    GEN(gen_picked(g, ids, done, done_count));
    GEN(gen_cstr(g, added ? "alreadyPresent" : "notPresent"));
    GEN(gen_picked(g, ids, other, other_count));
    GEN(gen_cstr(g, "userIds"));
    GEN(gen_strings(g, l->user_ids, l->user_count));
    GEN(gen_cstr(g, "updatedAt"));
    GEN(gen_time(g, l->updated_ms));
    GEN(yajl_gen_map_close(g));
    rc = take(a, g, body, len);
cleanup:
    yajl_gen_free(g);
    return rc;
}

int respond_error(struct arena *a, enum status s, const char *request_id,
                  const struct problems *problems, const char **body, size_t *len)
{
    int rc = -1;
    const struct status_info *info = status_info(s);
    yajl_gen g = gen_new();
    if (g == NULL)
        return -1;
    GEN(yajl_gen_map_open(g));
    GEN(gen_cstr(g, "error"));
    GEN(yajl_gen_map_open(g));
    GEN(gen_key_str(g, "code", info->code));
    GEN(gen_key_str(g, "message", info->message));
    if (problems != NULL && (problems->count > 0 || problems->dropped > 0)) {
        GEN(gen_cstr(g, "details"));
        GEN(yajl_gen_array_open(g));
        for (size_t i = 0; i < problems->count; i++) {
            GEN(yajl_gen_map_open(g));
            GEN(gen_key_str(g, "field", problems->items[i].field));
            GEN(gen_key_str(g, "message", problems->items[i].message));
            GEN(yajl_gen_map_close(g));
        }
        if (problems->dropped > 0) {
            char more[64];
            snprintf(more, sizeof(more), "%zu more problems not listed", problems->dropped);
            GEN(yajl_gen_map_open(g));
            GEN(gen_key_str(g, "field", "body"));
            GEN(gen_key_str(g, "message", more));
            GEN(yajl_gen_map_close(g));
        }
        GEN(yajl_gen_array_close(g));
    }
    GEN(gen_key_str(g, "requestId", request_id));
    GEN(yajl_gen_map_close(g));
    GEN(yajl_gen_map_close(g));
    rc = take(a, g, body, len);
cleanup:
    yajl_gen_free(g);
    return rc;
}

int respond_string_array(struct arena *a, const struct leadlist_str *items, size_t count,
                         const char **out, size_t *len)
{
    int rc = -1;
    yajl_gen g = gen_new();
    if (g == NULL)
        return -1;
    GEN(gen_strings(g, items, count));
    rc = take(a, g, out, len);
cleanup:
    yajl_gen_free(g);
    return rc;
}

static const char *find(const char *hay, size_t len, const char *needle, size_t needle_len)
{
    for (const char *p = hay; len >= needle_len; p++, len--) {
        if (*p == *needle && memcmp(p, needle, needle_len) == 0)
            return p;
    }
    return NULL;
}

/* A quote inside a JSON string is always escaped, so the unescaped key sequences below can only
 * be the keys themselves, whatever the name holds. */
int respond_person_ids_span(const char *body, size_t len, const char **span, size_t *span_len)
{
    static const char open_key[] = ",\"personIds\":";
    static const char close_key[] = ",\"companyIds\":";
    const char *start = find(body, len, open_key, sizeof(open_key) - 1);
    if (start == NULL)
        return -1;
    start += sizeof(open_key) - 1;
    const char *end = find(start, len - (size_t)(start - body), close_key, sizeof(close_key) - 1);
    if (end == NULL || end <= start || *start != '[' || end[-1] != ']')
        return -1;
    *span = start;
    *span_len = (size_t)(end - start);
    return 0;
}
