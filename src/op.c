#include "op.h"

#include "log.h"
#include "respond.h"

enum status op_store_status(enum store_result s)
{
    switch (s) {
    case STORE_KEY_REUSED:
        return STATUS_IDEMPOTENCY_KEY_REUSED;
    case STORE_IN_FLIGHT:
        return STATUS_CONFLICT;
    case STORE_NOT_FOUND:
        return STATUS_LIST_NOT_FOUND;
    case STORE_FORBIDDEN:
        return STATUS_FORBIDDEN;
    case STORE_PRECONDITION_FAILED:
        return STATUS_PRECONDITION_FAILED;
    case STORE_REFUSED:
        return STATUS_BAD_REQUEST;
    case STORE_UNAVAILABLE:
        return STATUS_SERVICE_UNAVAILABLE;
    default:
        return STATUS_INTERNAL_ERROR;
    }
}

enum status op_send_list(struct op *op, int http_status, const struct leadlist *l)
{
    const char *body;
    size_t len;
    if (respond_leadlist(op->r->arena, l, &body, &len) != 0) {
        log_msg(LOG_ERR, op->r->id, "the list's answer could not be built");
        return STATUS_INTERNAL_ERROR;
    }
    request_send_tagged(op->r, http_status, l->version, body, len);
    return STATUS_OK;
}

enum status op_change_failed(struct op *op, enum store_result s, uint32_t current_version)
{
    if (s == STORE_PRECONDITION_FAILED)
        request_add_etag(op->r, current_version);
    return op_store_status(s);
}
