/* Idempotency-Key: a create that carries one keeps the key, the SHA-256 of its body and its
 * response, in the same transaction as the list. The same key and body again get the kept
 * response; another body is refused; a key whose first request is still in flight is a
 * conflict. Keys belong to the user who sent them and expire after idempotency_ttl. */
#ifndef LEADLISTS_IDEM_H
#define LEADLISTS_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "uuid.h"

#define IDEM_FINGERPRINT_LEN 32

struct idem_key {
    const char *user_id;
    const char *key;
    size_t key_len;
    uint8_t fingerprint[IDEM_FINGERPRINT_LEN]; /* SHA-256 of the request body */
    unsigned long ttl_seconds;
};

/* A response kept with a key. */
struct idem_replay {
    int status;
    uint8_t leadlist_id[UUID_LEN];
    const char *body; /* arena memory */
    size_t body_len;
};

enum idem_found {
    IDEM_NONE,   /* no live key: the request is new */
    IDEM_REPLAY, /* the key holds a response for the same body: replay is filled */
    IDEM_REUSED  /* the key holds a response for another body */
};

/* Looks for a live key, on its own (not in a transaction). DB_OK with *found set, or what
 * db_run answered. */
enum db_result idem_find(struct db *db, struct arena *a, const struct idem_key *key,
                         enum idem_found *found, struct idem_replay *replay,
                         const char *request_id);

/* The key's row, bound once for every attempt of the transaction that claims it. */
struct idem_claim {
    MYSQL_BIND bind[9];
    unsigned long user_len, key_len, fingerprint_len, id_len, body_len;
    unsigned int status;
    unsigned long long ttl;
    MYSQL_TIME created, created_again;
};

/* Binds the row for key: the list's id, the response status and body to keep (which must
 * stay alive), created_ms its time. */
void idem_claim_bind(struct idem_claim *c, const struct idem_key *key,
                     const uint8_t leadlist_id[UUID_LEN], int status, const char *body,
                     size_t body_len, int64_t created_ms);

enum idem_claimed {
    IDEM_CLAIMED,  /* ours: the rest of the transaction may follow */
    IDEM_TAKEN,    /* committed by another request since the lookup (rolled back) */
    IDEM_IN_FLIGHT /* another request holds it now (rolled back) */
};

/* The transaction's first statement: claims the key without waiting for any lock. DB_OK with
 * *claimed set, or the statement's failure. */
enum db_result idem_claim(struct db *db, struct idem_claim *c, enum idem_claimed *claimed,
                          const char *request_id);

#endif
