/* The create body: its fields, which are required, and the rules across them. */
#include <string.h>

#include "body_rules.h"

enum field { F_NAME, F_TYPE, F_ICP_ID, F_START_DATE, F_END_DATE, F_PERSON_IDS, F_COMPANY_IDS };

#define BIT(f) JSON_IN_BIT(f)
#define REQUIRED_FIELDS                                                                            \
    (BIT(F_NAME) | BIT(F_ICP_ID) | BIT(F_START_DATE) | BIT(F_END_DATE) | BIT(F_PERSON_IDS))

static const struct json_field fields[] = {
    [F_NAME] = {"name", body_rules_set_name, NULL, 0},
    [F_TYPE] = {"type", body_rules_set_type, NULL, 0},
    [F_ICP_ID] = {"icpId", body_rules_set_icp_id, NULL, 0},
    [F_START_DATE] = {"startDate", body_rules_set_start_date, NULL, 0},
    [F_END_DATE] = {"endDate", body_rules_set_end_date, NULL, 0},
    [F_PERSON_IDS] = {"personIds", body_rules_not_strings, body_rules_person_item, 0},
    [F_COMPANY_IDS] = {"companyIds", body_rules_not_uuids, body_rules_company_item, 0},
};

static enum json_in_result finish(struct json_in *in)
{
    struct body_state *st = json_in_target(in);
    struct body_fields *v = &st->fields;
    unsigned seen = json_in_seen(in), bad = json_in_bad(in);
    for (int f = 0; f < (int)(sizeof(fields) / sizeof(fields[0])); f++) {
        if ((REQUIRED_FIELDS & BIT(f)) && !(seen & BIT(f)))
            json_in_problem(in, f, "is required");
    }
    if (!(bad & BIT(F_TYPE))) {
        if (v->type == LEADLIST_COMPANY && json_in_items(in, F_PERSON_IDS) > 0 &&
            !(bad & BIT(F_PERSON_IDS)))
            json_in_problem(in, F_PERSON_IDS, "must be empty when type is \"company\"");
        if (v->type == LEADLIST_PERSON && json_in_items(in, F_COMPANY_IDS) > 0 &&
            !(bad & BIT(F_COMPANY_IDS)))
            json_in_problem(in, F_COMPANY_IDS, "must be empty when type is \"person\"");
    }
    if ((seen & BIT(F_START_DATE)) && (seen & BIT(F_END_DATE)) &&
        !(bad & (BIT(F_START_DATE) | BIT(F_END_DATE))) && v->end_ms < v->start_ms)
        json_in_problem(in, F_END_DATE, "must not be before startDate");
    enum json_in_result r = json_in_verdict(in);
    if (r != JSON_IN_OK)
        return r;
    if (!body_rules_dedupe(in, v))
        return JSON_IN_NOMEM;
    struct leadlist *out = st->out;
    memset(out, 0, sizeof(*out));
    out->name = v->name;
    out->name_len = v->name_len;
    out->type = v->type;
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

const struct body_spec body_create_spec = {
    .fields = fields,
    .field_count = sizeof(fields) / sizeof(fields[0]),
    .finish = finish,
};
