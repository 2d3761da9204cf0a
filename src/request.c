#include "request.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "http.h"
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
    /* The path as sent: a percent escape or a dot segment in it then matches no route, where
     * the decoded DOCUMENT_URI would have turned it into another path. */
    const char *uri = FCGX_GetParam("REQUEST_URI", env);
    if (uri != NULL)
        r->path = arena_strndup(r->arena, uri, strcspn(uri, "?"));
    else
        r->path = FCGX_GetParam("DOCUMENT_URI", env);
    if (r->method == NULL)
        r->method = "";
    if (r->path == NULL)
        r->path = "";
    r->query = FCGX_GetParam("QUERY_STRING", env);
    if (r->query == NULL)
        r->query = "";
    r->head = strcmp(r->method, "HEAD") == 0;
    r->content_type = FCGX_GetParam("CONTENT_TYPE", env);
    r->content_length = FCGX_GetParam("CONTENT_LENGTH", env);
    r->authorization = FCGX_GetParam("HTTP_AUTHORIZATION", env);
    r->idempotency_key = FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", env);
    r->if_match = FCGX_GetParam("HTTP_IF_MATCH", env);
    r->if_none_match = FCGX_GetParam("HTTP_IF_NONE_MATCH", env);
    r->http_status = 0;
    r->retry_after = 1;
    r->answered = false;
    r->body_read = 0;
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
    r->body_read += (unsigned long long)n;
    return n;
}

bool request_fully_received(struct request *r, int fd)
{
    if (FCGX_HasSeenEOF(r->fcgx.in) != EOF) {
        long long announced = http_content_length(r->content_length);
        if (announced < 0 || (unsigned long long)announced != r->body_read)
            return false;
        /* The body's end: a record libfcgi has already buffered, as a rule, so no wait. */
        if (FCGX_GetChar(r->fcgx.in) != EOF || FCGX_GetError(r->fcgx.in) != 0)
            return false;
    }
    int pending = 0;
    return ioctl(fd, FIONREAD, &pending) == 0 && pending == 0;
}

int request_send(struct request *r, int http_status, const char *body, size_t len)
{
    char head[1024];
    /* 204 and 304 have no body: no type and no length for one (a 304's Content-Length would
     * have to be the 200's). */
    bool bodyless = http_status == 204 || http_status == 304;
    char length[96] = "";
    if (!bodyless)
        snprintf(length, sizeof(length),
                 "Content-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n", len);
    int n = snprintf(head, sizeof(head),
                     "Status: %d %s\r\n"
                     "%s"
                     "X-Request-Id: %s\r\n"
                     "Cache-Control: no-store\r\n",
                     http_status, status_reason(http_status), length, r->id);
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
    /* A HEAD gets the headers of the GET, Content-Length included, and no body. */
    if (r->head)
        len = 0;
    if (FCGX_PutStr(head, n, r->fcgx.out) != n ||
        (len > 0 && FCGX_PutStr(body, (int)len, r->fcgx.out) != (int)len)) {
        log_msg(LOG_WARNING, r->id, "writing the response failed (client gone?)");
        return -1;
    }
    return 0;
}

void request_add_etag(struct request *r, uint32_t version)
{
    char tag[HTTP_ETAG_MAX + 1];
    http_etag(version, tag);
    char *line = arena_alloc(r->arena, sizeof(tag) + 8);
    if (line == NULL)
        return;
    snprintf(line, sizeof(tag) + 8, "ETag: %s", tag);
    request_add_header(r, line);
}

int request_send_tagged(struct request *r, int http_status, uint32_t version, const char *body,
                        size_t len)
{
    request_add_etag(r, version);
    return request_send(r, http_status, body, len);
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
        /* Made without the arena or yajl, so even now the client gets the envelope; the
         * request id is safe in JSON as it is (request_id_char). */
        char fallback[160 + REQUEST_ID_MAX];
        int n = snprintf(fallback, sizeof(fallback),
                         "{\"error\":{\"code\":\"INTERNAL_ERROR\",\"message\":\"%s\","
                         "\"requestId\":\"%s\"}}",
                         status_info(STATUS_INTERNAL_ERROR)->message, r->id);
        log_msg(LOG_ERR, r->id, "building the error response failed");
        return request_send(r, 500, fallback, (size_t)n);
    }
    return request_send(r, status_info(s)->http, body, len);
}
