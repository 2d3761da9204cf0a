#include "leadlist_store.h"

#include <string.h>

#include "iso8601.h"
#include "log.h"
#include "respond.h"

#define STORE_ATTEMPTS 3

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

struct user_row {
    MYSQL_BIND bind[4];
    unsigned long id_len, user_len;
    unsigned int position;
    MYSQL_TIME granted;
};

static enum db_result insert_once(struct db *db, struct list_row *row, struct user_row *user,
                                  const char *request_id)
{
    enum db_result r = db_ensure(db, request_id);
    if (r != DB_OK)
        return r;
    r = db_execute(db, DB_LEADLIST_INSERT, row->bind, NULL, request_id);
    if (r == DB_OK)
        r = db_execute(db, DB_LEADLIST_USER_INSERT, user->bind, NULL, request_id);
    if (r == DB_OK)
        r = db_commit(db, request_id);
    return r;
}

enum db_result leadlist_store_create(struct db *db, struct arena *a, const struct leadlist *l,
                                     const char *request_id)
{
    const char *persons;
    size_t persons_len;
    if (respond_string_array(a, l->person_ids, l->person_count, &persons, &persons_len) != 0) {
        log_msg(LOG_ERR, request_id, "store: person ids could not be encoded");
        return DB_FATAL;
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

    struct user_row user;
    memset(&user, 0, sizeof(user));
    user.id_len = UUID_LEN;
    user.user_len = row.user_len;
    user.position = 0;
    bind_blob(&user.bind[0], l->id, &user.id_len);
    bind_uint(&user.bind[1], &user.position);
    bind_text(&user.bind[2], l->user_id, &user.user_len);
    bind_time(&user.bind[3], &user.granted, l->created_ms);

    enum db_result r = DB_RETRY;
    for (int attempt = 1; attempt <= STORE_ATTEMPTS && r == DB_RETRY; attempt++) {
        r = insert_once(db, &row, &user, request_id);
        if (r == DB_RETRY && attempt < STORE_ATTEMPTS)
            log_msg(LOG_WARNING, request_id, "store: attempt %d rolled back; retrying", attempt);
    }
    return r == DB_RETRY ? DB_UNAVAILABLE : r;
}
