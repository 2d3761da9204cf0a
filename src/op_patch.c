/* PATCH /api/v1/entities/leadlists/{id}: the fields sent replace the stored ones. */
#include "leadlist_change.h"
#include "op.h"

static enum change_result apply(void *ctx, struct arena *a, const struct leadlist *stored,
                                struct leadlist *next, struct problems *problems)
{
    return leadlist_change_patch(a, stored, ctx, next, problems);
}

enum status op_patch(struct op *op)
{
    struct store_change c = {.what = "patch",
                             .id = op->id,
                             .if_match = op->r->if_match,
                             .apply = apply,
                             .ctx = op->body,
                             .problems = &op->problems};
    enum store_result s =
        leadlist_store_change(op->app->db, op->r->arena, &op->caller, &c, op->r->id);
    if (s != STORE_OK && s != STORE_UNCHANGED)
        return op_change_failed(op, s, c.stored.version);
    return op_send_list(op, 200, &c.result);
}
