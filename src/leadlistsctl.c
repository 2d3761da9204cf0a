/* leadlistsctl: sessions and migrations for administrators. Same config file as the worker. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "ids.h"
#include "log.h"

#define TOKEN_BYTES 32
#define MIGRATION_MAX_BYTES (4 * 1024 * 1024)

static void usage(FILE *out)
{
    fprintf(out, "usage: leadlistsctl [-c CONFIG] session create --user USER --org ORG\n"
                 "                                 [--role member|admin] [--ttl SECONDS]\n"
                 "       leadlistsctl [-c CONFIG] session revoke TOKEN\n"
                 "       leadlistsctl [-c CONFIG] db migrate [--dir DIR]\n"
                 "       leadlistsctl [-c CONFIG] keys sweep\n");
}

/* base64url without padding, as RFC 6750 tokens usually are. */
static void base64url(const unsigned char *raw, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, raw, (int)len);
    int w = 0;
    for (int i = 0; i < n; i++) {
        char ch = out[i];
        if (ch == '=')
            break;
        out[w++] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    }
    out[w] = '\0';
}

static int bind_and_run(MYSQL *conn, const char *sql, MYSQL_BIND *params, my_ulonglong *affected)
{
    int rc = -1;
    MYSQL_STMT *st = mysql_stmt_init(conn);
    if (st == NULL)
        goto cleanup;
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0 || mysql_stmt_bind_param(st, params) != 0 ||
        mysql_stmt_execute(st) != 0) {
        fprintf(stderr, "leadlistsctl: %s\n", mysql_stmt_error(st));
        goto cleanup;
    }
    if (affected != NULL)
        *affected = mysql_stmt_affected_rows(st);
    if (mysql_commit(conn) != 0) {
        fprintf(stderr, "leadlistsctl: commit: %s\n", mysql_error(conn));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (st != NULL)
        mysql_stmt_close(st);
    return rc;
}

static void bind_bytes(MYSQL_BIND *b, enum enum_field_types type, const void *data,
                       unsigned long *len)
{
    b->buffer_type = type;
    b->buffer = (void *)data;
    b->buffer_length = *len;
    b->length = len;
}

static int session_create(MYSQL *conn, int argc, char **argv)
{
    const char *user = NULL, *org = NULL, *role = "member";
    unsigned long long ttl = 7ULL * 24 * 3600;
    static const struct option longopts[] = {{"user", required_argument, NULL, 'u'},
                                             {"org", required_argument, NULL, 'o'},
                                             {"role", required_argument, NULL, 'r'},
                                             {"ttl", required_argument, NULL, 't'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'u':
            user = optarg;
            break;
        case 'o':
            org = optarg;
            break;
        case 'r':
            role = optarg;
            break;
        case 't':
            errno = 0;
            ttl = strtoull(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || optarg[0] == '-' || ttl == 0 ||
                ttl > 10ULL * 365 * 24 * 3600) {
                fprintf(stderr, "leadlistsctl: --ttl must be 1 to 315360000 seconds\n");
                return 2;
            }
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (user == NULL || org == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!ids_person_valid(user, strlen(user)) || !ids_person_valid(org, strlen(org))) {
        fprintf(stderr, "leadlistsctl: --user and --org must be 1-64 characters of "
                        "A-Z a-z 0-9 . _ : -\n");
        return 2;
    }
    if (strcmp(role, "member") != 0 && strcmp(role, "admin") != 0) {
        fprintf(stderr, "leadlistsctl: --role must be member or admin\n");
        return 2;
    }
    unsigned char raw[TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        fprintf(stderr, "leadlistsctl: no random bytes available\n");
        return 1;
    }
    char token[TOKEN_BYTES * 2];
    base64url(raw, sizeof(raw), token);
    uint8_t hash[AUTH_HASH_LEN];
    auth_token_hash(token, strlen(token), hash);

    unsigned long hash_len = AUTH_HASH_LEN, user_len = strlen(user), org_len = strlen(org),
                  role_len = strlen(role);
    MYSQL_BIND b[5];
    memset(b, 0, sizeof(b));
    bind_bytes(&b[0], MYSQL_TYPE_BLOB, hash, &hash_len);
    bind_bytes(&b[1], MYSQL_TYPE_STRING, user, &user_len);
    bind_bytes(&b[2], MYSQL_TYPE_STRING, org, &org_len);
    bind_bytes(&b[3], MYSQL_TYPE_STRING, role, &role_len);
    b[4].buffer_type = MYSQL_TYPE_LONGLONG;
    b[4].buffer = &ttl;
    b[4].is_unsigned = 1;
    if (bind_and_run(conn,
                     "INSERT INTO sessions (token_hash, user_id, org_id, role, created_at,"
                     " expires_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3),"
                     " UTC_TIMESTAMP(3) + INTERVAL ? SECOND)",
                     b, NULL) != 0)
        return 1;
    printf("%s\n", token);
    return 0;
}

static int session_revoke(MYSQL *conn, int argc, char **argv)
{
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    const char *token = argv[1];
    uint8_t hash[AUTH_HASH_LEN];
    auth_token_hash(token, strlen(token), hash);
    unsigned long hash_len = AUTH_HASH_LEN;
    MYSQL_BIND b[1];
    memset(b, 0, sizeof(b));
    bind_bytes(&b[0], MYSQL_TYPE_BLOB, hash, &hash_len);
    my_ulonglong affected = 0;
    if (bind_and_run(conn,
                     "UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3)"
                     " WHERE token_hash = ? AND revoked_at IS NULL",
                     b, &affected) != 0)
        return 1;
    if (affected == 0) {
        fprintf(stderr, "leadlistsctl: no active session has that token\n");
        return 1;
    }
    printf("revoked\n");
    return 0;
}

/* Runs a DELETE ... LIMIT 1000 until it deletes fewer, so no long lock is held. Returns the
 * rows deleted, or -1. */
static long long delete_in_batches(MYSQL *conn, const char *sql, size_t len)
{
    long long total = 0;
    for (;;) {
        if (mysql_real_query(conn, sql, len) != 0 || mysql_commit(conn) != 0) {
            fprintf(stderr, "leadlistsctl: keys sweep: %s\n", mysql_error(conn));
            return -1;
        }
        my_ulonglong n = mysql_affected_rows(conn);
        total += (long long)n;
        if (n < 1000)
            return total;
    }
}

/* Deletes expired Idempotency-Keys, and the records of changes older than a day (a worker
 * only needs one for the seconds after its commit, to learn whether a commit whose answer it
 * lost was stored). */
static int keys_sweep(MYSQL *conn, int argc)
{
    if (argc != 1) {
        usage(stderr);
        return 2;
    }
    static const char keys[] =
        "DELETE FROM idempotency_keys WHERE expires_at <= UTC_TIMESTAMP(3) LIMIT 1000";
    static const char changes[] =
        "DELETE FROM leadlist_changes"
        " WHERE changed_at < UTC_TIMESTAMP(3) - INTERVAL 1 DAY LIMIT 1000";
    long long n_keys = delete_in_batches(conn, keys, sizeof(keys) - 1);
    if (n_keys < 0)
        return 1;
    long long n_changes = delete_in_batches(conn, changes, sizeof(changes) - 1);
    if (n_changes < 0)
        return 1;
    printf("%lld expired key%s removed\n", n_keys, n_keys == 1 ? "" : "s");
    printf("%lld change record%s older than a day removed\n", n_changes, n_changes == 1 ? "" : "s");
    return 0;
}

static int run_sql(MYSQL *conn, const char *sql, size_t len, const char *what)
{
    if (mysql_real_query(conn, sql, (unsigned long)len) != 0) {
        fprintf(stderr, "leadlistsctl: %s: %s\n", what, mysql_error(conn));
        return -1;
    }
    int status;
    do {
        MYSQL_RES *res = mysql_store_result(conn);
        if (res != NULL)
            mysql_free_result(res);
        status = mysql_next_result(conn);
        if (status > 0) {
            fprintf(stderr, "leadlistsctl: %s: %s\n", what, mysql_error(conn));
            return -1;
        }
    } while (status == 0);
    return 0;
}

static int migration_name(const struct dirent *e)
{
    const char *n = e->d_name;
    size_t len = strlen(n);
    return len > 8 && n[0] >= '0' && n[0] <= '9' && n[1] >= '0' && n[1] <= '9' && n[2] >= '0' &&
           n[2] <= '9' && n[3] == '_' && strcmp(n + len - 4, ".sql") == 0 && len < 200;
}

static int applied(MYSQL *conn, const char *version, bool *yes)
{
    unsigned long len = strlen(version);
    MYSQL_BIND b[1];
    memset(b, 0, sizeof(b));
    bind_bytes(&b[0], MYSQL_TYPE_STRING, version, &len);
    int rc = -1;
    MYSQL_STMT *st = mysql_stmt_init(conn);
    static const char sql[] = "SELECT 1 FROM schema_migrations WHERE version = ?";
    if (st == NULL || mysql_stmt_prepare(st, sql, sizeof(sql) - 1) != 0 ||
        mysql_stmt_bind_param(st, b) != 0 || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_store_result(st) != 0) {
        fprintf(stderr, "leadlistsctl: %s\n", st ? mysql_stmt_error(st) : mysql_error(conn));
        goto cleanup;
    }
    *yes = mysql_stmt_num_rows(st) > 0;
    rc = 0;
cleanup:
    if (st != NULL)
        mysql_stmt_close(st);
    return rc;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(MIGRATION_MAX_BYTES + 1);
    size_t n = buf != NULL ? fread(buf, 1, MIGRATION_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n > MIGRATION_MAX_BYTES) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int db_migrate(MYSQL *conn, const char *dir, int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt != 'd') {
            usage(stderr);
            return 2;
        }
        dir = optarg;
    }
    static const char create[] =
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version VARCHAR(191) NOT NULL PRIMARY KEY,"
        " applied_at DATETIME(3) NOT NULL"
        ") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin";
    if (run_sql(conn, create, sizeof(create) - 1, "schema_migrations") != 0)
        return 1;
    struct dirent **entries = NULL;
    int n = scandir(dir, &entries, migration_name, alphasort);
    if (n < 0) {
        fprintf(stderr, "leadlistsctl: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int rc = 0, count = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *version = entries[i]->d_name;
        bool done = false;
        if (applied(conn, version, &done) != 0) {
            rc = 1;
            break;
        }
        if (done)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, version);
        size_t len = 0;
        char *sql = read_file(path, &len);
        if (sql == NULL) {
            fprintf(stderr, "leadlistsctl: %s: cannot read (or larger than 4 MiB)\n", path);
            rc = 1;
            break;
        }
        int ran = run_sql(conn, sql, len, version);
        free(sql);
        unsigned long vlen = strlen(version);
        MYSQL_BIND b[1];
        memset(b, 0, sizeof(b));
        bind_bytes(&b[0], MYSQL_TYPE_STRING, version, &vlen);
        if (ran != 0 || bind_and_run(conn,
                                     "INSERT INTO schema_migrations (version, applied_at)"
                                     " VALUES (?, UTC_TIMESTAMP(3))",
                                     b, NULL) != 0) {
            rc = 1;
            break;
        }
        printf("applied %s\n", version);
        count++;
    }
    for (int i = 0; i < n; i++)
        free(entries[i]);
    free(entries);
    if (rc == 0)
        printf("%d migration%s applied; schema is current\n", count, count == 1 ? "" : "s");
    return rc;
}

int main(int argc, char **argv)
{
    const char *config_path = getenv("LEADLISTS_CONFIG");
    if (config_path == NULL)
        config_path = CONFIG_DEFAULT_PATH;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
        config_path = argv[i + 1];
        i += 2;
    }
    if (i < argc && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc - i < 2) {
        usage(stderr);
        return 2;
    }
    const char *noun = argv[i], *verb = argv[i + 1];
    int sub_argc = argc - (i + 1);
    char **sub_argv = argv + i + 1;
    enum { CREATE, REVOKE, MIGRATE, SWEEP } command;
    if (strcmp(noun, "session") == 0 && strcmp(verb, "create") == 0)
        command = CREATE;
    else if (strcmp(noun, "session") == 0 && strcmp(verb, "revoke") == 0)
        command = REVOKE;
    else if (strcmp(noun, "db") == 0 && strcmp(verb, "migrate") == 0)
        command = MIGRATE;
    else if (strcmp(noun, "keys") == 0 && strcmp(verb, "sweep") == 0)
        command = SWEEP;
    else {
        usage(stderr);
        return 2;
    }

    struct config config;
    char err[512];
    if (config_load(config_path, &config, err, sizeof(err)) != 0) {
        fprintf(stderr, "leadlistsctl: %s\n", err);
        return 2;
    }
    log_open("stderr", "leadlistsctl");
    MYSQL *conn = db_connect(&config, command == MIGRATE ? CLIENT_MULTI_STATEMENTS : 0, NULL);
    if (conn == NULL)
        return 1;
    int rc;
    if (command == CREATE)
        rc = session_create(conn, sub_argc, sub_argv);
    else if (command == REVOKE)
        rc = session_revoke(conn, sub_argc, sub_argv);
    else if (command == SWEEP)
        rc = keys_sweep(conn, sub_argc);
    else
        rc = db_migrate(conn, config.migrations_dir, sub_argc, sub_argv);
    mysql_close(conn);
    mysql_library_end();
    return rc;
}
