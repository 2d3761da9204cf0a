/* The body parsers against the tables in t/data/<kind>/ (create, patch, members, users): each
 * NAME.json has its expected outcome in NAME.expect, and every body is fed whole and at every
 * chunk size from 1 to 31 bytes so that streaming bugs show up. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "body.h"
#include "iso8601.h"
#include "uuid.h"

#define MAX_CASES 512

static const char *const kinds[] = {"create", "patch", "members", "users"};

struct table_case {
    char *name; /* "patch/bad_read_only" */
    enum body_kind kind;
};

static struct table_case cases[MAX_CASES];
static int case_count;
static int kind_counts[4];

union out {
    struct leadlist create;
    struct body_patch patch;
    struct body_members members;
    struct body_users users;
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static enum body_result parse(struct arena *a, enum body_kind kind, const char *body, size_t len,
                              size_t chunk, union out *out, struct problems *problems)
{
    struct body_limits limits = {.max_ids = 10000, .max_depth = 16};
    struct body *b = body_new(a, kind, &limits, out, problems);
    ck_assert_ptr_nonnull(b);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (body_feed(b, body + off, n) != 0)
            break;
    }
    enum body_result r = body_finish(b);
    body_free(b);
    return r;
}

static const char *outcome_name(enum body_result r)
{
    switch (r) {
    case BODY_OK:
        return "ok";
    case BODY_INVALID:
        return "invalid";
    case BODY_MALFORMED:
        return "malformed";
    default:
        return "nomem";
    }
}

static void join_strings(const struct leadlist_str *items, size_t count, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, items[i].ptr, cap - strlen(buf) - 1);
    }
}

static void join_uuids(const uint8_t (*ids)[UUID_LEN], size_t count, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        char text[UUID_STR_LEN + 1];
        uuid_format(ids[i], text);
        if (i > 0)
            strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, text, cap - strlen(buf) - 1);
    }
}

static void patch_fields(unsigned f, char *buf, size_t cap)
{
    static const char *const names[] = {"name",    "icpId",     "startDate",
                                        "endDate", "personIds", "companyIds"};
    buf[0] = '\0';
    for (int i = 0; i < 6; i++) {
        if (!(f & (1u << i)))
            continue;
        if (buf[0] != '\0')
            strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, names[i], cap - strlen(buf) - 1);
    }
}

/* The text a key names in a parsed body; false when the kind has no such key. */
static bool value_of(enum body_kind kind, const char *key, size_t klen, const union out *o,
                     char *got, size_t cap)
{
#define KEY(k) (klen == strlen(k) && strncmp(key, k, klen) == 0)
    const char *name = NULL;
    size_t name_len = 0;
    bool has_icp = false;
    const uint8_t *icp = NULL;
    int64_t start = 0, end = 0;
    const struct leadlist_str *persons = NULL;
    size_t person_count = 0;
    const uint8_t(*companies)[UUID_LEN] = NULL;
    size_t company_count = 0;
    switch (kind) {
    case BODY_CREATE:
        if (KEY("type")) {
            snprintf(got, cap, "%s", leadlist_type_name(o->create.type));
            return true;
        }
        name = o->create.name, name_len = o->create.name_len;
        has_icp = o->create.has_icp_id, icp = o->create.icp_id;
        start = o->create.start_ms, end = o->create.end_ms;
        persons = o->create.person_ids, person_count = o->create.person_count;
        companies = (const uint8_t(*)[UUID_LEN])o->create.company_ids;
        company_count = o->create.company_count;
        break;
    case BODY_PATCH:
        if (KEY("fields")) {
            patch_fields(o->patch.fields, got, cap);
            return true;
        }
        name = o->patch.name, name_len = o->patch.name_len;
        has_icp = o->patch.has_icp_id, icp = o->patch.icp_id;
        start = o->patch.start_ms, end = o->patch.end_ms;
        persons = o->patch.person_ids, person_count = o->patch.person_count;
        companies = (const uint8_t(*)[UUID_LEN])o->patch.company_ids;
        company_count = o->patch.company_count;
        break;
    case BODY_MEMBERS:
        if (KEY("kind")) {
            snprintf(got, cap, "%s", leadlist_type_name(o->members.type));
            return true;
        }
        persons = o->members.person_ids, person_count = o->members.person_count;
        companies = (const uint8_t(*)[UUID_LEN])o->members.company_ids;
        company_count = o->members.company_count;
        break;
    case BODY_USERS:
        if (KEY("users")) {
            join_strings(o->users.user_ids, o->users.user_count, got, cap);
            return true;
        }
        return false;
    }
    if (KEY("name") && kind != BODY_MEMBERS) {
        snprintf(got, cap, "%.*s", (int)name_len, name != NULL ? name : "");
    } else if (KEY("icp") && kind != BODY_MEMBERS) {
        if (has_icp)
            uuid_format(icp, got);
        else
            snprintf(got, cap, "null");
    } else if (KEY("start") && kind != BODY_MEMBERS) {
        iso8601_format(start, got);
    } else if (KEY("end") && kind != BODY_MEMBERS) {
        iso8601_format(end, got);
    } else if (KEY("persons")) {
        join_strings(persons, person_count, got, cap);
    } else if (KEY("companies")) {
        join_uuids(companies, company_count, got, cap);
    } else {
        return false;
    }
    return true;
#undef KEY
}

/* Checks one "key value" line of an .expect file against a parse. */
static void check_line(const struct table_case *c, size_t chunk, const char *line,
                       enum body_result r, const union out *o, const struct problems *p)
{
    const char *sp = strchr(line, ' ');
    const char *want = sp != NULL ? sp + 1 : "";
    size_t klen = sp != NULL ? (size_t)(sp - line) : strlen(line);
    char got[8192];
    if (klen == 7 && strncmp(line, "outcome", klen) == 0) {
        ck_assert_msg(strcmp(outcome_name(r), want) == 0, "%s (chunk %zu): outcome %s, want %s",
                      c->name, chunk, outcome_name(r), want);
        return;
    }
    if (klen == 7 && strncmp(line, "problem", klen) == 0) {
        for (size_t i = 0; i < p->count; i++) {
            if (strcmp(p->items[i].field, want) == 0)
                return;
        }
        ck_abort_msg("%s (chunk %zu): no problem for field '%s'", c->name, chunk, want);
    }
    ck_assert_msg(r == BODY_OK, "%s (chunk %zu): '%s' needs outcome ok", c->name, chunk, line);
    ck_assert_msg(value_of(c->kind, line, klen, o, got, sizeof(got)),
                  "%s: unknown expect key in '%s'", c->name, line);
    ck_assert_msg(strcmp(got, want) == 0, "%s (chunk %zu): %.*s is '%s', want '%s'", c->name, chunk,
                  (int)klen, line, got, want);
}

/* Every problem reported must be one the table expects: nothing extra. */
static void check_no_extra_problems(const char *name, size_t chunk, const char *expect,
                                    const struct problems *p)
{
    for (size_t i = 0; i < p->count; i++) {
        char needle[128];
        snprintf(needle, sizeof(needle), "problem %s\n", p->items[i].field);
        ck_assert_msg(strstr(expect, needle) != NULL, "%s (chunk %zu): unexpected problem %s: %s",
                      name, chunk, p->items[i].field, p->items[i].message);
    }
}

START_TEST(table_case)
{
    const struct table_case *c = &cases[_i];
    char path[1024];
    size_t body_len = 0, expect_len = 0;
    snprintf(path, sizeof(path), "%s/%s.json", TEST_DATA_DIR, c->name);
    char *body = slurp(path, &body_len);
    ck_assert_msg(body != NULL, "cannot read %s", path);
    snprintf(path, sizeof(path), "%s/%s.expect", TEST_DATA_DIR, c->name);
    char *expect = slurp(path, &expect_len);
    ck_assert_msg(expect != NULL, "cannot read %s", path);

    struct arena *a = arena_new(4096);
    ck_assert_ptr_nonnull(a);
    /* Chunk size 0 stands for the whole body in one call. */
    for (size_t chunk = 0; chunk <= 31; chunk++) {
        size_t step = chunk == 0 ? (body_len > 0 ? body_len : 1) : chunk;
        union out o;
        struct problems p;
        enum body_result r = parse(a, c->kind, body, body_len, step, &o, &p);
        char *copy = strdup(expect);
        for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save))
            check_line(c, step, line, r, &o, &p);
        free(copy);
        check_no_extra_problems(c->name, step, expect, &p);
        arena_reset(a);
    }
    arena_free(a);
    free(body);
    free(expect);
}
END_TEST

/* A body with n person ids "p0".."p{n-1}". */
static char *ids_body(size_t n)
{
    size_t cap = 256 + n * 12;
    char *buf = malloc(cap);
    size_t len = (size_t)snprintf(buf, cap,
                                  "{\"name\":\"n\",\"icpId\":null,\"startDate\":\"2024-01-01\","
                                  "\"endDate\":\"2024-01-02\",\"personIds\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s\"p%zu\"", i ? "," : "", i);
    snprintf(buf + len, cap - len, "]}");
    return buf;
}

START_TEST(ids_at_the_limit)
{
    struct arena *a = arena_new(4096);
    char *body = ids_body(10000);
    union out o;
    struct problems p;
    ck_assert_int_eq(parse(a, BODY_CREATE, body, strlen(body), 65536, &o, &p), BODY_OK);
    ck_assert_uint_eq(o.create.person_count, 10000);
    ck_assert_str_eq(o.create.person_ids[9999].ptr, "p9999");
    free(body);
    arena_free(a);
}
END_TEST

START_TEST(ids_one_past_the_limit)
{
    struct arena *a = arena_new(4096);
    char *body = ids_body(10001);
    union out o;
    struct problems p;
    ck_assert_int_eq(parse(a, BODY_CREATE, body, strlen(body), 65536, &o, &p), BODY_INVALID);
    ck_assert_uint_eq(p.count, 1);
    ck_assert_str_eq(p.items[0].field, "personIds");
    ck_assert_str_eq(p.items[0].message, "must have at most 10000 items");
    free(body);
    arena_free(a);
}
END_TEST

START_TEST(problems_are_capped)
{
    struct arena *a = arena_new(4096);
    size_t n = 500;
    char *body = malloc(256 + n * 4);
    size_t len = (size_t)sprintf(body, "{\"personIds\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(body + len, "%s1", i ? "," : "");
    strcpy(body + len, "]}");
    union out o;
    struct problems p;
    ck_assert_int_eq(parse(a, BODY_CREATE, body, strlen(body), 7, &o, &p), BODY_INVALID);
    ck_assert_uint_eq(p.count, PROBLEMS_MAX);
    /* 500 bad items and 4 missing fields, of which PROBLEMS_MAX are listed. */
    ck_assert_uint_eq(p.dropped, 504 - PROBLEMS_MAX);
    free(body);
    arena_free(a);
}
END_TEST

START_TEST(long_unknown_key_is_cut)
{
    struct arena *a = arena_new(4096);
    char body[400];
    memset(body, 0, sizeof(body));
    strcpy(body, "{\"");
    for (int i = 0; i < 100; i++)
        strcat(body, "\xc3\xa9"); /* 200 bytes of e-acute */
    strcat(body, "\":1}");
    union out o;
    struct problems p;
    ck_assert_int_eq(parse(a, BODY_CREATE, body, strlen(body), 3, &o, &p), BODY_INVALID);
    ck_assert_uint_ge(p.count, 1);
    ck_assert_uint_eq(strlen(p.items[0].field), 64);
    arena_free(a);
}
END_TEST

/* User ids: at most BODY_USERS_MAX of them, whatever max_ids says. */
START_TEST(users_are_capped_at_100)
{
    struct arena *a = arena_new(4096);
    char body[4096];
    size_t len = (size_t)snprintf(body, sizeof(body), "{\"userIds\":[");
    for (int i = 0; i < 101; i++)
        len += (size_t)snprintf(body + len, sizeof(body) - len, "%s\"u%d\"", i ? "," : "", i);
    snprintf(body + len, sizeof(body) - len, "]}");
    union out o;
    struct problems p;
    ck_assert_int_eq(parse(a, BODY_USERS, body, strlen(body), 64, &o, &p), BODY_INVALID);
    ck_assert_uint_eq(p.count, 1);
    ck_assert_str_eq(p.items[0].field, "userIds");
    ck_assert_str_eq(p.items[0].message, "must have at most 100 items");
    arena_free(a);
}
END_TEST

static int json_case(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

static void find_cases(void)
{
    for (int k = 0; k < 4; k++) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/%s", TEST_DATA_DIR, kinds[k]);
        struct dirent **entries;
        int n = scandir(dir, &entries, json_case, alphasort);
        for (int i = 0; i < n; i++) {
            if (case_count < MAX_CASES) {
                char name[512];
                snprintf(name, sizeof(name), "%s/%.*s", kinds[k],
                         (int)(strlen(entries[i]->d_name) - 5), entries[i]->d_name);
                cases[case_count].name = strdup(name);
                cases[case_count].kind = (enum body_kind)k;
                case_count++;
                kind_counts[k]++;
            }
            free(entries[i]);
        }
        if (n >= 0)
            free(entries);
    }
}

static Suite *body_suite(void)
{
    find_cases();
    Suite *s = suite_create("body");
    TCase *table = tcase_create("table");
    tcase_set_timeout(table, 120);
    tcase_add_loop_test(table, table_case, 0, case_count);
    suite_add_tcase(s, table);
    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 60);
    tcase_add_test(limits, ids_at_the_limit);
    tcase_add_test(limits, ids_one_past_the_limit);
    tcase_add_test(limits, problems_are_capped);
    tcase_add_test(limits, long_unknown_key_is_cut);
    tcase_add_test(limits, users_are_capped_at_100);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(body_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (int i = 0; i < case_count; i++)
        free(cases[i].name);
    /* A table that went missing must not pass as an empty one. */
    static const int at_least[] = {40, 10, 8, 5};
    for (int k = 0; k < 4; k++) {
        if (kind_counts[k] < at_least[k]) {
            fprintf(stderr, "only %d cases found in %s/%s\n", kind_counts[k], TEST_DATA_DIR,
                    kinds[k]);
            return 1;
        }
    }
    return failed == 0 ? 0 : 1;
}
