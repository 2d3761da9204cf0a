/* libFuzzer targets over the request-body parsers (body.h) and the reader of the arrays the
 * service stores (json_in_strings). One source, built once per target by script/fuzz:
 *
 *   -DFUZZ_BODY=BODY_CREATE    the create body           seeds: t/fuzz-corpus/create/
 *   -DFUZZ_BODY=BODY_PATCH     the PATCH body                   t/fuzz-corpus/patch/
 *   -DFUZZ_BODY=BODY_MEMBERS   add- and remove-members          t/fuzz-corpus/members/
 *   -DFUZZ_BODY=BODY_USERS     add- and remove-users            t/fuzz-corpus/users/
 *   -DFUZZ_STRINGS             json_in_strings                  t/fuzz-corpus/strings/
 *
 * A body input is one control byte, then the body. Its bits 0-4 pick the chunk size (1-32
 * bytes), so the fuzzer explores streaming boundaries as well as content; bit 5 makes the
 * member and user caps small (8 and 4), bit 6 makes the stored list a company list, bit 7
 * makes a membership change a removal. A strings input is the text itself.
 *
 * Besides the sanitizers, each target checks what the service relies on, and a broken rule is
 * a crash (__builtin_trap), so libFuzzer keeps the input:
 *   - the outcome does not depend on how the body is cut into chunks (the same result, the
 *     same problems, the same parsed values as when it is fed in one piece);
 *   - an accepted body is one flat JSON object (a reader of the target's own agrees) with
 *     no unpaired surrogate escape, whose fields are the kind's, and the parsed values are
 *     what was sent: names trimmed, 1-255 characters of valid UTF-8 without controls; ids
 *     valid, de-duplicated in request order, within the limits; the PATCH field bits exactly
 *     the changeable fields sent;
 *   - a refusal always carries problems, and its error envelope is valid JSON;
 *   - the answer built for an accepted body is valid JSON: the 201 body for create (whose
 *     personIds span, kept as the stored column, reads back as the ids); for the others, the
 *     change applied to a stored list (leadlist_change.h) and its 200 body, or the refusal;
 *   - json_in_strings takes exactly the flat arrays of strings, and reads back what
 *     respond_string_array writes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "arena.h"
#include "body.h"
#include "ids.h"
#include "iso8601.h"
#include "json_in.h"
#include "leadlist_change.h"
#include "respond.h"
#include "text.h"
#include "uuid.h"

#if defined(FUZZ_BODY) == defined(FUZZ_STRINGS)
#error "define one of FUZZ_BODY (a body kind) or FUZZ_STRINGS"
#endif

#define MAX_IDS 10000
#define MAX_DEPTH 16
#define MAX_MEMBERS 10000
#define MAX_USERS 100
#define SMALL_MEMBERS 8
#define SMALL_USERS 4

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One JSON value, strict (no comments, no garbage, strings validated as UTF-8). */
static bool valid_json(const char *text, size_t len)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    if (h == NULL)
        return true; /* out of memory: nothing to judge */
    bool ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
              yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    return ok;
}

static bool same_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static bool same_strs(const struct leadlist_str *a, size_t a_n, const struct leadlist_str *b,
                      size_t b_n)
{
    if (a_n != b_n)
        return false;
    for (size_t i = 0; i < a_n; i++) {
        if (!same_bytes(a[i].ptr, a[i].len, b[i].ptr, b[i].len))
            return false;
    }
    return true;
}

/* --- what was sent, read by a reader of its own -------------------------------------------- */

/* A flat JSON text as sent: an object whose values are scalars or arrays of scalars, or an
 * array of scalars; anything nested deeper is only noted. Read with strict yajl callbacks of
 * its own, apart from json_in. (Not yajl_tree: its arrays grow by one element per item, which
 * makes 10,000 ids cost hundreds of megabytes of reallocations.) */
struct sent_value {
    enum json_kind kind;
    char *s; /* a string's bytes, NUL-terminated; its own NULs included */
    size_t len;
    struct sent_value *items; /* an array's scalars */
    size_t count, cap;
};

#define SENT_KEYS_MAX 64

struct sent {
    size_t depth;
    bool deep;  /* a container inside an array, or an object as a value */
    bool nomem; /* nothing to judge */
    bool top_seen;
    struct sent_value top;
    size_t keys;
    char *key[SENT_KEYS_MAX];
    size_t key_len[SENT_KEYS_MAX];
    struct sent_value value[SENT_KEYS_MAX];
};

static char *copy_bytes(struct sent *st, const void *s, size_t len)
{
    char *c = malloc(len + 1);
    if (c == NULL) {
        st->nomem = true;
        return NULL;
    }
    if (len > 0)
        memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

/* The value that the next scalar or container at this depth fills, or NULL. */
static struct sent_value *sent_slot(struct sent *st)
{
    if (st->depth == 0)
        return st->top_seen ? NULL : &st->top;
    if (st->depth == 1 && st->top.kind == JSON_OBJECT)
        return st->keys > 0 && st->keys <= SENT_KEYS_MAX ? &st->value[st->keys - 1] : NULL;
    struct sent_value *arr =
        st->depth == 1 ? &st->top
        : st->depth == 2 && st->top.kind == JSON_OBJECT && st->keys > 0 && st->keys <= SENT_KEYS_MAX
            ? &st->value[st->keys - 1]
            : NULL;
    if (arr == NULL || arr->kind != JSON_ARRAY)
        return NULL;
    if (arr->count == arr->cap) {
        size_t cap = arr->cap == 0 ? 16 : arr->cap * 2;
        struct sent_value *bigger = realloc(arr->items, cap * sizeof(*bigger));
        if (bigger == NULL) {
            st->nomem = true;
            return NULL;
        }
        arr->items = bigger;
        arr->cap = cap;
    }
    struct sent_value *v = &arr->items[arr->count++];
    memset(v, 0, sizeof(*v));
    return v;
}

static int sent_scalar(struct sent *st, enum json_kind kind, const void *s, size_t len)
{
    struct sent_value *v = sent_slot(st);
    if (st->depth == 0)
        st->top_seen = true;
    if (v == NULL)
        return 1;
    v->kind = kind;
    if (s != NULL)
        v->s = copy_bytes(st, s, len);
    v->len = len;
    return st->nomem ? 0 : 1;
}

static int sent_open(struct sent *st, enum json_kind kind)
{
    bool inside_array = st->depth >= 1 && (st->top.kind == JSON_ARRAY || st->depth >= 2);
    if (inside_array || (st->depth == 1 && kind == JSON_OBJECT))
        st->deep = true;
    struct sent_value *v = inside_array ? NULL : sent_slot(st);
    if (st->depth == 0)
        st->top_seen = true;
    if (v != NULL)
        v->kind = kind;
    st->depth++;
    return st->nomem ? 0 : 1;
}

static int sent_null(void *ctx)
{
    return sent_scalar(ctx, JSON_NULL, NULL, 0);
}

static int sent_bool(void *ctx, int b)
{
    (void)b;
    return sent_scalar(ctx, JSON_BOOL, NULL, 0);
}

static int sent_number(void *ctx, const char *s, size_t len)
{
    return sent_scalar(ctx, JSON_NUMBER, s, len);
}

static int sent_string(void *ctx, const unsigned char *s, size_t len)
{
    return sent_scalar(ctx, JSON_STRING, s, len);
}

static int sent_map(void *ctx)
{
    return sent_open(ctx, JSON_OBJECT);
}

static int sent_array(void *ctx)
{
    return sent_open(ctx, JSON_ARRAY);
}

static int sent_end(void *ctx)
{
    ((struct sent *)ctx)->depth--;
    return 1;
}

static int sent_key(void *ctx, const unsigned char *k, size_t len)
{
    struct sent *st = ctx;
    if (st->depth != 1 || st->top.kind != JSON_OBJECT)
        return 1;
    if (st->keys < SENT_KEYS_MAX) {
        st->key[st->keys] = copy_bytes(st, k, len);
        st->key_len[st->keys] = len;
        memset(&st->value[st->keys], 0, sizeof(st->value[0]));
    }
    st->keys++;
    return st->nomem ? 0 : 1;
}

static const yajl_callbacks sent_callbacks = {
    .yajl_null = sent_null,
    .yajl_boolean = sent_bool,
    .yajl_number = sent_number,
    .yajl_string = sent_string,
    .yajl_start_map = sent_map,
    .yajl_map_key = sent_key,
    .yajl_end_map = sent_end,
    .yajl_start_array = sent_array,
    .yajl_end_array = sent_end,
};

static void sent_value_free(struct sent_value *v)
{
    for (size_t i = 0; i < v->count; i++)
        free(v->items[i].s);
    free(v->items);
    free(v->s);
}

static void sent_free(struct sent *st)
{
    sent_value_free(&st->top);
    for (size_t i = 0; i < st->keys && i < SENT_KEYS_MAX; i++) {
        free(st->key[i]);
        sent_value_free(&st->value[i]);
    }
}

/* Reads text into st (zeroed here; sent_free releases it). True when it is one strict JSON
 * value (and st then describes it), false when not or when memory ran out (st->nomem). */
static bool sent_read(struct sent *st, const void *text, size_t len)
{
    memset(st, 0, sizeof(*st));
    yajl_handle h = yajl_alloc(&sent_callbacks, NULL, st);
    if (h == NULL) {
        st->nomem = true;
        return false;
    }
    yajl_config(h, yajl_allow_comments, 0);
    yajl_config(h, yajl_dont_validate_strings, 0);
    bool ok = yajl_parse(h, text, len) == yajl_status_ok &&
              yajl_complete_parse(h) == yajl_status_ok && !st->nomem;
    yajl_free(h);
    return ok;
}

#ifdef FUZZ_BODY

/* The value of the top object's key name (as bytes), or NULL. */
static const struct sent_value *sent_field(const struct sent *st, const char *name)
{
    for (size_t i = 0; i < st->keys && i < SENT_KEYS_MAX; i++) {
        if (same_bytes(st->key[i], st->key_len[i], name, strlen(name)))
            return &st->value[i];
    }
    return NULL;
}

static bool same_uuids(const uint8_t (*a)[UUID_LEN], size_t a_n, const uint8_t (*b)[UUID_LEN],
                       size_t b_n)
{
    return a_n == b_n && (a_n == 0 || memcmp(a, b, a_n * UUID_LEN) == 0);
}

/* --- the order-keeping de-duplication, done independently of ids_set ---------------------- */

/* Byte strings to de-duplicate: the expected result keeps item i when no earlier item is equal.
 * Sorting (key, index) makes the first of each run of equal keys the one kept. */
struct key {
    const void *ptr;
    size_t len;
    size_t index;
};

static int key_cmp(const void *x, const void *y)
{
    const struct key *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n > 0 ? memcmp(a->ptr, b->ptr, n) : 0;
    if (c == 0 && a->len != b->len)
        c = a->len < b->len ? -1 : 1;
    if (c == 0)
        c = a->index < b->index ? -1 : a->index > b->index;
    return c;
}

/* kept[i] is set for the items the de-duplication keeps. false when out of memory. */
static bool expected_kept(struct key *keys, size_t n, bool *kept)
{
    struct key *sorted = malloc((n > 0 ? n : 1) * sizeof(*sorted));
    if (sorted == NULL)
        return false;
    memcpy(sorted, keys, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), key_cmp);
    for (size_t i = 0; i < n; i++)
        kept[i] = false;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 ||
            !same_bytes(sorted[i - 1].ptr, sorted[i - 1].len, sorted[i].ptr, sorted[i].len))
            kept[sorted[i].index] = true;
    }
    free(sorted);
    return true;
}

/* --- what a body parser gave, whatever its kind ------------------------------------------- */

struct parsed {
    enum body_result result;
    struct problems problems;
    union {
        struct leadlist create;
        struct body_patch patch;
        struct body_members members;
        struct body_users users;
    } out;
};

static enum body_result parse(struct arena *a, enum body_kind kind, const uint8_t *body,
                              size_t size, size_t chunk, struct parsed *p)
{
    struct body_limits limits = {.max_ids = MAX_IDS, .max_depth = MAX_DEPTH};
    struct body *b = body_new(a, kind, &limits, &p->out, &p->problems);
    if (b == NULL)
        return p->result = BODY_NOMEM;
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (body_feed(b, body + off, n) != 0)
            break;
    }
    p->result = body_finish(b);
    body_free(b);
    return p->result;
}

static bool same_problems(const struct problems *a, const struct problems *b)
{
    if (a->count != b->count || a->dropped != b->dropped)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->items[i].field, b->items[i].field) != 0 ||
            strcmp(a->items[i].message, b->items[i].message) != 0)
            return false;
    }
    return true;
}

/* The same list fields (what create parses and PATCH may set), compared. */
static bool same_list(const struct leadlist *a, const struct leadlist *b)
{
    return same_bytes(a->name, a->name_len, b->name, b->name_len) && a->type == b->type &&
           a->has_icp_id == b->has_icp_id &&
           (!a->has_icp_id || memcmp(a->icp_id, b->icp_id, UUID_LEN) == 0) &&
           a->start_ms == b->start_ms && a->end_ms == b->end_ms &&
           same_strs(a->person_ids, a->person_count, b->person_ids, b->person_count) &&
           same_uuids((const uint8_t(*)[UUID_LEN])a->company_ids, a->company_count,
                      (const uint8_t(*)[UUID_LEN])b->company_ids, b->company_count);
}

static bool same_parsed(enum body_kind kind, const struct parsed *x, const struct parsed *y)
{
    switch (kind) {
    case BODY_CREATE:
        return same_list(&x->out.create, &y->out.create);
    case BODY_PATCH: {
        const struct body_patch *a = &x->out.patch, *b = &y->out.patch;
        return a->fields == b->fields &&
               (!(a->fields & BODY_PATCH_NAME) ||
                same_bytes(a->name, a->name_len, b->name, b->name_len)) &&
               (!(a->fields & BODY_PATCH_ICP_ID) ||
                (a->has_icp_id == b->has_icp_id &&
                 (!a->has_icp_id || memcmp(a->icp_id, b->icp_id, UUID_LEN) == 0))) &&
               (!(a->fields & BODY_PATCH_START_DATE) || a->start_ms == b->start_ms) &&
               (!(a->fields & BODY_PATCH_END_DATE) || a->end_ms == b->end_ms) &&
               same_strs(a->person_ids, a->person_count, b->person_ids, b->person_count) &&
               same_uuids((const uint8_t(*)[UUID_LEN])a->company_ids, a->company_count,
                          (const uint8_t(*)[UUID_LEN])b->company_ids, b->company_count);
    }
    case BODY_MEMBERS: {
        const struct body_members *a = &x->out.members, *b = &y->out.members;
        return a->type == b->type &&
               same_strs(a->person_ids, a->person_count, b->person_ids, b->person_count) &&
               same_uuids((const uint8_t(*)[UUID_LEN])a->company_ids, a->company_count,
                          (const uint8_t(*)[UUID_LEN])b->company_ids, b->company_count);
    }
    case BODY_USERS:
        return same_strs(x->out.users.user_ids, x->out.users.user_count, y->out.users.user_ids,
                         y->out.users.user_count);
    }
    return false;
}

/* --- the rules of accepted values ---------------------------------------------------------- */

/* Trimmed, 1-255 characters of valid UTF-8 without controls or NUL, NUL-terminated. */
static void check_name(const char *name, size_t len)
{
    CHECK(name != NULL && len > 0 && strlen(name) == len);
    size_t chars = text_utf8_length(name, len);
    CHECK(chars != TEXT_INVALID && chars <= LEADLIST_NAME_MAX_CHARS);
    CHECK(!text_has_control(name, len));
    size_t start, n;
    text_trim_space(name, len, &start, &n);
    CHECK(start == 0 && n == len);
}

static void check_ids(const struct leadlist_str *ids, size_t n, size_t max)
{
    CHECK(n <= max);
    for (size_t i = 0; i < n; i++)
        CHECK(ids[i].ptr != NULL && ids_person_valid(ids[i].ptr, ids[i].len));
}

/* --- what was sent, compared with what was parsed ------------------------------------------ */

/* Every key of the object is one of names (a NULL-terminated list), and none is repeated. */
static bool keys_among(const struct sent *st, const char *const *names)
{
    if (st->keys > SENT_KEYS_MAX)
        return false;
    for (size_t i = 0; i < st->keys; i++) {
        bool known = false;
        for (const char *const *n = names; *n != NULL && !known; n++)
            known = same_bytes(st->key[i], st->key_len[i], *n, strlen(*n));
        if (!known)
            return false;
        for (size_t j = 0; j < i; j++) {
            if (same_bytes(st->key[i], st->key_len[i], st->key[j], st->key_len[j]))
                return false;
        }
    }
    return true;
}

/* The name sent, trimmed, is the name parsed. */
static void check_sent_name(const struct sent_value *v, const char *name, size_t len)
{
    CHECK(v->kind == JSON_STRING);
    size_t start, n;
    text_trim_space(v->s, v->len, &start, &n);
    CHECK(same_bytes(v->s + start, n, name, len));
}

static void check_sent_uuid_or_null(const struct sent_value *v, bool has,
                                    const uint8_t id[UUID_LEN])
{
    if (v->kind == JSON_NULL) {
        CHECK(!has);
        return;
    }
    uint8_t sent[UUID_LEN];
    CHECK(v->kind == JSON_STRING && has);
    CHECK(uuid_parse(v->s, v->len, sent) == 0);
    CHECK(memcmp(sent, id, UUID_LEN) == 0);
}

static void check_sent_date(const struct sent_value *v, int64_t ms)
{
    int64_t sent;
    CHECK(v->kind == JSON_STRING);
    CHECK(iso8601_parse(v->s, v->len, &sent) == ISO8601_OK);
    CHECK(sent == ms);
}

/* The array sent, within max items as sent, de-duplicated in order, is the ids parsed. */
static void check_sent_strings(const struct sent_value *v, size_t max,
                               const struct leadlist_str *ids, size_t n)
{
    CHECK(v->kind == JSON_ARRAY);
    size_t sent = v->count;
    CHECK(sent <= max);
    struct key *keys = malloc((sent > 0 ? sent : 1) * sizeof(*keys));
    bool *kept = malloc((sent > 0 ? sent : 1) * sizeof(*kept));
    if (keys == NULL || kept == NULL)
        goto done;
    for (size_t i = 0; i < sent; i++) {
        CHECK(v->items[i].kind == JSON_STRING);
        keys[i] = (struct key){v->items[i].s, v->items[i].len, i};
    }
    if (!expected_kept(keys, sent, kept))
        goto done;
    size_t k = 0;
    for (size_t i = 0; i < sent; i++) {
        if (!kept[i])
            continue;
        CHECK(k < n && same_bytes(keys[i].ptr, keys[i].len, ids[k].ptr, ids[k].len));
        k++;
    }
    CHECK(k == n);
done:
    free(keys);
    free(kept);
}

/* Company ids compare as UUIDs: the same id in either case counts once. */
static void check_sent_uuids(const struct sent_value *v, size_t max, const uint8_t (*ids)[UUID_LEN],
                             size_t n)
{
    CHECK(v->kind == JSON_ARRAY);
    size_t sent = v->count;
    CHECK(sent <= max);
    uint8_t(*parsed)[UUID_LEN] = malloc((sent > 0 ? sent : 1) * UUID_LEN);
    struct key *keys = malloc((sent > 0 ? sent : 1) * sizeof(*keys));
    bool *kept = malloc((sent > 0 ? sent : 1) * sizeof(*kept));
    if (parsed == NULL || keys == NULL || kept == NULL)
        goto done;
    for (size_t i = 0; i < sent; i++) {
        CHECK(v->items[i].kind == JSON_STRING);
        CHECK(uuid_parse(v->items[i].s, v->items[i].len, parsed[i]) == 0);
        keys[i] = (struct key){parsed[i], UUID_LEN, i};
    }
    if (!expected_kept(keys, sent, kept))
        goto done;
    size_t k = 0;
    for (size_t i = 0; i < sent; i++) {
        if (!kept[i])
            continue;
        CHECK(k < n && memcmp(parsed[i], ids[k], UUID_LEN) == 0);
        k++;
    }
    CHECK(k == n);
done:
    free(parsed);
    free(keys);
    free(kept);
}

static void check_sent_create(const struct sent *obj, const struct leadlist *l)
{
    static const char *const names[] = {"name",    "type",      "icpId",      "startDate",
                                        "endDate", "personIds", "companyIds", NULL};
    CHECK(keys_among(obj, names));
    const struct sent_value *name = sent_field(obj, "name"), *type = sent_field(obj, "type"),
                            *icp = sent_field(obj, "icpId"), *start = sent_field(obj, "startDate"),
                            *end = sent_field(obj, "endDate"),
                            *persons = sent_field(obj, "personIds"),
                            *companies = sent_field(obj, "companyIds");
    CHECK(name != NULL && icp != NULL && start != NULL && end != NULL && persons != NULL);
    check_sent_name(name, l->name, l->name_len);
    CHECK(l->type == LEADLIST_PERSON || l->type == LEADLIST_COMPANY);
    if (type != NULL) {
        const char *t = leadlist_type_name(l->type);
        CHECK(type->kind == JSON_STRING && same_bytes(type->s, type->len, t, strlen(t)));
    } else {
        CHECK(l->type == LEADLIST_PERSON);
    }
    check_sent_uuid_or_null(icp, l->has_icp_id, l->icp_id);
    check_sent_date(start, l->start_ms);
    check_sent_date(end, l->end_ms);
    CHECK(l->end_ms >= l->start_ms);
    check_sent_strings(persons, MAX_IDS, l->person_ids, l->person_count);
    if (companies != NULL)
        check_sent_uuids(companies, MAX_IDS, (const uint8_t(*)[UUID_LEN])l->company_ids,
                         l->company_count);
    else
        CHECK(l->company_count == 0);
    /* Only the list's own kind of member. */
    CHECK(l->type == LEADLIST_PERSON ? l->company_count == 0 : l->person_count == 0);
}

static void check_sent_patch(const struct sent *obj, const struct body_patch *p)
{
    /* The read-only fields (id, type, userIds, createdAt, updatedAt) are refused. */
    static const char *const names[] = {"name",      "icpId",      "startDate", "endDate",
                                        "personIds", "companyIds", NULL};
    static const struct {
        const char *name;
        unsigned bit;
    } bits[] = {
        {"name", BODY_PATCH_NAME},
        {"icpId", BODY_PATCH_ICP_ID},
        {"startDate", BODY_PATCH_START_DATE},
        {"endDate", BODY_PATCH_END_DATE},
        {"personIds", BODY_PATCH_PERSON_IDS},
        {"companyIds", BODY_PATCH_COMPANY_IDS},
    };
    CHECK(keys_among(obj, names));
    unsigned sent = 0;
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        if (sent_field(obj, bits[i].name) != NULL)
            sent |= bits[i].bit;
    }
    CHECK(sent != 0 && p->fields == sent);
    if (sent & BODY_PATCH_NAME)
        check_sent_name(sent_field(obj, "name"), p->name, p->name_len);
    if (sent & BODY_PATCH_ICP_ID)
        check_sent_uuid_or_null(sent_field(obj, "icpId"), p->has_icp_id, p->icp_id);
    if (sent & BODY_PATCH_START_DATE)
        check_sent_date(sent_field(obj, "startDate"), p->start_ms);
    if (sent & BODY_PATCH_END_DATE)
        check_sent_date(sent_field(obj, "endDate"), p->end_ms);
    if ((sent & BODY_PATCH_START_DATE) && (sent & BODY_PATCH_END_DATE))
        CHECK(p->end_ms >= p->start_ms);
    if (sent & BODY_PATCH_PERSON_IDS)
        check_sent_strings(sent_field(obj, "personIds"), MAX_IDS, p->person_ids, p->person_count);
    else
        CHECK(p->person_count == 0);
    if (sent & BODY_PATCH_COMPANY_IDS)
        check_sent_uuids(sent_field(obj, "companyIds"), MAX_IDS,
                         (const uint8_t(*)[UUID_LEN])p->company_ids, p->company_count);
    else
        CHECK(p->company_count == 0);
}

static void check_sent_members(const struct sent *obj, const struct body_members *m)
{
    static const char *const names[] = {"personIds", "companyIds", NULL};
    CHECK(keys_among(obj, names));
    const struct sent_value *persons = sent_field(obj, "personIds"),
                            *companies = sent_field(obj, "companyIds");
    CHECK((persons == NULL) != (companies == NULL)); /* exactly one */
    if (persons != NULL) {
        CHECK(m->type == LEADLIST_PERSON && m->company_count == 0 && m->person_count >= 1);
        check_sent_strings(persons, MAX_IDS, m->person_ids, m->person_count);
    } else {
        CHECK(m->type == LEADLIST_COMPANY && m->person_count == 0 && m->company_count >= 1);
        check_sent_uuids(companies, MAX_IDS, (const uint8_t(*)[UUID_LEN])m->company_ids,
                         m->company_count);
    }
}

static void check_sent_users(const struct sent *obj, const struct body_users *u)
{
    static const char *const names[] = {"userIds", NULL};
    CHECK(keys_among(obj, names));
    const struct sent_value *users = sent_field(obj, "userIds");
    CHECK(users != NULL && u->user_count >= 1);
    check_sent_strings(users, BODY_USERS_MAX, u->user_ids, u->user_count);
}

static int hex4(const uint8_t *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = text_hex_digit(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* True when a string of the (valid JSON) text has a \uD800-\uDFFF escape that is not a high
 * surrogate directly followed by a low one: yajl would have made it '?' without a word. */
static bool has_lone_surrogate(const uint8_t *s, size_t n)
{
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        if (!in_string) {
            in_string = s[i] == '"';
            continue;
        }
        if (s[i] == '"') {
            in_string = false;
        } else if (s[i] == '\\') {
            if (i + 1 < n && s[i + 1] == 'u' && i + 6 <= n) {
                int v = hex4(s + i + 2);
                if (v >= 0xDC00 && v <= 0xDFFF)
                    return true;
                if (v >= 0xD800 && v <= 0xDBFF) {
                    int low =
                        i + 12 <= n && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s + i + 8) : -1;
                    if (low < 0xDC00 || low > 0xDFFF)
                        return true;
                    i += 6; /* the low half, read here */
                }
                i += 5;
            } else {
                i++; /* the escaped character */
            }
        }
    }
    return false;
}

static void check_sent(enum body_kind kind, const uint8_t *body, size_t size,
                       const struct parsed *p)
{
    CHECK(!has_lone_surrogate(body, size));
    struct sent st;
    bool ok = sent_read(&st, body, size);
    if (!st.nomem) {
        /* An accepted body is one strict JSON object with nothing nested in its arrays. */
        CHECK(ok && st.top.kind == JSON_OBJECT && !st.deep);
        switch (kind) {
        case BODY_CREATE:
            check_sent_create(&st, &p->out.create);
            break;
        case BODY_PATCH:
            check_sent_patch(&st, &p->out.patch);
            break;
        case BODY_MEMBERS:
            check_sent_members(&st, &p->out.members);
            break;
        case BODY_USERS:
            check_sent_users(&st, &p->out.users);
            break;
        }
    }
    sent_free(&st);
}

/* --- the answers ---------------------------------------------------------------------------- */

static const uint8_t stored_id[UUID_LEN] = {0x01, 0x93, 0xf1, 0xd2, 0x6c, 0x1e, 0x7a, 0x4b,
                                            0x9c, 0x2d, 0x3e, 0x4f, 0x5a, 0x6b, 0x7c, 0x8d};
static struct leadlist_str stored_persons[] = {{"lead_abc123", 11}, {"a", 1}, {"b", 1}};
static const char *const stored_company_text[] = {"660e8400-e29b-41d4-a716-446655440001",
                                                  "660e8400-e29b-41d4-a716-446655440002"};
static uint8_t stored_companies[2][UUID_LEN];
static struct leadlist_str stored_users[] = {{"user_creator", 12}, {"u", 1}};

/* The list a change applies to: a person or a company list, created by user_creator and
 * shared with u, its dates 2024-01-01 to 2024-03-31. */
static struct leadlist stored_list(bool company)
{
    struct leadlist l = {
        .name = "stored",
        .name_len = 6,
        .type = company ? LEADLIST_COMPANY : LEADLIST_PERSON,
        .start_ms = 1704067200000,
        .end_ms = 1711929599000,
        .user_ids = stored_users,
        .user_count = 2,
        .org_id = "org",
        .created_ms = 1704067200000,
        .updated_ms = 1704067200000,
        .version = 1,
    };
    memcpy(l.id, stored_id, UUID_LEN);
    for (size_t i = 0; i < 2; i++)
        CHECK(uuid_parse(stored_company_text[i], UUID_STR_LEN, stored_companies[i]) == 0);
    if (company) {
        l.company_ids = stored_companies;
        l.company_count = 2;
    } else {
        l.person_ids = stored_persons;
        l.person_count = 3;
    }
    return l;
}

static void check_refusal(struct arena *a, enum status s, const struct problems *p)
{
    const char *body;
    size_t len;
    CHECK(!problems_none(p)); /* a refusal always says why */
    CHECK(respond_error(a, s, "fuzz", p, &body, &len) == 0 && valid_json(body, len));
}

static void check_list_answer(struct arena *a, const struct leadlist *l)
{
    const char *body;
    size_t len;
    CHECK(respond_leadlist(a, l, &body, &len) == 0 && valid_json(body, len));
}

/* The account of a membership change: every id of the body once, in done or other, in order. */
static void check_account(const struct change_account *acc, size_t given)
{
    CHECK(acc->done_count + acc->other_count == given);
    size_t d = 0, o = 0;
    for (size_t i = 0; i < given; i++) {
        if (d < acc->done_count && acc->done[d] == i)
            d++;
        else if (o < acc->other_count && acc->other[o] == i)
            o++;
        else
            __builtin_trap();
    }
}

static void answer_create(struct arena *a, struct leadlist *l)
{
    const char *body, *span;
    size_t len, span_len;
    struct leadlist_str creator = {"u", 1};
    l->user_ids = &creator;
    l->user_count = 1;
    l->org_id = "org";
    CHECK(respond_leadlist(a, l, &body, &len) == 0 && valid_json(body, len));
    /* The store keeps this span as the personIds column and reads it back later. */
    CHECK(respond_person_ids_span(body, len, &span, &span_len) == 0);
    struct leadlist_str *back;
    size_t n;
    CHECK(json_in_strings(a, span, span_len, &back, &n) == 0);
    CHECK(same_strs(back, n, l->person_ids, l->person_count));
}

static void answer_patch(struct arena *a, const struct body_patch *patch, uint8_t control)
{
    struct leadlist stored = stored_list(control & 0x40), next;
    struct problems p;
    switch (leadlist_change_patch(a, &stored, patch, &next, &p)) {
    case CHANGE_REFUSED:
        check_refusal(a, STATUS_BAD_REQUEST, &p);
        return;
    case CHANGE_NOMEM:
        return;
    case CHANGE_NONE:
        CHECK(same_list(&next, &stored));
        break;
    case CHANGE_MADE:
        CHECK(!same_list(&next, &stored));
        break;
    }
    CHECK(problems_none(&p));
    check_name(next.name, next.name_len);
    CHECK(next.type == stored.type && next.end_ms >= next.start_ms);
    CHECK(next.type == LEADLIST_PERSON ? next.company_count == 0 : next.person_count == 0);
    CHECK(same_strs(next.user_ids, next.user_count, stored.user_ids, stored.user_count));
    check_list_answer(a, &next);
}

static void answer_members(struct arena *a, const struct body_members *m, uint8_t control)
{
    bool add = !(control & 0x80);
    size_t cap = (control & 0x20) ? SMALL_MEMBERS : MAX_MEMBERS;
    struct leadlist stored = stored_list(control & 0x40), next;
    struct change_account acc;
    struct problems p;
    enum change_result r = leadlist_change_members(a, &stored, m, add, cap, &next, &acc, &p);
    if (r == CHANGE_NOMEM)
        return;
    if (r == CHANGE_REFUSED) {
        check_refusal(a, STATUS_BAD_REQUEST, &p);
        return;
    }
    CHECK(problems_none(&p) && m->type == stored.type);
    size_t given = m->type == LEADLIST_COMPANY ? m->company_count : m->person_count;
    size_t before = stored.type == LEADLIST_COMPANY ? stored.company_count : stored.person_count;
    size_t after = next.type == LEADLIST_COMPANY ? next.company_count : next.person_count;
    check_account(&acc, given);
    CHECK((r == CHANGE_NONE) == (acc.done_count == 0));
    CHECK(after == (add ? before + acc.done_count : before - acc.done_count));
    CHECK(after <= cap || !add || acc.done_count == 0);
    CHECK(next.type == LEADLIST_PERSON ? next.company_count == 0 : next.person_count == 0);
    if (next.type == LEADLIST_PERSON)
        check_ids(next.person_ids, next.person_count, cap > before ? cap : before);
    struct respond_ids ids = {m->type == LEADLIST_PERSON ? m->person_ids : NULL,
                              (const uint8_t(*)[UUID_LEN])m->company_ids};
    const char *body;
    size_t len;
    CHECK(respond_members(a, &next, add, &ids, acc.done, acc.done_count, acc.other, acc.other_count,
                          &body, &len) == 0 &&
          valid_json(body, len));
}

static void answer_users(struct arena *a, const struct body_users *u, uint8_t control)
{
    bool add = !(control & 0x80);
    size_t cap = (control & 0x20) ? SMALL_USERS : MAX_USERS;
    struct leadlist stored = stored_list(control & 0x40), next;
    struct change_account acc;
    struct problems p;
    enum change_result r = leadlist_change_users(a, &stored, u, add, cap, &next, &acc, &p);
    if (r == CHANGE_NOMEM)
        return;
    if (r == CHANGE_REFUSED) {
        check_refusal(a, STATUS_BAD_REQUEST, &p);
        return;
    }
    CHECK(problems_none(&p));
    check_account(&acc, u->user_count);
    CHECK((r == CHANGE_NONE) == (acc.done_count == 0));
    CHECK(next.user_count ==
          (add ? stored.user_count + acc.done_count : stored.user_count - acc.done_count));
    CHECK(!add || next.user_count <= cap || acc.done_count == 0);
    /* The creator stays, first. */
    CHECK(next.user_count >= 1 && same_bytes(next.user_ids[0].ptr, next.user_ids[0].len,
                                             stored.user_ids[0].ptr, stored.user_ids[0].len));
    check_ids(next.user_ids, next.user_count, next.user_count);
    struct respond_ids ids = {u->user_ids, NULL};
    const char *body;
    size_t len;
    CHECK(respond_users(a, &next, add, &ids, acc.done, acc.done_count, acc.other, acc.other_count,
                        &body, &len) == 0 &&
          valid_json(body, len));
}

static void check_accepted(enum body_kind kind, const struct parsed *p)
{
    switch (kind) {
    case BODY_CREATE: {
        const struct leadlist *l = &p->out.create;
        check_name(l->name, l->name_len);
        check_ids(l->person_ids, l->person_count, MAX_IDS);
        CHECK(l->company_count <= MAX_IDS);
        break;
    }
    case BODY_PATCH: {
        const struct body_patch *b = &p->out.patch;
        if (b->fields & BODY_PATCH_NAME)
            check_name(b->name, b->name_len);
        check_ids(b->person_ids, b->person_count, MAX_IDS);
        CHECK(b->company_count <= MAX_IDS);
        break;
    }
    case BODY_MEMBERS:
        check_ids(p->out.members.person_ids, p->out.members.person_count, MAX_IDS);
        CHECK(p->out.members.company_count <= MAX_IDS);
        break;
    case BODY_USERS:
        check_ids(p->out.users.user_ids, p->out.users.user_count, BODY_USERS_MAX);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const enum body_kind kind = FUZZ_BODY;
    if (size == 0)
        return 0;
    uint8_t control = data[0];
    size_t chunk = (size_t)(control & 0x1f) + 1;
    const uint8_t *body = data + 1;
    size--;
    /* At most 256 feeds per input. yajl re-scans a token split over several yajl_parse calls
     * from its start, so a long string fed in tiny chunks costs time quadratic in its length:
     * 64 KiB in 1-byte chunks takes seconds. The service never pays that: it reads the body
     * in 64 KiB chunks (at most 16 for a 1 MiB body). Small inputs keep their 1-32 byte chunks,
     * so escapes and multi-byte characters still get split at every position. */
    if (chunk < size / 256)
        chunk = size / 256;
    struct arena *a = arena_new(4096);
    struct parsed *whole = malloc(sizeof(*whole)), *cut = malloc(sizeof(*cut));
    if (a == NULL || whole == NULL || cut == NULL)
        goto done;
    memset(whole, 0, sizeof(*whole));
    memset(cut, 0, sizeof(*cut));
    enum body_result r = parse(a, kind, body, size, chunk, cut);
    enum body_result r1 = parse(a, kind, body, size, size > 0 ? size : 1, whole);
    if (r == BODY_NOMEM || r1 == BODY_NOMEM)
        goto done;
    /* How the body is cut into chunks changes nothing. (A malformed body's one problem names
     * the byte where yajl stopped, which may depend on the cut.) */
    CHECK(r == r1);
    if (r == BODY_MALFORMED)
        CHECK(cut->problems.count == 1 && whole->problems.count == 1 &&
              strcmp(cut->problems.items[0].field, "body") == 0);
    else
        CHECK(same_problems(&cut->problems, &whole->problems));
    if (r != BODY_OK) {
        check_refusal(a, r == BODY_MALFORMED ? STATUS_MALFORMED_JSON : STATUS_BAD_REQUEST,
                      &cut->problems);
        goto done;
    }
    CHECK(problems_none(&cut->problems));
    CHECK(same_parsed(kind, cut, whole));
    check_accepted(kind, cut);
    check_sent(kind, body, size, cut);
    switch (kind) {
    case BODY_CREATE:
        answer_create(a, &cut->out.create);
        break;
    case BODY_PATCH:
        answer_patch(a, &cut->out.patch, control);
        break;
    case BODY_MEMBERS:
        answer_members(a, &cut->out.members, control);
        break;
    case BODY_USERS:
        answer_users(a, &cut->out.users, control);
        break;
    }
done:
    free(whole);
    free(cut);
    if (a != NULL)
        arena_free(a);
    return 0;
}

#else /* FUZZ_STRINGS */

/* What respond_string_array writes, json_in_strings reads back, exactly. */
static void round_trip(struct arena *a, const struct leadlist_str *items, size_t n)
{
    const char *text;
    size_t len;
    bool writable = true;
    for (size_t i = 0; i < n && writable; i++)
        writable = text_utf8_length(items[i].ptr, items[i].len) != TEXT_INVALID;
    if (respond_string_array(a, items, n, &text, &len) != 0) {
        /* Text the name rules take as valid UTF-8 must be writable too. */
        CHECK(!writable);
        return;
    }
    CHECK(valid_json(text, len));
    struct leadlist_str *back;
    size_t back_n;
    CHECK(json_in_strings(a, text, len, &back, &back_n) == 0);
    CHECK(same_strs(back, back_n, items, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena *a = arena_new(4096);
    if (a == NULL)
        return 0;
    /* 1. The input as a stored array. */
    struct leadlist_str *items = NULL;
    size_t n = 0;
    int r = json_in_strings(a, (const char *)data, size, &items, &n);
    if (r == 0) {
        CHECK(valid_json((const char *)data, size));
        for (size_t i = 0; i < n; i++)
            CHECK(items[i].ptr != NULL && items[i].ptr[items[i].len] == '\0');
        round_trip(a, items, n);
    }
    /* The reader of its own agrees on which inputs are flat arrays of strings, and on the
     * strings, their NULs included. */
    struct sent st;
    bool ok = sent_read(&st, data, size);
    if (!st.nomem) {
        bool flat = ok && st.top.kind == JSON_ARRAY && !st.deep;
        for (size_t i = 0; flat && i < st.top.count; i++)
            flat = st.top.items[i].kind == JSON_STRING;
        CHECK(flat == (r == 0));
        if (flat) {
            CHECK(st.top.count == n);
            for (size_t i = 0; i < n; i++)
                CHECK(
                    same_bytes(st.top.items[i].s, st.top.items[i].len, items[i].ptr, items[i].len));
        }
    }
    sent_free(&st);
    /* 2. The input as the strings to store: pieces split at 0xFF, which UTF-8 never holds. */
    size_t pieces = 1;
    for (size_t i = 0; i < size; i++)
        pieces += data[i] == 0xFF;
    struct leadlist_str *split = arena_alloc(a, pieces * sizeof(*split));
    if (split != NULL) {
        size_t k = 0, start = 0;
        for (size_t i = 0; i <= size; i++) {
            if (i == size || data[i] == 0xFF) {
                split[k].ptr = (const char *)data + start;
                split[k].len = i - start;
                k++;
                start = i + 1;
            }
        }
        round_trip(a, split, k);
    }
    arena_free(a);
    return 0;
}

#endif
