/* The lead-list SQL: one transaction per create, with its Idempotency-Key when there is one. */
#ifndef LEADLISTS_LEADLIST_STORE_H
#define LEADLISTS_LEADLIST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "leadlist.h"

#define STORE_FINGERPRINT_LEN 32

enum store_result {
    STORE_OK,          /* committed (create), or no live key (lookup) */
    STORE_REPLAY,      /* the key holds a response for the same body: *replay is filled */
    STORE_KEY_REUSED,  /* the key holds a response for another body */
    STORE_IN_FLIGHT,   /* another request with the key is still being processed */
    STORE_UNAVAILABLE, /* the database could not be reached, or a commit's outcome is unknown */
    STORE_FATAL
};

/* An Idempotency-Key and the response to keep with it. */
struct store_key {
    const char *user_id;
    const char *key;
    size_t key_len;
    uint8_t fingerprint[STORE_FINGERPRINT_LEN]; /* SHA-256 of the request body */
    unsigned long ttl_seconds;
};

/* A response stored with a key. */
struct store_replay {
    int status;
    uint8_t leadlist_id[UUID_LEN];
    const char *body; /* arena memory */
    size_t body_len;
};

/* Looks for a live key: STORE_OK when there is none, STORE_REPLAY or STORE_KEY_REUSED. */
enum store_result leadlist_store_find_key(struct db *db, struct arena *a,
                                          const struct store_key *key, struct store_replay *replay,
                                          const char *request_id);

/* Writes the list (its creator's access is its created_by) and, when key is not NULL, the key
 * with the 201 body, in one transaction. Rolled-back attempts (deadlock, lock wait, connection
 * lost before the commit) are retried a bounded number of times; a list whose commit's answer
 * was lost is recognised by its id on the retry. STORE_OK means committed. */
enum store_result leadlist_store_create(struct db *db, struct arena *a, const struct leadlist *l,
                                        const struct store_key *key, const char *body,
                                        size_t body_len, struct store_replay *replay,
                                        const char *request_id);

#endif
