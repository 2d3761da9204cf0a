/* The create body, parsed as a stream: feed it chunk by chunk, then finish. Every problem is
 * collected for the 400's details. Pure: yajl and the arena, nothing else. */
#ifndef LEADLISTS_LEADLIST_IN_H
#define LEADLISTS_LEADLIST_IN_H

#include <stddef.h>

#include "arena.h"
#include "leadlist.h"
#include "problems.h"

struct leadlist_in_limits {
    size_t max_ids;   /* entries per id array, counted before de-duplication */
    size_t max_depth; /* nesting of arrays and objects, the body's own object included */
};

enum leadlist_in_result {
    LEADLIST_IN_OK,        /* out is filled */
    LEADLIST_IN_INVALID,   /* JSON, but problems says what is wrong */
    LEADLIST_IN_MALFORMED, /* not one JSON value; problems has one entry for "body" */
    LEADLIST_IN_NOMEM
};

struct leadlist_in;

/* Fills out (its name, type, icp, dates and ids) and problems, both owned by the caller and
 * living as long as the arena. NULL when out of memory. */
struct leadlist_in *leadlist_in_new(struct arena *a, const struct leadlist_in_limits *limits,
                                    struct leadlist *out, struct problems *problems);

/* Parses the next chunk. Returns 0 to go on, -1 when the outcome is already settled (the body
 * is malformed, too deep, or memory ran out): the caller may stop reading. */
int leadlist_in_feed(struct leadlist_in *in, const void *chunk, size_t len);

/* Ends the input and runs the checks that need the whole body. */
enum leadlist_in_result leadlist_in_finish(struct leadlist_in *in);

/* Releases the parser (not out or problems). NULL is fine. */
void leadlist_in_free(struct leadlist_in *in);

#endif
