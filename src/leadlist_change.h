/* What a change does to a stored list, and the rules that depend on it: the list's type, its
 * stored dates, the member and user caps, the creator who stays. Each function takes the
 * stored list and a parsed body, and gives the list as it would be after the change, or the
 * problems that refuse it, or says that the change alters nothing (the version and updatedAt
 * then stay). The version and updatedAt of a change are the store's. Pure. */
#ifndef LEADLISTS_LEADLIST_CHANGE_H
#define LEADLISTS_LEADLIST_CHANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "body.h"
#include "leadlist.h"
#include "problems.h"

enum change_result {
    CHANGE_MADE,    /* next differs from the stored list */
    CHANGE_NONE,    /* next is the stored list: nothing to write */
    CHANGE_REFUSED, /* a rule of the stored list refuses it: problems says which */
    CHANGE_NOMEM
};

/* Which of the request's ids a membership change acted on, as indexes into the body's
 * (de-duplicated) array, in request order: done is added (or removed), other is already
 * present (or not present). */
struct change_account {
    size_t *done;
    size_t done_count;
    size_t *other;
    size_t other_count;
};

/* PATCH: the fields sent replace the stored ones; an array of the list's other kind must be
 * empty; after the change endDate is not before startDate. */
enum change_result leadlist_change_patch(struct arena *a, const struct leadlist *stored,
                                         const struct body_patch *patch, struct leadlist *next,
                                         struct problems *problems);

/* add-members (add true) appends the ids not yet present, up to max_members in all;
 * remove-members takes the given ids out, the others keeping their order. The body's kind
 * must be the list's. */
enum change_result leadlist_change_members(struct arena *a, const struct leadlist *stored,
                                           const struct body_members *members, bool add,
                                           size_t max_members, struct leadlist *next,
                                           struct change_account *account,
                                           struct problems *problems);

/* add-users appends the users not yet present after the others, up to max_users in all (the
 * creator counted); remove-users takes them out, but never the creator (userIds[0]). */
enum change_result leadlist_change_users(struct arena *a, const struct leadlist *stored,
                                         const struct body_users *users, bool add, size_t max_users,
                                         struct leadlist *next, struct change_account *account,
                                         struct problems *problems);

#endif
