/* POST /api/v1/entities/leadlists/{id}/add-members and .../remove-members, with an account
 * of what happened to each id. */
#include "leadlist_change.h"
#include "log.h"
#include "op.h"
#include "respond.h"

struct members_change {
    const struct body_members *body;
    bool add;
    size_t max_members;
    struct change_account account;
};

static enum change_result apply(void *ctx, struct arena *a, const struct leadlist *stored,
                                struct leadlist *next, struct problems *problems)
{
    struct members_change *m = ctx;
    return leadlist_change_members(a, stored, m->body, m->add, m->max_members, next, &m->account,
                                   problems);
}

static enum status members(struct op *op, bool add)
{
    struct members_change m = {
        .body = op->body, .add = add, .max_members = op->app->config->max_members};
    struct store_change c = {.what = add ? "add-members" : "remove-members",
                             .id = op->id,
                             .if_match = op->r->if_match,
                             .apply = apply,
                             .ctx = &m,
                             .problems = &op->problems};
    enum store_result s =
        leadlist_store_change(op->app->db, op->r->arena, &op->caller, &c, op->r->id);
    if (s != STORE_OK && s != STORE_UNCHANGED)
        return op_change_failed(op, s, c.stored.version);
    const struct body_members *b = m.body;
    struct respond_ids ids = {b->type == LEADLIST_PERSON ? b->person_ids : NULL,
                              (const uint8_t(*)[UUID_LEN])b->company_ids};
    const char *body;
    size_t len;
    if (respond_members(op->r->arena, &c.result, add, &ids, m.account.done, m.account.done_count,
                        m.account.other, m.account.other_count, &body, &len) != 0) {
        log_msg(LOG_ERR, op->r->id, "members: the answer could not be built");
        return STATUS_INTERNAL_ERROR;
    }
    request_send_tagged(op->r, 200, c.result.version, body, len);
    return STATUS_OK;
}

enum status op_add_members(struct op *op)
{
    return members(op, true);
}

enum status op_remove_members(struct op *op)
{
    return members(op, false);
}
