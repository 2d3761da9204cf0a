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
#include "iso8601.h"
#include "log.h"

#define TOKEN_BYTES 32
#define MIGRATION_MAX_BYTES (4 * 1024 * 1024)

static void usage(FILE *out)
{
    fprintf(out, "usage: leadlistsctl [-c CONFIG] session create --user USER --org ORG\n"
                 "                                 [--role member|admin] [--ttl SECONDS]\n"
                 "       leadlistsctl [-c CONFIG] session list [--user USER] [--org ORG]\n"
                 "       leadlistsctl [-c CONFIG] session revoke TOKEN\n"
                 "       leadlistsctl [-c CONFIG] session revoke --user USER\n"
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

/* Reads the --user and --org of session list and session revoke --user into *user and *org
 * (org NULL when the command takes none), each at most once and valid as an id. 0, or 2 after
 * the message. */
static int id_options(int argc, char **argv, const char **user, const char **org)
{
    static const struct option both[] = {{"user", required_argument, NULL, 'u'},
                                         {"org", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    static const struct option user_only[] = {{"user", required_argument, NULL, 'u'},
                                              {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", org != NULL ? both : user_only, NULL)) != -1) {
        if (opt == '?') {
            if (optopt == 'u' || optopt == 'o')
                fprintf(stderr, "leadlistsctl: %s needs a value\n",
                        optopt == 'u' ? "--user" : "--org");
            else
                fprintf(stderr, "leadlistsctl: unknown option %s\n", argv[optind - 1]);
            return 2;
        }
        const char **slot = opt == 'u' ? user : org;
        const char *name = opt == 'u' ? "--user" : "--org";
        if (*slot != NULL) {
            fprintf(stderr, "leadlistsctl: %s given twice\n", name);
            return 2;
        }
        if (!ids_person_valid(optarg, strlen(optarg))) {
            fprintf(stderr, "leadlistsctl: %s must be 1-64 characters of A-Z a-z 0-9 . _ : -\n",
                    name);
            return 2;
        }
        *slot = optarg;
    }
    if (optind != argc) {
        fprintf(stderr, "leadlistsctl: unexpected argument %s\n", argv[optind]);
        return 2;
    }
    return 0;
}

/* Writes a column as it is when it is printable ASCII other than the backslash, which ids
 * always are; any other byte as \xNN, so that a row written by hand cannot add a column, a
 * line or a terminal escape. */
static void print_field(const char *s, unsigned long len)
{
    for (unsigned long i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch > 0x20 && ch < 0x7f && ch != '\\')
            putchar(ch);
        else
            printf("\\x%02x", ch);
    }
}

static void print_time(const MYSQL_TIME *t)
{
    char out[ISO8601_FORMAT_LEN + 1];
    iso8601_format(db_time_ms(t), out);
    fputs(out, stdout);
}

/* One statement for each set of filters (bit 0 --user, bit 1 --org): arguments are only
 * ever bound, never written into SQL. Newest first; the hash orders sessions created in the
 * same millisecond. Only 6 bytes of the hash leave the database. */
#define SESSION_COLUMNS                                                                            \
    "SELECT LOWER(HEX(LEFT(token_hash, 6))), user_id, org_id, role, created_at, expires_at,"       \
    " revoked_at FROM sessions"
#define SESSION_ORDER " ORDER BY created_at DESC, token_hash"
static const char *const session_list_sql[4] = {
    SESSION_COLUMNS SESSION_ORDER,
    SESSION_COLUMNS " WHERE user_id = ?" SESSION_ORDER,
    SESSION_COLUMNS " WHERE org_id = ?" SESSION_ORDER,
    SESSION_COLUMNS " WHERE user_id = ? AND org_id = ?" SESSION_ORDER,
};

enum { COL_HASH, COL_USER, COL_ORG, COL_ROLE, COL_CREATED, COL_EXPIRES, COL_REVOKED, COL_COUNT };

/* Prints the sessions of user and org (NULL: any), newest first, one line each, columns
 * separated by a tab. */
static int session_list(MYSQL *conn, const char *user, const char *org)
{
    unsigned long user_len = user != NULL ? strlen(user) : 0,
                  org_len = org != NULL ? strlen(org) : 0;
    MYSQL_BIND params[2];
    memset(params, 0, sizeof(params));
    unsigned n_params = 0;
    if (user != NULL)
        db_bind_text(&params[n_params++], user, &user_len);
    if (org != NULL)
        db_bind_text(&params[n_params++], org, &org_len);
    const char *sql = session_list_sql[(user != NULL ? 1 : 0) | (org != NULL ? 2 : 0)];

    /* Text columns: room for the widest the schema allows and a NUL. */
    char hash[12 + 1], user_id[AUTH_ID_MAX + 1], org_id[AUTH_ID_MAX + 1], role[8];
    char *text[] = {hash, user_id, org_id, role};
    unsigned long text_size[] = {sizeof(hash), sizeof(user_id), sizeof(org_id), sizeof(role)};
    MYSQL_TIME times[3];
    unsigned long len[COL_COUNT];
    my_bool is_null[COL_COUNT], truncated[COL_COUNT];
    MYSQL_BIND res[COL_COUNT];
    memset(res, 0, sizeof(res));
    for (int c = 0; c < COL_COUNT; c++) {
        if (c < COL_CREATED) {
            res[c].buffer_type = MYSQL_TYPE_STRING;
            res[c].buffer = text[c];
            res[c].buffer_length = text_size[c];
        } else {
            res[c].buffer_type = MYSQL_TYPE_DATETIME;
            res[c].buffer = &times[c - COL_CREATED];
        }
        res[c].length = &len[c];
        res[c].is_null = &is_null[c];
        res[c].error = &truncated[c];
    }

    int rc = 1;
    MYSQL_STMT *st = mysql_stmt_init(conn);
    if (st == NULL) {
        fprintf(stderr, "leadlistsctl: session list: %s\n", mysql_error(conn));
        goto cleanup;
    }
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0 ||
        (n_params > 0 && mysql_stmt_bind_param(st, params) != 0) || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_bind_result(st, res) != 0) {
        fprintf(stderr, "leadlistsctl: session list: %s\n", mysql_stmt_error(st));
        goto cleanup;
    }
    printf("HASH\tUSER\tORG\tROLE\tCREATED\tEXPIRES\tREVOKED\n");
    int fetched;
    while ((fetched = mysql_stmt_fetch(st)) == 0) {
        for (int c = 0; c < COL_COUNT; c++) {
            if (c > 0)
                putchar('\t');
            if (is_null[c])
                putchar('-');
            else if (c < COL_CREATED)
                print_field(text[c], len[c]);
            else
                print_time(&times[c - COL_CREATED]);
        }
        putchar('\n');
    }
    if (fetched != MYSQL_NO_DATA) {
        /* MYSQL_DATA_TRUNCATED: a column wider than the schema allows. */
        fprintf(stderr, "leadlistsctl: session list: %s\n",
                fetched == MYSQL_DATA_TRUNCATED ? "a column is wider than the sessions table allows"
                                                : mysql_stmt_error(st));
        goto cleanup;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "leadlistsctl: session list: cannot write to standard output\n");
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (st != NULL)
        mysql_stmt_close(st);
    return rc;
}

/* Signs a user out everywhere: every session of theirs not yet revoked, expired ones too so
 * that none can come back. No session to revoke is not an error. */
static int session_revoke_user(MYSQL *conn, const char *user)
{
    unsigned long user_len = strlen(user);
    MYSQL_BIND b[1];
    memset(b, 0, sizeof(b));
    db_bind_text(&b[0], user, &user_len);
    my_ulonglong affected = 0;
    if (bind_and_run(conn,
                     "UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3)"
                     " WHERE user_id = ? AND revoked_at IS NULL",
                     b, &affected) != 0)
        return 1;
    printf("%llu session%s revoked\n", (unsigned long long)affected, affected == 1 ? "" : "s");
    return 0;
}

/* True for the arguments of session revoke --user USER (or --user=USER), which a token, 43
 * characters of base64url, can never be: TOKEN alone keeps its meaning, whatever it starts
 * with. */
static bool revoke_by_user(int argc, char **argv)
{
    return (argc == 3 && strcmp(argv[1], "--user") == 0) ||
           (argc == 2 && (strcmp(argv[1], "--user") == 0 || strncmp(argv[1], "--user=", 7) == 0));
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
    enum { CREATE, LIST_SESSIONS, REVOKE, REVOKE_USER, MIGRATE, SWEEP } command;
    if (strcmp(noun, "session") == 0 && strcmp(verb, "create") == 0)
        command = CREATE;
    else if (strcmp(noun, "session") == 0 && strcmp(verb, "list") == 0)
        command = LIST_SESSIONS;
    else if (strcmp(noun, "session") == 0 && strcmp(verb, "revoke") == 0)
        command = revoke_by_user(sub_argc, sub_argv) ? REVOKE_USER : REVOKE;
    else if (strcmp(noun, "db") == 0 && strcmp(verb, "migrate") == 0)
        command = MIGRATE;
    else if (strcmp(noun, "keys") == 0 && strcmp(verb, "sweep") == 0)
        command = SWEEP;
    else {
        usage(stderr);
        return 2;
    }
    /* The arguments of these two are checked before anything is read or connected to. */
    const char *user = NULL, *org = NULL;
    if (command == LIST_SESSIONS || command == REVOKE_USER) {
        int bad = id_options(sub_argc, sub_argv, &user, command == LIST_SESSIONS ? &org : NULL);
        if (bad != 0)
            return bad;
        if (command == REVOKE_USER && user == NULL) {
            usage(stderr);
            return 2;
        }
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
    else if (command == LIST_SESSIONS)
        rc = session_list(conn, user, org);
    else if (command == REVOKE)
        rc = session_revoke(conn, sub_argc, sub_argv);
    else if (command == REVOKE_USER)
        rc = session_revoke_user(conn, user);
    else if (command == SWEEP)
        rc = keys_sweep(conn, sub_argc);
    else
        rc = db_migrate(conn, config.migrations_dir, sub_argc, sub_argv);
    mysql_close(conn);
    mysql_library_end();
    return rc;
}
