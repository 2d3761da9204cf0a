#include "problems.h"

#include <stdio.h>
#include <string.h>

void problems_init(struct problems *p)
{
    p->count = 0;
    p->dropped = 0;
    p->out_of_memory = false;
}

static void add_owned(struct problems *p, const char *field, const char *message)
{
    if (p->count < PROBLEMS_MAX) {
        p->items[p->count].field = field;
        p->items[p->count].message = message;
        p->count++;
    } else {
        p->dropped++;
    }
}

void problems_add(struct problems *p, struct arena *a, const char *field, const char *message)
{
    if (p->count >= PROBLEMS_MAX) {
        p->dropped++;
        return;
    }
    char *copy = arena_strndup(a, field, strlen(field));
    if (copy == NULL) {
        p->out_of_memory = true;
        return;
    }
    add_owned(p, copy, message);
}

void problems_add_item(struct problems *p, struct arena *a, const char *name, size_t index,
                       const char *message)
{
    if (p->count >= PROBLEMS_MAX) {
        p->dropped++;
        return;
    }
    char buf[96];
    snprintf(buf, sizeof(buf), "%s[%zu]", name, index);
    problems_add(p, a, buf, message);
}

bool problems_none(const struct problems *p)
{
    return p->count == 0 && p->dropped == 0 && !p->out_of_memory;
}
