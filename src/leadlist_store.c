#include "leadlist_store.h"

#include <openssl/rand.h>
#include <string.h>

#include "clock.h"
#include "http.h"
#include "ids.h"
#include "json_in.h"
#include "log.h"
#include "respond.h"

#define ID_MAX 64                /* org and user ids: VARCHAR(64) */
#define NAME_MAX_BYTES (255 * 4) /* VARCHAR(255) of utf8mb4 */

static const char *subject_of(char buf[8 + UUID_STR_LEN], const uint8_t id[UUID_LEN])
{
    memcpy(buf, "list ", 5);
    uuid_format(id, buf + 5);
    return buf;
}

static enum store_result store_failure(enum db_result r)
{
    return r == DB_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_FATAL;
}

/* --- reading a list --------------------------------------------------------------------- */

/* The columns of LIST_COLUMNS (db.c), in order, and where they land. */
struct list_read {
    MYSQL_BIND bind[15];
    char org_id[ID_MAX + 1], creator[ID_MAX + 1], name[NAME_MAX_BYTES + 1], type[8];
    uint8_t icp_id[UUID_LEN];
    unsigned long org_len, creator_len, icp_len, name_len, type_len, persons_len, companies_len,
        users_len;
    my_bool icp_null, persons_null, companies_null, users_null;
    MYSQL_TIME start, end, created, updated;
    unsigned int person_count, company_count, version;
};

static void bind_list_read(struct list_read *r)
{
    memset(r, 0, sizeof(*r));
    r->org_len = sizeof(r->org_id) - 1;
    r->creator_len = sizeof(r->creator) - 1;
    r->icp_len = UUID_LEN;
    r->name_len = sizeof(r->name) - 1;
    r->type_len = sizeof(r->type) - 1;
    MYSQL_BIND *b = r->bind;
    db_bind_text(&b[0], r->org_id, &r->org_len);
    db_bind_text(&b[1], r->creator, &r->creator_len);
    db_bind_blob(&b[2], r->icp_id, &r->icp_len);
    b[2].is_null = &r->icp_null;
    db_bind_text(&b[3], r->name, &r->name_len);
    db_bind_text(&b[4], r->type, &r->type_len);
    db_bind_time(&b[5], &r->start, 0);
    db_bind_time(&b[6], &r->end, 0);
    db_bind_uint(&b[7], &r->person_count);
    db_bind_sized(&b[8], &r->persons_len, &r->persons_null);
    db_bind_uint(&b[9], &r->company_count);
    db_bind_sized(&b[10], &r->companies_len, &r->companies_null);
    db_bind_time(&b[11], &r->created, 0);
    db_bind_time(&b[12], &r->updated, 0);
    db_bind_uint(&b[13], &r->version);
    db_bind_sized(&b[14], &r->users_len, &r->users_null);
}

/* A short string column into the arena; -1 when it did not fit its buffer. */
static int take_text(struct arena *a, const char *buf, unsigned long len, size_t cap,
                     const char **out)
{
    if (len > cap)
        return -1;
    *out = arena_strndup(a, buf, len);
    return *out != NULL ? 0 : -1;
}

static int take_type(const char *type, unsigned long len, enum leadlist_type *out)
{
    if (len == 6 && memcmp(type, "person", 6) == 0)
        *out = LEADLIST_PERSON;
    else if (len == 7 && memcmp(type, "company", 7) == 0)
        *out = LEADLIST_COMPANY;
    else
        return -1;
    return 0;
}

/* A sized column into the arena, NUL-terminated. */
static char *take_sized(struct db *db, enum db_stmt which, MYSQL_BIND *b, unsigned col,
                        struct arena *a, const char *request_id)
{
    char *buf = arena_alloc(a, *b->length + 1);
    if (buf == NULL || db_fetch_column(db, which, b, col, buf, request_id) != 0)
        return NULL;
    return buf;
}

/* userIds: the creator, then the users of shared_with (a JSON array). */
static int take_users(struct db *db, enum db_stmt which, MYSQL_BIND *b, unsigned col,
                      const char *creator, struct arena *a, struct leadlist *out,
                      const char *request_id)
{
    struct leadlist_str *others = NULL;
    size_t count = 0;
    char *json = take_sized(db, which, b, col, a, request_id);
    if (json == NULL)
        return -1;
    /* Most lists are shared with nobody: no parser for "[]". */
    if (!(*b->length == 2 && json[0] == '[' && json[1] == ']') &&
        json_in_strings(a, json, *b->length, &others, &count) != 0)
        return -1;
    out->user_ids = arena_alloc(a, (count + 1) * sizeof(*out->user_ids));
    if (out->user_ids == NULL)
        return -1;
    out->user_ids[0].ptr = creator;
    out->user_ids[0].len = strlen(creator);
    if (count > 0)
        memcpy(out->user_ids + 1, others, count * sizeof(*others));
    out->user_count = count + 1;
    return 0;
}

/* Reads one list (statement `which`, executed) into out. DB_OK with *found, or DB_FATAL. */
static enum db_result take_list(struct db *db, enum db_stmt which, struct list_read *r,
                                struct arena *a, const uint8_t id[UUID_LEN], struct leadlist *out,
                                bool *found, const char *request_id)
{
    enum db_result result = DB_FATAL;
    int fetched = db_fetch(db, which, request_id);
    *found = fetched == 1;
    if (fetched <= 0) {
        result = fetched == 0 ? DB_OK : DB_FATAL;
        goto cleanup;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->id, id, UUID_LEN);
    const char *creator;
    if (take_text(a, r->org_id, r->org_len, ID_MAX, &out->org_id) != 0 ||
        take_text(a, r->creator, r->creator_len, ID_MAX, &creator) != 0 ||
        take_text(a, r->name, r->name_len, NAME_MAX_BYTES, &out->name) != 0 ||
        take_type(r->type, r->type_len, &out->type) != 0)
        goto bad_row;
    out->name_len = r->name_len;
    out->has_icp_id = !r->icp_null;
    if (out->has_icp_id) {
        if (r->icp_len != UUID_LEN)
            goto bad_row;
        memcpy(out->icp_id, r->icp_id, UUID_LEN);
    }
    out->start_ms = db_time_ms(&r->start);
    out->end_ms = db_time_ms(&r->end);
    out->created_ms = db_time_ms(&r->created);
    out->updated_ms = db_time_ms(&r->updated);
    out->version = r->version;
    char *persons = take_sized(db, which, &r->bind[8], 8, a, request_id);
    if (persons == NULL ||
        json_in_strings(a, persons, r->persons_len, &out->person_ids, &out->person_count) != 0 ||
        out->person_count != r->person_count)
        goto bad_row;
    if (r->companies_len % UUID_LEN != 0 || r->companies_len / UUID_LEN != r->company_count)
        goto bad_row;
    char *companies = take_sized(db, which, &r->bind[10], 10, a, request_id);
    if (companies == NULL)
        goto bad_row;
    out->company_ids = (uint8_t(*)[UUID_LEN])(void *)companies;
    out->company_count = r->company_count;
    if (take_users(db, which, &r->bind[14], 14, creator, a, out, request_id) != 0)
        goto bad_row;
    result = DB_OK;
    goto cleanup;
bad_row : {
    char subject[8 + UUID_STR_LEN];
    log_msg(LOG_ERR, request_id,
            "store: the row of %s could not be read (schema mismatch or "
            "out of memory)",
            subject_of(subject, id));
}
cleanup:
    db_free_result(db, which);
    return result;
}

/* Reads the list with statement `which` (DB_LEADLIST_READ or, in a transaction,
 * DB_LEADLIST_LOCK). */
static enum db_result read_list(struct db *db, enum db_stmt which, struct arena *a,
                                const uint8_t id[UUID_LEN], struct leadlist *out, bool *found,
                                const char *request_id)
{
    unsigned long id_len = UUID_LEN;
    MYSQL_BIND param[1];
    memset(param, 0, sizeof(param));
    db_bind_blob(&param[0], id, &id_len);
    struct list_read r;
    bind_list_read(&r);
    enum db_result res = db_execute(db, which, param, r.bind, request_id);
    if (res != DB_OK)
        return res;
    return take_list(db, which, &r, a, id, out, found, request_id);
}

/* --- create ----------------------------------------------------------------------------- */

/* The row's parameters, kept together because MYSQL_BIND points at them. */
struct list_row {
    MYSQL_BIND bind[14];
    unsigned long id_len, org_len, user_len, icp_len, name_len, type_len, persons_len,
        companies_len;
    my_bool icp_null;
    MYSQL_TIME start, end, created, updated;
    unsigned int person_count, company_count;
};

struct create_work {
    const struct leadlist *list;
    struct list_row row;
    struct idem_claim key;
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
    enum idem_claimed claimed = IDEM_CLAIMED;
    if (r == DB_OK)
        r = idem_claim(db, &c->key, &claimed, request_id);
    if (r != DB_OK)
        return r;
    if (claimed != IDEM_CLAIMED) {
        c->outcome = claimed == IDEM_IN_FLIGHT ? STORE_IN_FLIGHT : STORE_KEY_REUSED;
        return DB_OK;
    }
    r = db_execute(db, DB_LEADLIST_INSERT, c->row.bind, NULL, request_id);
    if (r == DB_OK)
        r = db_commit(db, request_id);
    return r;
}

/* Whether a list row has the id. */
static enum db_result list_exists(struct db *db, const uint8_t id[UUID_LEN], bool *exists,
                                  const char *request_id)
{
    unsigned long id_len = UUID_LEN;
    MYSQL_BIND param[1];
    memset(param, 0, sizeof(param));
    db_bind_blob(&param[0], id, &id_len);
    enum db_result r = db_execute(db, DB_LEADLIST_EXISTS, param, NULL, request_id);
    if (r != DB_OK)
        return r;
    int fetched = db_fetch(db, DB_LEADLIST_EXISTS, request_id);
    db_free_result(db, DB_LEADLIST_EXISTS);
    if (fetched < 0)
        return DB_FATAL;
    *exists = fetched == 1;
    return DB_OK;
}

/* The list's id is this request's own: if a row has it, the lost commit stored it. */
static enum db_result create_find(struct db *db, void *ctx, bool *stored, const char *request_id)
{
    struct create_work *c = ctx;
    c->outcome = STORE_OK;
    return list_exists(db, c->list->id, stored, request_id);
}

enum store_result leadlist_store_create(struct db *db, struct arena *a, const struct leadlist *l,
                                        const struct idem_key *key, int status, const char *body,
                                        size_t body_len, struct idem_replay *replay,
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
    const char *creator = l->user_ids[0].ptr;

    struct create_work c;
    memset(&c, 0, sizeof(c));
    c.list = l;
    struct list_row *row = &c.row;
    row->id_len = UUID_LEN;
    row->org_len = strlen(l->org_id);
    row->user_len = strlen(creator);
    row->icp_len = UUID_LEN;
    row->icp_null = !l->has_icp_id;
    row->name_len = l->name_len;
    row->type_len = strlen(type);
    row->persons_len = persons_len;
    row->companies_len = l->company_count * UUID_LEN;
    row->person_count = (unsigned int)l->person_count;
    row->company_count = (unsigned int)l->company_count;
    db_bind_blob(&row->bind[0], l->id, &row->id_len);
    db_bind_text(&row->bind[1], l->org_id, &row->org_len);
    db_bind_text(&row->bind[2], creator, &row->user_len);
    db_bind_blob(&row->bind[3], l->icp_id, &row->icp_len);
    row->bind[3].is_null = &row->icp_null;
    db_bind_text(&row->bind[4], l->name, &row->name_len);
    db_bind_text(&row->bind[5], type, &row->type_len);
    db_bind_time(&row->bind[6], &row->start, l->start_ms);
    db_bind_time(&row->bind[7], &row->end, l->end_ms);
    db_bind_uint(&row->bind[8], &row->person_count);
    db_bind_text(&row->bind[9], persons, &row->persons_len);
    db_bind_uint(&row->bind[10], &row->company_count);
    /* A zero-length buffer still needs a non-NULL pointer for an empty, non-NULL blob. */
    db_bind_blob(&row->bind[11], l->company_count > 0 ? (const void *)l->company_ids : "",
                 &row->companies_len);
    db_bind_time(&row->bind[12], &row->created, l->created_ms);
    db_bind_time(&row->bind[13], &row->updated, l->created_ms);
    if (key != NULL) {
        c.has_key = true;
        idem_claim_bind(&c.key, key, l->id, status, body, body_len, l->created_ms);
    }

    char subject[8 + UUID_STR_LEN];
    struct db_work work = {.what = "create",
                           .run = create_run,
                           .find = create_find,
                           .ctx = &c,
                           .subject = subject_of(subject, l->id)};
    /* A key committed by another request since our lookup is answered as that request was;
     * a key that expired in between is ours to take: one more round. */
    for (int round = 0; round < 2; round++) {
        enum db_result r = db_run(db, &work, request_id);
        if (r != DB_OK)
            return store_failure(r);
        if (c.outcome != STORE_KEY_REUSED)
            return c.outcome;
        enum idem_found found;
        r = idem_find(db, a, key, &found, replay, request_id);
        if (r != DB_OK)
            return store_failure(r);
        if (found != IDEM_NONE)
            return found == IDEM_REPLAY ? STORE_REPLAY : STORE_KEY_REUSED;
    }
    return STORE_UNAVAILABLE;
}

/* --- get -------------------------------------------------------------------------------- */

struct get_work {
    struct arena *arena;
    const struct access_caller *caller;
    const uint8_t *id;
    struct leadlist *out;
    enum store_result outcome;
};

static enum store_result access_outcome(const struct access_caller *caller,
                                        const struct leadlist *l)
{
    switch (access_check(caller, l)) {
    case ACCESS_OK:
        return STORE_OK;
    case ACCESS_FORBIDDEN:
        return STORE_FORBIDDEN;
    default:
        return STORE_NOT_FOUND;
    }
}

static enum db_result get_run(struct db *db, void *ctx, const char *request_id)
{
    struct get_work *w = ctx;
    bool found = false;
    enum db_result r = read_list(db, DB_LEADLIST_READ, w->arena, w->id, w->out, &found, request_id);
    if (r == DB_OK)
        w->outcome = access_outcome(w->caller, found ? w->out : NULL);
    return r;
}

enum store_result leadlist_store_get(struct db *db, struct arena *a,
                                     const struct access_caller *caller, const uint8_t id[UUID_LEN],
                                     struct leadlist *out, const char *request_id)
{
    struct get_work w = {a, caller, id, out, STORE_FATAL};
    struct db_work work = {.what = "get", .run = get_run, .ctx = &w};
    enum db_result r = db_run(db, &work, request_id);
    return r == DB_OK ? w.outcome : store_failure(r);
}

/* --- a page ----------------------------------------------------------------------------- */

/* The columns of PAGE_COLUMNS (db.c). */
struct page_read {
    MYSQL_BIND bind[12];
    uint8_t id[UUID_LEN], icp_id[UUID_LEN];
    char name[NAME_MAX_BYTES + 1], type[8], creator[ID_MAX + 1];
    unsigned long id_len, icp_len, name_len, type_len, creator_len, users_len;
    my_bool icp_null, users_null;
    MYSQL_TIME start, end, created, updated;
    unsigned int person_count, company_count;
};

static void bind_page_read(struct page_read *r)
{
    memset(r, 0, sizeof(*r));
    r->id_len = UUID_LEN;
    r->icp_len = UUID_LEN;
    r->name_len = sizeof(r->name) - 1;
    r->type_len = sizeof(r->type) - 1;
    r->creator_len = sizeof(r->creator) - 1;
    MYSQL_BIND *b = r->bind;
    db_bind_blob(&b[0], r->id, &r->id_len);
    db_bind_blob(&b[1], r->icp_id, &r->icp_len);
    b[1].is_null = &r->icp_null;
    db_bind_text(&b[2], r->name, &r->name_len);
    db_bind_text(&b[3], r->type, &r->type_len);
    db_bind_time(&b[4], &r->start, 0);
    db_bind_time(&b[5], &r->end, 0);
    db_bind_uint(&b[6], &r->person_count);
    db_bind_uint(&b[7], &r->company_count);
    db_bind_time(&b[8], &r->created, 0);
    db_bind_time(&b[9], &r->updated, 0);
    db_bind_text(&b[10], r->creator, &r->creator_len);
    db_bind_sized(&b[11], &r->users_len, &r->users_null);
}

struct page_work {
    struct arena *arena;
    const struct access_caller *caller;
    const struct store_page_query *q;
    struct leadlist *items;
    size_t count;
    bool more;
};

/* One bounded scan's parameters: the scan's own values, then the page's id bound and limit. */
struct scan_params {
    unsigned long org_len, user_len, type_len[2], after_len;
    unsigned int limit;
};

static enum db_result page_run(struct db *db, void *ctx, const char *request_id)
{
    struct page_work *w = ctx;
    const struct store_page_query *q = w->q;
    bool admin = w->caller->admin;
    enum db_stmt which = admin ? DB_PAGE_ADMIN : DB_PAGE_MEMBER;
    /* The two types each scan covers: both, or the filter's and none. */
    const char *types[2] = {"person", "company"};
    if (q->has_type) {
        types[0] = leadlist_type_name(q->type);
        types[1] = "";
    }
    struct scan_params p;
    p.org_len = strlen(w->caller->org_id);
    p.user_len = strlen(w->caller->user_id);
    p.type_len[0] = strlen(types[0]);
    p.type_len[1] = strlen(types[1]);
    p.after_len = UUID_LEN;
    p.limit = q->limit + 1; /* one more than the page: there is a next page when it comes */
    MYSQL_BIND params[21];
    memset(params, 0, sizeof(params));
    size_t n = 0;
    int sources = admin ? 1 : 2;
    for (int source = 0; source < sources; source++) {
        for (int t = 0; t < 2; t++) {
            db_bind_text(&params[n++], w->caller->org_id, &p.org_len);
            if (!admin)
                db_bind_text(&params[n++], w->caller->user_id, &p.user_len);
            db_bind_text(&params[n++], types[t], &p.type_len[t]);
            db_bind_blob(&params[n++], q->after, &p.after_len);
            db_bind_uint(&params[n++], &p.limit);
        }
    }
    db_bind_uint(&params[n++], &p.limit);

    struct page_read r;
    bind_page_read(&r);
    enum db_result res = db_execute(db, which, params, r.bind, request_id);
    if (res != DB_OK)
        return res;
    res = DB_FATAL;
    w->count = 0;
    w->more = false;
    w->items = arena_alloc(w->arena, (q->limit + 1) * sizeof(*w->items));
    if (w->items == NULL)
        goto cleanup;
    int fetched;
    while ((fetched = db_fetch(db, which, request_id)) == 1) {
        if (w->count == q->limit) {
            w->more = true;
            continue; /* read to the end so the result set is freed cleanly */
        }
        struct leadlist *l = &w->items[w->count];
        memset(l, 0, sizeof(*l));
        const char *creator;
        if (r.id_len != UUID_LEN ||
            take_text(w->arena, r.name, r.name_len, NAME_MAX_BYTES, &l->name) != 0 ||
            take_text(w->arena, r.creator, r.creator_len, ID_MAX, &creator) != 0 ||
            take_type(r.type, r.type_len, &l->type) != 0)
            goto cleanup;
        memcpy(l->id, r.id, UUID_LEN);
        l->name_len = r.name_len;
        l->has_icp_id = !r.icp_null && r.icp_len == UUID_LEN;
        if (l->has_icp_id)
            memcpy(l->icp_id, r.icp_id, UUID_LEN);
        l->start_ms = db_time_ms(&r.start);
        l->end_ms = db_time_ms(&r.end);
        l->created_ms = db_time_ms(&r.created);
        l->updated_ms = db_time_ms(&r.updated);
        l->person_count = r.person_count;
        l->company_count = r.company_count;
        l->org_id = w->caller->org_id;
        if (take_users(db, which, &r.bind[11], 11, creator, w->arena, l, request_id) != 0)
            goto cleanup;
        w->count++;
    }
    if (fetched == 0)
        res = DB_OK;
cleanup:
    if (res != DB_OK)
        log_msg(LOG_ERR, request_id, "store: a page row could not be read");
    db_free_result(db, which);
    return res;
}

enum store_result leadlist_store_page(struct db *db, struct arena *a,
                                      const struct access_caller *caller,
                                      const struct store_page_query *q, struct leadlist **items,
                                      size_t *count, bool *more, const char *request_id)
{
    struct page_work w = {.arena = a, .caller = caller, .q = q};
    struct db_work work = {.what = "list", .run = page_run, .ctx = &w};
    enum db_result r = db_run(db, &work, request_id);
    if (r != DB_OK)
        return store_failure(r);
    *items = w.items;
    *count = w.count;
    *more = w.more;
    return STORE_OK;
}

/* --- changes ---------------------------------------------------------------------------- */

struct change_work {
    struct arena *arena;
    const struct access_caller *caller;
    struct store_change *c;
    uint8_t change_id[UUID_LEN];
    enum store_result outcome;
};

/* Locks the list and decides, under the lock, whether the change may go on: STORE_OK when it
 * may, else the answer (the transaction rolled back). */
static enum db_result lock_and_check(struct db *db, struct arena *a,
                                     const struct access_caller *caller, const uint8_t *id,
                                     const char *if_match, struct leadlist *stored,
                                     enum store_result *verdict, const char *request_id)
{
    bool found = false;
    enum db_result r = db_begin(db, request_id);
    if (r == DB_OK)
        r = read_list(db, DB_LEADLIST_LOCK, a, id, stored, &found, request_id);
    if (r != DB_OK)
        return r;
    *verdict = access_outcome(caller, found ? stored : NULL);
    if (*verdict == STORE_OK && if_match != NULL &&
        !http_etags_match(if_match, stored->version, false))
        *verdict = STORE_PRECONDITION_FAILED;
    if (*verdict != STORE_OK)
        db_rollback(db, request_id);
    return DB_OK;
}

static bool members_changed(const struct leadlist *a, const struct leadlist *b)
{
    return a->person_ids != b->person_ids || a->person_count != b->person_count ||
           a->company_ids != b->company_ids || a->company_count != b->company_count;
}

/* The list row's new values: the fields, the users after the creator, and the members when
 * they changed (10,000 ids are not sent again for a new name). */
static enum db_result write_list(struct db *db, struct arena *a, const struct leadlist *stored,
                                 const struct leadlist *next, const char *request_id)
{
    bool members = members_changed(stored, next);
    const char *persons = "[]", *shared;
    size_t persons_len = 2, shared_len;
    if (respond_string_array(a, next->user_ids + 1, next->user_count - 1, &shared, &shared_len) !=
            0 ||
        (members && respond_string_array(a, next->person_ids, next->person_count, &persons,
                                         &persons_len) != 0))
        return DB_FATAL;
    MYSQL_BIND p[12];
    memset(p, 0, sizeof(p));
    unsigned long icp_len = UUID_LEN, name_len = next->name_len, id_len = UUID_LEN,
                  shared_blen = shared_len, persons_blen = persons_len,
                  companies_len = next->company_count * UUID_LEN;
    my_bool icp_null = !next->has_icp_id;
    MYSQL_TIME start, end, updated;
    unsigned int version = next->version, person_count = (unsigned int)next->person_count,
                 company_count = (unsigned int)next->company_count;
    size_t n = 0;
    db_bind_blob(&p[n], next->icp_id, &icp_len);
    p[n++].is_null = &icp_null;
    db_bind_text(&p[n++], next->name, &name_len);
    db_bind_time(&p[n++], &start, next->start_ms);
    db_bind_time(&p[n++], &end, next->end_ms);
    db_bind_uint(&p[n++], &version);
    db_bind_time(&p[n++], &updated, next->updated_ms);
    db_bind_text(&p[n++], shared, &shared_blen);
    if (members) {
        db_bind_uint(&p[n++], &person_count);
        db_bind_text(&p[n++], persons, &persons_blen);
        db_bind_uint(&p[n++], &company_count);
        db_bind_blob(&p[n++], next->company_count > 0 ? (const void *)next->company_ids : "",
                     &companies_len);
    }
    db_bind_blob(&p[n++], next->id, &id_len);
    return db_execute(db, members ? DB_LEADLIST_UPDATE_ALL : DB_LEADLIST_UPDATE_FIELDS, p, NULL,
                      request_id);
}

static bool has_user(const struct leadlist *l, const struct leadlist_str *u)
{
    for (size_t i = 0; i < l->user_count; i++) {
        if (l->user_ids[i].len == u->len && memcmp(l->user_ids[i].ptr, u->ptr, u->len) == 0)
            return true;
    }
    return false;
}

/* leadlist_users after the change, the index of "the lists shared with U": a row for each user
 * added (its position its place in userIds), none for each taken away. The creator
 * (userIds[0]) is the list row's own. */
static enum db_result write_users(struct db *db, const struct leadlist *stored,
                                  const struct leadlist *next, const char *request_id)
{
    unsigned long id_len = UUID_LEN, org_len = strlen(next->org_id),
                  type_len = strlen(leadlist_type_name(next->type)), user_len = 0;
    MYSQL_TIME granted;
    enum db_result r = DB_OK;
    for (size_t i = 1; i < next->user_count && r == DB_OK; i++) {
        const struct leadlist_str *u = &next->user_ids[i];
        if (has_user(stored, u))
            continue;
        MYSQL_BIND p[6];
        memset(p, 0, sizeof(p));
        unsigned int position = (unsigned int)i;
        user_len = u->len;
        db_bind_blob(&p[0], next->id, &id_len);
        db_bind_uint(&p[1], &position);
        db_bind_text(&p[2], u->ptr, &user_len);
        db_bind_text(&p[3], next->org_id, &org_len);
        db_bind_text(&p[4], leadlist_type_name(next->type), &type_len);
        db_bind_time(&p[5], &granted, next->updated_ms);
        r = db_execute(db, DB_USER_INSERT, p, NULL, request_id);
    }
    for (size_t i = 1; i < stored->user_count && r == DB_OK; i++) {
        const struct leadlist_str *u = &stored->user_ids[i];
        if (has_user(next, u))
            continue;
        MYSQL_BIND p[2];
        memset(p, 0, sizeof(p));
        user_len = u->len;
        db_bind_blob(&p[0], next->id, &id_len);
        db_bind_text(&p[1], u->ptr, &user_len);
        r = db_execute(db, DB_USER_DELETE, p, NULL, request_id);
    }
    return r;
}

/* The change's own id under the version it made: what change_find looks for. */
static enum db_result record_change(struct db *db, const struct leadlist *next,
                                    const uint8_t change_id[UUID_LEN], const char *request_id)
{
    unsigned long id_len = UUID_LEN, change_len = UUID_LEN;
    unsigned int version = next->version;
    MYSQL_TIME at;
    MYSQL_BIND p[4];
    memset(p, 0, sizeof(p));
    db_bind_blob(&p[0], next->id, &id_len);
    db_bind_uint(&p[1], &version);
    db_bind_blob(&p[2], change_id, &change_len);
    db_bind_time(&p[3], &at, next->updated_ms);
    return db_execute(db, DB_CHANGE_INSERT, p, NULL, request_id);
}

static enum db_result change_run(struct db *db, void *ctx, const char *request_id)
{
    struct change_work *w = ctx;
    struct store_change *c = w->c;
    w->outcome = STORE_FATAL;
    enum db_result r = lock_and_check(db, w->arena, w->caller, c->id, c->if_match, &c->stored,
                                      &w->outcome, request_id);
    if (r != DB_OK || w->outcome != STORE_OK)
        return r;
    switch (c->apply(c->ctx, w->arena, &c->stored, &c->result, c->problems)) {
    case CHANGE_MADE:
        break;
    case CHANGE_NONE:
        c->result = c->stored;
        w->outcome = STORE_UNCHANGED;
        db_rollback(db, request_id);
        return DB_OK;
    case CHANGE_REFUSED:
        w->outcome = STORE_REFUSED;
        db_rollback(db, request_id);
        return DB_OK;
    default:
        w->outcome = STORE_FATAL;
        db_rollback(db, request_id);
        return DB_OK;
    }
    c->result.version = c->stored.version + 1;
    int64_t now = clock_wall_ms();
    /* updatedAt never goes back, even when the clock does. */
    c->result.updated_ms = now > c->stored.updated_ms ? now : c->stored.updated_ms;
    w->outcome = STORE_FATAL;
    r = write_list(db, w->arena, &c->stored, &c->result, request_id);
    if (r == DB_OK)
        r = write_users(db, &c->stored, &c->result, request_id);
    if (r == DB_OK)
        r = record_change(db, &c->result, w->change_id, request_id);
    if (r == DB_OK)
        r = db_commit(db, request_id);
    if (r == DB_OK)
        w->outcome = STORE_OK;
    return r;
}

/* The version the lost commit would have made holds this change's id exactly when it was
 * stored: another change could only have made that version if this one had not. */
static enum db_result change_find(struct db *db, void *ctx, bool *stored, const char *request_id)
{
    struct change_work *w = ctx;
    const struct leadlist *next = &w->c->result;
    unsigned long id_len = UUID_LEN, change_len = 0;
    unsigned int version = next->version;
    uint8_t found_id[UUID_LEN];
    MYSQL_BIND p[2], res[1];
    memset(p, 0, sizeof(p));
    memset(res, 0, sizeof(res));
    db_bind_blob(&p[0], next->id, &id_len);
    db_bind_uint(&p[1], &version);
    change_len = UUID_LEN;
    db_bind_blob(&res[0], found_id, &change_len);
    enum db_result r = db_execute(db, DB_CHANGE_FIND, p, res, request_id);
    if (r != DB_OK)
        return r;
    int fetched = db_fetch(db, DB_CHANGE_FIND, request_id);
    db_free_result(db, DB_CHANGE_FIND);
    if (fetched < 0)
        return DB_FATAL;
    *stored =
        fetched == 1 && change_len == UUID_LEN && memcmp(found_id, w->change_id, UUID_LEN) == 0;
    if (*stored)
        w->outcome = STORE_OK;
    return DB_OK;
}

enum store_result leadlist_store_change(struct db *db, struct arena *a,
                                        const struct access_caller *caller,
                                        struct store_change *change, const char *request_id)
{
    struct change_work w = {.arena = a, .caller = caller, .c = change, .outcome = STORE_FATAL};
    if (RAND_bytes(w.change_id, UUID_LEN) != 1) {
        log_msg(LOG_ERR, request_id, "store: RAND_bytes failed");
        return STORE_FATAL;
    }
    char subject[8 + UUID_STR_LEN];
    struct db_work work = {.what = change->what,
                           .run = change_run,
                           .find = change_find,
                           .ctx = &w,
                           .subject = subject_of(subject, change->id)};
    enum db_result r = db_run(db, &work, request_id);
    return r == DB_OK ? w.outcome : store_failure(r);
}

/* --- delete ----------------------------------------------------------------------------- */

struct delete_work {
    struct arena *arena;
    const struct access_caller *caller;
    const uint8_t *id;
    const char *if_match;
    uint32_t version;
    enum store_result outcome;
};

static enum db_result delete_run(struct db *db, void *ctx, const char *request_id)
{
    struct delete_work *w = ctx;
    struct leadlist stored;
    w->outcome = STORE_FATAL;
    enum db_result r = lock_and_check(db, w->arena, w->caller, w->id, w->if_match, &stored,
                                      &w->outcome, request_id);
    if (w->outcome != STORE_NOT_FOUND && r == DB_OK)
        w->version = stored.version;
    if (r != DB_OK || w->outcome != STORE_OK)
        return r;
    w->outcome = STORE_FATAL;
    unsigned long id_len = UUID_LEN;
    MYSQL_BIND p[1];
    memset(p, 0, sizeof(p));
    db_bind_blob(&p[0], w->id, &id_len);
    /* leadlist_users goes with the row (ON DELETE CASCADE). */
    r = db_execute(db, DB_LEADLIST_DELETE, p, NULL, request_id);
    if (r == DB_OK)
        r = db_execute(db, DB_CHANGES_DELETE, p, NULL, request_id);
    if (r == DB_OK)
        r = db_commit(db, request_id);
    if (r == DB_OK)
        w->outcome = STORE_OK;
    return r;
}

/* The list was there under this request's lock: gone now, the delete was stored. */
static enum db_result delete_find(struct db *db, void *ctx, bool *stored, const char *request_id)
{
    struct delete_work *w = ctx;
    bool exists = true;
    enum db_result r = list_exists(db, w->id, &exists, request_id);
    *stored = !exists;
    if (r == DB_OK && *stored)
        w->outcome = STORE_OK;
    return r;
}

enum store_result leadlist_store_delete(struct db *db, struct arena *a,
                                        const struct access_caller *caller,
                                        const uint8_t id[UUID_LEN], const char *if_match,
                                        uint32_t *version, const char *request_id)
{
    struct delete_work w = {a, caller, id, if_match, 0, STORE_FATAL};
    char subject[8 + UUID_STR_LEN];
    struct db_work work = {.what = "delete",
                           .run = delete_run,
                           .find = delete_find,
                           .ctx = &w,
                           .subject = subject_of(subject, id)};
    enum db_result r = db_run(db, &work, request_id);
    *version = w.version;
    return r == DB_OK ? w.outcome : store_failure(r);
}
