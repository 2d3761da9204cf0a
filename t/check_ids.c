#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ids.h"

#define MANY_KEYS 10000
#define KEY_SIZE 16

/* ck_assert reports every passing check to the runner through a pipe; long loops report
 * only failures. */
#define REQUIRE(expr, ...)                                                                         \
    do {                                                                                           \
        if (!(expr))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

#define N_CASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct person_case {
    const char *s;
    size_t len; /* 0: strlen(s) */
    bool valid;
};

static const struct person_case person_cases[] = {
    {"a", 0, true},
    {"Z", 0, true},
    {"0", 0, true},
    {"alice", 0, true},
    {"ABCdef123", 0, true},
    {"user.name_1:x-y", 0, true},
    {".", 0, true},
    {"_", 0, true},
    {":", 0, true},
    {"-", 0, true},
    {"crm:contact:00042", 0, true},
    {"", 0, false},
    {"a b", 0, false},
    {" a", 0, false},
    {"a ", 0, false},
    {"a/b", 0, false},
    {"a\\b", 0, false},
    {"a@b", 0, false},
    {"a+b", 0, false},
    {"a,b", 0, false},
    {"a;b", 0, false},
    {"a\"b", 0, false},
    {"a'b", 0, false},
    {"a%20", 0, false},
    {"a\tb", 0, false},
    {"a\nb", 0, false},
    {"a\x7f", 0, false},
    {"caf\xc3\xa9", 0, false},
    {"\xe2\x80\x8b", 0, false},
    {"\xff", 0, false},
    {"a\0b", 3, false},
    {"ab\0", 3, false},
    {"\0", 1, false},
    {"a`b", 0, false},
    {"a[b]", 0, false},
    {"a{b}", 0, false},
    {"a~b", 0, false},
    {"a|b", 0, false},
};

START_TEST(test_person_valid)
{
    const struct person_case *c = &person_cases[_i];
    size_t len = c->len != 0 ? c->len : strlen(c->s);
    ck_assert_msg(ids_person_valid(c->s, len) == c->valid, "case %d: \"%s\"", _i, c->s);
}
END_TEST

START_TEST(test_person_length)
{
    char buf[IDS_PERSON_MAX_LEN + 2];
    memset(buf, 'x', sizeof(buf));
    ck_assert(!ids_person_valid(buf, 0));
    ck_assert(ids_person_valid(buf, 1));
    ck_assert(ids_person_valid(buf, IDS_PERSON_MAX_LEN - 1));
    ck_assert(ids_person_valid(buf, IDS_PERSON_MAX_LEN));
    ck_assert(!ids_person_valid(buf, IDS_PERSON_MAX_LEN + 1));
    ck_assert(!ids_person_valid(buf, IDS_PERSON_MAX_LEN + 2));
    ck_assert_int_eq(IDS_PERSON_MAX_LEN, 64);
}
END_TEST

START_TEST(test_person_every_byte)
{
    /* The accepted alphabet is exactly A-Z a-z 0-9 . _ : - and nothing else. */
    for (int b = 0; b < 256; b++) {
        char s[3] = {'a', (char)b, 'z'};
        bool want = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
                    b == '.' || b == '_' || b == ':' || b == '-';
        REQUIRE(ids_person_valid(s, 3) == want, "byte 0x%02x in the middle", b);
        REQUIRE(ids_person_valid(s + 1, 1) == want, "byte 0x%02x alone", b);
    }
}
END_TEST

START_TEST(test_set_dedup)
{
    struct arena *a = arena_new(4096);
    ck_assert_ptr_nonnull(a);
    struct ids_set *set = ids_set_new(a, 4);
    ck_assert_ptr_nonnull(set);

    ck_assert_int_eq(ids_set_add(set, "alice", 5), 1);
    ck_assert_int_eq(ids_set_add(set, "bob", 3), 1);
    ck_assert_int_eq(ids_set_add(set, "alice", 5), 0);
    ck_assert_int_eq(ids_set_add(set, "bob", 3), 0);

    /* Equality is by content, not by pointer. */
    char copy[] = "alice";
    ck_assert_int_eq(ids_set_add(set, copy, 5), 0);
    ck_assert_int_eq(ids_set_add(set, "Alice", 5), 1);
    ck_assert_int_eq(ids_set_add(set, "alic", 4), 1);

    arena_free(a);
}
END_TEST

START_TEST(test_set_full)
{
    struct arena *a = arena_new(4096);
    ck_assert_ptr_nonnull(a);
    struct ids_set *set = ids_set_new(a, 3);
    ck_assert_ptr_nonnull(set);

    ck_assert_int_eq(ids_set_add(set, "a", 1), 1);
    ck_assert_int_eq(ids_set_add(set, "b", 1), 1);
    ck_assert_int_eq(ids_set_add(set, "c", 1), 1);
    ck_assert_int_eq(ids_set_add(set, "d", 1), -1);
    ck_assert_int_eq(ids_set_add(set, "e", 1), -1);
    /* A full set still recognises what it holds. */
    ck_assert_int_eq(ids_set_add(set, "a", 1), 0);
    ck_assert_int_eq(ids_set_add(set, "c", 1), 0);
    ck_assert_int_eq(ids_set_add(set, "d", 1), -1);

    arena_free(a);
}
END_TEST

START_TEST(test_set_zero_capacity)
{
    struct arena *a = arena_new(4096);
    ck_assert_ptr_nonnull(a);
    struct ids_set *set = ids_set_new(a, 0);
    ck_assert_ptr_nonnull(set);
    ck_assert_int_eq(ids_set_add(set, "a", 1), -1);
    ck_assert_int_eq(ids_set_add(set, "a", 1), -1);
    ck_assert_int_eq(ids_set_add(set, "", 0), -1);
    arena_free(a);
}
END_TEST

START_TEST(test_set_length_matters)
{
    struct arena *a = arena_new(4096);
    ck_assert_ptr_nonnull(a);
    struct ids_set *set = ids_set_new(a, 8);
    ck_assert_ptr_nonnull(set);

    static const char bytes[] = "a\0\0b";
    ck_assert_int_eq(ids_set_add(set, bytes, 1), 1);
    ck_assert_int_eq(ids_set_add(set, bytes, 2), 1);
    ck_assert_int_eq(ids_set_add(set, bytes, 3), 1);
    ck_assert_int_eq(ids_set_add(set, bytes, 0), 1);
    ck_assert_int_eq(ids_set_add(set, "a", 1), 0);
    ck_assert_int_eq(ids_set_add(set, "a\0", 2), 0);
    ck_assert_int_eq(ids_set_add(set, "", 0), 0);
    ck_assert_int_eq(ids_set_add(set, "ab", 2), 1);
    ck_assert_int_eq(ids_set_add(set, "abc", 2), 0);

    /* An empty key is a key even when it comes with no pointer at all. */
    ck_assert_int_eq(ids_set_add(set, NULL, 0), 0);

    arena_free(a);
}
END_TEST

START_TEST(test_set_many)
{
    struct arena *a = arena_new(64 * 1024);
    ck_assert_ptr_nonnull(a);
    struct ids_set *set = ids_set_new(a, MANY_KEYS);
    ck_assert_ptr_nonnull(set);

    /* Keys share long prefixes and suffixes, which is what real member ids look like. */
    char *keys = arena_alloc(a, (size_t)MANY_KEYS * KEY_SIZE);
    ck_assert_ptr_nonnull(keys);
    size_t lens[MANY_KEYS];
    for (int i = 0; i < MANY_KEYS; i++)
        lens[i] = (size_t)snprintf(keys + i * KEY_SIZE, KEY_SIZE, "person-%d", i);

    for (int i = 0; i < MANY_KEYS; i++)
        REQUIRE(ids_set_add(set, keys + i * KEY_SIZE, lens[i]) == 1, "key %d not new", i);
    for (int i = 0; i < MANY_KEYS; i++)
        REQUIRE(ids_set_add(set, keys + i * KEY_SIZE, lens[i]) == 0, "key %d not found", i);

    /* Fresh copies of the same bytes are duplicates too. */
    for (int i = 0; i < MANY_KEYS; i += 97) {
        char copy[KEY_SIZE];
        int n = snprintf(copy, sizeof(copy), "person-%d", i);
        REQUIRE(ids_set_add(set, copy, (size_t)n) == 0, "copy of key %d not found", i);
    }
    ck_assert_int_eq(ids_set_add(set, "person-10000", 12), -1);
    ck_assert_int_eq(ids_set_add(set, "person-9999", 11), 0);

    arena_free(a);
}
END_TEST

START_TEST(test_set_arena_reuse)
{
    /* A set lives in the request's arena and is rebuilt after each reset. */
    struct arena *a = arena_new(1024);
    ck_assert_ptr_nonnull(a);
    for (int round = 0; round < 3; round++) {
        struct ids_set *set = ids_set_new(a, 100);
        ck_assert_ptr_nonnull(set);
        ck_assert_int_eq(ids_set_add(set, "x", 1), 1);
        ck_assert_int_eq(ids_set_add(set, "x", 1), 0);
        arena_reset(a);
    }
    arena_free(a);
}
END_TEST

START_TEST(test_set_too_large)
{
    struct arena *a = arena_new(1024);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(ids_set_new(a, (size_t)-1));
    ck_assert_ptr_null(ids_set_new(a, (size_t)-1 / 2));
    arena_free(a);
}
END_TEST

static Suite *ids_suite(void)
{
    Suite *s = suite_create("ids");

    TCase *tc = tcase_create("person");
    tcase_add_loop_test(tc, test_person_valid, 0, N_CASES(person_cases));
    tcase_add_test(tc, test_person_length);
    tcase_add_test(tc, test_person_every_byte);
    suite_add_tcase(s, tc);

    tc = tcase_create("set");
    tcase_add_test(tc, test_set_dedup);
    tcase_add_test(tc, test_set_full);
    tcase_add_test(tc, test_set_zero_capacity);
    tcase_add_test(tc, test_set_length_matters);
    tcase_add_test(tc, test_set_many);
    tcase_add_test(tc, test_set_arena_reuse);
    tcase_add_test(tc, test_set_too_large);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ids_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failures = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failures != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
