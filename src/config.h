/* The service's configuration: read once at start, immutable afterwards. */
#ifndef LEADLISTS_CONFIG_H
#define LEADLISTS_CONFIG_H

#include <stddef.h>

#define CONFIG_STR_MAX 256

struct config {
    char db_socket[CONFIG_STR_MAX]; /* empty: connect to db_host:db_port */
    char db_host[CONFIG_STR_MAX];   /* one node, or several: "host[:port], host[:port], ..." */
    unsigned long db_port;          /* the port of a node that names none */
    char db_name[CONFIG_STR_MAX];
    char db_user[CONFIG_STR_MAX];
    char db_password_file[CONFIG_STR_MAX];
    unsigned long db_connect_timeout; /* seconds */
    unsigned long db_read_timeout;
    unsigned long db_write_timeout;
    unsigned long db_lock_timeout; /* row and metadata lock waits, seconds */
    unsigned long request_timeout; /* a request's whole life, seconds */
    unsigned long max_body_bytes;
    unsigned long max_ids;
    unsigned long max_depth;
    unsigned long max_members;     /* ids a list may hold, of its kind */
    unsigned long max_users;       /* users a list may have, its creator included */
    unsigned long retry_after;     /* seconds, sent with 503 */
    unsigned long idempotency_ttl; /* seconds an Idempotency-Key is kept */
    unsigned long session_cache;   /* seconds a worker keeps a valid session; 0: none */
    unsigned long workers;         /* worker processes in the pool */
    char fcgi_socket[CONFIG_STR_MAX];
    char log[CONFIG_STR_MAX]; /* "stderr" or "syslog" */
    char migrations_dir[CONFIG_STR_MAX];
    char cursor_key_file[CONFIG_STR_MAX];

    char db_password[CONFIG_STR_MAX]; /* from db_password_file or LEADLISTS_DB_PASSWORD */
    unsigned char cursor_key[32];     /* from cursor_key_file: config_load_cursor_key */
};

#define CONFIG_DEFAULT_PATH SYSCONFDIR "/leadlists/leadlists.conf"

/* The database nodes db_host names (a MariaDB Galera cluster has several). */
#define CONFIG_NODES_MAX 16
struct config_node {
    char host[CONFIG_STR_MAX];
    unsigned int port;
};

/* db_host's nodes, in order, into nodes (CONFIG_NODES_MAX of them). Returns how many, or 0
 * when the list is malformed (config_load refuses such a file). */
size_t config_db_nodes(const struct config *c, struct config_node *nodes);

/* Sets every option to its default. */
void config_defaults(struct config *c);

/* Reads `key = value` lines over the defaults, then the password. Returns 0, or -1 with a
 * message such as "leadlists.conf:12: unknown option 'foo'" in err. */
int config_load(const char *path, struct config *c, char *err, size_t err_len);

/* The key that signs the list's cursors: the SHA-256 of cursor_key_file's content (at least
 * 16 bytes of it, white space at the ends not counted), so any random text will do and every
 * host given the same file signs alike. Only the worker needs it. 0, or -1 with the reason. */
int config_load_cursor_key(struct config *c, char *err, size_t err_len);

#endif
