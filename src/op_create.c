/* POST /api/v1/entities/leadlists: a new list, its creator the only user. */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "op.h"
#include "respond.h"

static void add_location(struct request *r, const uint8_t id[UUID_LEN])
{
    char id_text[UUID_STR_LEN + 1];
    uuid_format(id, id_text);
    char *location = arena_alloc(r->arena, 64 + UUID_STR_LEN);
    if (location == NULL)
        return;
    snprintf(location, 64 + UUID_STR_LEN, "Location: /api/v1/entities/leadlists/%s", id_text);
    request_add_header(r, location);
}

/* A response kept with an Idempotency-Key, sent as it was first sent. Its ETag is the first
 * version's: the replay repeats the create, not the list as it is now. */
static enum status replay(struct op *op, const struct idem_replay *kept)
{
    add_location(op->r, kept->leadlist_id);
    request_add_header(op->r, "Idempotent-Replayed: true");
    request_send_tagged(op->r, kept->status, 1, kept->body, kept->body_len);
    return STATUS_OK;
}

enum status op_create(struct op *op)
{
    struct request *r = op->r;
    struct leadlist *list = op->body;
    struct idem_replay kept;
    memset(&kept, 0, sizeof(kept));
    if (op->key != NULL) {
        enum idem_found found;
        enum db_result db = idem_find(op->app->db, r->arena, op->key, &found, &kept, r->id);
        if (db != DB_OK)
            return db == DB_UNAVAILABLE ? STATUS_SERVICE_UNAVAILABLE : STATUS_INTERNAL_ERROR;
        if (found == IDEM_REPLAY)
            return replay(op, &kept);
        if (found == IDEM_REUSED)
            return STATUS_IDEMPOTENCY_KEY_REUSED;
    }

    uint8_t random[10];
    if (RAND_bytes(random, sizeof(random)) != 1) {
        log_msg(LOG_ERR, r->id, "create: RAND_bytes failed");
        return STATUS_INTERNAL_ERROR;
    }
    struct leadlist_str *creator = arena_alloc(r->arena, sizeof(*creator));
    if (creator == NULL)
        return STATUS_INTERNAL_ERROR;
    creator->ptr = op->caller.user_id;
    creator->len = strlen(op->caller.user_id);
    list->created_ms = uuid_v7_make(&op->app->uuids, clock_wall_ms(), random, list->id);
    list->updated_ms = list->created_ms;
    list->version = 1;
    list->user_ids = creator;
    list->user_count = 1;
    list->org_id = op->caller.org_id;

    /* The response is complete before the transaction, so the key can keep it. */
    const char *body;
    size_t len;
    if (respond_leadlist(r->arena, list, &body, &len) != 0) {
        log_msg(LOG_ERR, r->id, "create: the response could not be built");
        return STATUS_INTERNAL_ERROR;
    }
    int created = status_info(STATUS_CREATED)->http;
    enum store_result stored = leadlist_store_create(op->app->db, r->arena, list, op->key, created,
                                                     body, len, &kept, r->id);
    if (stored == STORE_REPLAY)
        return replay(op, &kept);
    if (stored != STORE_OK)
        return op_store_status(stored);
    add_location(r, list->id);
    request_send_tagged(r, created, list->version, body, len);
    return STATUS_OK;
}
