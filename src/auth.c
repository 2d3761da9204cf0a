#include "auth.h"

#include <openssl/evp.h>
#include <string.h>

#include "bearer.h"
#include "crypto.h"
#include "log.h"

void auth_token_hash(const char *token, size_t len, uint8_t out[AUTH_HASH_LEN])
{
    unsigned int n = 0;
    EVP_Digest(token, len, out, &n, crypto_sha256(), NULL);
}

struct lookup {
    const uint8_t *hash;
    struct auth_session *session;
    enum auth_result outcome;
};

static enum db_result lookup_run(struct db *db, void *ctx, const char *request_id)
{
    struct lookup *l = ctx;
    const uint8_t *hash = l->hash;
    struct auth_session *session = l->session;
    unsigned long hash_len = AUTH_HASH_LEN;
    MYSQL_BIND param[1];
    memset(param, 0, sizeof(param));
    param[0].buffer_type = MYSQL_TYPE_BLOB;
    param[0].buffer = (void *)hash;
    param[0].buffer_length = AUTH_HASH_LEN;
    param[0].length = &hash_len;

    char role[16];
    unsigned long lengths[3] = {0, 0, 0};
    my_bool nulls[3] = {0, 0, 0};
    MYSQL_BIND result[3];
    memset(result, 0, sizeof(result));
    result[0].buffer_type = MYSQL_TYPE_STRING;
    result[0].buffer = session->user_id;
    result[0].buffer_length = sizeof(session->user_id);
    result[0].length = &lengths[0];
    result[0].is_null = &nulls[0];
    result[1].buffer_type = MYSQL_TYPE_STRING;
    result[1].buffer = session->org_id;
    result[1].buffer_length = sizeof(session->org_id);
    result[1].length = &lengths[1];
    result[1].is_null = &nulls[1];
    result[2].buffer_type = MYSQL_TYPE_STRING;
    result[2].buffer = role;
    result[2].buffer_length = sizeof(role);
    result[2].length = &lengths[2];
    result[2].is_null = &nulls[2];

    enum db_result r = db_execute(db, DB_SESSION_LOOKUP, param, result, request_id);
    if (r != DB_OK)
        return r;
    int fetched = db_fetch(db, DB_SESSION_LOOKUP, request_id);
    db_free_result(db, DB_SESSION_LOOKUP);
    if (fetched < 0)
        return DB_FATAL;
    l->outcome = fetched == 0 ? AUTH_DENIED : AUTH_OK;
    if (fetched == 1)
        session->role = strcmp(role, "admin") == 0 ? AUTH_ADMIN : AUTH_MEMBER;
    return DB_OK;
}

enum auth_result auth_check(struct db *db, const char *authorization, struct auth_session *session,
                            const char *request_id)
{
    const char *token;
    size_t len;
    if (bearer_parse(authorization, &token, &len) != 0)
        return AUTH_DENIED;
    uint8_t hash[AUTH_HASH_LEN];
    auth_token_hash(token, len, hash);
    memset(session, 0, sizeof(*session));
    struct lookup l = {.hash = hash, .session = session, .outcome = AUTH_ERROR};
    struct db_work work = {.what = "session lookup", .run = lookup_run, .ctx = &l};
    switch (db_run(db, &work, request_id)) {
    case DB_OK:
        return l.outcome;
    case DB_UNAVAILABLE:
        return AUTH_UNAVAILABLE;
    default:
        return AUTH_ERROR;
    }
}
