/* A lead list as the service stores and returns it. */
#ifndef LEADLISTS_LEADLIST_H
#define LEADLISTS_LEADLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uuid.h"

#define LEADLIST_NAME_MAX_CHARS 255

enum leadlist_type { LEADLIST_PERSON, LEADLIST_COMPANY };

struct leadlist_str {
    const char *ptr;
    size_t len;
};

struct leadlist {
    uint8_t id[UUID_LEN];
    bool has_icp_id;
    uint8_t icp_id[UUID_LEN];
    const char *name; /* trimmed, NUL-terminated */
    size_t name_len;
    enum leadlist_type type;
    int64_t start_ms; /* UTC milliseconds since the epoch */
    int64_t end_ms;
    struct leadlist_str *person_ids; /* de-duplicated, request order */
    size_t person_count;
    uint8_t (*company_ids)[UUID_LEN]; /* de-duplicated, request order */
    size_t company_count;
    struct leadlist_str *user_ids; /* who may act on it: the creator first */
    size_t user_count;
    const char *org_id;
    int64_t created_ms;
    int64_t updated_ms;
    uint32_t version; /* 1 at creation, one more with each change that alters the list */
};

static inline const char *leadlist_type_name(enum leadlist_type t)
{
    return t == LEADLIST_COMPANY ? "company" : "person";
}

#endif
