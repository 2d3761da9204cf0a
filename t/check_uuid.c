#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uuid.h"

#define ORDER_ROUNDS 100000

/* ck_assert reports every passing check to the runner through a pipe; long loops report
 * only failures. */
#define REQUIRE(expr, ...)                                                                         \
    do {                                                                                           \
        if (!(expr))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

#define N_CASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* splitmix64: a fixed, seedable sequence so failures reproduce. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void fill_random(uint64_t *state, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)next_random(state);
}

struct parse_case {
    const char *s;
    uint8_t bytes[UUID_LEN];
};

static const struct parse_case parse_cases[] = {
    {"00000000-0000-0000-0000-000000000000", {0}},
    {"ffffffff-ffff-ffff-ffff-ffffffffffff",
     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff}},
    {"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff}},
    {"0123abcd-4567-89ef-0a1b-2c3d4e5f6789",
     {0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xef, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x67,
      0x89}},
    {"0123ABCD-4567-89EF-0A1B-2C3D4E5F6789",
     {0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xef, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x67,
      0x89}},
    {"0123aBcD-4567-89eF-0A1b-2C3d4E5f6789",
     {0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xef, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x67,
      0x89}},
    {"017F22E2-79B0-7CC3-98C4-DC0C0C07398F",
     {0x01, 0x7f, 0x22, 0xe2, 0x79, 0xb0, 0x7c, 0xc3, 0x98, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39,
      0x8f}},
};

START_TEST(test_parse_valid)
{
    const struct parse_case *c = &parse_cases[_i];
    uint8_t out[UUID_LEN];
    ck_assert_int_eq(uuid_parse(c->s, strlen(c->s), out), 0);
    ck_assert_mem_eq(out, c->bytes, UUID_LEN);
}
END_TEST

struct bad_case {
    const char *s;
    size_t len; /* 0: strlen(s) */
};

static const struct bad_case bad_cases[] = {
    {"", 0},
    {"0123abcd-4567-89ef-0a1b-2c3d4e5f678", 0},
    {"0123abcd-4567-89ef-0a1b-2c3d4e5f67890", 0},
    {"0123abcd456789ef0a1b2c3d4e5f6789", 0},
    {"{0123abcd-4567-89ef-0a1b-2c3d4e5f6789}", 0},
    {"urn:uuid:0123abcd-4567-89ef-0a1b-2c3d4e5f6789", 0},
    {"0123abc-d4567-89ef-0a1b-2c3d4e5f6789", 0},
    {"0123abcd4-567-89ef-0a1b-2c3d4e5f6789", 0},
    {"0123abcd-456-789ef-0a1b-2c3d4e5f6789", 0},
    {"0123abcd-4567-89ef0-a1b-2c3d4e5f6789", 0},
    {"0123abcd-4567-89ef-0a1b2-c3d4e5f6789", 0},
    {"0123abcd-4567-89ef-0a1b-2c3d4e5f6789 ", 0},
    {" 0123abcd-4567-89ef-0a1b-2c3d4e5f678", 0},
    {"0123abcg-4567-89ef-0a1b-2c3d4e5f6789", 0},
    {"0123abcd-4567-89ef-0a1b-2c3d4e5f678G", 0},
    {"0x23abcd-4567-89ef-0a1b-2c3d4e5f6789", 0},
    {"0123abcd_4567_89ef_0a1b_2c3d4e5f6789", 0},
    {"+123abcd-4567-89ef-0a1b-2c3d4e5f6789", 0},
    {"0123abcd-4567-89ef-0a1b-2c3d4e5f6789", 35},
    {"0123abcd-4567-89ef-0a1b-2c3d4e5f6789\0", 37},
    {"0123abcd-4567-89ef-0a1b-2c3d4e5f678\0", 36},
    {"\0"
     "123abcd-4567-89ef-0a1b-2c3d4e5f6789",
     36},
    {"0123\xc3\xa9"
     "bcd-4567-89ef-0a1b-2c3d4e5f678",
     0},
};

START_TEST(test_parse_invalid)
{
    const struct bad_case *c = &bad_cases[_i];
    size_t len = c->len != 0 ? c->len : strlen(c->s);
    uint8_t out[UUID_LEN];
    memset(out, 0xa5, sizeof(out));
    ck_assert_msg(uuid_parse(c->s, len, out) == -1, "case %d accepted: %s", _i, c->s);
    for (size_t i = 0; i < UUID_LEN; i++)
        ck_assert_msg(out[i] == 0xa5, "case %d: output written on failure", _i);
}
END_TEST

START_TEST(test_parse_every_position)
{
    /* Each position must be exactly what the canonical form puts there. */
    static const char good[] = "0123abcd-4567-89ef-0a1b-2c3d4e5f6789";
    static const char wrong_hex[] = {'-', 'g', 'G', ' ', '\0', 'x', '/', ':', '@', '`', '\x80'};
    uint8_t out[UUID_LEN];
    for (size_t pos = 0; pos < UUID_STR_LEN; pos++) {
        char buf[UUID_STR_LEN + 1];
        memcpy(buf, good, sizeof(buf));
        int is_hyphen = pos == 8 || pos == 13 || pos == 18 || pos == 23;
        if (is_hyphen) {
            static const char wrong_sep[] = {'a', '0', '_', ' ', '\0', ':'};
            for (size_t k = 0; k < sizeof(wrong_sep); k++) {
                buf[pos] = wrong_sep[k];
                ck_assert_msg(uuid_parse(buf, UUID_STR_LEN, out) == -1, "pos %zu char %d", pos,
                              wrong_sep[k]);
            }
        } else {
            for (size_t k = 0; k < sizeof(wrong_hex); k++) {
                buf[pos] = wrong_hex[k];
                ck_assert_msg(uuid_parse(buf, UUID_STR_LEN, out) == -1, "pos %zu char %d", pos,
                              wrong_hex[k]);
            }
        }
    }
    ck_assert_int_eq(uuid_parse(good, UUID_STR_LEN, out), 0);
}
END_TEST

START_TEST(test_format_known)
{
    static const uint8_t in[UUID_LEN] = {0x01, 0x7f, 0x22, 0xe2, 0x79, 0xb0, 0x7c, 0xc3,
                                         0x98, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f};
    char out[UUID_STR_LEN + 2];
    memset(out, 'x', sizeof(out));
    uuid_format(in, out);
    ck_assert_str_eq(out, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
    ck_assert_int_eq(out[UUID_STR_LEN + 1], 'x');
}
END_TEST

START_TEST(test_format_round_trip)
{
    uint64_t state = 7;
    for (int i = 0; i < 10000; i++) {
        uint8_t in[UUID_LEN], back[UUID_LEN];
        char text[UUID_STR_LEN + 1];
        fill_random(&state, in, sizeof(in));
        uuid_format(in, text);
        REQUIRE(strlen(text) == UUID_STR_LEN, "length %zu", strlen(text));
        for (size_t k = 0; k < UUID_STR_LEN; k++) {
            char c = text[k];
            int hyphen = k == 8 || k == 13 || k == 18 || k == 23;
            REQUIRE(hyphen ? c == '-' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')),
                    "%s: position %zu", text, k);
        }
        REQUIRE(uuid_parse(text, UUID_STR_LEN, back) == 0, "%s rejected", text);
        REQUIRE(memcmp(in, back, UUID_LEN) == 0, "%s did not round trip", text);
    }
}
END_TEST

START_TEST(test_v7_known)
{
    static const uint8_t random[10] = {0x04, 0xc3, 0x98, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f};
    struct uuid_v7_gen gen = {0};
    uint8_t out[UUID_LEN];
    char text[UUID_STR_LEN + 1];
    ck_assert(uuid_v7_make(&gen, 0x017F22E279B0LL, random, out) == 0x017F22E279B0LL);
    uuid_format(out, text);
    ck_assert_str_eq(text, "017f22e2-79b0-74c3-98c4-dc0c0c07398f");
    ck_assert(gen.last_ms == 0x017F22E279B0LL);
    ck_assert_uint_eq(gen.counter, 0x4c3);
}
END_TEST

/* Checks the fixed fields of a v7 UUID and that it encodes ms and the given random tail. */
static void check_v7_layout(const uint8_t u[UUID_LEN], int64_t ms, const uint8_t random[10])
{
    uint64_t ts = 0;
    for (int i = 0; i < 6; i++)
        ts = ts << 8 | u[i];
    REQUIRE(ts == (uint64_t)ms, "timestamp %llx, want %llx", (unsigned long long)ts,
            (unsigned long long)ms);
    REQUIRE((u[6] >> 4) == 7, "version %d", u[6] >> 4);
    REQUIRE((u[8] >> 6) == 2, "variant %d", u[8] >> 6);
    REQUIRE((u[8] & 0x3f) == (random[2] & 0x3f), "rand_b head %02x", u[8]);
    REQUIRE(memcmp(u + 9, random + 3, 7) == 0, "rand_b tail differs");
}

static unsigned counter_of(const uint8_t u[UUID_LEN])
{
    return (unsigned)(u[6] & 0x0f) << 8 | u[7];
}

START_TEST(test_v7_counter_seed)
{
    /* The seed keeps its top bit clear, so a fresh millisecond has room to count. */
    uint8_t random[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct uuid_v7_gen gen = {0};
    uint8_t u[UUID_LEN];
    ck_assert(uuid_v7_make(&gen, 1000, random, u) == 1000);
    check_v7_layout(u, 1000, random);
    ck_assert_uint_eq(counter_of(u), 0x7ff);
    ck_assert(uuid_v7_make(&gen, 1000, random, u) == 1000);
    ck_assert_uint_eq(counter_of(u), 0x800);

    random[0] = 0x00;
    random[1] = 0x00;
    ck_assert(uuid_v7_make(&gen, 1001, random, u) == 1001);
    ck_assert_uint_eq(counter_of(u), 0);
}
END_TEST

START_TEST(test_v7_counter_overflow)
{
    uint8_t random[10] = {0};
    struct uuid_v7_gen gen = {0};
    uint8_t u[UUID_LEN];
    ck_assert(uuid_v7_make(&gen, 5000, random, u) == 5000);
    ck_assert_uint_eq(counter_of(u), 0);
    for (unsigned c = 1; c <= 0xfff; c++) {
        REQUIRE(uuid_v7_make(&gen, 5000, random, u) == 5000, "counter %u", c);
        REQUIRE(counter_of(u) == c, "counter %u, want %u", counter_of(u), c);
    }
    /* Counter exhausted: the timestamp moves on and the counter restarts from the seed. */
    random[0] = 0x01;
    random[1] = 0x23;
    ck_assert(uuid_v7_make(&gen, 5000, random, u) == 5001);
    check_v7_layout(u, 5001, random);
    ck_assert_uint_eq(counter_of(u), 0x123);
    ck_assert(gen.last_ms == 5001);
}
END_TEST

START_TEST(test_v7_zero_state)
{
    /* A zeroed generator and a clock at or before the epoch still produce ordered UUIDs. */
    uint8_t random[10] = {0};
    struct uuid_v7_gen gen = {0};
    uint8_t a[UUID_LEN], b[UUID_LEN];
    ck_assert(uuid_v7_make(&gen, 0, random, a) == 0);
    check_v7_layout(a, 0, random);
    ck_assert(uuid_v7_make(&gen, -5, random, b) == 0);
    check_v7_layout(b, 0, random);
    ck_assert_int_gt(memcmp(b, a, UUID_LEN), 0);
}
END_TEST

enum clock_mode { CLOCK_SAME, CLOCK_FORWARD, CLOCK_BACKWARD, CLOCK_JITTER };

START_TEST(test_v7_order)
{
    const enum clock_mode mode = (enum clock_mode)_i;
    uint64_t state = 0xabcdef0123456789ULL + (uint64_t)_i;
    struct uuid_v7_gen gen = {0};
    int64_t now = 1700000000000LL;
    int64_t last_ms = 0;
    uint8_t prev[UUID_LEN] = {0};

    for (int i = 0; i < ORDER_ROUNDS; i++) {
        switch (mode) {
        case CLOCK_SAME:
            break;
        case CLOCK_FORWARD:
            now += (int64_t)(next_random(&state) % 3);
            break;
        case CLOCK_BACKWARD:
            now -= 1 + (int64_t)(next_random(&state) % 1000);
            break;
        case CLOCK_JITTER:
            now += (int64_t)(next_random(&state) % 2001) - 1000;
            break;
        }
        uint8_t random[10];
        fill_random(&state, random, sizeof(random));
        uint8_t u[UUID_LEN];
        int64_t ms = uuid_v7_make(&gen, now, random, u);

        check_v7_layout(u, ms, random);
        if (mode == CLOCK_FORWARD)
            REQUIRE(ms >= now && ms <= now + 1, "ms %lld strays from clock %lld", (long long)ms,
                    (long long)now);
        REQUIRE(ms >= last_ms, "ms went back: %lld after %lld", (long long)ms, (long long)last_ms);
        REQUIRE(i == 0 || memcmp(u, prev, UUID_LEN) > 0, "round %d not increasing", i);
        REQUIRE(gen.last_ms == ms, "state not updated");
        memcpy(prev, u, UUID_LEN);
        last_ms = ms;
    }
    if (mode == CLOCK_SAME) {
        /* At least 2048 fit in each millisecond, so 100,000 cannot move far ahead. */
        ck_assert(last_ms - now <= ORDER_ROUNDS / 2048);
        ck_assert(last_ms - now >= ORDER_ROUNDS / 4096);
    }
}
END_TEST

START_TEST(test_v7_forward_uses_clock)
{
    uint64_t state = 99;
    struct uuid_v7_gen gen = {0};
    int64_t now = 1;
    for (int i = 0; i < 1000; i++) {
        now += 1 + (int64_t)(next_random(&state) % 100000);
        uint8_t random[10];
        uint8_t u[UUID_LEN];
        fill_random(&state, random, sizeof(random));
        REQUIRE(uuid_v7_make(&gen, now, random, u) == now, "round %d", i);
        check_v7_layout(u, now, random);
        unsigned seed = ((unsigned)random[0] << 8 | random[1]) & 0x7ff;
        REQUIRE(counter_of(u) == seed, "counter %x, want %x", counter_of(u), seed);
    }
}
END_TEST

static Suite *uuid_suite(void)
{
    Suite *s = suite_create("uuid");

    TCase *tc = tcase_create("text");
    tcase_add_loop_test(tc, test_parse_valid, 0, N_CASES(parse_cases));
    tcase_add_loop_test(tc, test_parse_invalid, 0, N_CASES(bad_cases));
    tcase_add_test(tc, test_parse_every_position);
    tcase_add_test(tc, test_format_known);
    tcase_add_test(tc, test_format_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("v7");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_v7_known);
    tcase_add_test(tc, test_v7_counter_seed);
    tcase_add_test(tc, test_v7_counter_overflow);
    tcase_add_test(tc, test_v7_zero_state);
    tcase_add_loop_test(tc, test_v7_order, CLOCK_SAME, CLOCK_JITTER + 1);
    tcase_add_test(tc, test_v7_forward_uses_clock);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(uuid_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failures = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failures != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
