/* The lead-list SQL: one transaction per create. */
#ifndef LEADLISTS_LEADLIST_STORE_H
#define LEADLISTS_LEADLIST_STORE_H

#include "arena.h"
#include "db.h"
#include "leadlist.h"

/* Writes the list and its creator's access in one transaction, retrying a bounded number of
 * times when the database rolled it back (deadlock, lost connection before commit).
 * DB_OK means committed. */
enum db_result leadlist_store_create(struct db *db, struct arena *a, const struct leadlist *l,
                                     const char *request_id);

#endif
