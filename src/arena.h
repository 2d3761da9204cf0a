/* A request's memory: many small allocations released in one step. */
#ifndef LEADLISTS_ARENA_H
#define LEADLISTS_ARENA_H

#include <stddef.h>

struct arena;

/* NULL when out of memory. block_size is the size of each chunk taken from malloc. */
struct arena *arena_new(size_t block_size);

/* 16-byte aligned, uninitialised; NULL when out of memory or over the arena's cap. */
void *arena_alloc(struct arena *a, size_t size);

/* Zero-filled. */
void *arena_calloc(struct arena *a, size_t count, size_t size);

/* A NUL-terminated copy of len bytes. */
char *arena_strndup(struct arena *a, const char *s, size_t len);

/* Bytes handed out since the last reset (what a request has used). */
size_t arena_used(const struct arena *a);

/* Releases everything but the first block, so a worker's steady state allocates nothing. */
void arena_reset(struct arena *a);

void arena_free(struct arena *a);

#endif
