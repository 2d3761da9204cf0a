#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum option_type { OPT_STRING, OPT_NUMBER };

struct option {
    const char *name;
    enum option_type type;
    size_t offset;
    const char *default_value;
    unsigned long min;
    unsigned long max;
};

#define STR(field, def)                                                                            \
    {                                                                                              \
#field, OPT_STRING, offsetof(struct config, field), def, 0, 0                              \
    }
#define NUM(field, def, lo, hi)                                                                    \
    {                                                                                              \
#field, OPT_NUMBER, offsetof(struct config, field), #def, lo, hi                           \
    }

static const struct option options[] = {
    STR(db_socket, ""),
    STR(db_host, "127.0.0.1"),
    NUM(db_port, 3306, 1, 65535),
    STR(db_name, "leadlists"),
    STR(db_user, "leadlists"),
    STR(db_password_file, ""),
    NUM(db_connect_timeout, 2, 1, 3600),
    NUM(db_read_timeout, 5, 1, 3600),
    NUM(db_write_timeout, 5, 1, 3600),
    NUM(db_lock_timeout, 2, 1, 3600),
    NUM(request_timeout, 10, 1, 3600),
    NUM(max_body_bytes, 1048576, 2, 64UL * 1024 * 1024),
    NUM(max_ids, 10000, 0, 1000000),
    NUM(max_depth, 16, 3, 1024),
    NUM(max_members, 10000, 1, 1000000),
    NUM(max_users, 100, 1, 10000),
    NUM(retry_after, 1, 1, 3600),
    NUM(idempotency_ttl, 86400, 60, 2592000),
    NUM(session_cache, 1, 0, 60),
    NUM(workers, 8, 1, 256), /* POOL_MAX_WORKERS */
    STR(fcgi_socket, "/run/leadlists/fcgi.sock"),
    STR(log, "stderr"),
    STR(migrations_dir, PKGDATADIR "/sql"),
    STR(cursor_key_file, SYSCONFDIR "/leadlists/cursor-key"),
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

static int set_option(struct config *c, const struct option *o, const char *value, char *why,
                      size_t why_len)
{
    char *field = (char *)c + o->offset;
    if (o->type == OPT_STRING) {
        if (strlen(value) >= CONFIG_STR_MAX) {
            snprintf(why, why_len, "value of '%s' is longer than %d bytes", o->name,
                     CONFIG_STR_MAX - 1);
            return -1;
        }
        strcpy(field, value);
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long v = strtoul(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || value[0] == '-' || v < o->min || v > o->max) {
        snprintf(why, why_len, "'%s' must be a whole number from %lu to %lu", o->name, o->min,
                 o->max);
        return -1;
    }
    memcpy(field, &v, sizeof(v));
    return 0;
}

void config_defaults(struct config *c)
{
    char why[16];
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < OPTION_COUNT; i++)
        (void)set_option(c, &options[i], options[i].default_value, why, sizeof(why));
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

static int parse_line(struct config *c, char *line, char *why, size_t why_len)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (eq == NULL) {
        snprintf(why, why_len, "expected 'key = value'");
        return -1;
    }
    *eq = '\0';
    char *key = trim(s);
    char *value = trim(eq + 1);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strcmp(options[i].name, key) == 0)
            return set_option(c, &options[i], value, why, why_len);
    }
    snprintf(why, why_len, "unknown option '%.64s'", key);
    return -1;
}

static int load_password(struct config *c, char *err, size_t err_len)
{
    const char *env = getenv("LEADLISTS_DB_PASSWORD");
    if (env != NULL) {
        if (strlen(env) >= CONFIG_STR_MAX) {
            snprintf(err, err_len, "LEADLISTS_DB_PASSWORD is too long");
            return -1;
        }
        strcpy(c->db_password, env);
        return 0;
    }
    if (c->db_password_file[0] == '\0')
        return 0;
    FILE *f = fopen(c->db_password_file, "r");
    if (f == NULL) {
        snprintf(err, err_len, "%s: %s", c->db_password_file, strerror(errno));
        return -1;
    }
    int rc = 0;
    if (fgets(c->db_password, sizeof(c->db_password), f) == NULL && ferror(f)) {
        snprintf(err, err_len, "%s: read error", c->db_password_file);
        rc = -1;
    }
    fclose(f);
    /* Files edited by hand end in a newline that is not part of the password. */
    c->db_password[strcspn(c->db_password, "\r\n")] = '\0';
    return rc;
}

size_t config_db_nodes(const struct config *c, struct config_node *nodes)
{
    size_t n = 0;
    const char *p = c->db_host;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, ",");
        size_t end = len;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end == 0 || n == CONFIG_NODES_MAX)
            return 0;
        /* host, host:port, or [v6 address]:port */
        const char *host = p;
        size_t host_len = end;
        unsigned long port = c->db_port;
        const char *colon = NULL;
        if (host[0] == '[') {
            const char *close = memchr(host, ']', end);
            if (close == NULL)
                return 0;
            host++;
            host_len = (size_t)(close - host);
            if (close + 1 < p + end) {
                if (close[1] != ':')
                    return 0;
                colon = close + 1;
            }
        } else {
            colon = memchr(host, ':', end);
            if (colon != NULL)
                host_len = (size_t)(colon - host);
        }
        if (colon != NULL) {
            char digits[8];
            size_t dlen = (size_t)(p + end - colon - 1);
            if (dlen == 0 || dlen >= sizeof(digits) || strspn(colon + 1, "0123456789") < dlen)
                return 0;
            memcpy(digits, colon + 1, dlen);
            digits[dlen] = '\0';
            port = strtoul(digits, NULL, 10);
        }
        if (host_len == 0 || host_len >= CONFIG_STR_MAX || port < 1 || port > 65535)
            return 0;
        memcpy(nodes[n].host, host, host_len);
        nodes[n].host[host_len] = '\0';
        nodes[n].port = (unsigned int)port;
        n++;
        if (p[len] != ',')
            return n;
        p += len + 1;
    }
}

int config_load(const char *path, struct config *c, char *err, size_t err_len)
{
    config_defaults(c);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    char line[1024];
    unsigned lineno = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char why[160];
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, err_len, "%s:%u: line is too long", path, lineno);
            rc = -1;
            break;
        }
        if (parse_line(c, line, why, sizeof(why)) != 0) {
            snprintf(err, err_len, "%s:%u: %s", path, lineno, why);
            rc = -1;
            break;
        }
    }
    fclose(f);
    struct config_node nodes[CONFIG_NODES_MAX];
    if (rc == 0 && config_db_nodes(c, nodes) == 0) {
        snprintf(err, err_len,
                 "%s: 'db_host' must be host[:port], or several separated by commas "
                 "(at most %d)",
                 path, CONFIG_NODES_MAX);
        rc = -1;
    }
    if (rc == 0 && strcmp(c->log, "stderr") != 0 && strcmp(c->log, "syslog") != 0) {
        snprintf(err, err_len, "%s: 'log' must be stderr or syslog", path);
        rc = -1;
    }
    if (rc == 0)
        rc = load_password(c, err, err_len);
    return rc;
}

#define CURSOR_KEY_MIN_BYTES 16
#define CURSOR_KEY_MAX_BYTES 4096

int config_load_cursor_key(struct config *c, char *err, size_t err_len)
{
    if (c->cursor_key_file[0] == '\0') {
        snprintf(err, err_len, "cursor_key_file is empty: name the file of the cursor key");
        return -1;
    }
    FILE *f = fopen(c->cursor_key_file, "r");
    if (f == NULL) {
        snprintf(err, err_len, "%s: %s", c->cursor_key_file, strerror(errno));
        return -1;
    }
    char text[CURSOR_KEY_MAX_BYTES + 1];
    size_t n = fread(text, 1, sizeof(text), f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed || n > CURSOR_KEY_MAX_BYTES) {
        snprintf(err, err_len, "%s: %s", c->cursor_key_file,
                 failed ? "read error" : "longer than 4096 bytes");
        return -1;
    }
    size_t start = 0;
    while (start < n && isspace((unsigned char)text[start]))
        start++;
    while (n > start && isspace((unsigned char)text[n - 1]))
        n--;
    if (n - start < CURSOR_KEY_MIN_BYTES) {
        snprintf(err, err_len,
                 "%s: the key must be at least %d bytes (e.g. openssl rand -base64 32)",
                 c->cursor_key_file, CURSOR_KEY_MIN_BYTES);
        return -1;
    }
    unsigned int len = 0;
    if (EVP_Digest(text + start, n - start, c->cursor_key, &len, EVP_sha256(), NULL) != 1) {
        snprintf(err, err_len, "%s: SHA-256 failed", c->cursor_key_file);
        return -1;
    }
    return 0;
}
