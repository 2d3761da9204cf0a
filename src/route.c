#include "route.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

#define ROUTE_PUBLIC 1u

typedef void (*route_handler)(struct request *r, struct app *app,
                              const struct auth_session *session);

struct route {
    const char *method;
    const char *path;
    route_handler handler;
    unsigned flags;
};

static const struct route routes[] = {
    {"POST", "/api/v1/entities/leadlists", handler_create_leadlist, 0},
};

#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))

/* Writes "Allow: M1, M2" for every method the path has; returns false when it has none. */
static bool allowed_methods(const char *path, char *line, size_t cap)
{
    int n = snprintf(line, cap, "Allow:");
    bool any = false;
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (strcmp(routes[i].path, path) != 0)
            continue;
        n += snprintf(line + n, cap - (size_t)n, "%s %s", any ? "," : "", routes[i].method);
        any = true;
    }
    return any;
}

static const struct route *find(const char *method, const char *path)
{
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (strcmp(routes[i].path, path) == 0 && strcmp(routes[i].method, method) == 0)
            return &routes[i];
    }
    return NULL;
}

void route_dispatch(struct request *r, struct app *app)
{
    const struct route *route = find(r->method, r->path);
    if (route == NULL) {
        char allow[128];
        if (allowed_methods(r->path, allow, sizeof(allow))) {
            request_add_header(r, allow);
            request_fail(r, STATUS_METHOD_NOT_ALLOWED, NULL);
        } else {
            request_fail(r, STATUS_NOT_FOUND, NULL);
        }
        return;
    }
    struct auth_session session;
    memset(&session, 0, sizeof(session));
    if (!(route->flags & ROUTE_PUBLIC)) {
        switch (auth_check(app->db, r->authorization, &session, r->id)) {
        case AUTH_OK:
            break;
        case AUTH_DENIED:
            request_add_header(r, "WWW-Authenticate: Bearer");
            request_fail(r, STATUS_UNAUTHORIZED, NULL);
            return;
        case AUTH_UNAVAILABLE:
            request_fail(r, STATUS_SERVICE_UNAVAILABLE, NULL);
            return;
        default:
            request_fail(r, STATUS_INTERNAL_ERROR, NULL);
            return;
        }
    }
    route->handler(r, app, &session);
}
