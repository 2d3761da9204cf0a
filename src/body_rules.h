/* What the body parsers share: the value rules of the API's fields (a name, a type, a UUID,
 * a date, person, company and user ids), the order-keeping de-duplication, and the shape of
 * a body parser. Internal to the body_*.c rooms; body.h is their interface. */
#ifndef LEADLISTS_BODY_RULES_H
#define LEADLISTS_BODY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "body.h"
#include "json_in.h"

/* One body: its field table, and the end-of-body rules, which fill the answer (the state's
 * out) and return json_in_verdict's word. */
struct body_spec {
    const struct json_field *fields;
    size_t field_count;
    enum json_in_result (*finish)(struct json_in *in);
};

extern const struct body_spec body_create_spec;
extern const struct body_spec body_patch_spec;
extern const struct body_spec body_members_spec;
extern const struct body_spec body_users_spec;

/* The values a body can carry, as read. The setters below fill them for every field table. */
struct body_fields {
    const char *name;
    size_t name_len;
    enum leadlist_type type; /* LEADLIST_PERSON (0) unless sent */
    bool has_icp_id;
    uint8_t icp_id[UUID_LEN];
    int64_t start_ms, end_ms;
    struct json_in_strs persons;
    struct json_in_uuids companies;
    struct json_in_strs users;
};

/* A body's parse state, json_in's target: zeroed, then the values as they are read, and the
 * caller's struct the end-of-body rules fill (the one its kind names in body.h). */
struct body_state {
    struct body_fields fields;
    void *out;
};

/* json_field setters: each checks the value, keeps it in the state's fields when it is right,
 * and adds a problem for the field when it is not. */
void body_rules_set_name(struct json_in *in, int f, enum json_kind kind, const char *s, size_t len);
void body_rules_set_type(struct json_in *in, int f, enum json_kind kind, const char *s, size_t len);
/* A UUID, or null. */
void body_rules_set_icp_id(struct json_in *in, int f, enum json_kind kind, const char *s,
                           size_t len);
void body_rules_set_start_date(struct json_in *in, int f, enum json_kind kind, const char *s,
                               size_t len);
void body_rules_set_end_date(struct json_in *in, int f, enum json_kind kind, const char *s,
                             size_t len);

/* Array items, appended when right, a problem for field[index] when not. */
void body_rules_person_item(struct json_in *in, int f, size_t index, enum json_kind kind,
                            const char *s, size_t len);
void body_rules_company_item(struct json_in *in, int f, size_t index, enum json_kind kind,
                             const char *s, size_t len);
void body_rules_user_item(struct json_in *in, int f, size_t index, enum json_kind kind,
                          const char *s, size_t len);

/* The value of an array field that is not an array (json_field value setters). */
void body_rules_not_strings(struct json_in *in, int f, enum json_kind kind, const char *s,
                            size_t len);
void body_rules_not_uuids(struct json_in *in, int f, enum json_kind kind, const char *s,
                          size_t len);

/* A field the client may not send (id, createdAt, ...). */
void body_rules_read_only(struct json_in *in, int f, enum json_kind kind, const char *s,
                          size_t len);

/* Keeps the first occurrence of each id, in order, in every id array of the fields. false
 * when memory ran out. */
bool body_rules_dedupe(struct json_in *in, struct body_fields *fields);

#endif
