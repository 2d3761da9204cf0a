#include "leadlist_change.h"

#include <stdio.h>
#include <string.h>

#include "ids.h"

static bool same_str(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

static bool same_strings(const struct leadlist_str *a, size_t a_count, const struct leadlist_str *b,
                         size_t b_count)
{
    if (a_count != b_count)
        return false;
    for (size_t i = 0; i < a_count; i++) {
        if (!same_str(a[i].ptr, a[i].len, b[i].ptr, b[i].len))
            return false;
    }
    return true;
}

static const char *kind_field(enum leadlist_type t)
{
    return t == LEADLIST_COMPANY ? "companyIds" : "personIds";
}

static const char *other_kind_message(enum leadlist_type list_type)
{
    return list_type == LEADLIST_COMPANY ? "must be empty: this is a company list"
                                         : "must be empty: this is a person list";
}

enum change_result leadlist_change_patch(struct arena *a, const struct leadlist *stored,
                                         const struct body_patch *patch, struct leadlist *next,
                                         struct problems *problems)
{
    problems_init(problems);
    *next = *stored;
    unsigned f = patch->fields;
    if (f & BODY_PATCH_NAME) {
        next->name = patch->name;
        next->name_len = patch->name_len;
    }
    if (f & BODY_PATCH_ICP_ID) {
        next->has_icp_id = patch->has_icp_id;
        if (patch->has_icp_id)
            memcpy(next->icp_id, patch->icp_id, UUID_LEN);
    }
    if (f & BODY_PATCH_START_DATE)
        next->start_ms = patch->start_ms;
    if (f & BODY_PATCH_END_DATE)
        next->end_ms = patch->end_ms;
    bool person_list = stored->type == LEADLIST_PERSON;
    if (f & BODY_PATCH_PERSON_IDS) {
        if (person_list) {
            next->person_ids = patch->person_ids;
            next->person_count = patch->person_count;
        } else if (patch->person_count > 0) {
            problems_add(problems, a, "personIds", other_kind_message(stored->type));
        }
    }
    if (f & BODY_PATCH_COMPANY_IDS) {
        if (!person_list) {
            next->company_ids = patch->company_ids;
            next->company_count = patch->company_count;
        } else if (patch->company_count > 0) {
            problems_add(problems, a, "companyIds", other_kind_message(stored->type));
        }
    }
    if (next->end_ms < next->start_ms) {
        if (f & BODY_PATCH_END_DATE)
            problems_add(problems, a, "endDate", "must not be before startDate");
        else
            problems_add(problems, a, "startDate", "must not be after the stored endDate");
    }
    if (problems->out_of_memory)
        return CHANGE_NOMEM;
    if (!problems_none(problems))
        return CHANGE_REFUSED;
    bool same = same_str(next->name, next->name_len, stored->name, stored->name_len) &&
                next->has_icp_id == stored->has_icp_id &&
                (!next->has_icp_id || memcmp(next->icp_id, stored->icp_id, UUID_LEN) == 0) &&
                next->start_ms == stored->start_ms && next->end_ms == stored->end_ms &&
                same_strings(next->person_ids, next->person_count, stored->person_ids,
                             stored->person_count) &&
                next->company_count == stored->company_count &&
                (next->company_count == 0 || memcmp(next->company_ids, stored->company_ids,
                                                    next->company_count * UUID_LEN) == 0);
    return same ? CHANGE_NONE : CHANGE_MADE;
}

/* The ids of one kind as byte strings, for one loop over either kind. An empty array may have
 * no items pointer at all, so the kind is said, not inferred. */
struct ids_view {
    bool strings; /* strs, else uuids */
    const struct leadlist_str *strs;
    const uint8_t (*uuids)[UUID_LEN];
    size_t count;
};

static const void *view_key(const struct ids_view *v, size_t i, size_t *len)
{
    if (v->strings) {
        *len = v->strs[i].len;
        return v->strs[i].ptr;
    }
    *len = UUID_LEN;
    return v->uuids[i];
}

static struct ids_view stored_view(const struct leadlist *l)
{
    if (l->type == LEADLIST_COMPANY)
        return (struct ids_view){false, NULL, (const uint8_t(*)[UUID_LEN])l->company_ids,
                                 l->company_count};
    return (struct ids_view){true, l->person_ids, NULL, l->person_count};
}

static bool account_new(struct arena *a, struct change_account *acc, size_t n)
{
    memset(acc, 0, sizeof(*acc));
    acc->done = arena_alloc(a, (n > 0 ? n : 1) * sizeof(size_t));
    acc->other = arena_alloc(a, (n > 0 ? n : 1) * sizeof(size_t));
    return acc->done != NULL && acc->other != NULL;
}

/* The cap a change would pass, as a problem of field. */
static void cap_problem(struct problems *p, struct arena *a, const char *field, size_t holds,
                        const char *noun, size_t cap)
{
    char *msg = arena_alloc(a, 128);
    if (msg == NULL) {
        p->out_of_memory = true;
        return;
    }
    snprintf(msg, 128, "would pass the cap: the list holds %zu %s and may hold at most %zu", holds,
             noun, cap);
    problems_add(p, a, field, msg);
}

/* The stored ids of one kind, after adding or removing the request's. */
static enum change_result merge_ids(struct arena *a, const struct ids_view *have,
                                    const struct ids_view *given, bool add, size_t cap,
                                    const char *field, const char *noun,
                                    const struct leadlist_str **out_strs,
                                    uint8_t (**out_uuids)[UUID_LEN], size_t *out_count,
                                    struct change_account *acc, struct problems *problems)
{
    struct ids_set *stored = ids_set_new(a, have->count + 1);
    if (stored == NULL || !account_new(a, acc, given->count))
        return CHANGE_NOMEM;
    for (size_t i = 0; i < have->count; i++) {
        size_t len;
        const void *k = view_key(have, i, &len);
        ids_set_add(stored, k, len);
    }
    for (size_t i = 0; i < given->count; i++) {
        size_t len;
        const void *k = view_key(given, i, &len);
        bool present = ids_set_contains(stored, k, len);
        if (present != add)
            acc->done[acc->done_count++] = i;
        else
            acc->other[acc->other_count++] = i;
    }
    if (add && have->count + acc->done_count > cap) {
        cap_problem(problems, a, field, have->count, noun, cap);
        return problems->out_of_memory ? CHANGE_NOMEM : CHANGE_REFUSED;
    }
    if (acc->done_count == 0)
        return CHANGE_NONE;
    size_t total = add ? have->count + acc->done_count : have->count - acc->done_count;
    size_t item = have->strings ? sizeof(struct leadlist_str) : UUID_LEN;
    unsigned char *items = arena_alloc(a, (total > 0 ? total : 1) * item);
    if (items == NULL)
        return CHANGE_NOMEM;
    size_t n = 0;
    struct ids_set *removed = NULL;
    if (!add) {
        removed = ids_set_new(a, acc->done_count);
        if (removed == NULL)
            return CHANGE_NOMEM;
        for (size_t i = 0; i < acc->done_count; i++) {
            size_t len;
            const void *k = view_key(given, acc->done[i], &len);
            ids_set_add(removed, k, len);
        }
    }
    for (size_t i = 0; i < have->count; i++) {
        size_t len;
        const void *k = view_key(have, i, &len);
        if (removed != NULL && ids_set_contains(removed, k, len))
            continue;
        if (have->strings)
            memcpy(items + n * item, &have->strs[i], item);
        else
            memcpy(items + n * item, have->uuids[i], item);
        n++;
    }
    for (size_t i = 0; add && i < acc->done_count; i++) {
        size_t g = acc->done[i];
        if (given->strings)
            memcpy(items + n * item, &given->strs[g], item);
        else
            memcpy(items + n * item, given->uuids[g], item);
        n++;
    }
    if (have->strings)
        *out_strs = (const struct leadlist_str *)(void *)items;
    else
        *out_uuids = (uint8_t(*)[UUID_LEN])(void *)items;
    *out_count = n;
    return CHANGE_MADE;
}

enum change_result leadlist_change_members(struct arena *a, const struct leadlist *stored,
                                           const struct body_members *members, bool add,
                                           size_t max_members, struct leadlist *next,
                                           struct change_account *account,
                                           struct problems *problems)
{
    problems_init(problems);
    *next = *stored;
    memset(account, 0, sizeof(*account));
    if (members->type != stored->type) {
        problems_add(problems, a, kind_field(members->type),
                     stored->type == LEADLIST_COMPANY
                         ? "cannot be used on a company list: send companyIds"
                         : "cannot be used on a person list: send personIds");
        return problems->out_of_memory ? CHANGE_NOMEM : CHANGE_REFUSED;
    }
    struct ids_view have = stored_view(stored);
    struct ids_view given =
        members->type == LEADLIST_COMPANY
            ? (struct ids_view){false, NULL, (const uint8_t(*)[UUID_LEN])members->company_ids,
                                members->company_count}
            : (struct ids_view){true, members->person_ids, NULL, members->person_count};
    const struct leadlist_str *strs = NULL;
    uint8_t(*uuids)[UUID_LEN] = NULL;
    size_t count = 0;
    enum change_result r = merge_ids(a, &have, &given, add, max_members, kind_field(stored->type),
                                     "ids", &strs, &uuids, &count, account, problems);
    if (r != CHANGE_MADE)
        return r;
    if (stored->type == LEADLIST_COMPANY) {
        next->company_ids = uuids;
        next->company_count = count;
    } else {
        next->person_ids = (struct leadlist_str *)strs;
        next->person_count = count;
    }
    return CHANGE_MADE;
}

enum change_result leadlist_change_users(struct arena *a, const struct leadlist *stored,
                                         const struct body_users *users, bool add, size_t max_users,
                                         struct leadlist *next, struct change_account *account,
                                         struct problems *problems)
{
    problems_init(problems);
    *next = *stored;
    memset(account, 0, sizeof(*account));
    if (!add && stored->user_count > 0) {
        const struct leadlist_str *creator = &stored->user_ids[0];
        /* No index: the ids were de-duplicated, and an index would no longer be the one in
         * the request. */
        for (size_t i = 0; i < users->user_count; i++) {
            if (same_str(users->user_ids[i].ptr, users->user_ids[i].len, creator->ptr,
                         creator->len))
                problems_add(problems, a, "userIds",
                             "holds the list's creator, who cannot be removed");
        }
        if (!problems_none(problems))
            return problems->out_of_memory ? CHANGE_NOMEM : CHANGE_REFUSED;
    }
    struct ids_view have = {true, stored->user_ids, NULL, stored->user_count};
    struct ids_view given = {true, users->user_ids, NULL, users->user_count};
    const struct leadlist_str *strs = NULL;
    uint8_t(*unused)[UUID_LEN] = NULL;
    size_t count = 0;
    enum change_result r = merge_ids(a, &have, &given, add, max_users, "userIds", "users", &strs,
                                     &unused, &count, account, problems);
    if (r != CHANGE_MADE)
        return r;
    next->user_ids = (struct leadlist_str *)strs;
    next->user_count = count;
    return CHANGE_MADE;
}
