/* What the routes do once a request is known to be theirs and its caller signed in. */
#ifndef LEADLISTS_HANDLER_H
#define LEADLISTS_HANDLER_H

#include "auth.h"
#include "config.h"
#include "db.h"
#include "request.h"
#include "uuid.h"

/* A worker's long-lived state, shared by every request it serves. */
struct app {
    const struct config *config;
    struct db *db;
    struct uuid_v7_gen uuids;
    unsigned char *chunk; /* body read buffer */
    size_t chunk_size;
};

/* POST /api/v1/entities/leadlists */
void handler_create_leadlist(struct request *r, struct app *app,
                             const struct auth_session *session);

#endif
