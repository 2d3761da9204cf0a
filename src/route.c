#include "route.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "body.h"
#include "crypto.h"
#include "http.h"
#include "log.h"

/* What a route needs before its operation runs; the dispatcher does each step, in the
 * contract's order: path and method, authentication, media type and size, request headers,
 * the body. */
#define ROUTE_PUBLIC 1u         /* no session needed */
#define ROUTE_BODY 2u           /* a JSON body, parsed with the route's body kind */
#define ROUTE_MERGE_PATCH 4u    /* ... which may also be application/merge-patch+json */
#define ROUTE_IF_MATCH 8u       /* If-Match is checked for its syntax */
#define ROUTE_IF_NONE_MATCH 16u /* If-None-Match is checked for its syntax */
#define ROUTE_IDEMPOTENCY 32u   /* Idempotency-Key, and the body's SHA-256 for it */

typedef enum status (*route_handler)(struct op *op);

struct route {
    const char *method; /* GET also answers HEAD */
    const char *pattern;
    route_handler handler;
    unsigned flags;
    enum body_kind body;
};

#define LISTS "/api/v1/entities/leadlists"
#define LIST LISTS "/{id}"
#define CHANGE (ROUTE_BODY | ROUTE_IF_MATCH)

static const struct route routes[] = {
    /* In the order Allow lists them. */
    {"GET", LISTS, op_list, 0, BODY_CREATE},
    {"POST", LISTS, op_create, ROUTE_BODY | ROUTE_IDEMPOTENCY, BODY_CREATE},
    {"GET", LIST, op_get, ROUTE_IF_NONE_MATCH, BODY_CREATE},
    {"PATCH", LIST, op_patch, CHANGE | ROUTE_MERGE_PATCH, BODY_PATCH},
    {"DELETE", LIST, op_delete, ROUTE_IF_MATCH, BODY_CREATE},
    {"POST", LIST "/add-members", op_add_members, CHANGE, BODY_MEMBERS},
    {"POST", LIST "/remove-members", op_remove_members, CHANGE, BODY_MEMBERS},
    {"POST", LIST "/add-users", op_add_users, CHANGE, BODY_USERS},
    {"POST", LIST "/remove-users", op_remove_users, CHANGE, BODY_USERS},
    {"GET", "/api/v1/health", op_health, ROUTE_PUBLIC, BODY_CREATE},
};

#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))

static bool method_matches(const struct route *route, const char *method)
{
    return strcmp(route->method, method) == 0 ||
           (strcmp(route->method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* The route for method and path; else *path_known tells 405 from 404, and allow lists the
 * path's methods ("Allow: GET, HEAD, POST"). */
static const struct route *find(const char *method, const char *path, uint8_t id[UUID_LEN],
                                bool *path_known, char *allow, size_t cap)
{
    int n = snprintf(allow, cap, "Allow:");
    *path_known = false;
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (!http_path_match(routes[i].pattern, path, id))
            continue;
        if (method_matches(&routes[i], method))
            return &routes[i];
        bool get = strcmp(routes[i].method, "GET") == 0;
        n += snprintf(allow + n, cap - (size_t)n, "%s %s%s", *path_known ? "," : "",
                      routes[i].method, get ? ", HEAD" : "");
        *path_known = true;
    }
    return NULL;
}

static enum status authenticate(struct op *op, struct auth_session *session)
{
    switch (auth_check(op->app->db, op->r->authorization, session, op->r->id)) {
    case AUTH_OK:
        op->caller.user_id = session->user_id;
        op->caller.org_id = session->org_id;
        op->caller.admin = session->role == AUTH_ADMIN;
        return STATUS_OK;
    case AUTH_DENIED:
        request_add_header(op->r, "WWW-Authenticate: Bearer");
        return STATUS_UNAUTHORIZED;
    case AUTH_UNAVAILABLE:
        return STATUS_SERVICE_UNAVAILABLE;
    default:
        return STATUS_INTERNAL_ERROR;
    }
}

/* The request headers the route reads, each a 400 detail of its own when malformed. */
static enum status check_headers(struct op *op, const struct route *route)
{
    struct request *r = op->r;
    problems_init(&op->problems);
    if ((route->flags & ROUTE_IF_MATCH) && r->if_match != NULL && !http_etags_valid(r->if_match))
        problems_add(&op->problems, r->arena, "If-Match", "must be * or a list of entity tags");
    if ((route->flags & ROUTE_IF_NONE_MATCH) && r->if_none_match != NULL &&
        !http_etags_valid(r->if_none_match))
        problems_add(&op->problems, r->arena, "If-None-Match",
                     "must be * or a list of entity tags");
    if ((route->flags & ROUTE_IDEMPOTENCY) && r->idempotency_key != NULL &&
        !http_idempotency_key_valid(r->idempotency_key))
        problems_add(&op->problems, r->arena, "Idempotency-Key",
                     "must be 1-255 printable ASCII characters");
    return problems_none(&op->problems) ? STATUS_OK : STATUS_BAD_PARAMETERS;
}

/* Streams the body into the parser and, when digest is not NULL, into the SHA-256 that keys
 * an Idempotency-Key. Returns 0, or -1 when reading failed. */
static int stream_body(struct op *op, struct body *parser, EVP_MD_CTX *digest, size_t length)
{
    struct app *app = op->app;
    size_t remaining = length;
    bool parsing = true;
    while (remaining > 0) {
        size_t want = remaining < app->chunk_size ? remaining : app->chunk_size;
        long n = request_read(op->r, app->chunk, want);
        if (n < 0)
            return -1;
        if (n == 0)
            break; /* shorter than announced: the parser sees a truncated document */
        remaining -= (size_t)n;
        if (digest != NULL && EVP_DigestUpdate(digest, app->chunk, (size_t)n) != 1)
            return -1;
        if (parsing && body_feed(parser, app->chunk, (size_t)n) != 0) {
            parsing = false; /* settled: the rest cannot change the answer */
            if (digest == NULL)
                break;
        }
    }
    return 0;
}

/* Media type, size, then the body parsed into the route's input (and fingerprinted for an
 * Idempotency-Key). */
static enum status read_body(struct op *op, const struct route *route, struct idem_key *key,
                             void *input)
{
    struct request *r = op->r;
    const struct config *c = op->app->config;
    if (!http_json_media_type(r->content_type, (route->flags & ROUTE_MERGE_PATCH) != 0))
        return STATUS_UNSUPPORTED_MEDIA_TYPE;
    long long length = http_content_length(r->content_length);
    if (length < 0) {
        problems_init(&op->problems);
        problems_add(&op->problems, r->arena, "body", "Content-Length is not a number");
        return STATUS_MALFORMED_JSON;
    }
    if ((unsigned long long)length > c->max_body_bytes)
        return STATUS_PAYLOAD_TOO_LARGE;
    enum status s = check_headers(op, route);
    if (s != STATUS_OK)
        return s;

    EVP_MD_CTX *digest = NULL;
    struct body_limits limits = {.max_ids = c->max_ids, .max_depth = c->max_depth};
    /* A body that sets a list's members whole cannot give it more than a list may hold. */
    if ((route->body == BODY_CREATE || route->body == BODY_PATCH) && c->max_members < c->max_ids)
        limits.max_ids = c->max_members;
    struct body *parser = body_new(r->arena, route->body, &limits, input, &op->problems);
    s = STATUS_INTERNAL_ERROR;
    if (parser == NULL) {
        log_msg(LOG_ERR, r->id, "request: the body parser could not be allocated");
        goto cleanup;
    }
    bool keyed = (route->flags & ROUTE_IDEMPOTENCY) && r->idempotency_key != NULL;
    if (keyed) {
        digest = EVP_MD_CTX_new();
        if (digest == NULL || EVP_DigestInit_ex(digest, crypto_sha256(), NULL) != 1) {
            log_msg(LOG_ERR, r->id, "request: SHA-256 could not be set up");
            goto cleanup;
        }
    }
    if (stream_body(op, parser, digest, (size_t)length) != 0) {
        log_msg(LOG_WARNING, r->id, "request: reading the body failed (client gone?)");
        problems_init(&op->problems);
        problems_add(&op->problems, r->arena, "body", "could not be read to its end");
        s = STATUS_MALFORMED_JSON;
        goto cleanup;
    }
    switch (body_finish(parser)) {
    case BODY_OK:
        break;
    case BODY_MALFORMED:
        s = STATUS_MALFORMED_JSON;
        goto cleanup;
    case BODY_INVALID:
        s = STATUS_BAD_REQUEST;
        goto cleanup;
    default:
        log_msg(LOG_ERR, r->id, "request: out of memory while parsing the body");
        goto cleanup;
    }
    if (keyed) {
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(digest, key->fingerprint, &n) != 1)
            goto cleanup;
        key->user_id = op->caller.user_id;
        key->key = r->idempotency_key;
        key->key_len = strlen(r->idempotency_key);
        key->ttl_seconds = c->idempotency_ttl;
        op->key = key;
    }
    op->body = input;
    s = STATUS_OK;
cleanup:
    body_free(parser);
    EVP_MD_CTX_free(digest);
    return s;
}

/* Room for whichever input a route's body fills. */
union route_input {
    struct leadlist create;
    struct body_patch patch;
    struct body_members members;
    struct body_users users;
};

static enum status dispatch(struct op *op)
{
    struct request *r = op->r;
    bool path_known;
    char allow[128];
    const struct route *route = find(r->method, r->path, op->id, &path_known, allow, sizeof(allow));
    if (route == NULL) {
        if (!path_known)
            return STATUS_NOT_FOUND;
        request_add_header(r, arena_strndup(r->arena, allow, strlen(allow)));
        return STATUS_METHOD_NOT_ALLOWED;
    }
    struct auth_session session;
    memset(&session, 0, sizeof(session));
    if (!(route->flags & ROUTE_PUBLIC)) {
        enum status s = authenticate(op, &session);
        if (s != STATUS_OK)
            return s;
    }
    struct idem_key key;
    union route_input input;
    enum status s =
        (route->flags & ROUTE_BODY) ? read_body(op, route, &key, &input) : check_headers(op, route);
    if (s != STATUS_OK)
        return s;
    return route->handler(op);
}

void route_dispatch(struct request *r, struct app *app)
{
    struct op op;
    memset(&op, 0, sizeof(op));
    op.r = r;
    op.app = app;
    problems_init(&op.problems);
    enum status s = dispatch(&op);
    if (s == STATUS_OK || r->answered)
        return;
    int http = status_info(s)->http;
    request_fail(r, s, http == 400 ? &op.problems : NULL);
}
