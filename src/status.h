/* Every outcome a request can have: one row per status, used by the router, the handlers and
 * the responder alike. Messages are fixed strings: they never carry internal detail. */
#ifndef LEADLISTS_STATUS_H
#define LEADLISTS_STATUS_H

/*   name                 HTTP  JSON code                 message */
#define STATUS_TABLE(X)                                                                            \
    X(STATUS_CREATED, 201, "CREATED", "Created")                                                   \
    X(STATUS_BAD_REQUEST, 400, "BAD_REQUEST", "Request body validation failed")                    \
    X(STATUS_MALFORMED_JSON, 400, "BAD_REQUEST", "Request body is not valid JSON")                 \
    X(STATUS_UNAUTHORIZED, 401, "UNAUTHORIZED", "A valid session is required")                     \
    X(STATUS_NOT_FOUND, 404, "NOT_FOUND", "No such resource")                                      \
    X(STATUS_METHOD_NOT_ALLOWED, 405, "METHOD_NOT_ALLOWED", "Method not allowed on this resource") \
    X(STATUS_CONFLICT, 409, "CONFLICT", "The request is already being processed")                  \
    X(STATUS_PAYLOAD_TOO_LARGE, 413, "PAYLOAD_TOO_LARGE", "Request body is too large")             \
    X(STATUS_UNSUPPORTED_MEDIA_TYPE, 415, "UNSUPPORTED_MEDIA_TYPE",                                \
      "Content-Type must be application/json")                                                     \
    X(STATUS_IDEMPOTENCY_KEY_REUSED, 422, "IDEMPOTENCY_KEY_REUSED",                                \
      "Idempotency-Key was used with a different request body")                                    \
    X(STATUS_INTERNAL_ERROR, 500, "INTERNAL_ERROR", "An unexpected error occurred")                \
    X(STATUS_SERVICE_UNAVAILABLE, 503, "SERVICE_UNAVAILABLE",                                      \
      "The service is temporarily unavailable; retry later")

enum status {
#define STATUS_ENUM(name, http, code, message) name,
    STATUS_TABLE(STATUS_ENUM)
#undef STATUS_ENUM
        STATUS__COUNT
};

struct status_info {
    int http;
    const char *code;
    const char *message;
};

static inline const struct status_info *status_info(enum status s)
{
    static const struct status_info table[] = {
#define STATUS_ROW(name, http, code, message) {http, code, message},
        STATUS_TABLE(STATUS_ROW)
#undef STATUS_ROW
    };
    return &table[s];
}

#endif
