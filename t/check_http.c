/* The HTTP rules: media types, lengths, Idempotency-Key, entity tags, path patterns and the
 * list's query string. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "http.h"
#include "uuid.h"

static struct arena *arena;

static void setup(void)
{
    arena = arena_new(4096);
    ck_assert_ptr_nonnull(arena);
}

static void teardown(void)
{
    arena_free(arena);
}

START_TEST(media_types)
{
    ck_assert(http_json_media_type("application/json", false));
    ck_assert(http_json_media_type("  Application/JSON ; charset=UTF-8", false));
    ck_assert(http_json_media_type("application/json;charset=\"utf-8\"", false));
    ck_assert(http_json_media_type("application/json; foo=bar; charset=utf8", false));
    ck_assert(!http_json_media_type("application/json; charset=latin1", false));
    ck_assert(!http_json_media_type("application/jsonx", false));
    ck_assert(!http_json_media_type("text/json", false));
    ck_assert(!http_json_media_type("", false));
    ck_assert(!http_json_media_type(NULL, false));
    ck_assert(!http_json_media_type("application/merge-patch+json", false));
    ck_assert(http_json_media_type("application/merge-patch+json", true));
    ck_assert(http_json_media_type("application/merge-patch+json; charset=utf-8", true));
    ck_assert(http_json_media_type("application/json", true));
    ck_assert(!http_json_media_type("application/merge-patch+jsonx", true));
}
END_TEST

START_TEST(lengths_and_keys)
{
    ck_assert_int_eq(http_content_length(NULL), 0);
    ck_assert_int_eq(http_content_length(""), 0);
    ck_assert_int_eq(http_content_length("1048576"), 1048576);
    ck_assert_int_eq(http_content_length("-1"), -1);
    ck_assert_int_eq(http_content_length("12a"), -1);
    ck_assert_int_eq(http_content_length("99999999999999999999999"), -1);
    ck_assert(http_idempotency_key_valid("a"));
    ck_assert(http_idempotency_key_valid("key with spaces ~!"));
    ck_assert(!http_idempotency_key_valid(""));
    ck_assert(!http_idempotency_key_valid("tab\there"));
    ck_assert(!http_idempotency_key_valid("\xc3\xa9"));
    char long_key[257];
    memset(long_key, 'k', 256);
    long_key[256] = '\0';
    ck_assert(!http_idempotency_key_valid(long_key));
    long_key[255] = '\0';
    ck_assert(http_idempotency_key_valid(long_key));
}
END_TEST

START_TEST(etag_format)
{
    char tag[HTTP_ETAG_MAX + 1];
    ck_assert_uint_eq(http_etag(1, tag), 3);
    ck_assert_str_eq(tag, "\"1\"");
    ck_assert_uint_eq(http_etag(4294967295u, tag), 12);
    ck_assert_str_eq(tag, "\"4294967295\"");
}
END_TEST

START_TEST(etag_syntax)
{
    static const char *const valid[] = {"*",       " * ",          "\"1\"",
                                        "W/\"1\"", "\"1\", \"2\"", "\"a\",W/\"b\" ,\t\"c\"",
                                        "\"\"",    ",\"1\",,",     "\"x!#~\x80\xff\""};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        ck_assert_msg(http_etags_valid(valid[i]), "'%s' should be valid", valid[i]);
    static const char *const invalid[] = {
        "",         " ",  "1", "\"1",    "W/1",        "w/\"1\"",      "\"1\" \"2\"",
        "*, \"1\"", "**", ",", "\"a\"b", "\"a\"\"b\"", "\"in\"side\"", "\"tab\there\""};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        ck_assert_msg(!http_etags_valid(invalid[i]), "'%s' should be malformed", invalid[i]);
    ck_assert(!http_etags_valid(NULL));
}
END_TEST

START_TEST(etag_matching)
{
    /* If-Match: strong comparison. */
    ck_assert(http_etags_match("\"7\"", 7, false));
    ck_assert(http_etags_match("\"1\", \"7\"", 7, false));
    ck_assert(http_etags_match("*", 7, false));
    ck_assert(!http_etags_match("W/\"7\"", 7, false));
    ck_assert(!http_etags_match("\"6\"", 7, false));
    ck_assert(!http_etags_match("\"07\"", 7, false));
    ck_assert(!http_etags_match("\"7 \"", 7, false));
    ck_assert(!http_etags_match("\"77\"", 7, false));
    /* If-None-Match: weak comparison. */
    ck_assert(http_etags_match("W/\"7\"", 7, true));
    ck_assert(http_etags_match("\"7\"", 7, true));
    ck_assert(http_etags_match("\"1\", W/\"7\"", 7, true));
    ck_assert(!http_etags_match("W/\"8\"", 7, true));
    ck_assert(http_etags_match("*", 123, true));
}
END_TEST

START_TEST(path_patterns)
{
    uint8_t id[UUID_LEN];
    const char *pattern = "/api/v1/entities/leadlists/{id}/add-members";
    ck_assert(http_path_match("/api/v1/entities/leadlists", "/api/v1/entities/leadlists", id));
    ck_assert(!http_path_match("/api/v1/entities/leadlists", "/api/v1/entities/leadlists/", id));
    ck_assert(!http_path_match("/api/v1/entities/leadlists", "/api/v1/entities/leadlist", id));
    ck_assert(http_path_match(pattern,
                              "/api/v1/entities/leadlists/0193F1D2-6C1E-7A4B-9C2D-3E4F5A6B7C8D/"
                              "add-members",
                              id));
    char text[UUID_STR_LEN + 1];
    uuid_format(id, text);
    ck_assert_str_eq(text, "0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d");
    static const char *const not_ours[] = {
        "/api/v1/entities/leadlists/0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d/add-members/",
        "/api/v1/entities/leadlists/0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d/remove-members",
        "/api/v1/entities/leadlists/0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8/add-members",
        "/api/v1/entities/leadlists/0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8dd/add-members",
        "/api/v1/entities/leadlists/0193f1d2%2D6c1e-7a4b-9c2d-3e4f5a6b7c8d/add-members",
        "/api/v1/entities/leadlists//add-members",
        "/api/v1/entities/leadlists/add-members",
        "/api/v1/entities/leadlists/../leadlists/0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d/add-members",
    };
    for (size_t i = 0; i < sizeof(not_ours) / sizeof(not_ours[0]); i++)
        ck_assert_msg(!http_path_match(pattern, not_ours[i], id), "'%s' should not match",
                      not_ours[i]);
}
END_TEST

static int parse(const char *query, struct http_list_query *q, struct problems *p)
{
    return http_list_query_parse(arena, query, q, p);
}

static bool names(const struct problems *p, const char *field)
{
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->items[i].field, field) == 0)
            return true;
    }
    return false;
}

START_TEST(query_defaults_and_values)
{
    struct http_list_query q;
    struct problems p;
    ck_assert_int_eq(parse(NULL, &q, &p), 0);
    ck_assert_uint_eq(q.limit, 50);
    ck_assert(!q.has_type);
    ck_assert_ptr_null(q.cursor);
    ck_assert_int_eq(parse("", &q, &p), 0);
    ck_assert_int_eq(parse("limit=1&type=company&cursor=abc-_", &q, &p), 0);
    ck_assert_uint_eq(q.limit, 1);
    ck_assert(q.has_type && q.type == LEADLIST_COMPANY);
    ck_assert_uint_eq(q.cursor_len, 5);
    ck_assert_str_eq(q.cursor, "abc-_");
    ck_assert_int_eq(parse("limit=200&type=%70erson", &q, &p), 0);
    ck_assert_uint_eq(q.limit, 200);
    ck_assert(q.has_type && q.type == LEADLIST_PERSON);
    ck_assert_int_eq(parse("limit=7&&", &q, &p), 0);
    ck_assert_uint_eq(q.limit, 7);
}
END_TEST

START_TEST(query_problems)
{
    struct http_list_query q;
    struct problems p;
    static const char *const bad_limits[] = {
        "limit=0",   "limit=201",  "limit=-1",
        "limit=abc", "limit=",     "limit",
        "limit=1.5", "limit=007x", "limit=99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad_limits) / sizeof(bad_limits[0]); i++) {
        ck_assert_int_eq(parse(bad_limits[i], &q, &p), -1);
        ck_assert_msg(names(&p, "limit"), "'%s' should name limit", bad_limits[i]);
    }
    ck_assert_int_eq(parse("type=robot", &q, &p), -1);
    ck_assert(names(&p, "type"));
    ck_assert_int_eq(parse("type=", &q, &p), -1);
    ck_assert(names(&p, "type"));
    ck_assert_int_eq(parse("cursor=", &q, &p), -1);
    ck_assert(names(&p, "cursor"));
    ck_assert_int_eq(parse("limit=5&limit=6", &q, &p), -1);
    ck_assert(names(&p, "limit"));
    ck_assert_int_eq(parse("colour=red", &q, &p), -1);
    ck_assert(names(&p, "colour"));
    ck_assert_int_eq(parse("%zz=1", &q, &p), -1);
    ck_assert(names(&p, "query"));
    ck_assert_int_eq(parse("a%00b=1", &q, &p), -1);
    ck_assert(names(&p, "query"));
    /* Every problem is reported, not the first only. */
    ck_assert_int_eq(parse("limit=0&type=x&what=1", &q, &p), -1);
    ck_assert_uint_eq(p.count, 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, media_types);
    tcase_add_test(tc, lengths_and_keys);
    tcase_add_test(tc, etag_format);
    tcase_add_test(tc, etag_syntax);
    tcase_add_test(tc, etag_matching);
    tcase_add_test(tc, path_patterns);
    tcase_add_test(tc, query_defaults_and_values);
    tcase_add_test(tc, query_problems);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
