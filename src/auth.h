/* Who is calling: the bearer token, its SHA-256 and the session it names. */
#ifndef LEADLISTS_AUTH_H
#define LEADLISTS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define AUTH_HASH_LEN 32
#define AUTH_ID_MAX 64

enum auth_role { AUTH_MEMBER, AUTH_ADMIN };

struct auth_session {
    char user_id[AUTH_ID_MAX + 1];
    char org_id[AUTH_ID_MAX + 1];
    enum auth_role role;
};

enum auth_result {
    AUTH_OK,
    AUTH_DENIED,      /* no usable credentials, or no live session for them */
    AUTH_UNAVAILABLE, /* the database could not answer */
    AUTH_ERROR
};

void auth_token_hash(const char *token, size_t len, uint8_t out[AUTH_HASH_LEN]);

/* Keeps valid sessions in this process for at most seconds (0: never), so that a client's
 * next requests skip the lookup: a session revoked meanwhile still works that long. */
void auth_cache_init(unsigned long seconds);

/* Checks an Authorization header value (NULL when absent) against the sessions table (or the
 * sessions kept by auth_cache_init). */
enum auth_result auth_check(struct db *db, const char *authorization, struct auth_session *session,
                            const char *request_id);

#endif
