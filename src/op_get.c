/* GET (and HEAD) /api/v1/entities/leadlists/{id}: one list, with its ETag; 304 when
 * If-None-Match names its version. */
#include "op.h"

enum status op_get(struct op *op)
{
    struct leadlist l;
    enum store_result s =
        leadlist_store_get(op->app->db, op->r->arena, &op->caller, op->id, &l, op->r->id);
    if (s != STORE_OK)
        return op_store_status(s);
    if (op->r->if_none_match != NULL && http_etags_match(op->r->if_none_match, l.version, true)) {
        request_send_tagged(op->r, 304, l.version, "", 0);
        return STATUS_OK;
    }
    return op_send_list(op, 200, &l);
}
