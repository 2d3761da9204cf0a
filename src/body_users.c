/* The body of add-users and remove-users: {"userIds": [...]}, 1 to 100 ids. */
#include <string.h>

#include "body_rules.h"

#define BIT(f) JSON_IN_BIT(f)

enum field { F_USER_IDS };

static const struct json_field fields[] = {
    [F_USER_IDS] = {"userIds", body_rules_not_strings, body_rules_user_item, BODY_USERS_MAX},
};

static enum json_in_result finish(struct json_in *in)
{
    struct body_state *st = json_in_target(in);
    if (!(json_in_seen(in) & BIT(F_USER_IDS)))
        json_in_problem(in, F_USER_IDS, "is required");
    else if (!(json_in_bad(in) & BIT(F_USER_IDS)) && json_in_items(in, F_USER_IDS) == 0)
        json_in_problem(in, F_USER_IDS, "must have at least 1 item");
    enum json_in_result r = json_in_verdict(in);
    if (r != JSON_IN_OK)
        return r;
    if (!body_rules_dedupe(in, &st->fields))
        return JSON_IN_NOMEM;
    struct body_users *out = st->out;
    out->user_ids = st->fields.users.items;
    out->user_count = st->fields.users.count;
    return JSON_IN_OK;
}

const struct body_spec body_users_spec = {
    .fields = fields,
    .field_count = sizeof(fields) / sizeof(fields[0]),
    .finish = finish,
};
