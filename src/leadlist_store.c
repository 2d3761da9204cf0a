#include "leadlist_store.h"

#include <mysqld_error.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "iso8601.h"
#include "log.h"
#include "respond.h"

#define STORE_ATTEMPTS 3
/* A lost connection noticed only after this long was a timeout, not a drop. */
#define SLOW_LOSS_MS 500

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

enum store_result leadlist_store_find_key(struct db *db, struct arena *a,
                                          const struct store_key *key, struct store_replay *replay,
                                          const char *request_id)
{
    enum db_result r = db_ensure(db, request_id);
    if (r != DB_OK)
        return STORE_UNAVAILABLE;
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

    r = db_execute(db, DB_IDEM_FIND, params, result, request_id);
    if (r != DB_OK)
        return r == DB_RETRY || r == DB_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_FATAL;
    MYSQL_STMT *st = db_stmt(db, DB_IDEM_FIND);
    enum store_result out = STORE_FATAL;
    int rc = mysql_stmt_fetch(st);
    if (rc == MYSQL_NO_DATA) {
        out = STORE_OK;
        goto cleanup;
    }
    if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) {
        log_msg(LOG_ERR, request_id, "store: reading an idempotency key failed: %s (%u)",
                mysql_stmt_error(st), mysql_stmt_errno(st));
        goto cleanup;
    }
    if (lengths[0] != STORE_FINGERPRINT_LEN ||
        memcmp(fingerprint, key->fingerprint, STORE_FINGERPRINT_LEN) != 0) {
        out = STORE_KEY_REUSED;
        goto cleanup;
    }
    char *body = arena_alloc(a, lengths[3] + 1);
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
    out = STORE_REPLAY;
cleanup:
    db_free_result(db, DB_IDEM_FIND);
    return out;
}

static enum db_result insert_key(struct db *db, struct key_row *k, bool *taken,
                                 const char *request_id)
{
    enum db_result r = db_execute(db, DB_IDEM_INSERT, k->bind, NULL, request_id);
    if (r == DB_OK)
        *taken = mysql_stmt_affected_rows(db_stmt(db, DB_IDEM_INSERT)) == 0;
    return r;
}

/* One attempt. Without a key the list is one INSERT that commits by itself. With a key, the
 * key goes first in a transaction: a concurrent request with the same key then stops at its
 * first statement instead of writing a list it would have to roll back. */
static enum store_result insert_once(struct db *db, struct list_row *row, struct key_row *key,
                                     enum db_result *db_out, const char *request_id)
{
    enum db_result r = db_ensure(db, request_id);
    if (r == DB_OK && key != NULL) {
        r = db_begin(db, request_id);
        bool taken = false;
        if (r == DB_OK)
            r = insert_key(db, key, &taken, request_id);
        if (r == DB_RETRY && db_last_error(db) == ER_LOCK_WAIT_TIMEOUT)
            return STORE_IN_FLIGHT;
        if (r == DB_OK && taken) {
            db_rollback(db, request_id);
            return STORE_KEY_REUSED; /* the caller looks the stored response up */
        }
    }
    if (r == DB_OK)
        r = db_execute(db, DB_LEADLIST_INSERT, row->bind, NULL, request_id);
    if (r == DB_OK && key != NULL)
        r = db_commit(db, request_id);
    *db_out = r;
    return r == DB_OK ? STORE_OK : STORE_FATAL;
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

    struct list_row row;
    memset(&row, 0, sizeof(row));
    row.id_len = UUID_LEN;
    row.org_len = strlen(l->org_id);
    row.user_len = strlen(l->user_id);
    row.icp_len = UUID_LEN;
    row.icp_null = !l->has_icp_id;
    row.name_len = l->name_len;
    row.type_len = strlen(type);
    row.persons_len = persons_len;
    row.companies_len = l->company_count * UUID_LEN;
    row.person_count = (unsigned int)l->person_count;
    row.company_count = (unsigned int)l->company_count;
    bind_blob(&row.bind[0], l->id, &row.id_len);
    bind_text(&row.bind[1], l->org_id, &row.org_len);
    bind_text(&row.bind[2], l->user_id, &row.user_len);
    bind_blob(&row.bind[3], l->icp_id, &row.icp_len);
    row.bind[3].is_null = &row.icp_null;
    bind_text(&row.bind[4], l->name, &row.name_len);
    bind_text(&row.bind[5], type, &row.type_len);
    bind_time(&row.bind[6], &row.start, l->start_ms);
    bind_time(&row.bind[7], &row.end, l->end_ms);
    bind_uint(&row.bind[8], &row.person_count);
    bind_text(&row.bind[9], persons, &row.persons_len);
    bind_uint(&row.bind[10], &row.company_count);
    /* A zero-length buffer still needs a non-NULL pointer for an empty, non-NULL blob. */
    bind_blob(&row.bind[11], l->company_count > 0 ? (const void *)l->company_ids : "",
              &row.companies_len);
    bind_time(&row.bind[12], &row.created, l->created_ms);
    bind_time(&row.bind[13], &row.updated, l->created_ms);

    struct key_row krow;
    if (key != NULL) {
        memset(&krow, 0, sizeof(krow));
        bind_key_params(krow.bind, key, &krow.user_len, &krow.key_len);
        krow.fingerprint_len = STORE_FINGERPRINT_LEN;
        bind_blob(&krow.bind[2], key->fingerprint, &krow.fingerprint_len);
        krow.status = 201;
        bind_uint(&krow.bind[3], &krow.status);
        krow.id_len = UUID_LEN;
        bind_blob(&krow.bind[4], l->id, &krow.id_len);
        krow.body_len = body_len;
        bind_blob(&krow.bind[5], body, &krow.body_len);
        bind_time(&krow.bind[6], &krow.created, l->created_ms);
        bind_time(&krow.bind[7], &krow.created_again, l->created_ms);
        krow.ttl = key->ttl_seconds;
        krow.bind[8].buffer_type = MYSQL_TYPE_LONGLONG;
        krow.bind[8].buffer = &krow.ttl;
        krow.bind[8].is_unsigned = 1;
    }

    /* Set when an INSERT that commits by itself lost its connection: it may have been stored. */
    bool maybe_stored = false;
    for (int attempt = 1; attempt <= STORE_ATTEMPTS; attempt++) {
        enum db_result r = DB_OK;
        struct timespec before, after;
        clock_gettime(CLOCK_MONOTONIC, &before);
        enum store_result s = insert_once(db, &row, key != NULL ? &krow : NULL, &r, request_id);
        clock_gettime(CLOCK_MONOTONIC, &after);
        if (s == STORE_IN_FLIGHT)
            return s;
        if (s == STORE_KEY_REUSED) {
            /* Committed by another request since our lookup: answer as it would. */
            s = leadlist_store_find_key(db, a, key, replay, request_id);
            if (s != STORE_OK)
                return s;
            continue; /* expired in between: it is ours to take now */
        }
        if (s == STORE_OK)
            return STORE_OK;
        if (r == DB_DUPLICATE && maybe_stored) {
            /* The list id is this request's own: the attempt whose answer was lost stored it. */
            log_msg(LOG_INFO, request_id,
                    "store: the list was stored by an earlier attempt whose answer was lost");
            return STORE_OK;
        }
        if (r != DB_RETRY)
            return r == DB_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_FATAL;
        /* Rolled back by a deadlock or a lock wait, or else the connection was lost. */
        unsigned err = db_last_error(db);
        bool lost = err != ER_LOCK_DEADLOCK && err != ER_LOCK_WAIT_TIMEOUT;
        if (lost && key == NULL)
            maybe_stored = true;
        long took_ms = (long)(after.tv_sec - before.tv_sec) * 1000 +
                       (after.tv_nsec - before.tv_nsec) / 1000000;
        if (lost && took_ms >= SLOW_LOSS_MS) {
            /* The connection was lost by a timeout (a frozen server): reconnecting would
             * only make the client wait twice as long for the same 503. */
            log_msg(LOG_WARNING, request_id, "store: connection lost after %ld ms; not retrying",
                    took_ms);
            return STORE_UNAVAILABLE;
        }
        if (attempt < STORE_ATTEMPTS && db_time_left(db)) {
            log_msg(LOG_WARNING, request_id, "store: attempt %d rolled back; retrying", attempt);
            /* A short, growing pause lets the transaction that won a deadlock finish. */
            struct timespec pause = {0, 20L * 1000 * 1000 * attempt};
            nanosleep(&pause, NULL);
        }
    }
    return STORE_UNAVAILABLE;
}
