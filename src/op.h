/* The operations of the API, one room each (op_create.c, op_get.c, op_list.c, op_patch.c,
 * op_delete.c, op_members.c, op_users.c). The route table (route.c) decides which one runs
 * and runs, before it, what the route's flags ask for: authentication, the media type and
 * size, the If-Match and If-None-Match headers, the Idempotency-Key, and the body streamed
 * into its parser. An operation then only talks to the store and answers; on failure it
 * returns the status (and, for a 400, fills problems) and the dispatcher renders the error. */
#ifndef LEADLISTS_OP_H
#define LEADLISTS_OP_H

#include <stdbool.h>
#include <stdint.h>

#include "access.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "idem.h"
#include "leadlist_store.h"
#include "problems.h"
#include "request.h"
#include "status.h"
#include "uuid.h"

/* A worker's long-lived state, shared by every request it serves. */
struct app {
    const struct config *config;
    struct db *db;
    struct uuid_v7_gen uuids;
    unsigned char *chunk; /* body read buffer */
    size_t chunk_size;
};

/* One request, as the dispatcher hands it to its operation. */
struct op {
    struct request *r;
    struct app *app;
    struct access_caller caller; /* the signed-in user (not set on public routes) */
    uint8_t id[UUID_LEN];        /* the {id} of the path, parsed */
    void *body;                  /* what the route's body parser filled */
    const struct idem_key *key;  /* the Idempotency-Key with the body's SHA-256, or NULL */
    struct problems problems;    /* the details of a 400 the operation returns */
};

/* Each answers the request and returns STATUS_OK, or returns the error to render. */
enum status op_create(struct op *op);
enum status op_get(struct op *op);
enum status op_list(struct op *op);
enum status op_patch(struct op *op);
enum status op_delete(struct op *op);
enum status op_add_members(struct op *op);
enum status op_remove_members(struct op *op);
enum status op_add_users(struct op *op);
enum status op_remove_users(struct op *op);
enum status op_health(struct op *op);

/* What a store outcome that is not a success means for the client. */
enum status op_store_status(enum store_result s);

/* Sends one list (create's 201, the 200 of get and PATCH) with its ETag. */
enum status op_send_list(struct op *op, int http_status, const struct leadlist *l);

/* A change's answer when the store refused it: 412 carries the current ETag. */
enum status op_change_failed(struct op *op, enum store_result s, uint32_t current_version);

#endif
