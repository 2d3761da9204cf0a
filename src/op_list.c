/* GET (and HEAD) /api/v1/entities/leadlists?limit=&cursor=&type=: the lists the caller may
 * see, newest first, a page at a time. */
#include <string.h>

#include "cursor.h"
#include "log.h"
#include "op.h"
#include "respond.h"

static enum cursor_filter filter_of(const struct http_list_query *q)
{
    if (!q->has_type)
        return CURSOR_ALL;
    return q->type == LEADLIST_COMPANY ? CURSOR_COMPANY : CURSOR_PERSON;
}

enum status op_list(struct op *op)
{
    struct request *r = op->r;
    const uint8_t *key = op->app->config->cursor_key;
    struct http_list_query q;
    if (http_list_query_parse(r->arena, r->query, &q, &op->problems) != 0)
        return STATUS_BAD_PARAMETERS;
    struct store_page_query page = {.has_type = q.has_type, .type = q.type, .limit = q.limit};
    memset(page.after, 0xff, sizeof(page.after));
    enum cursor_filter filter = filter_of(&q);
    if (q.cursor != NULL && cursor_decode(key, filter, q.cursor, q.cursor_len, page.after) != 0) {
        problems_add(&op->problems, r->arena, "cursor",
                     "is not a cursor this service issued for this type filter");
        return STATUS_BAD_PARAMETERS;
    }
    struct leadlist *items;
    size_t count;
    bool more;
    enum store_result s = leadlist_store_page(op->app->db, r->arena, &op->caller, &page, &items,
                                              &count, &more, r->id);
    if (s != STORE_OK)
        return op_store_status(s);
    char next[CURSOR_TEXT_LEN + 1];
    if (more && cursor_encode(key, filter, items[count - 1].id, next) != 0) {
        log_msg(LOG_ERR, r->id, "list: the next cursor could not be made");
        return STATUS_INTERNAL_ERROR;
    }
    const char *body;
    size_t len;
    if (respond_page(r->arena, items, count, more ? next : NULL, &body, &len) != 0) {
        log_msg(LOG_ERR, r->id, "list: the page could not be built");
        return STATUS_INTERNAL_ERROR;
    }
    request_send(r, 200, body, len);
    return STATUS_OK;
}
