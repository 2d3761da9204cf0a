#include "access.h"

#include <string.h>

enum access_result access_check(const struct access_caller *caller, const struct leadlist *l)
{
    if (l == NULL || strcmp(l->org_id, caller->org_id) != 0)
        return ACCESS_NOT_FOUND;
    if (caller->admin)
        return ACCESS_OK;
    size_t n = strlen(caller->user_id);
    for (size_t i = 0; i < l->user_count; i++) {
        if (l->user_ids[i].len == n && memcmp(l->user_ids[i].ptr, caller->user_id, n) == 0)
            return ACCESS_OK;
    }
    return ACCESS_FORBIDDEN;
}
