/* One FastCGI request: its parameters, id, body reader, arena and the single write of the
 * response. The only room besides main.c that knows FastCGI. */
#ifndef LEADLISTS_REQUEST_H
#define LEADLISTS_REQUEST_H

#include <fcgiapp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "problems.h"
#include "status.h"

#define REQUEST_ID_MAX 64
#define REQUEST_HEADERS_MAX 8

struct request {
    FCGX_Request fcgx;
    struct arena *arena;
    char id[REQUEST_ID_MAX + 1];
    const char *method;
    const char *path;         /* as the client sent it, without the query: never percent-decoded */
    const char *query;        /* QUERY_STRING; "" when absent */
    bool head;                /* a HEAD: answered as GET, without the body */
    const char *content_type; /* NULL when absent */
    const char *content_length;  /* NULL when absent */
    const char *authorization;   /* NULL when absent */
    const char *idempotency_key; /* NULL when absent */
    const char *if_match;        /* NULL when absent */
    const char *if_none_match;   /* NULL when absent */
    int http_status;             /* what was answered, for the access log */
    unsigned retry_after;        /* seconds sent with 503 */
    bool answered;
    unsigned long long body_read;                   /* body bytes request_read has returned */
    const char *extra_headers[REQUEST_HEADERS_MAX]; /* "Name: value" lines for the next answer */
    size_t extra_count;
};

/* Reads the parameters of a freshly accepted request and picks its id. */
void request_begin(struct request *r);

/* Adds a header line to the next answer; the text must live until it is sent. */
void request_add_header(struct request *r, const char *line);

/* Reads up to cap body bytes; returns the count, 0 at the end, -1 on error. */
long request_read(struct request *r, void *buf, size_t cap);

/* True when the web server has sent all it will: the announced body was read to its end (the
 * end-of-body record taken, which nginx sends with the body) and nothing waits unread on fd,
 * the connection. False when the answer came before the whole body did. */
bool request_fully_received(struct request *r, int fd);

/* Writes status, headers and body (JSON; none for a HEAD) in one go. */
int request_send(struct request *r, int http_status, const char *body, size_t len);

/* Adds `ETag: "<version>"` to the next answer. */
void request_add_etag(struct request *r, uint32_t version);

/* request_send with the ETag of version among the headers. */
int request_send_tagged(struct request *r, int http_status, uint32_t version, const char *body,
                        size_t len);

/* Builds and sends the JSON error envelope for s (with details from problems, may be NULL). */
int request_fail(struct request *r, enum status s, const struct problems *problems);

#endif
