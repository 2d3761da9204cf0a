/* Response bodies, built completely with yajl_gen before anything is sent. Pure: no I/O. */
#ifndef LEADLISTS_RESPOND_H
#define LEADLISTS_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "leadlist.h"
#include "problems.h"
#include "status.h"

/* Every builder returns 0 and sets *body and *len (arena memory), or -1 when generation
 * failed or memory ran out. */

/* One list, fields in the contract's order: the 201 of create, the 200 of get and PATCH. */
int respond_leadlist(struct arena *a, const struct leadlist *l, const char **body, size_t *len);

/* A page of the list endpoint: {"leadlists": [...], "nextCursor": text or null}, each item
 * the list with personCount and companyCount in place of the id arrays. */
int respond_page(struct arena *a, const struct leadlist *items, size_t count,
                 const char *next_cursor, const char **body, size_t *len);

/* The ids a membership request sent: strings, or (uuids) company ids. */
struct respond_ids {
    const struct leadlist_str *strs;
    const uint8_t (*uuids)[UUID_LEN];
};

/* add-members (added true: "added", "alreadyPresent") or remove-members ("removed",
 * "notPresent"): the ids named by the indexes done and other, then memberCount and
 * updatedAt of l, the list after the change. */
int respond_members(struct arena *a, const struct leadlist *l, bool added,
                    const struct respond_ids *ids, const size_t *done, size_t done_count,
                    const size_t *other, size_t other_count, const char **body, size_t *len);

/* add-users / remove-users: the same account, then the whole userIds and updatedAt. */
int respond_users(struct arena *a, const struct leadlist *l, bool added,
                  const struct respond_ids *ids, const size_t *done, size_t done_count,
                  const size_t *other, size_t other_count, const char **body, size_t *len);

/* The error envelope {"error":{"code","message","details"?,"requestId"}}. problems may be NULL;
 * details are written only when it holds entries. */
int respond_error(struct arena *a, enum status s, const char *request_id,
                  const struct problems *problems, const char **body, size_t *len);

/* Finds the personIds array inside a body built by respond_leadlist, so the stored column can
 * reuse the text instead of encoding the ids again. Returns 0 and the span, or -1. */
int respond_person_ids_span(const char *body, size_t len, const char **span, size_t *span_len);

/* A JSON array of strings, e.g. the person ids as stored. */
int respond_string_array(struct arena *a, const struct leadlist_str *items, size_t count,
                         const char **out, size_t *len);

#endif
