#include "body_rules.h"

#include <string.h>

#include "ids.h"
#include "iso8601.h"
#include "text.h"
#include "uuid.h"

static struct body_fields *fields_of(struct json_in *in)
{
    return &((struct body_state *)json_in_target(in))->fields;
}

void body_rules_set_name(struct json_in *in, int f, enum json_kind kind, const char *s, size_t len)
{
    if (kind != JSON_STRING) {
        json_in_problem(in, f, "must be a string");
        return;
    }
    size_t start, n;
    text_trim_space(s, len, &start, &n);
    if (n == 0) {
        json_in_problem(in, f, "must not be empty");
        return;
    }
    size_t chars = text_utf8_length(s + start, n);
    if (chars == TEXT_INVALID) {
        /* yajl passes an unpaired low surrogate escape through as invalid UTF-8. */
        json_in_problem(in, f, "must be valid Unicode text");
        return;
    }
    if (text_has_control(s + start, n)) {
        json_in_problem(in, f, "must not contain control characters");
        return;
    }
    if (chars > LEADLIST_NAME_MAX_CHARS) {
        json_in_problem(in, f, "must be at most 255 characters");
        return;
    }
    char *copy = arena_strndup(json_in_arena(in), s + start, n);
    if (copy == NULL) {
        json_in_nomem(in);
        return;
    }
    fields_of(in)->name = copy;
    fields_of(in)->name_len = n;
}

void body_rules_set_type(struct json_in *in, int f, enum json_kind kind, const char *s, size_t len)
{
    if (kind == JSON_STRING && len == 6 && memcmp(s, "person", 6) == 0)
        fields_of(in)->type = LEADLIST_PERSON;
    else if (kind == JSON_STRING && len == 7 && memcmp(s, "company", 7) == 0)
        fields_of(in)->type = LEADLIST_COMPANY;
    else
        json_in_problem(in, f, "must be \"person\" or \"company\"");
}

void body_rules_set_icp_id(struct json_in *in, int f, enum json_kind kind, const char *s,
                           size_t len)
{
    struct body_fields *v = fields_of(in);
    if (kind == JSON_NULL)
        v->has_icp_id = false;
    else if (kind == JSON_STRING && uuid_parse(s, len, v->icp_id) == 0)
        v->has_icp_id = true;
    else
        json_in_problem(in, f, "must be a UUID or null");
}

static void set_date(struct json_in *in, int f, enum json_kind kind, const char *s, size_t len,
                     int64_t *ms)
{
    if (kind != JSON_STRING) {
        json_in_problem(in, f, "must be an ISO 8601 date string");
        return;
    }
    switch (iso8601_parse(s, len, ms)) {
    case ISO8601_OK:
        break;
    case ISO8601_RANGE:
        json_in_problem(in, f, "must be between 1000-01-01 and 9999-12-31 UTC");
        break;
    default:
        json_in_problem(in, f, "must be an ISO 8601 date");
        break;
    }
}

void body_rules_set_start_date(struct json_in *in, int f, enum json_kind kind, const char *s,
                               size_t len)
{
    set_date(in, f, kind, s, len, &fields_of(in)->start_ms);
}

void body_rules_set_end_date(struct json_in *in, int f, enum json_kind kind, const char *s,
                             size_t len)
{
    set_date(in, f, kind, s, len, &fields_of(in)->end_ms);
}

/* Person and user ids follow one rule: 1-64 characters of A-Z a-z 0-9 . _ : - */
static void id_item(struct json_in *in, int f, size_t index, enum json_kind kind, const char *s,
                    size_t len, struct json_in_strs *out)
{
    if (kind != JSON_STRING || !ids_person_valid(s, len)) {
        json_in_item_problem(in, f, index,
                             kind == JSON_STRING ? "must be 1-64 characters of A-Z a-z 0-9 . _ : -"
                                                 : "must be a string");
        return;
    }
    json_in_add_str(in, out, s, len);
}

void body_rules_person_item(struct json_in *in, int f, size_t index, enum json_kind kind,
                            const char *s, size_t len)
{
    id_item(in, f, index, kind, s, len, &fields_of(in)->persons);
}

void body_rules_user_item(struct json_in *in, int f, size_t index, enum json_kind kind,
                          const char *s, size_t len)
{
    id_item(in, f, index, kind, s, len, &fields_of(in)->users);
}

void body_rules_company_item(struct json_in *in, int f, size_t index, enum json_kind kind,
                             const char *s, size_t len)
{
    uint8_t id[UUID_LEN];
    if (kind != JSON_STRING || uuid_parse(s, len, id) != 0) {
        json_in_item_problem(in, f, index, "must be a UUID");
        return;
    }
    json_in_add_uuid(in, &fields_of(in)->companies, id);
}

void body_rules_not_strings(struct json_in *in, int f, enum json_kind kind, const char *s,
                            size_t len)
{
    (void)kind;
    (void)s;
    (void)len;
    json_in_problem(in, f, "must be an array of strings");
}

void body_rules_not_uuids(struct json_in *in, int f, enum json_kind kind, const char *s, size_t len)
{
    (void)kind;
    (void)s;
    (void)len;
    json_in_problem(in, f, "must be an array of UUID strings");
}

void body_rules_read_only(struct json_in *in, int f, enum json_kind kind, const char *s, size_t len)
{
    (void)kind;
    (void)s;
    (void)len;
    json_in_problem(in, f, "cannot be changed");
}

/* Keeps the first occurrence of each item, in order. */
static bool dedupe(struct json_in *in, void *items, size_t *count, size_t item_size, bool strings)
{
    if (*count < 2)
        return true;
    struct ids_set *set = ids_set_new(json_in_arena(in), *count);
    if (set == NULL) {
        json_in_nomem(in);
        return false;
    }
    unsigned char *base = items;
    size_t kept = 0;
    for (size_t i = 0; i < *count; i++) {
        unsigned char *slot = base + kept * item_size;
        if (kept != i)
            memcpy(slot, base + i * item_size, item_size);
        /* The set keeps a pointer to the key: for UUIDs that is the slot itself, so the key
         * must be added where the item stays, not where it came from (later items move into
         * the emptied places). Strings point into the arena and never move. */
        const void *key = slot;
        size_t key_len = item_size;
        if (strings) {
            const struct leadlist_str *str = (const struct leadlist_str *)(void *)slot;
            key = str->ptr;
            key_len = str->len;
        }
        if (ids_set_add(set, key, key_len) == 1)
            kept++;
    }
    *count = kept;
    return true;
}

bool body_rules_dedupe(struct json_in *in, struct body_fields *fields)
{
    return dedupe(in, fields->persons.items, &fields->persons.count, sizeof(*fields->persons.items),
                  true) &&
           dedupe(in, fields->companies.items, &fields->companies.count,
                  sizeof(*fields->companies.items), false) &&
           dedupe(in, fields->users.items, &fields->users.count, sizeof(*fields->users.items),
                  true);
}
