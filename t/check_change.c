/* What a change does to a stored list: PATCH, members and users, with the rules of the
 * stored list and the accounts. */
#include <check.h>
#include <string.h>

#include "arena.h"
#include "leadlist_change.h"
#include "uuid.h"

static struct arena *arena;
static struct leadlist_str persons[] = {{"p1", 2}, {"p2", 2}, {"p3", 2}};
static struct leadlist_str users[] = {{"creator", 7}, {"u2", 2}};

static void setup(void)
{
    arena = arena_new(4096);
    ck_assert_ptr_nonnull(arena);
}

static void teardown(void)
{
    arena_free(arena);
}

static struct leadlist stored(void)
{
    struct leadlist l;
    memset(&l, 0, sizeof(l));
    l.name = "List";
    l.name_len = 4;
    l.type = LEADLIST_PERSON;
    l.start_ms = 1000;
    l.end_ms = 2000;
    l.person_ids = persons;
    l.person_count = 3;
    l.user_ids = users;
    l.user_count = 2;
    l.org_id = "org";
    l.version = 4;
    return l;
}

static bool has_problem(const struct problems *p, const char *field)
{
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->items[i].field, field) == 0)
            return true;
    }
    return false;
}

START_TEST(patch_noop_and_change)
{
    struct leadlist l = stored(), next;
    struct problems p;
    struct leadlist_str same[] = {{"p1", 2}, {"p2", 2}, {"p3", 2}};
    struct body_patch patch = {.fields = BODY_PATCH_NAME | BODY_PATCH_PERSON_IDS,
                               .name = "List",
                               .name_len = 4,
                               .person_ids = same,
                               .person_count = 3};
    ck_assert_int_eq(leadlist_change_patch(arena, &l, &patch, &next, &p), CHANGE_NONE);
    patch.name = "Other";
    patch.name_len = 5;
    ck_assert_int_eq(leadlist_change_patch(arena, &l, &patch, &next, &p), CHANGE_MADE);
    ck_assert_str_eq(next.name, "Other");
    ck_assert_uint_eq(next.version, 4); /* the store sets the new one */
    /* [] of the other kind changes nothing, and is not refused. */
    struct body_patch empty_other = {.fields = BODY_PATCH_COMPANY_IDS};
    ck_assert_int_eq(leadlist_change_patch(arena, &l, &empty_other, &next, &p), CHANGE_NONE);
    /* icpId set, then the same value again. */
    struct body_patch icp = {.fields = BODY_PATCH_ICP_ID, .has_icp_id = true};
    memset(icp.icp_id, 7, UUID_LEN);
    ck_assert_int_eq(leadlist_change_patch(arena, &l, &icp, &next, &p), CHANGE_MADE);
    struct leadlist with_icp = next;
    ck_assert_int_eq(leadlist_change_patch(arena, &with_icp, &icp, &next, &p), CHANGE_NONE);
    struct body_patch unlink = {.fields = BODY_PATCH_ICP_ID, .has_icp_id = false};
    ck_assert_int_eq(leadlist_change_patch(arena, &with_icp, &unlink, &next, &p), CHANGE_MADE);
    ck_assert(!next.has_icp_id);
}
END_TEST

START_TEST(patch_rules_of_the_stored_list)
{
    struct leadlist l = stored(), next;
    struct problems p;
    uint8_t company[1][UUID_LEN] = {{1}};
    struct body_patch other = {
        .fields = BODY_PATCH_COMPANY_IDS, .company_ids = company, .company_count = 1};
    ck_assert_int_eq(leadlist_change_patch(arena, &l, &other, &next, &p), CHANGE_REFUSED);
    ck_assert(has_problem(&p, "companyIds"));
    struct body_patch end_early = {.fields = BODY_PATCH_END_DATE, .end_ms = 999};
    ck_assert_int_eq(leadlist_change_patch(arena, &l, &end_early, &next, &p), CHANGE_REFUSED);
    ck_assert(has_problem(&p, "endDate"));
    struct body_patch start_late = {.fields = BODY_PATCH_START_DATE, .start_ms = 2001};
    ck_assert_int_eq(leadlist_change_patch(arena, &l, &start_late, &next, &p), CHANGE_REFUSED);
    ck_assert(has_problem(&p, "startDate"));
    struct body_patch both = {
        .fields = BODY_PATCH_START_DATE | BODY_PATCH_END_DATE, .start_ms = 5000, .end_ms = 6000};
    ck_assert_int_eq(leadlist_change_patch(arena, &l, &both, &next, &p), CHANGE_MADE);
    ck_assert_int_eq(next.start_ms, 5000);
    /* The stored list is never touched. */
    ck_assert_int_eq(l.start_ms, 1000);
}
END_TEST

START_TEST(members_add_and_remove)
{
    struct leadlist l = stored(), next;
    struct problems p;
    struct change_account acc;
    struct leadlist_str add[] = {{"p4", 2}, {"p2", 2}, {"p5", 2}};
    struct body_members m = {.type = LEADLIST_PERSON, .person_ids = add, .person_count = 3};
    ck_assert_int_eq(leadlist_change_members(arena, &l, &m, true, 10, &next, &acc, &p),
                     CHANGE_MADE);
    ck_assert_uint_eq(next.person_count, 5);
    ck_assert_str_eq(next.person_ids[3].ptr, "p4");
    ck_assert_str_eq(next.person_ids[4].ptr, "p5");
    ck_assert_uint_eq(acc.done_count, 2);
    ck_assert_uint_eq(acc.done[0], 0);
    ck_assert_uint_eq(acc.done[1], 2);
    ck_assert_uint_eq(acc.other_count, 1);
    ck_assert_uint_eq(acc.other[0], 1);
    /* Only ids present: nothing to write, the account still made. */
    struct leadlist_str present[] = {{"p3", 2}};
    struct body_members again = {.type = LEADLIST_PERSON, .person_ids = present, .person_count = 1};
    ck_assert_int_eq(leadlist_change_members(arena, &l, &again, true, 10, &next, &acc, &p),
                     CHANGE_NONE);
    ck_assert_uint_eq(acc.other_count, 1);
    /* The cap: 3 held, 2 new, at most 4. */
    ck_assert_int_eq(leadlist_change_members(arena, &l, &m, true, 4, &next, &acc, &p),
                     CHANGE_REFUSED);
    ck_assert(has_problem(&p, "personIds"));
    ck_assert_ptr_nonnull(strstr(p.items[0].message, "holds 3"));
    ck_assert_int_eq(leadlist_change_members(arena, &l, &m, true, 5, &next, &acc, &p), CHANGE_MADE);
    /* Remove keeps the others' order. */
    struct leadlist_str gone[] = {{"p2", 2}, {"nope", 4}};
    struct body_members rm = {.type = LEADLIST_PERSON, .person_ids = gone, .person_count = 2};
    ck_assert_int_eq(leadlist_change_members(arena, &l, &rm, false, 10, &next, &acc, &p),
                     CHANGE_MADE);
    ck_assert_uint_eq(next.person_count, 2);
    ck_assert_str_eq(next.person_ids[0].ptr, "p1");
    ck_assert_str_eq(next.person_ids[1].ptr, "p3");
    ck_assert_uint_eq(acc.done_count, 1);
    ck_assert_uint_eq(acc.other_count, 1);
    ck_assert_uint_eq(acc.other[0], 1);
    /* The other kind. */
    uint8_t company[1][UUID_LEN] = {{1}};
    struct body_members companies = {
        .type = LEADLIST_COMPANY, .company_ids = company, .company_count = 1};
    ck_assert_int_eq(leadlist_change_members(arena, &l, &companies, true, 10, &next, &acc, &p),
                     CHANGE_REFUSED);
    ck_assert(has_problem(&p, "companyIds"));
}
END_TEST

/* An empty list has no array at all: adding to it must still know the ids are strings. */
START_TEST(members_added_to_an_empty_list)
{
    struct leadlist l = stored(), next;
    l.person_ids = NULL;
    l.person_count = 0;
    struct problems p;
    struct change_account acc;
    struct leadlist_str add[] = {{"p_0", 3}};
    struct body_members m = {.type = LEADLIST_PERSON, .person_ids = add, .person_count = 1};
    ck_assert_int_eq(leadlist_change_members(arena, &l, &m, true, 10, &next, &acc, &p),
                     CHANGE_MADE);
    ck_assert_uint_eq(next.person_count, 1);
    ck_assert_ptr_nonnull(next.person_ids);
    ck_assert_str_eq(next.person_ids[0].ptr, "p_0");
    l.type = LEADLIST_COMPANY;
    uint8_t company[1][UUID_LEN] = {{3}};
    struct body_members c = {.type = LEADLIST_COMPANY, .company_ids = company, .company_count = 1};
    ck_assert_int_eq(leadlist_change_members(arena, &l, &c, true, 10, &next, &acc, &p),
                     CHANGE_MADE);
    ck_assert_uint_eq(next.company_count, 1);
    ck_assert_mem_eq(next.company_ids[0], company[0], UUID_LEN);
}
END_TEST

START_TEST(company_members)
{
    uint8_t have[2][UUID_LEN], add[2][UUID_LEN];
    memset(have, 0, sizeof(have));
    have[0][0] = 1;
    have[1][0] = 2;
    memcpy(add[0], have[1], UUID_LEN);
    memset(add[1], 9, UUID_LEN);
    struct leadlist l = stored(), next;
    l.type = LEADLIST_COMPANY;
    l.person_count = 0;
    l.company_ids = have;
    l.company_count = 2;
    struct problems p;
    struct change_account acc;
    struct body_members m = {.type = LEADLIST_COMPANY, .company_ids = add, .company_count = 2};
    ck_assert_int_eq(leadlist_change_members(arena, &l, &m, true, 10, &next, &acc, &p),
                     CHANGE_MADE);
    ck_assert_uint_eq(next.company_count, 3);
    ck_assert_mem_eq(next.company_ids[2], add[1], UUID_LEN);
    ck_assert_int_eq(leadlist_change_members(arena, &l, &m, false, 10, &next, &acc, &p),
                     CHANGE_MADE);
    ck_assert_uint_eq(next.company_count, 1);
    ck_assert_mem_eq(next.company_ids[0], have[0], UUID_LEN);
}
END_TEST

START_TEST(users_add_and_remove)
{
    struct leadlist l = stored(), next;
    struct problems p;
    struct change_account acc;
    struct leadlist_str add[] = {{"u3", 2}, {"creator", 7}};
    struct body_users u = {.user_ids = add, .user_count = 2};
    ck_assert_int_eq(leadlist_change_users(arena, &l, &u, true, 100, &next, &acc, &p), CHANGE_MADE);
    ck_assert_uint_eq(next.user_count, 3);
    ck_assert_str_eq(next.user_ids[0].ptr, "creator");
    ck_assert_str_eq(next.user_ids[2].ptr, "u3");
    ck_assert_uint_eq(acc.done_count, 1);
    ck_assert_uint_eq(acc.other_count, 1);
    ck_assert_int_eq(leadlist_change_users(arena, &l, &u, true, 2, &next, &acc, &p),
                     CHANGE_REFUSED);
    ck_assert(has_problem(&p, "userIds"));
    /* The creator stays. */
    ck_assert_int_eq(leadlist_change_users(arena, &l, &u, false, 100, &next, &acc, &p),
                     CHANGE_REFUSED);
    ck_assert(has_problem(&p, "userIds"));
    struct leadlist_str rm[] = {{"u2", 2}, {"x", 1}};
    struct body_users r = {.user_ids = rm, .user_count = 2};
    ck_assert_int_eq(leadlist_change_users(arena, &l, &r, false, 100, &next, &acc, &p),
                     CHANGE_MADE);
    ck_assert_uint_eq(next.user_count, 1);
    ck_assert_str_eq(next.user_ids[0].ptr, "creator");
    ck_assert_uint_eq(acc.done_count, 1);
    ck_assert_uint_eq(acc.other_count, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("change");
    TCase *tc = tcase_create("change");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, patch_noop_and_change);
    tcase_add_test(tc, patch_rules_of_the_stored_list);
    tcase_add_test(tc, members_add_and_remove);
    tcase_add_test(tc, members_added_to_an_empty_list);
    tcase_add_test(tc, company_members);
    tcase_add_test(tc, users_add_and_remove);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
