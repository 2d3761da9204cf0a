/* Who may act on a list: org first, then userIds or admin. */
#include <check.h>
#include <string.h>

#include "access.h"

static struct leadlist_str users[] = {{"user_a", 6}, {"user_b", 6}};

static struct leadlist list(void)
{
    struct leadlist l;
    memset(&l, 0, sizeof(l));
    l.org_id = "org_1";
    l.user_ids = users;
    l.user_count = 2;
    return l;
}

START_TEST(the_matrix)
{
    struct leadlist l = list();
    struct access_caller creator = {"user_a", "org_1", false};
    struct access_caller shared = {"user_b", "org_1", false};
    struct access_caller stranger = {"user_c", "org_1", false};
    struct access_caller admin = {"user_z", "org_1", true};
    struct access_caller other_member = {"user_a", "org_2", false};
    struct access_caller other_admin = {"user_z", "org_2", true};
    struct access_caller prefix = {"user", "org_1", false};
    struct access_caller org_prefix = {"user_a", "org_", false};
    ck_assert_int_eq(access_check(&creator, &l), ACCESS_OK);
    ck_assert_int_eq(access_check(&shared, &l), ACCESS_OK);
    ck_assert_int_eq(access_check(&stranger, &l), ACCESS_FORBIDDEN);
    ck_assert_int_eq(access_check(&admin, &l), ACCESS_OK);
    ck_assert_int_eq(access_check(&other_member, &l), ACCESS_NOT_FOUND);
    ck_assert_int_eq(access_check(&other_admin, &l), ACCESS_NOT_FOUND);
    ck_assert_int_eq(access_check(&prefix, &l), ACCESS_FORBIDDEN);
    ck_assert_int_eq(access_check(&org_prefix, &l), ACCESS_NOT_FOUND);
    ck_assert_int_eq(access_check(&creator, NULL), ACCESS_NOT_FOUND);
    ck_assert_int_eq(access_check(&admin, NULL), ACCESS_NOT_FOUND);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("access");
    TCase *tc = tcase_create("access");
    tcase_add_test(tc, the_matrix);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
