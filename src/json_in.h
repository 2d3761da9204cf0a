/* The streaming engine every request body goes through: yajl set up strictly, the body fed
 * chunk by chunk, nesting depth and array lengths bounded inside the callbacks, unknown and
 * repeated keys refused, unpaired surrogate escapes caught (yajl turns them into '?'
 * silently), and every problem collected. What a body holds is a table of fields, each
 * with the setter that checks and keeps its value: the create, PATCH and membership bodies
 * are such tables (body.h). Pure: yajl and the arena, nothing else. */
#ifndef LEADLISTS_JSON_IN_H
#define LEADLISTS_JSON_IN_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "leadlist.h"
#include "problems.h"

enum json_kind { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_OBJECT, JSON_ARRAY };

struct json_in;

/* A field of the body's object. At most 32 per table (the seen mask). */
struct json_field {
    const char *name;
    /* The field's value: a scalar (s and len its text: the string's bytes, a number's digits,
     * NULL for null and booleans) or a container (s NULL), whose content is then passed over.
     * For an array field, called only when the value is not an array. */
    void (*value)(struct json_in *in, int field, enum json_kind kind, const char *s, size_t len);
    /* For an array field: each item, in order, index counted from 0; a container as an item
     * comes with s NULL and is passed over. NULL for fields that are not arrays. */
    void (*item)(struct json_in *in, int field, size_t index, enum json_kind kind, const char *s,
                 size_t len);
    /* For an array field: at most this many items (0: the limits' max_items); past it one
     * problem, "must have at most N items", and the rest are not passed on. */
    size_t max_items;
};

struct json_in_limits {
    size_t max_items; /* items per array field, unless the field says otherwise */
    size_t max_depth; /* nesting of arrays and objects, the body's own object included */
};

enum json_in_result {
    JSON_IN_OK,        /* one object, read to its end; problems may still hold field problems */
    JSON_IN_INVALID,   /* JSON, but the problems say why it cannot be taken */
    JSON_IN_MALFORMED, /* not one JSON value; the problems hold one entry for "body" */
    JSON_IN_NOMEM
};

/* Reads an object of the fields in table (count of them) into target, which the setters
 * fill. problems is reset. NULL when out of memory. */
struct json_in *json_in_new(struct arena *a, const struct json_in_limits *limits,
                            const struct json_field *table, size_t count, void *target,
                            struct problems *problems);

/* Parses the next chunk. Returns 0 to go on, -1 when the outcome is already settled (the body
 * is malformed, too deep, or memory ran out): the caller may stop reading. */
int json_in_feed(struct json_in *in, const void *chunk, size_t len);

/* Ends the input. JSON_IN_OK means the object was read: the caller then checks what needs
 * the whole body (required fields, rules across fields) with json_in_seen, json_in_bad and
 * json_in_problem, and looks at json_in_verdict for the final word. */
enum json_in_result json_in_finish(struct json_in *in);

/* After the caller's own checks: JSON_IN_OK when no problem was found at all, else
 * JSON_IN_INVALID (or JSON_IN_NOMEM). */
enum json_in_result json_in_verdict(struct json_in *in);

/* Releases yajl (not the target or the problems). NULL is fine. */
void json_in_free(struct json_in *in);

/* For setters and end-of-body rules. */
void *json_in_target(struct json_in *in);
struct arena *json_in_arena(struct json_in *in);
unsigned json_in_seen(const struct json_in *in); /* bit f: field f was present */
unsigned json_in_bad(const struct json_in *in);  /* bit f: field f had a problem */
size_t json_in_items(const struct json_in *in,
                     int field); /* items of an array field, kept or not */
void json_in_problem(struct json_in *in, int field, const char *message);
void json_in_item_problem(struct json_in *in, int field, size_t index, const char *message);
void json_in_body_problem(struct json_in *in, const char *message);
void json_in_nomem(struct json_in *in);
#define JSON_IN_BIT(f) (1u << (f))

/* A growing array of strings or of UUIDs, the shape id-array setters fill. Appends return
 * false when memory ran out (already noted on in). */
struct json_in_strs {
    struct leadlist_str *items;
    size_t count, cap;
};
struct json_in_uuids {
    uint8_t (*items)[UUID_LEN];
    size_t count, cap;
};
bool json_in_add_str(struct json_in *in, struct json_in_strs *l, const char *s, size_t len);
bool json_in_add_uuid(struct json_in *in, struct json_in_uuids *l, const uint8_t id[UUID_LEN]);

/* Reads a JSON array of strings that the service wrote itself (a stored personIds column, a
 * list of user ids from the database) into the arena. 0, or -1 when it is not such an array
 * or memory ran out. */
int json_in_strings(struct arena *a, const char *text, size_t len, struct leadlist_str **items,
                    size_t *count);

#endif
