#include "idem.h"

#include <mysqld_error.h>
#include <stdbool.h>
#include <string.h>

#include "log.h"

struct find_work {
    struct arena *arena;
    const struct idem_key *key;
    struct idem_replay *replay;
    enum idem_found found;
};

static void bind_key(MYSQL_BIND *b, const struct idem_key *key, unsigned long *user_len,
                     unsigned long *key_len)
{
    *user_len = strlen(key->user_id);
    *key_len = key->key_len;
    db_bind_text(&b[0], key->user_id, user_len);
    db_bind_blob(&b[1], key->key, key_len);
}

static enum db_result find_run(struct db *db, void *ctx, const char *request_id)
{
    struct find_work *w = ctx;
    MYSQL_BIND params[2];
    unsigned long user_len, key_len;
    memset(params, 0, sizeof(params));
    bind_key(params, w->key, &user_len, &key_len);

    uint8_t fingerprint[IDEM_FINGERPRINT_LEN];
    unsigned long fingerprint_len = sizeof(fingerprint), id_len = UUID_LEN, body_len = 0;
    unsigned int status = 0;
    my_bool body_null = 0;
    MYSQL_BIND result[4];
    memset(result, 0, sizeof(result));
    db_bind_blob(&result[0], fingerprint, &fingerprint_len);
    db_bind_uint(&result[1], &status);
    db_bind_blob(&result[2], w->replay->leadlist_id, &id_len);
    db_bind_sized(&result[3], &body_len, &body_null);

    enum db_result r = db_execute(db, DB_IDEM_FIND, params, result, request_id);
    if (r != DB_OK)
        return r;
    r = DB_FATAL;
    int fetched = db_fetch(db, DB_IDEM_FIND, request_id);
    if (fetched < 0)
        goto cleanup;
    r = DB_OK;
    if (fetched == 0) {
        w->found = IDEM_NONE;
        goto cleanup;
    }
    if (fingerprint_len != IDEM_FINGERPRINT_LEN ||
        memcmp(fingerprint, w->key->fingerprint, IDEM_FINGERPRINT_LEN) != 0) {
        w->found = IDEM_REUSED;
        goto cleanup;
    }
    char *body = arena_alloc(w->arena, body_len + 1);
    if (body == NULL) {
        log_msg(LOG_ERR, request_id, "idempotency: no memory for a kept response of %lu bytes",
                body_len);
        r = DB_FATAL;
        goto cleanup;
    }
    if (db_fetch_column(db, DB_IDEM_FIND, &result[3], 3, body, request_id) != 0) {
        r = DB_FATAL;
        goto cleanup;
    }
    w->replay->status = (int)status;
    w->replay->body = body;
    w->replay->body_len = body_len;
    w->found = IDEM_REPLAY;
cleanup:
    db_free_result(db, DB_IDEM_FIND);
    return r;
}

enum db_result idem_find(struct db *db, struct arena *a, const struct idem_key *key,
                         enum idem_found *found, struct idem_replay *replay, const char *request_id)
{
    struct find_work w = {.arena = a, .key = key, .replay = replay, .found = IDEM_NONE};
    struct db_work work = {.what = "idempotency key lookup", .run = find_run, .ctx = &w};
    enum db_result r = db_run(db, &work, request_id);
    *found = w.found;
    return r;
}

void idem_claim_bind(struct idem_claim *c, const struct idem_key *key,
                     const uint8_t leadlist_id[UUID_LEN], int status, const char *body,
                     size_t body_len, int64_t created_ms)
{
    memset(c, 0, sizeof(*c));
    bind_key(c->bind, key, &c->user_len, &c->key_len);
    c->fingerprint_len = IDEM_FINGERPRINT_LEN;
    db_bind_blob(&c->bind[2], key->fingerprint, &c->fingerprint_len);
    c->status = (unsigned int)status;
    db_bind_uint(&c->bind[3], &c->status);
    c->id_len = UUID_LEN;
    db_bind_blob(&c->bind[4], leadlist_id, &c->id_len);
    c->body_len = body_len;
    db_bind_blob(&c->bind[5], body, &c->body_len);
    db_bind_time(&c->bind[6], &c->created, created_ms);
    db_bind_time(&c->bind[7], &c->created_again, created_ms);
    c->ttl = key->ttl_seconds;
    db_bind_ulonglong(&c->bind[8], &c->ttl);
}

enum db_result idem_claim(struct db *db, struct idem_claim *c, enum idem_claimed *claimed,
                          const char *request_id)
{
    enum db_result r = db_execute(db, DB_IDEM_INSERT, c->bind, NULL, request_id);
    if (r == DB_RETRY && db_last_error(db) == ER_LOCK_WAIT_TIMEOUT) {
        /* The statement waits for no lock: a row another transaction holds is the same key
         * in flight. Rolled back already. */
        *claimed = IDEM_IN_FLIGHT;
        return DB_OK;
    }
    if (r != DB_OK)
        return r;
    /* A live row is left alone (affected rows 0): the key is someone's already. */
    if (mysql_stmt_affected_rows(db_stmt(db, DB_IDEM_INSERT)) == 0) {
        db_rollback(db, request_id);
        *claimed = IDEM_TAKEN;
    } else {
        *claimed = IDEM_CLAIMED;
    }
    return DB_OK;
}
