#include "cursor.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define CURSOR_VERSION 1
#define PAYLOAD_LEN (2 + UUID_LEN)
#define MAC_LEN 16
#define RAW_LEN (PAYLOAD_LEN + MAC_LEN)

static int mac(const uint8_t key[CURSOR_KEY_LEN], const uint8_t payload[PAYLOAD_LEN],
               uint8_t out[MAC_LEN])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (HMAC(EVP_sha256(), key, CURSOR_KEY_LEN, payload, PAYLOAD_LEN, full, &n) == NULL ||
        n < MAC_LEN)
        return -1;
    memcpy(out, full, MAC_LEN);
    return 0;
}

int cursor_encode(const uint8_t key[CURSOR_KEY_LEN], enum cursor_filter filter,
                  const uint8_t after[UUID_LEN], char out[CURSOR_TEXT_LEN + 1])
{
    uint8_t raw[RAW_LEN];
    raw[0] = CURSOR_VERSION;
    raw[1] = (uint8_t)filter;
    memcpy(raw + 2, after, UUID_LEN);
    if (mac(key, raw, raw + PAYLOAD_LEN) != 0)
        return -1;
    /* base64 of 34 bytes is 48 characters with two of padding; base64url drops them. */
    unsigned char text[4 * ((RAW_LEN + 2) / 3) + 1];
    EVP_EncodeBlock(text, raw, RAW_LEN);
    for (size_t i = 0; i < CURSOR_TEXT_LEN; i++)
        out[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : (char)text[i];
    out[CURSOR_TEXT_LEN] = '\0';
    return 0;
}

int cursor_decode(const uint8_t key[CURSOR_KEY_LEN], enum cursor_filter filter, const char *text,
                  size_t len, uint8_t after[UUID_LEN])
{
    if (len != CURSOR_TEXT_LEN)
        return -1;
    unsigned char b64[CURSOR_TEXT_LEN + 3];
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '+' || c == '/' || c == '=')
            return -1; /* base64url only: one text per cursor */
        b64[i] = c == '-' ? '+' : c == '_' ? '/' : (unsigned char)c;
    }
    b64[len] = '=';
    b64[len + 1] = '=';
    b64[len + 2] = '\0';
    unsigned char raw[RAW_LEN + 2];
    /* EVP_DecodeBlock counts the padding as zero bytes, and refuses anything not base64. */
    if (EVP_DecodeBlock(raw, b64, (int)len + 2) != RAW_LEN + 2)
        return -1;
    uint8_t want[MAC_LEN];
    if (raw[0] != CURSOR_VERSION || raw[1] != (uint8_t)filter || mac(key, raw, want) != 0 ||
        CRYPTO_memcmp(want, raw + PAYLOAD_LEN, MAC_LEN) != 0)
        return -1;
    /* The last character carries 4 bits that the 34 bytes do not use: they must be zero, or
     * two texts would decode to one cursor. */
    if (raw[RAW_LEN] != 0 || raw[RAW_LEN + 1] != 0)
        return -1;
    memcpy(after, raw + 2, UUID_LEN);
    return 0;
}
