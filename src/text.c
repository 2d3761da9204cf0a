#include "text.h"

/* Decodes the code point at s[*i], advancing *i; returns -1 on invalid UTF-8. */
static int32_t decode(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    int32_t cp;
    size_t need;
    int32_t min;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if (c >= 0xC2 && c <= 0xDF) {
        cp = c & 0x1F;
        need = 1;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        cp = c & 0x0F;
        need = 2;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        cp = c & 0x07;
        need = 3;
        min = 0x10000;
    } else {
        return -1;
    }
    if (len - *i <= need)
        return -1;
    for (size_t k = 1; k <= need; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *i += need + 1;
    return cp;
}

static bool is_space(int32_t cp)
{
    return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

void text_trim_space(const char *s, size_t len, size_t *start, size_t *trimmed_len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    size_t first = len; /* start of the first non-space code point */
    size_t end = 0;     /* end of the last non-space code point */
    while (i < len) {
        size_t at = i;
        int32_t cp = decode(u, len, &i);
        if (cp < 0) {
            /* Invalid bytes are kept so the caller's own validation sees them. */
            if (first == len)
                first = at;
            end = len;
            break;
        }
        if (!is_space(cp)) {
            if (first == len)
                first = at;
            end = i;
        }
    }
    if (first == len) {
        *start = 0;
        *trimmed_len = 0;
        return;
    }
    *start = first;
    *trimmed_len = end - first;
}

size_t text_utf8_length(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        if (decode(u, len, &i) < 0)
            return TEXT_INVALID;
        n++;
    }
    return n;
}

bool text_has_control(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        int32_t cp = decode(u, len, &i);
        if (cp < 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return true;
    }
    return false;
}

int text_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
