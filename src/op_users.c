/* POST /api/v1/entities/leadlists/{id}/add-users and .../remove-users: sharing with users of
 * the caller's org, and taking it back. */
#include "leadlist_change.h"
#include "log.h"
#include "op.h"
#include "respond.h"

struct users_change {
    const struct body_users *body;
    bool add;
    size_t max_users;
    struct change_account account;
};

static enum change_result apply(void *ctx, struct arena *a, const struct leadlist *stored,
                                struct leadlist *next, struct problems *problems)
{
    struct users_change *u = ctx;
    return leadlist_change_users(a, stored, u->body, u->add, u->max_users, next, &u->account,
                                 problems);
}

static enum status users(struct op *op, bool add)
{
    struct users_change u = {.body = op->body, .add = add, .max_users = op->app->config->max_users};
    struct store_change c = {.what = add ? "add-users" : "remove-users",
                             .id = op->id,
                             .if_match = op->r->if_match,
                             .apply = apply,
                             .ctx = &u,
                             .problems = &op->problems};
    enum store_result s =
        leadlist_store_change(op->app->db, op->r->arena, &op->caller, &c, op->r->id);
    if (s != STORE_OK && s != STORE_UNCHANGED)
        return op_change_failed(op, s, c.stored.version);
    struct respond_ids ids = {u.body->user_ids, NULL};
    const char *body;
    size_t len;
    if (respond_users(op->r->arena, &c.result, add, &ids, u.account.done, u.account.done_count,
                      u.account.other, u.account.other_count, &body, &len) != 0) {
        log_msg(LOG_ERR, op->r->id, "users: the answer could not be built");
        return STATUS_INTERNAL_ERROR;
    }
    request_send_tagged(op->r, 200, c.result.version, body, len);
    return STATUS_OK;
}

enum status op_add_users(struct op *op)
{
    return users(op, true);
}

enum status op_remove_users(struct op *op)
{
    return users(op, false);
}
