#include "body.h"

#include "body_rules.h"

struct body {
    struct json_in *in;
    const struct body_spec *spec;
};

static const struct body_spec *spec_of(enum body_kind kind)
{
    switch (kind) {
    case BODY_CREATE:
        return &body_create_spec;
    case BODY_PATCH:
        return &body_patch_spec;
    case BODY_MEMBERS:
        return &body_members_spec;
    case BODY_USERS:
        return &body_users_spec;
    }
    return NULL;
}

struct body *body_new(struct arena *a, enum body_kind kind, const struct body_limits *limits,
                      void *out, struct problems *problems)
{
    const struct body_spec *spec = spec_of(kind);
    if (spec == NULL)
        return NULL;
    struct body *b = arena_calloc(a, 1, sizeof(*b));
    struct body_state *state = arena_calloc(a, 1, sizeof(*state));
    if (b == NULL || state == NULL)
        return NULL;
    state->out = out;
    struct json_in_limits engine = {.max_items = limits->max_ids, .max_depth = limits->max_depth};
    b->in = json_in_new(a, &engine, spec->fields, spec->field_count, state, problems);
    if (b->in == NULL)
        return NULL;
    b->spec = spec;
    return b;
}

int body_feed(struct body *b, const void *chunk, size_t len)
{
    return json_in_feed(b->in, chunk, len);
}

enum body_result body_finish(struct body *b)
{
    enum json_in_result r = json_in_finish(b->in);
    if (r == JSON_IN_OK)
        r = b->spec->finish(b->in);
    switch (r) {
    case JSON_IN_OK:
        return BODY_OK;
    case JSON_IN_INVALID:
        return BODY_INVALID;
    case JSON_IN_MALFORMED:
        return BODY_MALFORMED;
    default:
        return BODY_NOMEM;
    }
}

void body_free(struct body *b)
{
    if (b != NULL)
        json_in_free(b->in);
}
