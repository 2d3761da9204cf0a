/* The Authorization header's Bearer credentials (RFC 6750). Pure: no I/O. */
#ifndef LEADLISTS_BEARER_H
#define LEADLISTS_BEARER_H

#include <stddef.h>

/* Tokens longer than this are refused without a lookup; ours are 43 characters. */
#define BEARER_TOKEN_MAX 512

/* Finds the token in an Authorization value: the scheme "Bearer" in any case, one or more
 * spaces, then a b64token (A-Z a-z 0-9 - . _ ~ + / followed by any '='), then optional
 * trailing spaces or tabs. Returns 0 and sets *token and *len (pointing into value), or -1. */
int bearer_parse(const char *value, const char **token, size_t *len);

#endif
