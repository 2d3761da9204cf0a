/* The PATCH body: the fields a change may send, the ones it may not, and the rules that need
 * the whole body. Rules that depend on the stored list (its type, the stored dates) are
 * leadlist_change.c's. */
#include <string.h>

#include "body_rules.h"

enum field {
    F_NAME,
    F_ICP_ID,
    F_START_DATE,
    F_END_DATE,
    F_PERSON_IDS,
    F_COMPANY_IDS,
    /* Fixed, or owned by the server: sent, each is a problem of its own. */
    F_ID,
    F_TYPE,
    F_USER_IDS,
    F_CREATED_AT,
    F_UPDATED_AT
};

#define BIT(f) JSON_IN_BIT(f)

static const struct json_field fields[] = {
    [F_NAME] = {"name", body_rules_set_name, NULL, 0},
    [F_ICP_ID] = {"icpId", body_rules_set_icp_id, NULL, 0},
    [F_START_DATE] = {"startDate", body_rules_set_start_date, NULL, 0},
    [F_END_DATE] = {"endDate", body_rules_set_end_date, NULL, 0},
    [F_PERSON_IDS] = {"personIds", body_rules_not_strings, body_rules_person_item, 0},
    [F_COMPANY_IDS] = {"companyIds", body_rules_not_uuids, body_rules_company_item, 0},
    [F_ID] = {"id", body_rules_read_only, NULL, 0},
    [F_TYPE] = {"type", body_rules_read_only, NULL, 0},
    [F_USER_IDS] = {"userIds", body_rules_read_only, NULL, 0},
    [F_CREATED_AT] = {"createdAt", body_rules_read_only, NULL, 0},
    [F_UPDATED_AT] = {"updatedAt", body_rules_read_only, NULL, 0},
};

/* What each changeable field sets in the answer's mask. */
static const unsigned patch_bit[] = {
    [F_NAME] = BODY_PATCH_NAME,
    [F_ICP_ID] = BODY_PATCH_ICP_ID,
    [F_START_DATE] = BODY_PATCH_START_DATE,
    [F_END_DATE] = BODY_PATCH_END_DATE,
    [F_PERSON_IDS] = BODY_PATCH_PERSON_IDS,
    [F_COMPANY_IDS] = BODY_PATCH_COMPANY_IDS,
};

static enum json_in_result finish(struct json_in *in)
{
    struct body_state *st = json_in_target(in);
    struct body_fields *v = &st->fields;
    unsigned seen = json_in_seen(in), bad = json_in_bad(in);
    /* Said only of a body with nothing else wrong: {"nmae": ...} is an unknown field. */
    if (seen == 0 && json_in_verdict(in) == JSON_IN_OK)
        json_in_body_problem(in, "nothing to change");
    if ((seen & BIT(F_START_DATE)) && (seen & BIT(F_END_DATE)) &&
        !(bad & (BIT(F_START_DATE) | BIT(F_END_DATE))) && v->end_ms < v->start_ms)
        json_in_problem(in, F_END_DATE, "must not be before startDate");
    enum json_in_result r = json_in_verdict(in);
    if (r != JSON_IN_OK)
        return r;
    if (!body_rules_dedupe(in, v))
        return JSON_IN_NOMEM;
    struct body_patch *out = st->out;
    memset(out, 0, sizeof(*out));
    for (int f = F_NAME; f <= F_COMPANY_IDS; f++) {
        if (seen & BIT(f))
            out->fields |= patch_bit[f];
    }
    out->name = v->name;
    out->name_len = v->name_len;
    out->has_icp_id = v->has_icp_id;
    memcpy(out->icp_id, v->icp_id, UUID_LEN);
    out->start_ms = v->start_ms;
    out->end_ms = v->end_ms;
    out->person_ids = v->persons.items;
    out->person_count = v->persons.count;
    out->company_ids = v->companies.items;
    out->company_count = v->companies.count;
    return JSON_IN_OK;
}

const struct body_spec body_patch_spec = {
    .fields = fields,
    .field_count = sizeof(fields) / sizeof(fields[0]),
    .finish = finish,
};
