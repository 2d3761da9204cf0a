#include "handler.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "crypto.h"
#include "leadlist_in.h"
#include "leadlist_store.h"
#include "log.h"
#include "respond.h"

/* "application/json", any case, with optional parameters; a charset, if given, is UTF-8. */
static bool json_media_type(const char *value)
{
    if (value == NULL)
        return false;
    while (*value == ' ' || *value == '\t')
        value++;
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;
    if (strncasecmp(value, json, n) != 0)
        return false;
    const char *p = value + n;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t name_len = strcspn(p, "=;");
        const char *v = p + name_len;
        size_t value_len = 0;
        if (*v == '=') {
            v++;
            value_len = strcspn(v, ";");
        }
        while (value_len > 0 && (v[value_len - 1] == ' ' || v[value_len - 1] == '\t'))
            value_len--;
        if (name_len == 7 && strncasecmp(p, "charset", 7) == 0) {
            if (value_len >= 2 && v[0] == '"' && v[value_len - 1] == '"') {
                v++;
                value_len -= 2;
            }
            if (!((value_len == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
                  (value_len == 4 && strncasecmp(v, "utf8", 4) == 0)))
                return false;
        }
        p = v + value_len;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    return *p == '\0';
}

/* CONTENT_LENGTH as a number; absent means no body. -1 when it is not a number. */
static long long content_length(const char *value)
{
    if (value == NULL || *value == '\0')
        return 0;
    for (const char *p = value; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
    }
    errno = 0;
    long long n = strtoll(value, NULL, 10);
    return errno != 0 ? -1 : n;
}

/* Streams the body into the parser and, when digest is not NULL, into the SHA-256 that keys
 * an Idempotency-Key. Returns 0, or -1 when reading failed. */
static int read_body(struct request *r, struct app *app, struct leadlist_in *in, EVP_MD_CTX *digest,
                     size_t length)
{
    size_t remaining = length;
    bool parsing = true;
    while (remaining > 0) {
        size_t want = remaining < app->chunk_size ? remaining : app->chunk_size;
        long n = request_read(r, app->chunk, want);
        if (n < 0)
            return -1;
        if (n == 0)
            break; /* shorter than announced: the parser sees a truncated document */
        remaining -= (size_t)n;
        if (digest != NULL && EVP_DigestUpdate(digest, app->chunk, (size_t)n) != 1)
            return -1;
        if (parsing && leadlist_in_feed(in, app->chunk, (size_t)n) != 0) {
            parsing = false; /* settled: the rest cannot change the answer */
            if (digest == NULL)
                break;
        }
    }
    return 0;
}

/* 1-255 printable ASCII characters. */
static bool idempotency_key_valid(const char *key)
{
    size_t n = 0;
    for (; key[n] != '\0'; n++) {
        if (key[n] < 0x20 || key[n] > 0x7E)
            return false;
    }
    return n >= 1 && n <= 255;
}

/* Sends a response kept with an Idempotency-Key, as it was first sent. */
static void send_replay(struct request *r, const struct store_replay *replay)
{
    char id_text[UUID_STR_LEN + 1];
    uuid_format(replay->leadlist_id, id_text);
    char *location = arena_alloc(r->arena, 64 + UUID_STR_LEN);
    if (location == NULL) {
        request_fail(r, STATUS_INTERNAL_ERROR, NULL);
        return;
    }
    snprintf(location, 64 + UUID_STR_LEN, "Location: /api/v1/entities/leadlists/%s", id_text);
    request_add_header(r, location);
    request_add_header(r, "Idempotent-Replayed: true");
    request_send(r, replay->status, replay->body, replay->body_len);
}

/* Answers a store outcome other than a fresh commit. */
static void answer_store(struct request *r, enum store_result s, const struct store_replay *replay)
{
    switch (s) {
    case STORE_REPLAY:
        send_replay(r, replay);
        break;
    case STORE_KEY_REUSED:
        request_fail(r, STATUS_IDEMPOTENCY_KEY_REUSED, NULL);
        break;
    case STORE_IN_FLIGHT:
        request_fail(r, STATUS_CONFLICT, NULL);
        break;
    case STORE_UNAVAILABLE:
        request_fail(r, STATUS_SERVICE_UNAVAILABLE, NULL);
        break;
    default:
        request_fail(r, STATUS_INTERNAL_ERROR, NULL);
        break;
    }
}

void handler_create_leadlist(struct request *r, struct app *app, const struct auth_session *session)
{
    const struct config *c = app->config;
    if (!json_media_type(r->content_type)) {
        request_fail(r, STATUS_UNSUPPORTED_MEDIA_TYPE, NULL);
        return;
    }
    long long length = content_length(r->content_length);
    if (length < 0) {
        struct problems p;
        problems_init(&p);
        problems_add(&p, r->arena, "body", "Content-Length is not a number");
        request_fail(r, STATUS_MALFORMED_JSON, &p);
        return;
    }
    if ((unsigned long long)length > c->max_body_bytes) {
        request_fail(r, STATUS_PAYLOAD_TOO_LARGE, NULL);
        return;
    }

    const char *key_header = r->idempotency_key;
    if (key_header != NULL && !idempotency_key_valid(key_header)) {
        struct problems p;
        problems_init(&p);
        problems_add(&p, r->arena, "Idempotency-Key", "must be 1-255 printable ASCII characters");
        request_fail(r, STATUS_BAD_REQUEST, &p);
        return;
    }

    struct leadlist list;
    struct problems problems;
    struct store_key key;
    struct store_replay replay;
    memset(&replay, 0, sizeof(replay));
    EVP_MD_CTX *digest = NULL;
    struct leadlist_in_limits limits = {.max_ids = c->max_ids, .max_depth = c->max_depth};
    struct leadlist_in *in = leadlist_in_new(r->arena, &limits, &list, &problems);
    if (in == NULL) {
        log_msg(LOG_ERR, r->id, "create: parser could not be allocated");
        request_fail(r, STATUS_INTERNAL_ERROR, NULL);
        goto cleanup;
    }
    if (key_header != NULL) {
        digest = EVP_MD_CTX_new();
        if (digest == NULL || EVP_DigestInit_ex(digest, crypto_sha256(), NULL) != 1) {
            log_msg(LOG_ERR, r->id, "create: SHA-256 could not be set up");
            request_fail(r, STATUS_INTERNAL_ERROR, NULL);
            goto cleanup;
        }
    }
    if (read_body(r, app, in, digest, (size_t)length) != 0) {
        log_msg(LOG_WARNING, r->id, "create: reading the body failed (client gone?)");
        request_fail(r, STATUS_MALFORMED_JSON, NULL);
        goto cleanup;
    }
    enum leadlist_in_result parsed = leadlist_in_finish(in);
    switch (parsed) {
    case LEADLIST_IN_OK:
        break;
    case LEADLIST_IN_MALFORMED:
        request_fail(r, STATUS_MALFORMED_JSON, &problems);
        goto cleanup;
    case LEADLIST_IN_INVALID:
        request_fail(r, STATUS_BAD_REQUEST, &problems);
        goto cleanup;
    default:
        log_msg(LOG_ERR, r->id, "create: out of memory while parsing the body");
        request_fail(r, STATUS_INTERNAL_ERROR, NULL);
        goto cleanup;
    }

    if (key_header != NULL) {
        key.user_id = session->user_id;
        key.key = key_header;
        key.key_len = strlen(key_header);
        key.ttl_seconds = c->idempotency_ttl;
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(digest, key.fingerprint, &n) != 1) {
            request_fail(r, STATUS_INTERNAL_ERROR, NULL);
            goto cleanup;
        }
        enum store_result found = leadlist_store_find_key(app->db, r->arena, &key, &replay, r->id);
        if (found != STORE_OK) {
            answer_store(r, found, &replay);
            goto cleanup;
        }
    }

    uint8_t random[10];
    if (RAND_bytes(random, sizeof(random)) != 1) {
        log_msg(LOG_ERR, r->id, "create: RAND_bytes failed");
        request_fail(r, STATUS_INTERNAL_ERROR, NULL);
        goto cleanup;
    }
    list.created_ms = uuid_v7_make(&app->uuids, clock_wall_ms(), random, list.id);
    list.user_id = session->user_id;
    list.org_id = session->org_id;

    /* The response is complete before the transaction, so the key can keep it. */
    const char *body;
    size_t len;
    if (respond_leadlist(r->arena, &list, &body, &len) != 0) {
        log_msg(LOG_ERR, r->id, "create: the response could not be built");
        request_fail(r, STATUS_INTERNAL_ERROR, NULL);
        goto cleanup;
    }
    enum store_result stored = leadlist_store_create(
        app->db, r->arena, &list, key_header != NULL ? &key : NULL, body, len, &replay, r->id);
    if (stored != STORE_OK) {
        answer_store(r, stored, &replay);
        goto cleanup;
    }
    char id_text[UUID_STR_LEN + 1];
    char location[64 + UUID_STR_LEN];
    uuid_format(list.id, id_text);
    snprintf(location, sizeof(location), "Location: /api/v1/entities/leadlists/%s", id_text);
    request_add_header(r, location);
    request_send(r, 201, body, len);
cleanup:
    leadlist_in_free(in);
    EVP_MD_CTX_free(digest);
}
