#include "auth.h"

#include <openssl/evp.h>
#include <string.h>

#include "bearer.h"
#include "clock.h"
#include "crypto.h"
#include "log.h"

/* Sessions this worker found lately, so that a client's next requests skip the lookup. Only
 * sessions that were valid are kept, for at most cache_ms and never past their expiry: a
 * session revoked meanwhile goes on working for at most cache_ms on each worker. */
#define CACHE_SLOTS 64

struct cached {
    bool used;
    uint8_t hash[AUTH_HASH_LEN];
    struct auth_session session;
    int64_t until_mono_ms;   /* the cache's bound */
    int64_t expires_wall_ms; /* the session's own */
};

static struct cached cache[CACHE_SLOTS];
static int64_t cache_ms;

void auth_cache_init(unsigned long seconds)
{
    cache_ms = (int64_t)seconds * 1000;
    memset(cache, 0, sizeof(cache));
}

static struct cached *slot_of(const uint8_t hash[AUTH_HASH_LEN])
{
    /* The hash is SHA-256: its first bytes are as good as any index. */
    return &cache[(hash[0] | (unsigned)hash[1] << 8) % CACHE_SLOTS];
}

static bool cache_find(const uint8_t hash[AUTH_HASH_LEN], struct auth_session *session)
{
    struct cached *c = slot_of(hash);
    if (cache_ms == 0 || !c->used || memcmp(c->hash, hash, AUTH_HASH_LEN) != 0)
        return false;
    if (clock_mono_ms() >= c->until_mono_ms || clock_wall_ms() >= c->expires_wall_ms) {
        c->used = false;
        return false;
    }
    *session = c->session;
    return true;
}

static void cache_keep(const uint8_t hash[AUTH_HASH_LEN], const struct auth_session *session,
                       int64_t expires_wall_ms)
{
    if (cache_ms == 0)
        return;
    struct cached *c = slot_of(hash);
    c->used = true;
    memcpy(c->hash, hash, AUTH_HASH_LEN);
    c->session = *session;
    c->until_mono_ms = clock_mono_ms() + cache_ms;
    c->expires_wall_ms = expires_wall_ms;
}

void auth_token_hash(const char *token, size_t len, uint8_t out[AUTH_HASH_LEN])
{
    unsigned int n = 0;
    EVP_Digest(token, len, out, &n, crypto_sha256(), NULL);
}

struct lookup {
    const uint8_t *hash;
    struct auth_session *session;
    enum auth_result outcome;
    int64_t expires_wall_ms;
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
    MYSQL_TIME expires;
    MYSQL_BIND result[4];
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
    db_bind_time(&result[3], &expires, 0);

    enum db_result r = db_execute(db, DB_SESSION_LOOKUP, param, result, request_id);
    if (r != DB_OK)
        return r;
    int fetched = db_fetch(db, DB_SESSION_LOOKUP, request_id);
    db_free_result(db, DB_SESSION_LOOKUP);
    if (fetched < 0)
        return DB_FATAL;
    l->outcome = fetched == 0 ? AUTH_DENIED : AUTH_OK;
    if (fetched == 1) {
        session->role = strcmp(role, "admin") == 0 ? AUTH_ADMIN : AUTH_MEMBER;
        l->expires_wall_ms = db_time_ms(&expires);
    }
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
    if (cache_find(hash, session))
        return AUTH_OK;
    struct lookup l = {.hash = hash, .session = session, .outcome = AUTH_ERROR};
    struct db_work work = {.what = "session lookup", .run = lookup_run, .ctx = &l};
    switch (db_run(db, &work, request_id)) {
    case DB_OK:
        if (l.outcome == AUTH_OK)
            cache_keep(hash, session, l.expires_wall_ms);
        return l.outcome;
    case DB_UNAVAILABLE:
        return AUTH_UNAVAILABLE;
    default:
        return AUTH_ERROR;
    }
}
