/* The body of add-members and remove-members ({"personIds": [...]} or {"companyIds":
 * [...]}). Whether the array's kind is the list's is a rule of the stored list
 * (leadlist_change.c). */
#include <string.h>

#include "body_rules.h"

#define BIT(f) JSON_IN_BIT(f)

enum field { F_PERSON_IDS, F_COMPANY_IDS };

static const struct json_field fields[] = {
    [F_PERSON_IDS] = {"personIds", body_rules_not_strings, body_rules_person_item, 0},
    [F_COMPANY_IDS] = {"companyIds", body_rules_not_uuids, body_rules_company_item, 0},
};

static enum json_in_result finish(struct json_in *in)
{
    struct body_state *st = json_in_target(in);
    unsigned seen = json_in_seen(in), bad = json_in_bad(in);
    unsigned both = BIT(F_PERSON_IDS) | BIT(F_COMPANY_IDS);
    if ((seen & both) == both)
        json_in_body_problem(in, "must have personIds or companyIds, not both");
    else if ((seen & both) == 0)
        json_in_body_problem(in, "must have personIds (a person list) or companyIds (a company "
                                 "list)");
    for (int f = F_PERSON_IDS; f <= F_COMPANY_IDS; f++) {
        if ((seen & BIT(f)) && !(bad & BIT(f)) && json_in_items(in, f) == 0)
            json_in_problem(in, f, "must have at least 1 item");
    }
    enum json_in_result r = json_in_verdict(in);
    if (r != JSON_IN_OK)
        return r;
    if (!body_rules_dedupe(in, &st->fields))
        return JSON_IN_NOMEM;
    struct body_members *out = st->out;
    memset(out, 0, sizeof(*out));
    out->type = (seen & BIT(F_COMPANY_IDS)) ? LEADLIST_COMPANY : LEADLIST_PERSON;
    out->person_ids = st->fields.persons.items;
    out->person_count = st->fields.persons.count;
    out->company_ids = st->fields.companies.items;
    out->company_count = st->fields.companies.count;
    return JSON_IN_OK;
}

const struct body_spec body_members_spec = {
    .fields = fields,
    .field_count = sizeof(fields) / sizeof(fields[0]),
    .finish = finish,
};
