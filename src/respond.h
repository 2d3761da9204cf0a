/* Response bodies, built completely with yajl_gen before anything is sent. Pure: no I/O. */
#ifndef LEADLISTS_RESPOND_H
#define LEADLISTS_RESPOND_H

#include <stddef.h>

#include "arena.h"
#include "leadlist.h"
#include "problems.h"
#include "status.h"

/* The 201 body: the stored list, fields in the contract's order. Returns 0 and sets *body and
 * *len (arena memory), or -1 when generation failed or memory ran out. */
int respond_leadlist(struct arena *a, const struct leadlist *l, const char **body, size_t *len);

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
