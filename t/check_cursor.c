/* Cursors: what is encoded comes back, and anything else is refused: another key, another
 * filter, an edited, truncated or padded text. */
#include <check.h>
#include <string.h>

#include "cursor.h"

static const uint8_t key[CURSOR_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const uint8_t other_key[CURSOR_KEY_LEN] = "fedcba9876543210fedcba9876543210";
static const uint8_t after[UUID_LEN] = {0x01, 0x93, 0xf1, 0xd2, 0x6c, 0x1e, 0x7a, 0x4b,
                                        0x9c, 0x2d, 0x3e, 0x4f, 0x5a, 0x6b, 0x7c, 0x8d};

START_TEST(round_trip)
{
    for (int f = CURSOR_ALL; f <= CURSOR_COMPANY; f++) {
        char text[CURSOR_TEXT_LEN + 1];
        ck_assert_int_eq(cursor_encode(key, (enum cursor_filter)f, after, text), 0);
        ck_assert_uint_eq(strlen(text), CURSOR_TEXT_LEN);
        ck_assert_uint_eq(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_"),
                          CURSOR_TEXT_LEN);
        uint8_t got[UUID_LEN];
        ck_assert_int_eq(cursor_decode(key, (enum cursor_filter)f, text, strlen(text), got), 0);
        ck_assert_mem_eq(got, after, UUID_LEN);
        for (int g = CURSOR_ALL; g <= CURSOR_COMPANY; g++) {
            if (g != f)
                ck_assert_int_eq(cursor_decode(key, (enum cursor_filter)g, text, strlen(text), got),
                                 -1);
        }
        ck_assert_int_eq(cursor_decode(other_key, (enum cursor_filter)f, text, strlen(text), got),
                         -1);
    }
}
END_TEST

START_TEST(edits_are_refused)
{
    char text[CURSOR_TEXT_LEN + 1];
    ck_assert_int_eq(cursor_encode(key, CURSOR_ALL, after, text), 0);
    uint8_t got[UUID_LEN];
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    /* Every one-character change, everywhere. */
    for (size_t i = 0; i < CURSOR_TEXT_LEN; i++) {
        for (size_t c = 0; c < sizeof(alphabet) - 1; c++) {
            char edited[CURSOR_TEXT_LEN + 1];
            memcpy(edited, text, sizeof(edited));
            if (edited[i] == alphabet[c])
                continue;
            edited[i] = alphabet[c];
            ck_assert_msg(cursor_decode(key, CURSOR_ALL, edited, CURSOR_TEXT_LEN, got) == -1,
                          "an edit at %zu to '%c' was accepted", i, alphabet[c]);
        }
    }
    ck_assert_int_eq(cursor_decode(key, CURSOR_ALL, text, CURSOR_TEXT_LEN - 1, got), -1);
    ck_assert_int_eq(cursor_decode(key, CURSOR_ALL, text, 0, got), -1);
    char padded[CURSOR_TEXT_LEN + 3];
    memcpy(padded, text, CURSOR_TEXT_LEN);
    memcpy(padded + CURSOR_TEXT_LEN, "==", 3);
    ck_assert_int_eq(cursor_decode(key, CURSOR_ALL, padded, CURSOR_TEXT_LEN + 2, got), -1);
    /* The same bytes in standard base64 are not the cursor's text. */
    char standard[CURSOR_TEXT_LEN + 1];
    memcpy(standard, text, sizeof(standard));
    for (size_t i = 0; i < CURSOR_TEXT_LEN; i++)
        standard[i] = standard[i] == '-' ? '+' : standard[i] == '_' ? '/' : standard[i];
    if (strcmp(standard, text) != 0)
        ck_assert_int_eq(cursor_decode(key, CURSOR_ALL, standard, CURSOR_TEXT_LEN, got), -1);
    char junk[CURSOR_TEXT_LEN + 1];
    memset(junk, 'A', CURSOR_TEXT_LEN);
    junk[CURSOR_TEXT_LEN] = '\0';
    ck_assert_int_eq(cursor_decode(key, CURSOR_ALL, junk, CURSOR_TEXT_LEN, got), -1);
    memset(junk, ' ', CURSOR_TEXT_LEN);
    ck_assert_int_eq(cursor_decode(key, CURSOR_ALL, junk, CURSOR_TEXT_LEN, got), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cursor");
    TCase *tc = tcase_create("cursor");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, edits_are_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
