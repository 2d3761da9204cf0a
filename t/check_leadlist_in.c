/* The body parser against the table in t/data: each NAME.json has its expected outcome in
 * NAME.expect, and every body is fed whole and at every chunk size from 1 to 31 bytes so that
 * streaming bugs show up. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "iso8601.h"
#include "leadlist_in.h"
#include "uuid.h"

#define MAX_CASES 256

static char *case_names[MAX_CASES];
static int case_count;

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

static enum leadlist_in_result parse(struct arena *a, const char *body, size_t len, size_t chunk,
                                     struct leadlist *out, struct problems *problems)
{
    struct leadlist_in_limits limits = {.max_ids = 10000, .max_depth = 16};
    struct leadlist_in *in = leadlist_in_new(a, &limits, out, problems);
    ck_assert_ptr_nonnull(in);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (leadlist_in_feed(in, body + off, n) != 0)
            break;
    }
    enum leadlist_in_result r = leadlist_in_finish(in);
    leadlist_in_free(in);
    return r;
}

static const char *outcome_name(enum leadlist_in_result r)
{
    switch (r) {
    case LEADLIST_IN_OK:
        return "ok";
    case LEADLIST_IN_INVALID:
        return "invalid";
    case LEADLIST_IN_MALFORMED:
        return "malformed";
    default:
        return "nomem";
    }
}

static void join_persons(const struct leadlist *l, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < l->person_count; i++) {
        if (i > 0)
            strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, l->person_ids[i].ptr, cap - strlen(buf) - 1);
    }
}

static void join_companies(const struct leadlist *l, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < l->company_count; i++) {
        char text[UUID_STR_LEN + 1];
        uuid_format(l->company_ids[i], text);
        if (i > 0)
            strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, text, cap - strlen(buf) - 1);
    }
}

/* Checks one "key value" line of an .expect file against a parse. */
static void check_line(const char *name, size_t chunk, const char *line, enum leadlist_in_result r,
                       const struct leadlist *l, const struct problems *p)
{
    const char *sp = strchr(line, ' ');
    ck_assert_msg(sp != NULL, "%s: bad expect line '%s'", name, line);
    size_t klen = (size_t)(sp - line);
    const char *want = sp + 1;
    char got[4096];
    if (strncmp(line, "outcome", klen) == 0) {
        ck_assert_msg(strcmp(outcome_name(r), want) == 0, "%s (chunk %zu): outcome %s, want %s",
                      name, chunk, outcome_name(r), want);
        return;
    }
    if (strncmp(line, "problem", klen) == 0) {
        for (size_t i = 0; i < p->count; i++) {
            if (strcmp(p->items[i].field, want) == 0)
                return;
        }
        ck_abort_msg("%s (chunk %zu): no problem for field '%s'", name, chunk, want);
    }
    ck_assert_msg(r == LEADLIST_IN_OK, "%s (chunk %zu): '%s' needs outcome ok", name, chunk, line);
    if (strncmp(line, "name", klen) == 0) {
        snprintf(got, sizeof(got), "%.*s", (int)l->name_len, l->name);
    } else if (strncmp(line, "type", klen) == 0) {
        snprintf(got, sizeof(got), "%s", leadlist_type_name(l->type));
    } else if (strncmp(line, "icp", klen) == 0) {
        if (l->has_icp_id)
            uuid_format(l->icp_id, got);
        else
            strcpy(got, "null");
    } else if (strncmp(line, "start", klen) == 0) {
        iso8601_format(l->start_ms, got);
    } else if (strncmp(line, "end", klen) == 0) {
        iso8601_format(l->end_ms, got);
    } else if (strncmp(line, "persons", klen) == 0) {
        join_persons(l, got, sizeof(got));
    } else if (strncmp(line, "companies", klen) == 0) {
        join_companies(l, got, sizeof(got));
    } else {
        ck_abort_msg("%s: unknown expect key in '%s'", name, line);
    }
    ck_assert_msg(strcmp(got, want) == 0, "%s (chunk %zu): %.*s is '%s', want '%s'", name, chunk,
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
    const char *name = case_names[_i];
    char path[1024];
    size_t body_len = 0, expect_len = 0;
    snprintf(path, sizeof(path), "%s/%s.json", TEST_DATA_DIR, name);
    char *body = slurp(path, &body_len);
    ck_assert_msg(body != NULL, "cannot read %s", path);
    snprintf(path, sizeof(path), "%s/%s.expect", TEST_DATA_DIR, name);
    char *expect = slurp(path, &expect_len);
    ck_assert_msg(expect != NULL, "cannot read %s", path);

    struct arena *a = arena_new(4096);
    ck_assert_ptr_nonnull(a);
    /* Chunk size 0 stands for the whole body in one call. */
    for (size_t chunk = 0; chunk <= 31; chunk++) {
        size_t step = chunk == 0 ? (body_len > 0 ? body_len : 1) : chunk;
        struct leadlist l;
        struct problems p;
        enum leadlist_in_result r = parse(a, body, body_len, step, &l, &p);
        char *copy = strdup(expect);
        for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save))
            check_line(name, step, line, r, &l, &p);
        free(copy);
        check_no_extra_problems(name, step, expect, &p);
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
    struct leadlist l;
    struct problems p;
    ck_assert_int_eq(parse(a, body, strlen(body), 65536, &l, &p), LEADLIST_IN_OK);
    ck_assert_uint_eq(l.person_count, 10000);
    ck_assert_str_eq(l.person_ids[9999].ptr, "p9999");
    free(body);
    arena_free(a);
}
END_TEST

START_TEST(ids_one_past_the_limit)
{
    struct arena *a = arena_new(4096);
    char *body = ids_body(10001);
    struct leadlist l;
    struct problems p;
    ck_assert_int_eq(parse(a, body, strlen(body), 65536, &l, &p), LEADLIST_IN_INVALID);
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
    struct leadlist l;
    struct problems p;
    ck_assert_int_eq(parse(a, body, strlen(body), 7, &l, &p), LEADLIST_IN_INVALID);
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
    struct leadlist l;
    struct problems p;
    ck_assert_int_eq(parse(a, body, strlen(body), 3, &l, &p), LEADLIST_IN_INVALID);
    ck_assert_uint_ge(p.count, 1);
    ck_assert_uint_eq(strlen(p.items[0].field), 64);
    arena_free(a);
}
END_TEST

static int json_case(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

static Suite *leadlist_in_suite(void)
{
    struct dirent **entries;
    int n = scandir(TEST_DATA_DIR, &entries, json_case, alphasort);
    for (int i = 0; i < n; i++) {
        if (case_count < MAX_CASES)
            case_names[case_count++] = strndup(entries[i]->d_name, strlen(entries[i]->d_name) - 5);
        free(entries[i]);
    }
    if (n >= 0)
        free(entries);
    Suite *s = suite_create("leadlist_in");
    TCase *table = tcase_create("table");
    tcase_set_timeout(table, 60);
    tcase_add_loop_test(table, table_case, 0, case_count);
    suite_add_tcase(s, table);
    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 60);
    tcase_add_test(limits, ids_at_the_limit);
    tcase_add_test(limits, ids_one_past_the_limit);
    tcase_add_test(limits, problems_are_capped);
    tcase_add_test(limits, long_unknown_key_is_cut);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(leadlist_in_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (int i = 0; i < case_count; i++)
        free(case_names[i]);
    if (case_count < 40) {
        fprintf(stderr, "only %d cases found in %s\n", case_count, TEST_DATA_DIR);
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
