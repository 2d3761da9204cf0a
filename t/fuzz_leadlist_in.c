/* libFuzzer target over the create-body parser. The first input byte picks the chunk size,
 * so the fuzzer explores streaming boundaries as well as content.
 *
 * Built and run by script/fuzz (clang -fsanitize=fuzzer,address,undefined); the seed corpus is
 * t/fuzz-corpus/ (one byte of chunk size, then the body). Besides the sanitizers, the target
 * checks what the service relies on: an accepted body satisfies every rule the store and the
 * response assume, and the answer built for any input (the 201 body or the error envelope) is
 * valid JSON in valid UTF-8. A broken rule is a crash (__builtin_trap), so libFuzzer keeps the
 * input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "arena.h"
#include "ids.h"
#include "leadlist_in.h"
#include "respond.h"
#include "text.h"

#define MAX_IDS 10000
#define MAX_DEPTH 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One JSON value, strict (no comments, no garbage, strings validated as UTF-8). */
static int valid_json(const char *text, size_t len)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    if (h == NULL)
        return 1; /* out of memory: nothing to judge */
    int ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    return ok;
}

static void check_accepted(const struct leadlist *l)
{
    /* The name: trimmed, 1-255 characters of valid UTF-8 without controls or NUL. */
    if (l->name == NULL || l->name_len == 0 || strlen(l->name) != l->name_len)
        __builtin_trap();
    size_t chars = text_utf8_length(l->name, l->name_len);
    if (chars == TEXT_INVALID || chars > 255 || text_has_control(l->name, l->name_len))
        __builtin_trap();
    size_t start, n;
    text_trim_space(l->name, l->name_len, &start, &n);
    if (start != 0 || n != l->name_len)
        __builtin_trap();
    if (l->type != LEADLIST_PERSON && l->type != LEADLIST_COMPANY)
        __builtin_trap();
    if (l->end_ms < l->start_ms)
        __builtin_trap();
    /* Ids: within the limit, valid, and each once. */
    if (l->person_count > MAX_IDS || l->company_count > MAX_IDS)
        __builtin_trap();
    if (l->type == LEADLIST_PERSON ? l->company_count != 0 : l->person_count != 0)
        __builtin_trap();
    for (size_t i = 0; i < l->person_count; i++) {
        const struct leadlist_str *p = &l->person_ids[i];
        if (!ids_person_valid(p->ptr, p->len))
            __builtin_trap();
        for (size_t j = 0; j < i; j++) {
            if (l->person_ids[j].len == p->len && memcmp(l->person_ids[j].ptr, p->ptr, p->len) == 0)
                __builtin_trap();
        }
    }
    for (size_t i = 0; i < l->company_count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (memcmp(l->company_ids[j], l->company_ids[i], UUID_LEN) == 0)
                __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)(data[0] % 64) + 1;
    data++;
    size--;
    /* At most 256 feeds per input. yajl re-scans a token split over several yajl_parse calls
     * from its start, so a long string fed in tiny chunks costs time quadratic in its length:
     * 64 KiB in 1-byte chunks takes seconds. The service never pays that: it reads the body
     * in 64 KiB chunks (at most 16 for a 1 MiB body). Small inputs keep their 1-64 byte chunks,
     * so escapes and multi-byte characters still get split at every position. */
    if (chunk < size / 256)
        chunk = size / 256;
    struct arena *a = arena_new(4096);
    if (a == NULL)
        return 0;
    struct leadlist l;
    struct problems p;
    struct leadlist_in_limits limits = {.max_ids = MAX_IDS, .max_depth = MAX_DEPTH};
    struct leadlist_in *in = leadlist_in_new(a, &limits, &l, &p);
    if (in != NULL) {
        for (size_t off = 0; off < size; off += chunk) {
            size_t n = size - off < chunk ? size - off : chunk;
            if (leadlist_in_feed(in, data + off, n) != 0)
                break;
        }
        enum leadlist_in_result r = leadlist_in_finish(in);
        leadlist_in_free(in);
        const char *body;
        size_t len;
        /* Whatever the input, the answer must be buildable, and be JSON: a 201 body or an
         * error envelope. */
        if (r == LEADLIST_IN_OK) {
            check_accepted(&l);
            l.user_id = "u";
            if (respond_leadlist(a, &l, &body, &len) != 0 || !valid_json(body, len))
                __builtin_trap();
        } else if (r != LEADLIST_IN_NOMEM) {
            if (problems_none(&p))
                __builtin_trap(); /* a refusal always says why */
            if (respond_error(a, STATUS_BAD_REQUEST, "fuzz", &p, &body, &len) != 0 ||
                !valid_json(body, len))
                __builtin_trap();
        }
    }
    arena_free(a);
    return 0;
}
