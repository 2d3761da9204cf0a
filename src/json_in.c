#include "json_in.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "text.h"

#define FIELDS_MAX 32
#define FIELD_NONE (-1) /* no value expected */
#define FIELD_SKIP (-2) /* a value to pass over: its key was unknown or repeated */

/* Field names echoed back in problems are cut to this many bytes. */
#define FIELD_ECHO_MAX 64

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

struct json_in {
    yajl_handle yajl;
    struct arena *arena;
    struct json_in_limits limits;
    const struct json_field *table;
    int count;
    void *target;
    struct problems *problems;

    size_t depth;    /* containers open */
    size_t skipping; /* containers open inside a value being passed over */
    int current;     /* the field whose value comes next, at depth 1 */
    int array_field; /* the array field being read, at depth 2 */
    unsigned seen;
    unsigned bad;
    size_t items[FIELDS_MAX]; /* items seen per array field */
    bool over_limit[FIELDS_MAX];
    bool top_is_object;
    bool top_seen;
    bool too_deep;
    bool nomem;
    bool settled; /* yajl stopped: nothing more to read */

    enum guard_state guard;
    unsigned guard_digits;
    unsigned guard_value;
    bool lone_surrogate;

    size_t fed; /* bytes given to yajl before the current chunk */
};

void *json_in_target(struct json_in *in)
{
    return in->target;
}

struct arena *json_in_arena(struct json_in *in)
{
    return in->arena;
}

unsigned json_in_seen(const struct json_in *in)
{
    return in->seen;
}

unsigned json_in_bad(const struct json_in *in)
{
    return in->bad;
}

size_t json_in_items(const struct json_in *in, int field)
{
    return field >= 0 && field < in->count ? in->items[field] : 0;
}

void json_in_nomem(struct json_in *in)
{
    in->nomem = true;
}

void json_in_problem(struct json_in *in, int field, const char *message)
{
    problems_add(in->problems, in->arena, in->table[field].name, message);
    in->bad |= JSON_IN_BIT(field);
}

void json_in_item_problem(struct json_in *in, int field, size_t index, const char *message)
{
    problems_add_item(in->problems, in->arena, in->table[field].name, index, message);
    in->bad |= JSON_IN_BIT(field);
}

void json_in_body_problem(struct json_in *in, const char *message)
{
    problems_add(in->problems, in->arena, "body", message);
}

/* Copies at most FIELD_ECHO_MAX bytes of an unknown key, cut on a character boundary, so the
 * error response stays small and valid UTF-8. */
static void unknown_key_problem(struct json_in *in, const unsigned char *key, size_t len)
{
    size_t n = len;
    if (n > FIELD_ECHO_MAX) {
        n = FIELD_ECHO_MAX;
        while (n > 0 && (key[n] & 0xC0) == 0x80)
            n--;
    }
    if (text_utf8_length((const char *)key, n) == TEXT_INVALID) {
        /* Echoing it would make the error response invalid JSON. */
        json_in_body_problem(in, "has a field whose name is not valid Unicode text");
        return;
    }
    char buf[FIELD_ECHO_MAX + 1];
    memcpy(buf, key, n);
    buf[n] = '\0';
    /* A NUL inside the key ends it early; what is left still names it. */
    problems_add(in->problems, in->arena, buf, "is not a known field");
}

static bool grow(struct json_in *in, void **items, size_t count, size_t *cap, size_t item_size)
{
    if (count < *cap)
        return true;
    size_t bigger_cap = *cap == 0 ? 16 : *cap * 2;
    void *bigger = arena_alloc(in->arena, bigger_cap * item_size);
    if (bigger == NULL) {
        in->nomem = true;
        return false;
    }
    if (count > 0)
        memcpy(bigger, *items, count * item_size);
    *items = bigger;
    *cap = bigger_cap;
    return true;
}

bool json_in_add_str(struct json_in *in, struct json_in_strs *l, const char *s, size_t len)
{
    char *copy = arena_strndup(in->arena, s, len);
    if (copy == NULL) {
        in->nomem = true;
        return false;
    }
    if (!grow(in, (void **)&l->items, l->count, &l->cap, sizeof(*l->items)))
        return false;
    l->items[l->count].ptr = copy;
    l->items[l->count].len = len;
    l->count++;
    return true;
}

bool json_in_add_uuid(struct json_in *in, struct json_in_uuids *l, const uint8_t id[UUID_LEN])
{
    if (!grow(in, (void **)&l->items, l->count, &l->cap, sizeof(*l->items)))
        return false;
    memcpy(l->items[l->count], id, UUID_LEN);
    l->count++;
    return true;
}

static void array_item(struct json_in *in, enum json_kind kind, const char *s, size_t len)
{
    int f = in->array_field;
    const struct json_field *field = &in->table[f];
    size_t max = field->max_items != 0 ? field->max_items : in->limits.max_items;
    size_t index = in->items[f]++;
    if (index >= max) {
        if (!in->over_limit[f]) {
            char *msg = arena_alloc(in->arena, 48);
            if (msg == NULL) {
                in->nomem = true;
                return;
            }
            snprintf(msg, 48, "must have at most %zu items", max);
            json_in_problem(in, f, msg);
            in->over_limit[f] = true;
        }
        return;
    }
    field->item(in, f, index, kind, s, len);
}

static void field_value(struct json_in *in, int f, enum json_kind kind, const char *s, size_t len)
{
    if (f >= 0)
        in->table[f].value(in, f, kind, s, len);
}

static int on_scalar(struct json_in *in, enum json_kind kind, const char *s, size_t len)
{
    if (in->skipping > 0)
        return 1;
    if (in->depth == 0) {
        in->top_seen = true;
        json_in_body_problem(in, "must be a JSON object");
    } else if (in->depth == 1) {
        field_value(in, in->current, kind, s, len);
        in->current = FIELD_NONE;
    } else if (in->depth == 2 && in->array_field != FIELD_NONE) {
        array_item(in, kind, s, len);
    }
    return in->nomem ? 0 : 1;
}

static int on_open(struct json_in *in, enum json_kind kind)
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
        if (kind == JSON_OBJECT) {
            in->top_is_object = true;
        } else {
            json_in_body_problem(in, "must be a JSON object");
            in->skipping = 1;
        }
    } else if (parent == 1) {
        int f = in->current;
        in->current = FIELD_NONE;
        if (kind == JSON_ARRAY && f >= 0 && in->table[f].item != NULL) {
            in->array_field = f;
        } else {
            field_value(in, f, kind, NULL, 0);
            in->skipping = 1;
        }
    } else {
        /* A container as an array's item. */
        array_item(in, kind, NULL, 0);
        in->skipping = 1;
    }
    return in->nomem ? 0 : 1;
}

static int on_close(struct json_in *in)
{
    in->depth--;
    if (in->skipping > 0) {
        in->skipping--;
        return 1;
    }
    if (in->depth == 1)
        in->array_field = FIELD_NONE;
    return 1;
}

static int cb_null(void *ctx)
{
    return on_scalar(ctx, JSON_NULL, NULL, 0);
}

static int cb_boolean(void *ctx, int value)
{
    (void)value;
    return on_scalar(ctx, JSON_BOOL, NULL, 0);
}

/* Numbers arrive as text and are never converted: no field takes one, and big ones cannot
 * overflow anything. */
static int cb_number(void *ctx, const char *s, size_t len)
{
    return on_scalar(ctx, JSON_NUMBER, s, len);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return on_scalar(ctx, JSON_STRING, (const char *)s, len);
}

static int cb_start_map(void *ctx)
{
    return on_open(ctx, JSON_OBJECT);
}

static int cb_start_array(void *ctx)
{
    return on_open(ctx, JSON_ARRAY);
}

static int cb_end(void *ctx)
{
    return on_close(ctx);
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct json_in *in = ctx;
    if (in->skipping > 0 || in->depth != 1)
        return 1;
    in->current = FIELD_SKIP;
    for (int f = 0; f < in->count; f++) {
        const char *name = in->table[f].name;
        if (strlen(name) == len && memcmp(name, key, len) == 0) {
            if (in->seen & JSON_IN_BIT(f)) {
                json_in_problem(in, f, "must appear only once");
            } else {
                in->seen |= JSON_IN_BIT(f);
                in->current = f;
            }
            return 1;
        }
    }
    unknown_key_problem(in, key, len);
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

static void guard_scan(struct json_in *in, const unsigned char *p, size_t len)
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

static yajl_handle strict_yajl(const yajl_callbacks *cb, void *ctx)
{
    yajl_handle h = yajl_alloc(cb, NULL, ctx);
    if (h == NULL)
        return NULL;
    yajl_config(h, yajl_allow_comments, 0);
    yajl_config(h, yajl_dont_validate_strings, 0);
    yajl_config(h, yajl_allow_trailing_garbage, 0);
    yajl_config(h, yajl_allow_multiple_values, 0);
    yajl_config(h, yajl_allow_partial_values, 0);
    return h;
}

struct json_in *json_in_new(struct arena *a, const struct json_in_limits *limits,
                            const struct json_field *table, size_t count, void *target,
                            struct problems *problems)
{
    if (count > FIELDS_MAX)
        return NULL;
    struct json_in *in = arena_calloc(a, 1, sizeof(*in));
    if (in == NULL)
        return NULL;
    in->yajl = strict_yajl(&callbacks, in);
    if (in->yajl == NULL)
        return NULL;
    in->arena = a;
    in->limits = *limits;
    in->table = table;
    in->count = (int)count;
    in->target = target;
    in->problems = problems;
    in->current = FIELD_NONE;
    in->array_field = FIELD_NONE;
    in->guard = G_OUT;
    problems_init(problems);
    return in;
}

int json_in_feed(struct json_in *in, const void *chunk, size_t len)
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

/* Replaces whatever was collected with the one problem that decides the answer (message in
 * the arena, or NULL when memory ran out). */
static enum json_in_result only_problem(struct json_in *in, enum json_in_result r, char *message)
{
    problems_init(in->problems);
    if (message == NULL)
        return JSON_IN_NOMEM;
    json_in_body_problem(in, message);
    return in->problems->out_of_memory ? JSON_IN_NOMEM : r;
}

#define MESSAGE_MAX 64

enum json_in_result json_in_finish(struct json_in *in)
{
    bool failed = in->settled;
    if (!failed) {
        /* yajl reports an empty body as a premature end; top_seen covers it regardless. */
        failed = yajl_complete_parse(in->yajl) != yajl_status_ok || !in->top_seen;
        in->settled = true;
    }
    if (in->nomem)
        return JSON_IN_NOMEM;
    if (in->too_deep || failed) {
        char *msg = arena_alloc(in->arena, MESSAGE_MAX);
        if (msg != NULL && in->too_deep)
            snprintf(msg, MESSAGE_MAX, "must not nest deeper than %zu levels",
                     in->limits.max_depth);
        else if (msg != NULL)
            snprintf(msg, MESSAGE_MAX, "is not valid JSON (at byte %zu)", in->fed);
        return only_problem(in, in->too_deep ? JSON_IN_INVALID : JSON_IN_MALFORMED, msg);
    }
    if (in->lone_surrogate)
        json_in_body_problem(in, "must not contain unpaired UTF-16 surrogate escapes");
    return in->top_is_object ? JSON_IN_OK : JSON_IN_INVALID;
}

enum json_in_result json_in_verdict(struct json_in *in)
{
    if (in->problems->out_of_memory || in->nomem)
        return JSON_IN_NOMEM;
    return problems_none(in->problems) ? JSON_IN_OK : JSON_IN_INVALID;
}

void json_in_free(struct json_in *in)
{
    if (in != NULL && in->yajl != NULL) {
        yajl_free(in->yajl);
        in->yajl = NULL;
    }
}

/* --- arrays the service wrote itself ------------------------------------------------------ */

struct strings {
    struct arena *arena;
    struct leadlist_str *items;
    size_t count, cap;
    int depth;
    bool bad;
};

static int strings_fail(void *ctx)
{
    ((struct strings *)ctx)->bad = true;
    return 0;
}

static int strings_fail_bool(void *ctx, int v)
{
    (void)v;
    return strings_fail(ctx);
}

static int strings_fail_number(void *ctx, const char *s, size_t len)
{
    (void)s;
    (void)len;
    return strings_fail(ctx);
}

static int strings_fail_key(void *ctx, const unsigned char *s, size_t len)
{
    (void)s;
    (void)len;
    return strings_fail(ctx);
}

static int strings_item(void *ctx, const unsigned char *s, size_t len)
{
    struct strings *st = ctx;
    if (st->depth != 1)
        return strings_fail(ctx);
    if (st->count == st->cap) {
        size_t cap = st->cap == 0 ? 16 : st->cap * 2;
        struct leadlist_str *bigger = arena_alloc(st->arena, cap * sizeof(*bigger));
        if (bigger == NULL)
            return strings_fail(ctx);
        if (st->count > 0)
            memcpy(bigger, st->items, st->count * sizeof(*bigger));
        st->items = bigger;
        st->cap = cap;
    }
    char *copy = arena_strndup(st->arena, (const char *)s, len);
    if (copy == NULL)
        return strings_fail(ctx);
    st->items[st->count].ptr = copy;
    st->items[st->count].len = len;
    st->count++;
    return 1;
}

static int strings_open(void *ctx)
{
    struct strings *st = ctx;
    return ++st->depth == 1 ? 1 : strings_fail(ctx);
}

static int strings_close(void *ctx)
{
    ((struct strings *)ctx)->depth--;
    return 1;
}

static const yajl_callbacks strings_callbacks = {
    .yajl_null = strings_fail,
    .yajl_boolean = strings_fail_bool,
    .yajl_number = strings_fail_number,
    .yajl_string = strings_item,
    .yajl_start_map = strings_fail,
    .yajl_map_key = strings_fail_key,
    .yajl_end_map = strings_fail,
    .yajl_start_array = strings_open,
    .yajl_end_array = strings_close,
};

int json_in_strings(struct arena *a, const char *text, size_t len, struct leadlist_str **items,
                    size_t *count)
{
    struct strings st = {.arena = a};
    yajl_handle h = strict_yajl(&strings_callbacks, &st);
    if (h == NULL)
        return -1;
    bool ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
              yajl_complete_parse(h) == yajl_status_ok && !st.bad;
    yajl_free(h);
    if (!ok)
        return -1;
    *items = st.items;
    *count = st.count;
    return 0;
}
