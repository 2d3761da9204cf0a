/* Response bodies: the 201 shape and order, and the error envelope. */
#include <check.h>
#include <string.h>

#include "arena.h"
#include "respond.h"

static struct arena *arena;

static void setup(void)
{
    arena = arena_new(4096);
}

static void teardown(void)
{
    arena_free(arena);
}

START_TEST(leadlist_body_in_contract_order)
{
    struct leadlist_str persons[] = {{"lead_abc123", 11}, {"lead_def456", 11}};
    struct leadlist l;
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(uuid_parse("0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d", 36, l.id), 0);
    ck_assert_int_eq(uuid_parse("660E8400-E29B-41D4-A716-446655440001", 36, l.icp_id), 0);
    l.has_icp_id = true;
    l.name = "Q1 2024 Tech Startups";
    l.name_len = strlen(l.name);
    l.type = LEADLIST_PERSON;
    l.start_ms = 1704067200000LL;   /* 2024-01-01T00:00:00Z */
    l.end_ms = 1711929599000LL;     /* 2024-03-31T23:59:59Z */
    l.created_ms = 1704191400000LL; /* 2024-01-02T10:30:00Z */
    l.person_ids = persons;
    l.person_count = 2;
    struct leadlist_str user = {"user_xyz789", 11};
    l.user_ids = &user;
    l.user_count = 1;
    l.updated_ms = l.created_ms;
    const char *body;
    size_t len;
    ck_assert_int_eq(respond_leadlist(arena, &l, &body, &len), 0);
    ck_assert_str_eq(body, "{\"id\":\"0193f1d2-6c1e-7a4b-9c2d-3e4f5a6b7c8d\","
                           "\"icpId\":\"660e8400-e29b-41d4-a716-446655440001\","
                           "\"name\":\"Q1 2024 Tech Startups\",\"type\":\"person\","
                           "\"startDate\":\"2024-01-01T00:00:00.000Z\","
                           "\"endDate\":\"2024-03-31T23:59:59.000Z\","
                           "\"personIds\":[\"lead_abc123\",\"lead_def456\"],\"companyIds\":[],"
                           "\"userIds\":[\"user_xyz789\"],"
                           "\"createdAt\":\"2024-01-02T10:30:00.000Z\","
                           "\"updatedAt\":\"2024-01-02T10:30:00.000Z\"}");
    ck_assert_uint_eq(len, strlen(body));
}
END_TEST

START_TEST(leadlist_body_null_icp_and_companies)
{
    uint8_t companies[2][UUID_LEN];
    ck_assert_int_eq(uuid_parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8", 36, companies[0]), 0);
    ck_assert_int_eq(uuid_parse("6BA7B811-9DAD-11D1-80B4-00C04FD430C8", 36, companies[1]), 0);
    struct leadlist l;
    memset(&l, 0, sizeof(l));
    l.name = "\xf0\x9f\x9a\x80 \"quoted\"";
    l.name_len = strlen(l.name);
    l.type = LEADLIST_COMPANY;
    l.company_ids = companies;
    l.company_count = 2;
    struct leadlist_str user = {"u", 1};
    l.user_ids = &user;
    l.user_count = 1;
    l.updated_ms = l.created_ms;
    const char *body;
    size_t len;
    ck_assert_int_eq(respond_leadlist(arena, &l, &body, &len), 0);
    ck_assert_ptr_nonnull(strstr(body, "\"icpId\":null,"));
    ck_assert_ptr_nonnull(strstr(body, "\"name\":\"\xf0\x9f\x9a\x80 \\\"quoted\\\"\""));
    ck_assert_ptr_nonnull(strstr(body, "\"type\":\"company\""));
    ck_assert_ptr_nonnull(strstr(body, "\"personIds\":[],\"companyIds\":"
                                       "[\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\","
                                       "\"6ba7b811-9dad-11d1-80b4-00c04fd430c8\"]"));
    ck_assert_ptr_nonnull(strstr(body, "\"startDate\":\"1970-01-01T00:00:00.000Z\""));
}
END_TEST

START_TEST(error_envelope_with_details)
{
    struct problems p;
    problems_init(&p);
    problems_add(&p, arena, "startDate", "must be an ISO 8601 date");
    problems_add_item(&p, arena, "personIds", 3, "must be a string");
    const char *body;
    size_t len;
    ck_assert_int_eq(respond_error(arena, STATUS_BAD_REQUEST, "req-1", &p, &body, &len), 0);
    ck_assert_str_eq(body, "{\"error\":{\"code\":\"BAD_REQUEST\","
                           "\"message\":\"Request body validation failed\","
                           "\"details\":[{\"field\":\"startDate\","
                           "\"message\":\"must be an ISO 8601 date\"},"
                           "{\"field\":\"personIds[3]\",\"message\":\"must be a string\"}],"
                           "\"requestId\":\"req-1\"}}");
}
END_TEST

START_TEST(error_envelope_without_details)
{
    const char *body;
    size_t len;
    ck_assert_int_eq(respond_error(arena, STATUS_UNAUTHORIZED, "r", NULL, &body, &len), 0);
    ck_assert_str_eq(body, "{\"error\":{\"code\":\"UNAUTHORIZED\","
                           "\"message\":\"A valid session is required\",\"requestId\":\"r\"}}");
    struct problems empty;
    problems_init(&empty);
    ck_assert_int_eq(respond_error(arena, STATUS_SERVICE_UNAVAILABLE, "r", &empty, &body, &len), 0);
    ck_assert_ptr_null(strstr(body, "details"));
    ck_assert_ptr_nonnull(strstr(body, "\"code\":\"SERVICE_UNAVAILABLE\""));
}
END_TEST

START_TEST(error_envelope_counts_dropped_problems)
{
    struct problems p;
    problems_init(&p);
    for (int i = 0; i < PROBLEMS_MAX + 7; i++)
        problems_add_item(&p, arena, "personIds", (size_t)i, "must be a string");
    ck_assert_uint_eq(p.count, PROBLEMS_MAX);
    ck_assert_uint_eq(p.dropped, 7);
    const char *body;
    size_t len;
    ck_assert_int_eq(respond_error(arena, STATUS_BAD_REQUEST, "r", &p, &body, &len), 0);
    ck_assert_ptr_nonnull(
        strstr(body, "{\"field\":\"body\",\"message\":\"7 more problems not listed\"}"));
}
END_TEST

START_TEST(every_status_has_a_distinct_row)
{
    for (int s = 0; s < STATUS__COUNT; s++) {
        const struct status_info *info = status_info((enum status)s);
        ck_assert_int_ge(info->http, 200);
        ck_assert_int_lt(info->http, 600);
        ck_assert_uint_gt(strlen(info->code), 0);
        ck_assert_uint_gt(strlen(info->message), 0);
    }
    ck_assert_int_eq(status_info(STATUS_PAYLOAD_TOO_LARGE)->http, 413);
    ck_assert_str_eq(status_info(STATUS_SERVICE_UNAVAILABLE)->code, "SERVICE_UNAVAILABLE");
}
END_TEST

START_TEST(string_array)
{
    struct leadlist_str items[] = {{"a", 1}, {"b\"c", 3}};
    const char *out;
    size_t len;
    ck_assert_int_eq(respond_string_array(arena, items, 2, &out, &len), 0);
    ck_assert_str_eq(out, "[\"a\",\"b\\\"c\"]");
    ck_assert_int_eq(respond_string_array(arena, items, 0, &out, &len), 0);
    ck_assert_str_eq(out, "[]");
}
END_TEST

START_TEST(person_ids_span_matches_the_stored_encoding)
{
    struct leadlist_str persons[] = {{"a", 1}, {"b.c", 3}, {"d", 1}};
    struct leadlist l;
    memset(&l, 0, sizeof(l));
    /* A name that spells the keys must not fool the search. */
    l.name = ",\"personIds\":[\"x\"],\"companyIds\":[]";
    l.name_len = strlen(l.name);
    l.person_ids = persons;
    l.person_count = 3;
    struct leadlist_str user = {"u", 1};
    l.user_ids = &user;
    l.user_count = 1;
    l.updated_ms = l.created_ms;
    const char *body, *span, *array;
    size_t len, span_len, array_len;
    ck_assert_int_eq(respond_leadlist(arena, &l, &body, &len), 0);
    ck_assert_int_eq(respond_person_ids_span(body, len, &span, &span_len), 0);
    ck_assert_int_eq(respond_string_array(arena, persons, 3, &array, &array_len), 0);
    ck_assert_uint_eq(span_len, array_len);
    ck_assert_int_eq(memcmp(span, array, array_len), 0);
    l.person_count = 0;
    ck_assert_int_eq(respond_leadlist(arena, &l, &body, &len), 0);
    ck_assert_int_eq(respond_person_ids_span(body, len, &span, &span_len), 0);
    ck_assert_uint_eq(span_len, 2);
    ck_assert_int_eq(memcmp(span, "[]", 2), 0);
    ck_assert_int_eq(respond_person_ids_span("{}", 2, &span, &span_len), -1);
}
END_TEST

START_TEST(page_items_carry_counts)
{
    struct leadlist_str persons[] = {{"a", 1}, {"b", 1}};
    struct leadlist_str user = {"u", 1};
    struct leadlist items[2];
    memset(items, 0, sizeof(items));
    for (int i = 0; i < 2; i++) {
        items[i].name = "n";
        items[i].name_len = 1;
        items[i].user_ids = &user;
        items[i].user_count = 1;
        items[i].person_ids = persons;
        items[i].person_count = 2;
    }
    items[1].type = LEADLIST_COMPANY;
    items[1].person_count = 0;
    items[1].company_count = 3;
    const char *body;
    size_t len;
    ck_assert_int_eq(respond_page(arena, items, 2, "CURSOR", &body, &len), 0);
    ck_assert_ptr_nonnull(strstr(body, "\"endDate\":\"1970-01-01T00:00:00.000Z\",\"personCount\":2,"
                                       "\"companyCount\":0,\"userIds\":[\"u\"]"));
    ck_assert_ptr_nonnull(strstr(body, "\"personCount\":0,\"companyCount\":3,"));
    ck_assert_ptr_null(strstr(body, "personIds"));
    ck_assert_ptr_nonnull(strstr(body, "],\"nextCursor\":\"CURSOR\"}"));
    ck_assert_int_eq(strncmp(body, "{\"leadlists\":[{\"id\":", 20), 0);
    ck_assert_int_eq(respond_page(arena, items, 0, NULL, &body, &len), 0);
    ck_assert_str_eq(body, "{\"leadlists\":[],\"nextCursor\":null}");
}
END_TEST

START_TEST(membership_accounts)
{
    struct leadlist_str persons[] = {{"a", 1}, {"b", 1}, {"c", 1}};
    struct leadlist_str user = {"u", 1};
    struct leadlist l;
    memset(&l, 0, sizeof(l));
    l.person_count = 7;
    l.user_ids = &user;
    l.user_count = 1;
    size_t done[] = {0, 2}, other[] = {1};
    struct respond_ids ids = {persons, NULL};
    const char *body;
    size_t len;
    ck_assert_int_eq(respond_members(arena, &l, true, &ids, done, 2, other, 1, &body, &len), 0);
    ck_assert_str_eq(body, "{\"id\":\"00000000-0000-0000-0000-000000000000\",\"type\":\"person\","
                           "\"added\":[\"a\",\"c\"],\"alreadyPresent\":[\"b\"],\"memberCount\":7,"
                           "\"updatedAt\":\"1970-01-01T00:00:00.000Z\"}");
    ck_assert_int_eq(respond_members(arena, &l, false, &ids, done, 0, other, 1, &body, &len), 0);
    ck_assert_ptr_nonnull(strstr(body, "\"removed\":[],\"notPresent\":[\"b\"],"));
    uint8_t companies[1][UUID_LEN];
    ck_assert_int_eq(uuid_parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", 36, companies[0]), 0);
    struct respond_ids cids = {NULL, (const uint8_t(*)[UUID_LEN])companies};
    l.type = LEADLIST_COMPANY;
    l.company_count = 1;
    size_t first[] = {0};
    ck_assert_int_eq(respond_members(arena, &l, true, &cids, first, 1, NULL, 0, &body, &len), 0);
    ck_assert_ptr_nonnull(strstr(body, "\"added\":[\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"],"
                                       "\"alreadyPresent\":[],\"memberCount\":1,"));
    ck_assert_int_eq(respond_users(arena, &l, true, &ids, first, 1, other, 1, &body, &len), 0);
    ck_assert_str_eq(body, "{\"id\":\"00000000-0000-0000-0000-000000000000\",\"added\":[\"a\"],"
                           "\"alreadyPresent\":[\"b\"],\"userIds\":[\"u\"],"
                           "\"updatedAt\":\"1970-01-01T00:00:00.000Z\"}");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("respond");
    TCase *tc = tcase_create("bodies");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, leadlist_body_in_contract_order);
    tcase_add_test(tc, leadlist_body_null_icp_and_companies);
    tcase_add_test(tc, error_envelope_with_details);
    tcase_add_test(tc, error_envelope_without_details);
    tcase_add_test(tc, error_envelope_counts_dropped_problems);
    tcase_add_test(tc, every_status_has_a_distinct_row);
    tcase_add_test(tc, string_array);
    tcase_add_test(tc, person_ids_span_matches_the_stored_encoding);
    tcase_add_test(tc, page_items_carry_counts);
    tcase_add_test(tc, membership_accounts);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
