/* DELETE /api/v1/entities/leadlists/{id}: the list, its members and its users, at once. */
#include "op.h"

enum status op_delete(struct op *op)
{
    uint32_t version = 0;
    enum store_result s = leadlist_store_delete(op->app->db, op->r->arena, &op->caller, op->id,
                                                op->r->if_match, &version, op->r->id);
    if (s != STORE_OK)
        return op_change_failed(op, s, version);
    request_send(op->r, 204, "", 0);
    return STATUS_OK;
}
