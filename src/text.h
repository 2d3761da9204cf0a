/* UTF-8 text rules for names: white space, control characters, length in characters. */
#ifndef LEADLISTS_TEXT_H
#define LEADLISTS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_INVALID SIZE_MAX

/* Narrows [s, s+len) to drop leading and trailing Unicode White_Space (ASCII space and
 * controls \t\n\v\f\r, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000). Stops at the first byte that is not valid UTF-8. */
void text_trim_space(const char *s, size_t len, size_t *start, size_t *trimmed_len);

/* Number of code points, or TEXT_INVALID when the bytes are not valid UTF-8 (overlong forms,
 * surrogates and values beyond U+10FFFF included). */
size_t text_utf8_length(const char *s, size_t len);

/* True when any code point is a control character (U+0000-U+001F, U+007F-U+009F), or the bytes
 * are not valid UTF-8. */
bool text_has_control(const char *s, size_t len);

/* The value of an ASCII hex digit (either case), or -1. */
int text_hex_digit(unsigned char c);

#endif
