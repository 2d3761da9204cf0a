#include "request.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "respond.h"

static bool request_id_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* nginx's $request_id ties our log lines to its access log; anything else gets a fresh id. */
static void choose_id(struct request *r, const char *given)
{
    size_t n = given != NULL ? strlen(given) : 0;
    bool ok = n > 0 && n <= REQUEST_ID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = request_id_char((unsigned char)given[i]);
    if (ok) {
        memcpy(r->id, given, n + 1);
        return;
    }
    unsigned char raw[16];
    static const char hex[] = "0123456789abcdef";
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        memset(raw, 0, sizeof(raw));
    for (size_t i = 0; i < sizeof(raw); i++) {
        r->id[2 * i] = hex[raw[i] >> 4];
        r->id[2 * i + 1] = hex[raw[i] & 15];
    }
    r->id[2 * sizeof(raw)] = '\0';
}

void request_begin(struct request *r)
{
    FCGX_ParamArray env = r->fcgx.envp;
    r->method = FCGX_GetParam("REQUEST_METHOD", env);
    r->path = FCGX_GetParam("DOCUMENT_URI", env);
    if (r->path == NULL) {
        /* Without DOCUMENT_URI, take REQUEST_URI up to its query string. */
        const char *uri = FCGX_GetParam("REQUEST_URI", env);
        if (uri != NULL) {
            size_t n = strcspn(uri, "?");
            r->path = arena_strndup(r->arena, uri, n);
        }
    }
    if (r->method == NULL)
        r->method = "";
    if (r->path == NULL)
        r->path = "";
    r->content_type = FCGX_GetParam("CONTENT_TYPE", env);
    r->content_length = FCGX_GetParam("CONTENT_LENGTH", env);
    r->authorization = FCGX_GetParam("HTTP_AUTHORIZATION", env);
    r->idempotency_key = FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", env);
    r->http_status = 0;
    r->retry_after = 1;
    r->answered = false;
    r->extra_count = 0;
    choose_id(r, FCGX_GetParam("REQUEST_ID", env));
}

void request_add_header(struct request *r, const char *line)
{
    if (r->extra_count < REQUEST_HEADERS_MAX)
        r->extra_headers[r->extra_count++] = line;
}

long request_read(struct request *r, void *buf, size_t cap)
{
    int n = FCGX_GetStr(buf, (int)cap, r->fcgx.in);
    if (n < 0 || FCGX_GetError(r->fcgx.in) != 0)
        return -1;
    return n;
}

static const char *reason(int status)
{
    switch (status) {
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

int request_send(struct request *r, int http_status, const char *body, size_t len)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "Status: %d %s\r\n"
                     "Content-Type: application/json; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "X-Request-Id: %s\r\n"
                     "Cache-Control: no-store\r\n",
                     http_status, reason(http_status), len, r->id);
    for (size_t i = 0; i < r->extra_count && n > 0 && (size_t)n < sizeof(head); i++)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "%s\r\n", r->extra_headers[i]);
    if (n < 0 || (size_t)n + 2 >= sizeof(head)) {
        log_msg(LOG_ERR, r->id, "response headers do not fit");
        return -1;
    }
    memcpy(head + n, "\r\n", 3);
    n += 2;
    r->http_status = http_status;
    r->answered = true;
    if (FCGX_PutStr(head, n, r->fcgx.out) != n ||
        (len > 0 && FCGX_PutStr(body, (int)len, r->fcgx.out) != (int)len)) {
        log_msg(LOG_WARNING, r->id, "writing the response failed (client gone?)");
        return -1;
    }
    return 0;
}

int request_fail(struct request *r, enum status s, const struct problems *problems)
{
    const char *body;
    size_t len;
    if (s == STATUS_SERVICE_UNAVAILABLE) {
        char *line = arena_alloc(r->arena, 32);
        if (line != NULL) {
            snprintf(line, 32, "Retry-After: %u", r->retry_after);
            request_add_header(r, line);
        }
    }
    if (respond_error(r->arena, s, r->id, problems, &body, &len) != 0) {
        /* The fixed envelope needs no allocation, so even now the client gets JSON. */
        static const char fallback[] = "{\"error\":{\"code\":\"INTERNAL_ERROR\",\"message\":\"An "
                                       "unexpected error occurred\"}}";
        log_msg(LOG_ERR, r->id, "building the error response failed");
        return request_send(r, 500, fallback, sizeof(fallback) - 1);
    }
    return request_send(r, status_info(s)->http, body, len);
}
