#include "leadlist_store.h"

#include <mysqld_error.h>
#include <stdbool.h>
#include <string.h>

#include "iso8601.h"
#include "log.h"
#include "respond.h"

static void bind_blob(MYSQL_BIND *b, const void *data, unsigned long *len)
{
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = (void *)data;
    b->buffer_length = *len;
    b->length = len;
}

static void bind_text(MYSQL_BIND *b, const char *text, unsigned long *len)
{
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)text;
    b->buffer_length = *len;
    b->length = len;
}

static void bind_time(MYSQL_BIND *b, MYSQL_TIME *t, int64_t ms)
{
    struct iso8601_tm tm;
    iso8601_to_tm(ms, &tm);
    memset(t, 0, sizeof(*t));
    t->year = (unsigned)tm.year;
    t->month = (unsigned)tm.month;
    t->day = (unsigned)tm.day;
    t->hour = (unsigned)tm.hour;
    t->minute = (unsigned)tm.minute;
    t->second = (unsigned)tm.second;
    t->second_part = (unsigned long)tm.millis * 1000;
    t->time_type = MYSQL_TIMESTAMP_DATETIME;
    b->buffer_type = MYSQL_TYPE_DATETIME;
    b->buffer = t;
}

static void bind_uint(MYSQL_BIND *b, unsigned int *v)
{
    b->buffer_type = MYSQL_TYPE_LONG;
    b->buffer = v;
    b->is_unsigned = 1;
}

/* The row's parameters, kept together because MYSQL_BIND points at them. */
struct list_row {
    MYSQL_BIND bind[14];
    unsigned long id_len, org_len, user_len, icp_len, name_len, type_len, persons_len,
        companies_len;
    my_bool icp_null;
    MYSQL_TIME start, end, created, updated;
    unsigned int person_count, company_count;
};

struct key_row {
    MYSQL_BIND bind[9];
    unsigned long user_len, key_len, fingerprint_len, id_len, body_len;
    unsigned int status;
    unsigned long long ttl;
    MYSQL_TIME created, created_again;
};

static void bind_key_params(MYSQL_BIND *b, const struct store_key *key, unsigned long *user_len,
                            unsigned long *key_len)
{
    *user_len = strlen(key->user_id);
    *key_len = key->key_len;
    bind_text(&b[0], key->user_id, user_len);
    bind_blob(&b[1], key->key, key_len);
}

struct find_key_work {
    struct arena *arena;
    const struct store_key *key;
    struct store_replay *replay;
    enum store_result outcome;
};

static enum db_result find_key_run(struct db *db, void *ctx, const char *request_id)
{
    struct find_key_work *w = ctx;
    const struct store_key *key = w->key;
    struct store_replay *replay = w->replay;
    MYSQL_BIND params[2];
    unsigned long user_len, key_len;
    memset(params, 0, sizeof(params));
    bind_key_params(params, key, &user_len, &key_len);

    uint8_t fingerprint[STORE_FINGERPRINT_LEN];
    unsigned long lengths[4] = {0, 0, 0, 0};
    unsigned int status = 0;
    MYSQL_BIND result[4];
    memset(result, 0, sizeof(result));
    result[0].buffer_type = MYSQL_TYPE_BLOB;
    result[0].buffer = fingerprint;
    result[0].buffer_length = sizeof(fingerprint);
    result[0].length = &lengths[0];
    bind_uint(&result[1], &status);
    result[2].buffer_type = MYSQL_TYPE_BLOB;
    result[2].buffer = replay->leadlist_id;
    result[2].buffer_length = UUID_LEN;
    result[2].length = &lengths[2];
    /* The body's size is learnt from the row, then fetched into the arena. */
    result[3].buffer_type = MYSQL_TYPE_BLOB;
    result[3].length = &lengths[3];

    w->outcome = STORE_FATAL;
    enum db_result r = db_execute(db, DB_IDEM_FIND, params, result, request_id);
    if (r != DB_OK)
        return r;
    MYSQL_STMT *st = db_stmt(db, DB_IDEM_FIND);
    int rc = mysql_stmt_fetch(st);
    if (rc == MYSQL_NO_DATA) {
        w->outcome = STORE_OK;
        goto cleanup;
    }
    if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) {
        log_msg(LOG_ERR, request_id, "store: reading an idempotency key failed: %s (%u)",
                mysql_stmt_error(st), mysql_stmt_errno(st));
        goto cleanup;
    }
    if (lengths[0] != STORE_FINGERPRINT_LEN ||
        memcmp(fingerprint, key->fingerprint, STORE_FINGERPRINT_LEN) != 0) {
        w->outcome = STORE_KEY_REUSED;
        goto cleanup;
    }
    char *body = arena_alloc(w->arena, lengths[3] + 1);
    if (body == NULL) {
        log_msg(LOG_ERR, request_id, "store: no memory for a stored response of %lu bytes",
                lengths[3]);
        goto cleanup;
    }
    result[3].buffer = body;
    result[3].buffer_length = lengths[3];
    if (lengths[3] > 0 && mysql_stmt_fetch_column(st, &result[3], 3, 0) != 0) {
        log_msg(LOG_ERR, request_id, "store: reading a stored response failed: %s",
                mysql_stmt_error(st));
        goto cleanup;
    }
    body[lengths[3]] = '\0';
    replay->status = (int)status;
    replay->body = body;
    replay->body_len = lengths[3];
    w->outcome = STORE_REPLAY;
cleanup:
    db_free_result(db, DB_IDEM_FIND);
    return DB_OK;
}

/* What db_run's answer means for the caller when the work did not run to its end. */
static enum store_result store_failure(enum db_result r)
{
    return r == DB_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_FATAL;
}

enum store_result leadlist_store_find_key(struct db *db, struct arena *a,
                                          const struct store_key *key, struct store_replay *replay,
                                          const char *request_id)
{
    struct find_key_work w = {.arena = a, .key = key, .replay = replay, .outcome = STORE_FATAL};
    struct db_work work = {.what = "idempotency key lookup", .run = find_key_run, .ctx = &w};
    enum db_result r = db_run(db, &work, request_id);
    return r == DB_OK ? w.outcome : store_failure(r);
}

static enum db_result insert_key(struct db *db, struct key_row *k, bool *taken,
                                 const char *request_id)
{
    enum db_result r = db_execute(db, DB_IDEM_INSERT, k->bind, NULL, request_id);
    if (r == DB_OK)
        *taken = mysql_stmt_affected_rows(db_stmt(db, DB_IDEM_INSERT)) == 0;
    return r;
}

struct create_work {
    const struct leadlist *list;
    struct list_row row;
    struct key_row key;
    bool has_key;
    enum store_result outcome;
};

/* One attempt. Without a key the list is one INSERT that commits by itself. With a key, the
 * key goes first in a transaction: a concurrent request with the same key then stops at its
 * first statement instead of writing a list it would have to roll back. */
static enum db_result create_run(struct db *db, void *ctx, const char *request_id)
{
    struct create_work *c = ctx;
    c->outcome = STORE_OK;
    if (!c->has_key)
        return db_execute(db, DB_LEADLIST_INSERT, c->row.bind, NULL, request_id);
    enum db_result r = db_begin(db, request_id);
    bool taken = false;
    if (r == DB_OK)
        r = insert_key(db, &c->key, &taken, request_id);
    if (r == DB_RETRY && db_last_error(db) == ER_LOCK_WAIT_TIMEOUT) {
        c->outcome = STORE_IN_FLIGHT; /* rolled back already */
        return DB_OK;
    }
    if (r == DB_OK && taken) {
        db_rollback(db, request_id);
        c->outcome = STORE_KEY_REUSED; /* the caller looks the stored response up */
        return DB_OK;
    }
    if (r == DB_OK)
        r = db_execute(db, DB_LEADLIST_INSERT, c->row.bind, NULL, request_id);
    if (r == DB_OK)
        r = db_commit(db, request_id);
    return r;
}

/* The list's id is this request's own: if a row has it, the lost commit stored it. */
static enum db_result create_find(struct db *db, void *ctx, bool *stored, const char *request_id)
{
    struct create_work *c = ctx;
    unsigned long id_len = UUID_LEN;
    MYSQL_BIND param[1];
    memset(param, 0, sizeof(param));
    bind_blob(&param[0], c->list->id, &id_len);
    enum db_result r = db_execute(db, DB_LEADLIST_EXISTS, param, NULL, request_id);
    if (r != DB_OK)
        return r;
    int fetched = db_fetch(db, DB_LEADLIST_EXISTS, request_id);
    db_free_result(db, DB_LEADLIST_EXISTS);
    if (fetched < 0)
        return DB_FATAL;
    *stored = fetched == 1;
    c->outcome = STORE_OK;
    return DB_OK;
}

enum store_result leadlist_store_create(struct db *db, struct arena *a, const struct leadlist *l,
                                        const struct store_key *key, const char *body,
                                        size_t body_len, struct store_replay *replay,
                                        const char *request_id)
{
    const char *persons;
    size_t persons_len;
    /* The 201 body already holds the ids as JSON; encoding 10,000 of them again costs more
     * than finding them. */
    if (respond_person_ids_span(body, body_len, &persons, &persons_len) != 0 &&
        respond_string_array(a, l->person_ids, l->person_count, &persons, &persons_len) != 0) {
        log_msg(LOG_ERR, request_id, "store: person ids could not be encoded");
        return STORE_FATAL;
    }
    const char *type = leadlist_type_name(l->type);

    struct create_work c;
    memset(&c, 0, sizeof(c));
    c.list = l;
    struct list_row *row = &c.row;
    row->id_len = UUID_LEN;
    row->org_len = strlen(l->org_id);
    row->user_len = strlen(l->user_id);
    row->icp_len = UUID_LEN;
    row->icp_null = !l->has_icp_id;
    row->name_len = l->name_len;
    row->type_len = strlen(type);
    row->persons_len = persons_len;
    row->companies_len = l->company_count * UUID_LEN;
    row->person_count = (unsigned int)l->person_count;
    row->company_count = (unsigned int)l->company_count;
    bind_blob(&row->bind[0], l->id, &row->id_len);
    bind_text(&row->bind[1], l->org_id, &row->org_len);
    bind_text(&row->bind[2], l->user_id, &row->user_len);
    bind_blob(&row->bind[3], l->icp_id, &row->icp_len);
    row->bind[3].is_null = &row->icp_null;
    bind_text(&row->bind[4], l->name, &row->name_len);
    bind_text(&row->bind[5], type, &row->type_len);
    bind_time(&row->bind[6], &row->start, l->start_ms);
    bind_time(&row->bind[7], &row->end, l->end_ms);
    bind_uint(&row->bind[8], &row->person_count);
    bind_text(&row->bind[9], persons, &row->persons_len);
    bind_uint(&row->bind[10], &row->company_count);
    /* A zero-length buffer still needs a non-NULL pointer for an empty, non-NULL blob. */
    bind_blob(&row->bind[11], l->company_count > 0 ? (const void *)l->company_ids : "",
              &row->companies_len);
    bind_time(&row->bind[12], &row->created, l->created_ms);
    bind_time(&row->bind[13], &row->updated, l->created_ms);

    if (key != NULL) {
        struct key_row *k = &c.key;
        c.has_key = true;
        bind_key_params(k->bind, key, &k->user_len, &k->key_len);
        k->fingerprint_len = STORE_FINGERPRINT_LEN;
        bind_blob(&k->bind[2], key->fingerprint, &k->fingerprint_len);
        k->status = 201;
        bind_uint(&k->bind[3], &k->status);
        k->id_len = UUID_LEN;
        bind_blob(&k->bind[4], l->id, &k->id_len);
        k->body_len = body_len;
        bind_blob(&k->bind[5], body, &k->body_len);
        bind_time(&k->bind[6], &k->created, l->created_ms);
        bind_time(&k->bind[7], &k->created_again, l->created_ms);
        k->ttl = key->ttl_seconds;
        k->bind[8].buffer_type = MYSQL_TYPE_LONGLONG;
        k->bind[8].buffer = &k->ttl;
        k->bind[8].is_unsigned = 1;
    }

    char subject[8 + UUID_STR_LEN];
    memcpy(subject, "list ", 5);
    uuid_format(l->id, subject + 5);
    struct db_work work = {
        .what = "create", .run = create_run, .find = create_find, .ctx = &c, .subject = subject};
    /* A key committed by another request since our lookup is answered as that request was;
     * a key that expired in between is ours to take: one more round. */
    for (int round = 0; round < 2; round++) {
        enum db_result r = db_run(db, &work, request_id);
        if (r != DB_OK)
            return store_failure(r);
        if (c.outcome != STORE_KEY_REUSED)
            return c.outcome;
        enum store_result s = leadlist_store_find_key(db, a, key, replay, request_id);
        if (s != STORE_OK)
            return s;
    }
    return STORE_UNAVAILABLE;
}
