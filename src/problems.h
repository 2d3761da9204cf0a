/* The list of problems a request body has, collected so that one 400 can name them all. */
#ifndef LEADLISTS_PROBLEMS_H
#define LEADLISTS_PROBLEMS_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

/* A response lists at most this many; the rest are counted, so a hostile body cannot make
 * the error response large. */
#define PROBLEMS_MAX 50

struct problem {
    const char *field;   /* e.g. "personIds[3]"; "body" for the document as a whole */
    const char *message; /* fixed text, or arena-owned */
};

struct problems {
    struct problem items[PROBLEMS_MAX];
    size_t count;   /* entries in items */
    size_t dropped; /* problems beyond PROBLEMS_MAX */
    bool out_of_memory;
};

void problems_init(struct problems *p);

/* field is copied into the arena; message must be a string literal or outlive the request. */
void problems_add(struct problems *p, struct arena *a, const char *field, const char *message);

/* As problems_add with the field written as "name[index]". */
void problems_add_item(struct problems *p, struct arena *a, const char *name, size_t index,
                       const char *message);

/* True when nothing was added. */
bool problems_none(const struct problems *p);

#endif
