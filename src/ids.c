#include "ids.h"

#include <stdint.h>
#include <string.h>

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL
#define IDS_SET_MIN_CAPACITY 8

bool ids_person_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > IDS_PERSON_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        /* Explicit ranges: the ctype functions depend on the locale and on char signedness. */
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

struct ids_slot {
    const unsigned char *key;
    size_t len;
    uint64_t hash; /* kept so most mismatches are rejected without touching the key */
    bool used;     /* a flag rather than key == NULL, so an empty key is a key like any other */
};

struct ids_set {
    struct ids_slot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t count;
    size_t max_items;
};

static uint64_t fnv1a64(const unsigned char *p, size_t len)
{
    uint64_t h = FNV64_OFFSET;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV64_PRIME;
    }
    return h;
}

struct ids_set *ids_set_new(struct arena *a, size_t max_items)
{
    /* At least twice max_items keeps the load factor at or under one half, so probes stay
     * short without ever growing the table. */
    size_t cap = IDS_SET_MIN_CAPACITY;
    while (cap / 2 < max_items) {
        if (cap > SIZE_MAX / 2)
            return NULL;
        cap *= 2;
    }

    struct ids_set *set = arena_alloc(a, sizeof(*set));
    if (set == NULL)
        return NULL;
    set->slots = arena_calloc(a, cap, sizeof(*set->slots));
    if (set->slots == NULL)
        return NULL;
    set->mask = cap - 1;
    set->count = 0;
    set->max_items = max_items;
    return set;
}

/* The slot that holds key, or the empty slot where it would go. */
static struct ids_slot *find_slot(const struct ids_set *set, const unsigned char *k, size_t len,
                                  uint64_t h)
{
    size_t i = (size_t)h & set->mask;
    for (;;) {
        struct ids_slot *slot = &set->slots[i];
        /* memcmp is skipped for empty keys, whose pointer may legitimately be NULL. */
        if (!slot->used ||
            (slot->hash == h && slot->len == len && (len == 0 || memcmp(slot->key, k, len) == 0)))
            return slot;
        i = (i + 1) & set->mask;
    }
}

int ids_set_add(struct ids_set *set, const void *key, size_t len)
{
    const unsigned char *k = key;
    uint64_t h = fnv1a64(k, len);
    struct ids_slot *slot = find_slot(set, k, len, h);
    if (slot->used)
        return 0;
    if (set->count >= set->max_items)
        return -1;
    slot->key = k;
    slot->len = len;
    slot->hash = h;
    slot->used = true;
    set->count++;
    return 1;
}

bool ids_set_contains(const struct ids_set *set, const void *key, size_t len)
{
    const unsigned char *k = key;
    return find_slot(set, k, len, fnv1a64(k, len))->used;
}
