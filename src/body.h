/* The request bodies of the API, parsed as a stream: feed a body chunk by chunk, then finish.
 * Every problem is collected for the 400's details. One parser per body, each a field table
 * over the streaming engine (json_in.h) with rules of its own: body_create.c,
 * body_patch.c, body_members.c (add/remove members and users); the value rules they share
 * (names, dates, UUIDs, ids) are body_rules.c. Pure: yajl and the arena, nothing else. */
#ifndef LEADLISTS_BODY_H
#define LEADLISTS_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "leadlist.h"
#include "problems.h"

enum body_kind {
    BODY_CREATE,  /* fills a struct leadlist (name, type, icp, dates, ids) */
    BODY_PATCH,   /* fills a struct body_patch */
    BODY_MEMBERS, /* fills a struct body_members */
    BODY_USERS    /* fills a struct body_users */
};

/* What a PATCH sends: the fields present, each already checked on its own. */
enum body_patch_field {
    BODY_PATCH_NAME = 1u << 0,
    BODY_PATCH_ICP_ID = 1u << 1,
    BODY_PATCH_START_DATE = 1u << 2,
    BODY_PATCH_END_DATE = 1u << 3,
    BODY_PATCH_PERSON_IDS = 1u << 4,
    BODY_PATCH_COMPANY_IDS = 1u << 5
};

struct body_patch {
    unsigned fields; /* enum body_patch_field bits */
    const char *name;
    size_t name_len;
    bool has_icp_id;
    uint8_t icp_id[UUID_LEN];
    int64_t start_ms, end_ms;
    struct leadlist_str *person_ids; /* de-duplicated, request order */
    size_t person_count;
    uint8_t (*company_ids)[UUID_LEN];
    size_t company_count;
};

/* add-members and remove-members: exactly one of the arrays, 1 to max_ids ids. */
struct body_members {
    enum leadlist_type type;         /* which array was sent */
    struct leadlist_str *person_ids; /* de-duplicated, request order */
    size_t person_count;
    uint8_t (*company_ids)[UUID_LEN];
    size_t company_count;
};

/* add-users and remove-users: 1 to BODY_USERS_MAX user ids, de-duplicated, in order. */
#define BODY_USERS_MAX 100
struct body_users {
    struct leadlist_str *user_ids;
    size_t user_count;
};

struct body_limits {
    size_t max_ids;   /* entries per id array, counted before de-duplication */
    size_t max_depth; /* nesting of arrays and objects, the body's own object included */
};

enum body_result {
    BODY_OK,        /* out is filled */
    BODY_INVALID,   /* JSON, but problems says what is wrong */
    BODY_MALFORMED, /* not one JSON value; problems has one entry for "body" */
    BODY_NOMEM
};

struct body;

/* A parser for a body of the given kind, filling out (the struct its kind names) and
 * problems, both owned by the caller and living as long as the arena. NULL when out of
 * memory. */
struct body *body_new(struct arena *a, enum body_kind kind, const struct body_limits *limits,
                      void *out, struct problems *problems);

/* Parses the next chunk. Returns 0 to go on, -1 when the outcome is already settled (the body
 * is malformed, too deep, or memory ran out): the caller may stop reading. */
int body_feed(struct body *b, const void *chunk, size_t len);

/* Ends the input and runs the checks that need the whole body. */
enum body_result body_finish(struct body *b);

/* Releases the parser (not out or problems). NULL is fine. */
void body_free(struct body *b);

#endif
