#include "bearer.h"

#include <stdbool.h>
#include <strings.h>

static bool b64token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

int bearer_parse(const char *value, const char **token, size_t *len)
{
    if (value == NULL || strncasecmp(value, "Bearer", 6) != 0 || value[6] != ' ')
        return -1;
    const char *p = value + 6;
    while (*p == ' ')
        p++;
    const char *start = p;
    while (b64token_char((unsigned char)*p))
        p++;
    if (p == start)
        return -1;
    while (*p == '=')
        p++;
    size_t n = (size_t)(p - start);
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0' || n > BEARER_TOKEN_MAX)
        return -1;
    *token = start;
    *len = n;
    return 0;
}
