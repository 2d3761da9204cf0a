/* The HTTP rules of the API that are not about a body's content: media types, lengths, the
 * Idempotency-Key header, entity tags (ETag, If-Match, If-None-Match) and the list's query
 * string. Pure: strings in, answers out. */
#ifndef LEADLISTS_HTTP_H
#define LEADLISTS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "leadlist.h"
#include "problems.h"

/* "application/json" (and, when merge_patch, "application/merge-patch+json"), any case, with
 * optional parameters; a charset, if given, is UTF-8. NULL is not JSON. */
bool http_json_media_type(const char *value, bool merge_patch);

/* Whether path has the pattern's shape, character for character, where each "{id}" of the
 * pattern stands for one segment that is a UUID (either case), parsed into id. Nothing is
 * decoded: a percent escape is only itself. */
bool http_path_match(const char *pattern, const char *path, uint8_t id[UUID_LEN]);

/* CONTENT_LENGTH as a number; absent or empty means no body. -1 when it is not a number. */
long long http_content_length(const char *value);

/* 1-255 printable ASCII characters. */
bool http_idempotency_key_valid(const char *value);

/* `"<version>"`, the strong entity tag of a list's version, in buf (at least
 * HTTP_ETAG_MAX + 1 bytes). Returns its length. */
#define HTTP_ETAG_MAX 12
size_t http_etag(uint32_t version, char *buf);

/* An If-Match or If-None-Match value: "*", or one or more entity tags (`"x"` or `W/"x"`)
 * separated by commas and optional white space. */
bool http_etags_valid(const char *value);

/* Whether value (valid) names version: "*" always does; otherwise a tag whose text is the
 * version's. Strong comparison (If-Match): a weak tag never matches. Weak comparison
 * (If-None-Match): W/ is ignored. */
bool http_etags_match(const char *value, uint32_t version, bool weak_comparison);

/* The list endpoint's query: limit (1-200, default 50), type, cursor. */
#define HTTP_LIMIT_DEFAULT 50
#define HTTP_LIMIT_MAX 200
struct http_list_query {
    unsigned limit;
    bool has_type;
    enum leadlist_type type;
    const char *cursor; /* NULL when absent; arena memory, percent-decoded */
    size_t cursor_len;
};

/* Parses a QUERY_STRING (NULL or empty: the defaults). Each unknown, repeated or wrong
 * parameter adds a problem naming it; returns 0 when there was none. */
int http_list_query_parse(struct arena *a, const char *query, struct http_list_query *q,
                          struct problems *problems);

#endif
