#include "leadlist_in.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "ids.h"
#include "iso8601.h"
#include "text.h"
#include "uuid.h"

/* The body's fields. A key not in this table is refused because it is not here. */
enum field {
    F_NAME,
    F_TYPE,
    F_ICP_ID,
    F_START_DATE,
    F_END_DATE,
    F_PERSON_IDS,
    F_COMPANY_IDS,
    F__COUNT,
    F_NONE = -1, /* no value expected */
    F_SKIP = -2  /* a value to pass over: its key was unknown or repeated */
};

static const char *const field_names[F__COUNT] = {
    [F_NAME] = "name",
    [F_TYPE] = "type",
    [F_ICP_ID] = "icpId",
    [F_START_DATE] = "startDate",
    [F_END_DATE] = "endDate",
    [F_PERSON_IDS] = "personIds",
    [F_COMPANY_IDS] = "companyIds",
};

#define BIT(f) (1u << (f))
#define REQUIRED_FIELDS                                                                            \
    (BIT(F_NAME) | BIT(F_ICP_ID) | BIT(F_START_DATE) | BIT(F_END_DATE) | BIT(F_PERSON_IDS))

/* Field names echoed back in problems are cut to this many bytes. */
#define FIELD_ECHO_MAX 64

enum json_kind { J_NULL, J_BOOL, J_NUMBER, J_STRING, J_OBJECT, J_ARRAY };

/* Tracks string escapes in the raw bytes, because yajl turns an unpaired UTF-16 surrogate
 * escape into '?' without telling. Only has to be right for text yajl accepts. */
enum guard_state {
    G_OUT,     /* between values */
    G_STR,     /* inside a string */
    G_ESC,     /* after a backslash */
    G_HEX,     /* reading the 4 hex digits of \uXXXX */
    G_WANT_BS, /* after a high surrogate: a backslash must follow */
    G_WANT_U,  /* ... then 'u' */
    G_LOW_HEX  /* ... then the 4 hex digits of a low surrogate */
};

struct id_array {
    size_t count; /* items kept so far */
    size_t cap;
    size_t seen; /* items in the JSON array, kept or not */
    bool over_limit;
};

struct leadlist_in {
    yajl_handle yajl;
    struct arena *arena;
    struct leadlist_in_limits limits;
    struct leadlist *out;
    struct problems *problems;

    size_t depth;    /* containers open */
    size_t skipping; /* containers open inside a value being passed over */
    int current;     /* the field whose value comes next, at depth 1 */
    int array_field; /* the id array being read, at depth 2 */
    unsigned seen;   /* fields present */
    unsigned bad;    /* fields with a problem; cross-field checks leave them alone */
    bool top_is_object;
    bool top_seen;
    bool too_deep;
    bool nomem;
    bool settled; /* yajl stopped: nothing more to read */

    struct leadlist_str *persons;
    struct id_array person_arr;
    uint8_t (*companies)[UUID_LEN];
    struct id_array company_arr;

    enum guard_state guard;
    unsigned guard_digits;
    unsigned guard_value;
    bool lone_surrogate;

    size_t fed; /* bytes given to yajl before the current chunk */
};

static void problem(struct leadlist_in *in, int f, const char *message)
{
    problems_add(in->problems, in->arena, field_names[f], message);
    in->bad |= BIT(f);
}

static void body_problem(struct leadlist_in *in, const char *message)
{
    problems_add(in->problems, in->arena, "body", message);
}

static void item_problem(struct leadlist_in *in, int f, size_t index, const char *message)
{
    problems_add_item(in->problems, in->arena, field_names[f], index, message);
    in->bad |= BIT(f);
}

/* Copies at most FIELD_ECHO_MAX bytes of an unknown key, cut on a character boundary, so the
 * error response stays small and valid UTF-8. */
static void unknown_key_problem(struct leadlist_in *in, const unsigned char *key, size_t len,
                                const char *message)
{
    size_t n = len;
    if (n > FIELD_ECHO_MAX) {
        n = FIELD_ECHO_MAX;
        while (n > 0 && (key[n] & 0xC0) == 0x80)
            n--;
    }
    if (text_utf8_length((const char *)key, n) == TEXT_INVALID) {
        /* Echoing it would make the error response invalid JSON. */
        body_problem(in, "has a field whose name is not valid Unicode text");
        return;
    }
    char buf[FIELD_ECHO_MAX + 1];
    memcpy(buf, key, n);
    buf[n] = '\0';
    /* A NUL inside the key ends it early; what is left still names it. */
    problems_add(in->problems, in->arena, buf, message);
}

static bool grow(struct leadlist_in *in, void **items, struct id_array *arr, size_t item_size)
{
    if (arr->count < arr->cap)
        return true;
    size_t cap = arr->cap == 0 ? 16 : arr->cap * 2;
    if (cap > in->limits.max_ids)
        cap = in->limits.max_ids;
    void *bigger = arena_alloc(in->arena, cap * item_size);
    if (bigger == NULL) {
        in->nomem = true;
        return false;
    }
    if (arr->count > 0)
        memcpy(bigger, *items, arr->count * item_size);
    *items = bigger;
    arr->cap = cap;
    return true;
}

static void set_name(struct leadlist_in *in, enum json_kind kind, const char *s, size_t len)
{
    if (kind != J_STRING) {
        problem(in, F_NAME, "must be a string");
        return;
    }
    size_t start, n;
    text_trim_space(s, len, &start, &n);
    if (n == 0) {
        problem(in, F_NAME, "must not be empty");
        return;
    }
    size_t chars = text_utf8_length(s + start, n);
    if (chars == TEXT_INVALID) {
        /* yajl passes an unpaired low surrogate escape through as invalid UTF-8. */
        problem(in, F_NAME, "must be valid Unicode text");
        return;
    }
    if (text_has_control(s + start, n)) {
        problem(in, F_NAME, "must not contain control characters");
        return;
    }
    if (chars > LEADLIST_NAME_MAX_CHARS) {
        problem(in, F_NAME, "must be at most 255 characters");
        return;
    }
    char *copy = arena_strndup(in->arena, s + start, n);
    if (copy == NULL) {
        in->nomem = true;
        return;
    }
    in->out->name = copy;
    in->out->name_len = n;
}

static void set_type(struct leadlist_in *in, enum json_kind kind, const char *s, size_t len)
{
    if (kind == J_STRING && len == 6 && memcmp(s, "person", 6) == 0)
        in->out->type = LEADLIST_PERSON;
    else if (kind == J_STRING && len == 7 && memcmp(s, "company", 7) == 0)
        in->out->type = LEADLIST_COMPANY;
    else
        problem(in, F_TYPE, "must be \"person\" or \"company\"");
}

static void set_icp_id(struct leadlist_in *in, enum json_kind kind, const char *s, size_t len)
{
    if (kind == J_NULL) {
        in->out->has_icp_id = false;
    } else if (kind == J_STRING && uuid_parse(s, len, in->out->icp_id) == 0) {
        in->out->has_icp_id = true;
    } else {
        problem(in, F_ICP_ID, "must be a UUID or null");
    }
}

static void set_date(struct leadlist_in *in, int f, enum json_kind kind, const char *s, size_t len)
{
    int64_t ms;
    if (kind != J_STRING) {
        problem(in, f, "must be an ISO 8601 date string");
        return;
    }
    switch (iso8601_parse(s, len, &ms)) {
    case ISO8601_OK:
        if (f == F_START_DATE)
            in->out->start_ms = ms;
        else
            in->out->end_ms = ms;
        break;
    case ISO8601_RANGE:
        problem(in, f, "must be between 1000-01-01 and 9999-12-31 UTC");
        break;
    default:
        problem(in, f, "must be an ISO 8601 date");
        break;
    }
}

static void field_value(struct leadlist_in *in, int f, enum json_kind kind, const char *s,
                        size_t len)
{
    switch (f) {
    case F_NAME:
        set_name(in, kind, s, len);
        break;
    case F_TYPE:
        set_type(in, kind, s, len);
        break;
    case F_ICP_ID:
        set_icp_id(in, kind, s, len);
        break;
    case F_START_DATE:
    case F_END_DATE:
        set_date(in, f, kind, s, len);
        break;
    case F_PERSON_IDS:
        problem(in, f, "must be an array of strings");
        break;
    case F_COMPANY_IDS:
        problem(in, f, "must be an array of UUID strings");
        break;
    default:
        break;
    }
}

static void array_item(struct leadlist_in *in, enum json_kind kind, const char *s, size_t len)
{
    int f = in->array_field;
    struct id_array *arr = f == F_PERSON_IDS ? &in->person_arr : &in->company_arr;
    size_t index = arr->seen++;
    if (index >= in->limits.max_ids) {
        if (!arr->over_limit) {
            char *msg = arena_alloc(in->arena, 48);
            if (msg == NULL) {
                in->nomem = true;
                return;
            }
            snprintf(msg, 48, "must have at most %zu items", in->limits.max_ids);
            problem(in, f, msg);
            arr->over_limit = true;
        }
        return;
    }
    if (f == F_PERSON_IDS) {
        if (kind != J_STRING || !ids_person_valid(s, len)) {
            item_problem(in, f, index,
                         kind == J_STRING ? "must be 1-64 characters of A-Z a-z 0-9 . _ : -"
                                          : "must be a string");
            return;
        }
        char *copy = arena_strndup(in->arena, s, len);
        if (copy == NULL || !grow(in, (void **)&in->persons, arr, sizeof(*in->persons))) {
            in->nomem = true;
            return;
        }
        in->persons[arr->count].ptr = copy;
        in->persons[arr->count].len = len;
        arr->count++;
    } else {
        uint8_t id[UUID_LEN];
        if (kind != J_STRING || uuid_parse(s, len, id) != 0) {
            item_problem(in, f, index, "must be a UUID");
            return;
        }
        if (!grow(in, (void **)&in->companies, arr, sizeof(*in->companies)))
            return;
        memcpy(in->companies[arr->count], id, UUID_LEN);
        arr->count++;
    }
}

static void top_not_object(struct leadlist_in *in)
{
    body_problem(in, "must be a JSON object");
}

static int on_scalar(struct leadlist_in *in, enum json_kind kind, const char *s, size_t len)
{
    if (in->skipping > 0)
        return 1;
    if (in->depth == 0) {
        in->top_seen = true;
        top_not_object(in);
    } else if (in->depth == 1) {
        field_value(in, in->current, kind, s, len);
        in->current = F_NONE;
    } else if (in->depth == 2 && in->array_field != F_NONE) {
        array_item(in, kind, s, len);
    }
    return in->nomem ? 0 : 1;
}

static int on_open(struct leadlist_in *in, enum json_kind kind)
{
    size_t parent = in->depth;
    if (parent + 1 > in->limits.max_depth) {
        in->too_deep = true;
        return 0;
    }
    in->depth++;
    if (in->skipping > 0) {
        in->skipping++;
        return 1;
    }
    if (parent == 0) {
        in->top_seen = true;
        if (kind == J_OBJECT) {
            in->top_is_object = true;
        } else {
            top_not_object(in);
            in->skipping = 1;
        }
    } else if (parent == 1) {
        int f = in->current;
        in->current = F_NONE;
        if (kind == J_ARRAY && (f == F_PERSON_IDS || f == F_COMPANY_IDS)) {
            in->array_field = f;
        } else {
            if (f >= 0)
                field_value(in, f, kind, NULL, 0);
            in->skipping = 1;
        }
    } else {
        /* A container as an id array's item. */
        array_item(in, kind, NULL, 0);
        in->skipping = 1;
    }
    return in->nomem ? 0 : 1;
}

static int on_close(struct leadlist_in *in)
{
    in->depth--;
    if (in->skipping > 0) {
        in->skipping--;
        return 1;
    }
    if (in->depth == 1)
        in->array_field = F_NONE;
    return 1;
}

static int cb_null(void *ctx)
{
    return on_scalar(ctx, J_NULL, NULL, 0);
}

static int cb_boolean(void *ctx, int value)
{
    (void)value;
    return on_scalar(ctx, J_BOOL, NULL, 0);
}

/* Numbers arrive as text and are never converted: no field takes one, and big ones cannot
 * overflow anything. */
static int cb_number(void *ctx, const char *s, size_t len)
{
    return on_scalar(ctx, J_NUMBER, s, len);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return on_scalar(ctx, J_STRING, (const char *)s, len);
}

static int cb_start_map(void *ctx)
{
    return on_open(ctx, J_OBJECT);
}

static int cb_start_array(void *ctx)
{
    return on_open(ctx, J_ARRAY);
}

static int cb_end(void *ctx)
{
    return on_close(ctx);
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct leadlist_in *in = ctx;
    if (in->skipping > 0 || in->depth != 1)
        return 1;
    in->current = F_SKIP;
    for (int f = 0; f < F__COUNT; f++) {
        if (strlen(field_names[f]) == len && memcmp(field_names[f], key, len) == 0) {
            if (in->seen & BIT(f)) {
                problem(in, f, "must appear only once");
            } else {
                in->seen |= BIT(f);
                in->current = f;
            }
            return 1;
        }
    }
    unknown_key_problem(in, key, len, "is not a known field");
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

static void guard_scan(struct leadlist_in *in, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len && !in->lone_surrogate; i++) {
        unsigned char c = p[i];
        switch (in->guard) {
        case G_OUT:
            if (c == '"')
                in->guard = G_STR;
            break;
        case G_STR:
            if (c == '\\')
                in->guard = G_ESC;
            else if (c == '"')
                in->guard = G_OUT;
            break;
        case G_ESC:
            if (c == 'u') {
                in->guard = G_HEX;
                in->guard_digits = 0;
                in->guard_value = 0;
            } else {
                in->guard = G_STR;
            }
            break;
        case G_HEX:
        case G_LOW_HEX: {
            int h = text_hex_digit(c);
            if (h < 0) {
                in->guard = G_STR; /* yajl refuses this text anyway */
                break;
            }
            in->guard_value = in->guard_value * 16 + (unsigned)h;
            if (++in->guard_digits < 4)
                break;
            unsigned v = in->guard_value;
            bool high = v >= 0xD800 && v <= 0xDBFF;
            bool low = v >= 0xDC00 && v <= 0xDFFF;
            if (in->guard == G_LOW_HEX) {
                if (!low)
                    in->lone_surrogate = true;
                in->guard = G_STR;
            } else if (high) {
                in->guard = G_WANT_BS;
            } else {
                if (low)
                    in->lone_surrogate = true;
                in->guard = G_STR;
            }
            break;
        }
        case G_WANT_BS:
            if (c == '\\')
                in->guard = G_WANT_U;
            else
                in->lone_surrogate = true;
            break;
        case G_WANT_U:
            if (c == 'u') {
                in->guard = G_LOW_HEX;
                in->guard_digits = 0;
                in->guard_value = 0;
            } else {
                in->lone_surrogate = true;
            }
            break;
        }
    }
}

struct leadlist_in *leadlist_in_new(struct arena *a, const struct leadlist_in_limits *limits,
                                    struct leadlist *out, struct problems *problems)
{
    struct leadlist_in *in = arena_calloc(a, 1, sizeof(*in));
    if (in == NULL)
        return NULL;
    in->yajl = yajl_alloc(&callbacks, NULL, in);
    if (in->yajl == NULL)
        return NULL;
    yajl_config(in->yajl, yajl_allow_comments, 0);
    yajl_config(in->yajl, yajl_dont_validate_strings, 0);
    yajl_config(in->yajl, yajl_allow_trailing_garbage, 0);
    yajl_config(in->yajl, yajl_allow_multiple_values, 0);
    yajl_config(in->yajl, yajl_allow_partial_values, 0);
    in->arena = a;
    in->limits = *limits;
    in->out = out;
    in->problems = problems;
    in->current = F_NONE;
    in->array_field = F_NONE;
    in->guard = G_OUT;
    memset(out, 0, sizeof(*out));
    out->type = LEADLIST_PERSON;
    problems_init(problems);
    return in;
}

int leadlist_in_feed(struct leadlist_in *in, const void *chunk, size_t len)
{
    if (in->settled)
        return -1;
    guard_scan(in, chunk, len);
    yajl_status st = yajl_parse(in->yajl, chunk, len);
    if (st != yajl_status_ok) {
        in->fed += yajl_get_bytes_consumed(in->yajl);
        in->settled = true;
        return -1;
    }
    in->fed += len;
    return 0;
}

static void malformed(struct leadlist_in *in)
{
    problems_init(in->problems);
    char *msg = arena_alloc(in->arena, 64);
    if (msg == NULL) {
        in->nomem = true;
        return;
    }
    snprintf(msg, 64, "is not valid JSON (at byte %zu)", in->fed);
    body_problem(in, msg);
}

/* Keeps the first occurrence of each id, in order. */
static bool dedupe(struct leadlist_in *in, void *items, size_t *count, size_t item_size,
                   bool strings)
{
    if (*count < 2)
        return true;
    struct ids_set *set = ids_set_new(in->arena, *count);
    if (set == NULL)
        return false;
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

enum leadlist_in_result leadlist_in_finish(struct leadlist_in *in)
{
    bool failed = in->settled;
    if (!failed) {
        /* yajl reports an empty body as a premature end; top_seen covers it regardless. */
        failed = yajl_complete_parse(in->yajl) != yajl_status_ok || !in->top_seen;
        in->settled = true;
    }
    if (in->nomem)
        return LEADLIST_IN_NOMEM;
    if (in->too_deep) {
        problems_init(in->problems);
        char *msg = arena_alloc(in->arena, 64);
        if (msg == NULL)
            return LEADLIST_IN_NOMEM;
        snprintf(msg, 64, "must not nest deeper than %zu levels", in->limits.max_depth);
        body_problem(in, msg);
        return LEADLIST_IN_INVALID;
    }
    if (failed) {
        malformed(in);
        return in->nomem ? LEADLIST_IN_NOMEM : LEADLIST_IN_MALFORMED;
    }
    if (in->lone_surrogate)
        body_problem(in, "must not contain unpaired UTF-16 surrogate escapes");

    if (in->top_is_object) {
        for (int f = 0; f < F__COUNT; f++) {
            if ((REQUIRED_FIELDS & BIT(f)) && !(in->seen & BIT(f)))
                problem(in, f, "is required");
        }
        struct leadlist *out = in->out;
        if (!(in->bad & BIT(F_TYPE))) {
            if (out->type == LEADLIST_COMPANY && in->person_arr.seen > 0 &&
                !(in->bad & BIT(F_PERSON_IDS)))
                problem(in, F_PERSON_IDS, "must be empty when type is \"company\"");
            if (out->type == LEADLIST_PERSON && in->company_arr.seen > 0 &&
                !(in->bad & BIT(F_COMPANY_IDS)))
                problem(in, F_COMPANY_IDS, "must be empty when type is \"person\"");
        }
        if ((in->seen & BIT(F_START_DATE)) && (in->seen & BIT(F_END_DATE)) &&
            !(in->bad & (BIT(F_START_DATE) | BIT(F_END_DATE))) && out->end_ms < out->start_ms)
            problem(in, F_END_DATE, "must not be before startDate");
    }
    if (in->problems->out_of_memory || in->nomem)
        return LEADLIST_IN_NOMEM;
    if (!problems_none(in->problems))
        return LEADLIST_IN_INVALID;

    if (!dedupe(in, in->persons, &in->person_arr.count, sizeof(*in->persons), true) ||
        !dedupe(in, in->companies, &in->company_arr.count, sizeof(*in->companies), false))
        return LEADLIST_IN_NOMEM;
    in->out->person_ids = in->persons;
    in->out->person_count = in->person_arr.count;
    in->out->company_ids = in->companies;
    in->out->company_count = in->company_arr.count;
    return LEADLIST_IN_OK;
}

void leadlist_in_free(struct leadlist_in *in)
{
    if (in != NULL && in->yajl != NULL) {
        yajl_free(in->yajl);
        in->yajl = NULL;
    }
}
