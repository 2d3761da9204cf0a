/* The lead-list SQL, one function per operation. Every change runs as one transaction through
 * db_run: the list row locked first, then who may act (access.h), then If-Match, then what
 * the change does (leadlist_change.h), then the writes. Nothing above this room knows SQL. */
#ifndef LEADLISTS_LEADLIST_STORE_H
#define LEADLISTS_LEADLIST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "arena.h"
#include "db.h"
#include "idem.h"
#include "leadlist.h"
#include "leadlist_change.h"
#include "problems.h"

enum store_result {
    STORE_OK,                  /* done: committed, or read */
    STORE_UNCHANGED,           /* a change that alters nothing: nothing written */
    STORE_REPLAY,              /* the Idempotency-Key holds a response for the same body */
    STORE_KEY_REUSED,          /* the key holds a response for another body */
    STORE_IN_FLIGHT,           /* another request with the key is still being processed */
    STORE_NOT_FOUND,           /* no such list, or another org's */
    STORE_FORBIDDEN,           /* a list of the caller's org that the caller may not act on */
    STORE_PRECONDITION_FAILED, /* If-Match names another version */
    STORE_REFUSED,             /* a rule of the stored list refuses the change: see problems */
    STORE_UNAVAILABLE,         /* the database could not be reached in the request's time */
    STORE_FATAL
};

/* Writes the list (its creator's access is its created_by) and, when key is not NULL, the key
 * with the answer (status and body) it keeps, in one transaction. A key committed meanwhile
 * by another request with the same body is answered with its response (STORE_REPLAY, replay
 * filled). */
enum store_result leadlist_store_create(struct db *db, struct arena *a, const struct leadlist *l,
                                        const struct idem_key *key, int status, const char *body,
                                        size_t body_len, struct idem_replay *replay,
                                        const char *request_id);

/* One list, as the caller may see it: STORE_OK and out filled, STORE_NOT_FOUND or
 * STORE_FORBIDDEN. */
enum store_result leadlist_store_get(struct db *db, struct arena *a,
                                     const struct access_caller *caller, const uint8_t id[UUID_LEN],
                                     struct leadlist *out, const char *request_id);

/* A page of the lists the caller may see, newest first: those with an id below after, of
 * one type when has_type. */
struct store_page_query {
    bool has_type;
    enum leadlist_type type;
    uint8_t after[UUID_LEN]; /* all 0xff for the first page */
    unsigned limit;
};

/* STORE_OK with *items (arena) and *count; *more when a list follows the page. */
enum store_result leadlist_store_page(struct db *db, struct arena *a,
                                      const struct access_caller *caller,
                                      const struct store_page_query *q, struct leadlist **items,
                                      size_t *count, bool *more, const char *request_id);

/* What a change does, given the list as stored (locked): fills next, or problems. */
typedef enum change_result (*store_apply)(void *ctx, struct arena *a, const struct leadlist *stored,
                                          struct leadlist *next, struct problems *problems);

struct store_change {
    const char *what;     /* for the log: "patch", "add-members" */
    const uint8_t *id;    /* the list */
    const char *if_match; /* the header, valid, or NULL */
    store_apply apply;
    void *ctx;
    struct problems *problems; /* for STORE_REFUSED */
    /* Filled: the list as it was (its version is the current ETag when the answer is 412)
     * and as it is after the change (the same list when STORE_UNCHANGED). */
    struct leadlist stored;
    struct leadlist result;
};

enum store_result leadlist_store_change(struct db *db, struct arena *a,
                                        const struct access_caller *caller,
                                        struct store_change *change, const char *request_id);

/* Deletes the list, its members and its users. *version is the current version (for 412). */
enum store_result leadlist_store_delete(struct db *db, struct arena *a,
                                        const struct access_caller *caller,
                                        const uint8_t id[UUID_LEN], const char *if_match,
                                        uint32_t *version, const char *request_id);

#endif
