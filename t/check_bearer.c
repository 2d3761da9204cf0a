/* Bearer credentials: what is a token and what is refused before any lookup. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bearer.h"

static const struct {
    const char *header;
    const char *token; /* NULL: refused */
} cases[] = {
    {"Bearer abc", "abc"},    {"bearer abc", "abc"},
    {"BEARER abc", "abc"},    {"Bearer   abc  ", "abc"},
    {"Bearer abc\t", "abc"},  {"Bearer a-b.c_d~e+f/g==", "a-b.c_d~e+f/g=="},
    {"Bearer Zm9v", "Zm9v"},  {"Bearer", NULL},
    {"Bearer ", NULL},        {"Bearer    ", NULL},
    {"Bearerabc", NULL},      {"Basic dXNlcjpwYXNz", NULL},
    {"Token abc", NULL},      {"", NULL},
    {" Bearer abc", NULL},    {"Bearer\tabc", NULL},
    {"Bearer abc def", NULL}, {"Bearer abc\x01", NULL},
    {"Bearer ab\x7f", NULL},  {"Bearer ab=c", NULL},
    {"Bearer =abc", NULL},    {"Bearer \xc3\xa9t\xc3\xa9", NULL},
    {"Bearer abc,def", NULL},
};

START_TEST(parse_table)
{
    const char *token = NULL;
    size_t len = 0;
    int rc = bearer_parse(cases[_i].header, &token, &len);
    if (cases[_i].token == NULL) {
        ck_assert_msg(rc == -1, "'%s' should be refused", cases[_i].header);
    } else {
        ck_assert_msg(rc == 0, "'%s' should be accepted", cases[_i].header);
        ck_assert_uint_eq(len, strlen(cases[_i].token));
        ck_assert_int_eq(memcmp(token, cases[_i].token, len), 0);
    }
}
END_TEST

START_TEST(absent_header)
{
    const char *token;
    size_t len;
    ck_assert_int_eq(bearer_parse(NULL, &token, &len), -1);
}
END_TEST

START_TEST(length_limit)
{
    char *header = malloc(7 + BEARER_TOKEN_MAX + 2);
    memcpy(header, "Bearer ", 7);
    memset(header + 7, 'a', BEARER_TOKEN_MAX);
    header[7 + BEARER_TOKEN_MAX] = '\0';
    const char *token;
    size_t len;
    ck_assert_int_eq(bearer_parse(header, &token, &len), 0);
    ck_assert_uint_eq(len, BEARER_TOKEN_MAX);
    header[7 + BEARER_TOKEN_MAX] = 'a';
    header[8 + BEARER_TOKEN_MAX] = '\0';
    ck_assert_int_eq(bearer_parse(header, &token, &len), -1);
    free(header);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bearer");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, parse_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, absent_header);
    tcase_add_test(tc, length_limit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
