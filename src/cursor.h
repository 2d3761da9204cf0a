/* The list endpoint's opaque cursors: the position after which the next page starts and the
 * type filter it was issued for, signed with a key of the service's (HMAC-SHA256), so that a
 * forged or edited cursor, or one issued for another filter, is refused rather than read as
 * another page. Every host that shares the key accepts the cursors of the others. */
#ifndef LEADLISTS_CURSOR_H
#define LEADLISTS_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "uuid.h"

#define CURSOR_KEY_LEN 32
/* base64url of a version byte, the filter, the position and a 16-byte MAC, unpadded. */
#define CURSOR_TEXT_LEN 46

enum cursor_filter { CURSOR_ALL, CURSOR_PERSON, CURSOR_COMPANY };

/* Writes the cursor text and a NUL into out (CURSOR_TEXT_LEN + 1 bytes). 0, or -1 when the
 * MAC could not be computed. */
int cursor_encode(const uint8_t key[CURSOR_KEY_LEN], enum cursor_filter filter,
                  const uint8_t after[UUID_LEN], char out[CURSOR_TEXT_LEN + 1]);

/* Reads a cursor issued with key for filter: 0 and the position, or -1 (not a cursor of
 * ours, edited, or issued for another filter). */
int cursor_decode(const uint8_t key[CURSOR_KEY_LEN], enum cursor_filter filter, const char *text,
                  size_t len, uint8_t after[UUID_LEN]);

#endif
