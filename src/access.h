/* Who may act on a list: the one place where 404 and 403 are decided for every operation on
 * a list, get included. A list of another org does not exist for the caller (404, the same
 * answer as for an id nobody has); in the caller's org, the caller needs to be in its userIds
 * or an admin (403). Pure. */
#ifndef LEADLISTS_ACCESS_H
#define LEADLISTS_ACCESS_H

#include <stdbool.h>

#include "leadlist.h"

struct access_caller {
    const char *user_id;
    const char *org_id;
    bool admin;
};

enum access_result { ACCESS_OK, ACCESS_NOT_FOUND, ACCESS_FORBIDDEN };

/* l NULL: no such list. */
enum access_result access_check(const struct access_caller *caller, const struct leadlist *l);

#endif
