/* GET /api/v1/health, public: 200 while this worker reaches a usable database node, for a
 * load balancer to ask every second. */
#include <string.h>

#include "op.h"

static enum db_result ping(struct db *db, void *ctx, const char *request_id)
{
    (void)ctx;
    enum db_result r = db_execute(db, DB_HEALTH, NULL, NULL, request_id);
    if (r == DB_OK)
        db_free_result(db, DB_HEALTH);
    return r;
}

enum status op_health(struct op *op)
{
    struct db_work work = {.what = "health check", .run = ping};
    enum db_result r = db_run(op->app->db, &work, op->r->id);
    if (r != DB_OK)
        return r == DB_UNAVAILABLE ? STATUS_SERVICE_UNAVAILABLE : STATUS_INTERNAL_ERROR;
    static const char ok[] = "{\"status\":\"ok\"}";
    request_send(op->r, 200, ok, sizeof(ok) - 1);
    return STATUS_OK;
}
