/* Rules for member ids and order-keeping de-duplication. Pure: no I/O. */
#ifndef LEADLISTS_IDS_H
#define LEADLISTS_IDS_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

#define IDS_PERSON_MAX_LEN 64

/* A person id is 1..64 bytes of A-Z a-z 0-9 . _ : - */
bool ids_person_valid(const char *s, size_t len);

/* A set of byte strings for de-duplication, sized once for at most max_items entries and
 * allocated from an arena (nothing to free). Keys are not copied: they must outlive the set. */
struct ids_set;

/* NULL when out of memory. */
struct ids_set *ids_set_new(struct arena *a, size_t max_items);

/* Returns 1 when key was added, 0 when it was already there, -1 when the set is full
 * (more than max_items distinct keys). */
int ids_set_add(struct ids_set *set, const void *key, size_t len);

/* True when key is in the set. */
bool ids_set_contains(const struct ids_set *set, const void *key, size_t len);

#endif
