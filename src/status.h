/* Every outcome a request can have: one row per status, used by the router, the handlers and
 * the responder alike. Messages are fixed strings: they never carry internal detail. */
#ifndef LEADLISTS_STATUS_H
#define LEADLISTS_STATUS_H

#include <stddef.h>

/*   name                           HTTP reason                    JSON code          message */
#define STATUS_TABLE(X)                                                                            \
    X(STATUS_OK, 200, "OK", "OK", "OK")                                                            \
    X(STATUS_CREATED, 201, "Created", "CREATED", "Created")                                        \
    X(STATUS_NO_CONTENT, 204, "No Content", "NO_CONTENT", "No Content")                            \
    X(STATUS_NOT_MODIFIED, 304, "Not Modified", "NOT_MODIFIED", "Not Modified")                    \
    X(STATUS_BAD_REQUEST, 400, "Bad Request", "BAD_REQUEST", "Request body validation failed")     \
    X(STATUS_MALFORMED_JSON, 400, "Bad Request", "BAD_REQUEST", "Request body is not valid JSON")  \
    X(STATUS_BAD_PARAMETERS, 400, "Bad Request", "BAD_REQUEST", "Request validation failed")       \
    X(STATUS_UNAUTHORIZED, 401, "Unauthorized", "UNAUTHORIZED", "A valid session is required")     \
    X(STATUS_FORBIDDEN, 403, "Forbidden", "FORBIDDEN", "You do not have access to this lead list") \
    X(STATUS_NOT_FOUND, 404, "Not Found", "NOT_FOUND", "No such resource")                         \
    X(STATUS_LIST_NOT_FOUND, 404, "Not Found", "NOT_FOUND", "Lead list not found")                 \
    X(STATUS_METHOD_NOT_ALLOWED, 405, "Method Not Allowed", "METHOD_NOT_ALLOWED",                  \
      "Method not allowed on this resource")                                                       \
    X(STATUS_CONFLICT, 409, "Conflict", "CONFLICT", "The request is already being processed")      \
    X(STATUS_PRECONDITION_FAILED, 412, "Precondition Failed", "PRECONDITION_FAILED",               \
      "The lead list has changed: If-Match does not match its current ETag")                       \
    X(STATUS_PAYLOAD_TOO_LARGE, 413, "Payload Too Large", "PAYLOAD_TOO_LARGE",                     \
      "Request body is too large")                                                                 \
    X(STATUS_UNSUPPORTED_MEDIA_TYPE, 415, "Unsupported Media Type", "UNSUPPORTED_MEDIA_TYPE",      \
      "Content-Type must be application/json")                                                     \
    X(STATUS_IDEMPOTENCY_KEY_REUSED, 422, "Unprocessable Entity", "IDEMPOTENCY_KEY_REUSED",        \
      "Idempotency-Key was used with a different request body")                                    \
    X(STATUS_INTERNAL_ERROR, 500, "Internal Server Error", "INTERNAL_ERROR",                       \
      "An unexpected error occurred")                                                              \
    X(STATUS_SERVICE_UNAVAILABLE, 503, "Service Unavailable", "SERVICE_UNAVAILABLE",               \
      "The service is temporarily unavailable; retry later")

enum status {
#define STATUS_ENUM(name, http, reason, code, message) name,
    STATUS_TABLE(STATUS_ENUM)
#undef STATUS_ENUM
        STATUS__COUNT
};

struct status_info {
    int http;
    const char *reason; /* HTTP reason phrase */
    const char *code;   /* the error envelope's code */
    const char *message;
};

static inline const struct status_info *status_info(enum status s)
{
    static const struct status_info table[] = {
#define STATUS_ROW(name, http, reason, code, message) {http, reason, code, message},
        STATUS_TABLE(STATUS_ROW)
#undef STATUS_ROW
    };
    return &table[s];
}

/* The reason phrase for an HTTP status the table has (a replayed response keeps only its
 * number), "Internal Server Error" for any other. */
static inline const char *status_reason(int http)
{
    for (int s = 0; s < STATUS__COUNT; s++) {
        if (status_info((enum status)s)->http == http)
            return status_info((enum status)s)->reason;
    }
    return status_info(STATUS_INTERNAL_ERROR)->reason;
}

#endif
