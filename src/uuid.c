#include "uuid.h"

#include "text.h"

#include <stdbool.h>

#define COUNTER_MAX 0xFFF

static bool is_hyphen_pos(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

int uuid_parse(const char *s, size_t len, uint8_t out[UUID_LEN])
{
    uint8_t buf[UUID_LEN];
    size_t n = 0;

    if (s == NULL || len != UUID_STR_LEN)
        return -1;
    for (size_t i = 0; i < UUID_STR_LEN; i++) {
        if (is_hyphen_pos(i)) {
            if (s[i] != '-')
                return -1;
            continue;
        }
        int hi = text_hex_digit((unsigned char)s[i]);
        int lo = text_hex_digit((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        buf[n++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    /* Written only on success so a rejected string leaves the caller's buffer alone. */
    for (size_t i = 0; i < UUID_LEN; i++)
        out[i] = buf[i];
    return 0;
}

void uuid_format(const uint8_t in[UUID_LEN], char out[UUID_STR_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    char *p = out;

    for (size_t i = 0; i < UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = digits[in[i] >> 4];
        *p++ = digits[in[i] & 0x0F];
    }
    *p = '\0';
}

/* The top bit is cleared so at least 2048 UUIDs fit in a millisecond before it has to move. */
static uint16_t counter_seed(const uint8_t random[10])
{
    return (uint16_t)(((unsigned)random[0] << 8 | random[1]) & (COUNTER_MAX >> 1));
}

int64_t uuid_v7_make(struct uuid_v7_gen *gen, int64_t now_ms, const uint8_t random[10],
                     uint8_t out[UUID_LEN])
{
    int64_t ms;
    uint16_t counter;

    if (now_ms > gen->last_ms) {
        ms = now_ms;
        counter = counter_seed(random);
    } else if (gen->counter < COUNTER_MAX) {
        /* Reusing the last timestamp rather than a stepped-back clock keeps the order. */
        ms = gen->last_ms;
        counter = (uint16_t)(gen->counter + 1);
    } else {
        ms = gen->last_ms + 1;
        counter = counter_seed(random);
    }
    gen->last_ms = ms;
    gen->counter = counter;

    uint64_t ts = (uint64_t)ms;
    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(ts >> (8 * (5 - i)));
    out[6] = (uint8_t)(0x70 | (counter >> 8));
    out[7] = (uint8_t)(counter & 0xFF);
    out[8] = (uint8_t)(0x80 | (random[2] & 0x3F));
    for (int i = 9; i < UUID_LEN; i++)
        out[i] = random[i - 6];
    return ms;
}
