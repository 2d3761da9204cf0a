#include "db.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "clock.h"
#include "iso8601.h"
#include "log.h"

/* A list row as the store reads it (leadlist_store.c binds these, in this order). */
#define LIST_COLUMNS                                                                               \
    "l.org_id, l.created_by, l.icp_id, l.name, l.type, l.start_date, l.end_date, l.person_count,"  \
    " l.person_ids, l.company_count, l.company_ids, l.created_at, l.updated_at, l.version,"        \
    " l.shared_with"
/* A page item: no member arrays, their counts. */
#define PAGE_COLUMNS                                                                               \
    "l.id, l.icp_id, l.name, l.type, l.start_date, l.end_date, l.person_count, l.company_count,"   \
    " l.created_at, l.updated_at, l.created_by, l.shared_with"
/* The ids of a page: the merged scans select ids only, so the merge sorts 16-byte keys and
 * the rows are read once, by primary key, for the ids that made the page. */
#define PAGE_OF(ids)                                                                               \
    "SELECT " PAGE_COLUMNS " FROM (" ids ") AS p JOIN leadlists l ON l.id = p.id ORDER BY l.id "   \
    "DESC"

/* Every statement: its text, its name for the log, and whether it writes (a write that runs
 * outside a transaction commits by itself, so losing its answer leaves its outcome unknown). */
struct statement {
    const char *sql;
    const char *name;
    bool writes;
};

static const struct statement statements[DB__STMT_COUNT] = {
    [DB_SESSION_LOOKUP] = {"SELECT user_id, org_id, role, expires_at FROM sessions"
                           " WHERE token_hash = ? AND expires_at > UTC_TIMESTAMP(3)"
                           " AND revoked_at IS NULL",
                           "session lookup", false},
    [DB_HEALTH] = {"SELECT 1", "health check", false},
    [DB_LEADLIST_INSERT] = {"INSERT INTO leadlists (id, org_id, created_by, icp_id, name, type,"
                            " start_date, end_date, person_count, person_ids, company_count,"
                            " company_ids, created_at, updated_at)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            "list insert", true},
    [DB_LEADLIST_EXISTS] = {"SELECT 1 FROM leadlists l WHERE l.id = ?", "list lookup", false},
    [DB_LEADLIST_READ] = {"SELECT " LIST_COLUMNS " FROM leadlists l WHERE l.id = ?", "list read",
                          false},
    /* Every change locks the list row first: changes to one list are serialized on it, and
     * the users read under that lock are the current ones. */
    [DB_LEADLIST_LOCK] = {"SELECT " LIST_COLUMNS " FROM leadlists l WHERE l.id = ? FOR UPDATE",
                          "list lock", false},
    [DB_LEADLIST_UPDATE_FIELDS] = {"UPDATE leadlists SET icp_id = ?, name = ?, start_date = ?,"
                                   " end_date = ?, version = ?, updated_at = ?, shared_with = ?"
                                   " WHERE id = ?",
                                   "list update", true},
    [DB_LEADLIST_UPDATE_ALL] = {"UPDATE leadlists SET icp_id = ?, name = ?, start_date = ?,"
                                " end_date = ?, version = ?, updated_at = ?, shared_with = ?,"
                                " person_count = ?, person_ids = ?, company_count = ?,"
                                " company_ids = ? WHERE id = ?",
                                "list and members update", true},
    [DB_LEADLIST_DELETE] = {"DELETE FROM leadlists WHERE id = ?", "list delete", true},
    [DB_USER_INSERT] = {"INSERT INTO leadlist_users (leadlist_id, position, user_id, org_id, type,"
                        " granted_at) VALUES (?, ?, ?, ?, ?, ?)",
                        "user insert", true},
    [DB_USER_DELETE] = {"DELETE FROM leadlist_users WHERE leadlist_id = ? AND user_id = ?",
                        "user delete", true},
    [DB_CHANGE_INSERT] = {"INSERT INTO leadlist_changes (leadlist_id, version, change_id,"
                          " changed_at) VALUES (?, ?, ?, ?)",
                          "change record", true},
    [DB_CHANGE_FIND] = {"SELECT change_id FROM leadlist_changes WHERE leadlist_id = ? AND"
                        " version = ?",
                        "change lookup", false},
    [DB_CHANGES_DELETE] = {"DELETE FROM leadlist_changes WHERE leadlist_id = ?",
                           "change records delete", true},
    /* A page: one bounded range scan per type (the second type '' when a filter leaves one),
     * each of at most LIMIT ids, merged. */
    [DB_PAGE_ADMIN] = {PAGE_OF("(SELECT id FROM leadlists WHERE org_id = ? AND type = ? AND id < ?"
                               " ORDER BY id DESC LIMIT ?)"
                               " UNION ALL (SELECT id FROM leadlists WHERE org_id = ? AND type = ?"
                               " AND id < ? ORDER BY id DESC LIMIT ?)"
                               " ORDER BY id DESC LIMIT ?"),
                       "page of the org's lists", false},
    /* ... the lists the member created, then the lists shared with the member. */
    [DB_PAGE_MEMBER] = {PAGE_OF(
                            "(SELECT id FROM leadlists WHERE org_id = ? AND created_by = ?"
                            " AND type = ? AND id < ? ORDER BY id DESC LIMIT ?)"
                            " UNION ALL (SELECT id FROM leadlists WHERE org_id = ?"
                            " AND created_by = ? AND type = ? AND id < ? ORDER BY id DESC"
                            " LIMIT ?)"
                            " UNION ALL (SELECT leadlist_id FROM leadlist_users WHERE org_id = ?"
                            " AND user_id = ? AND type = ? AND leadlist_id < ?"
                            " ORDER BY leadlist_id DESC LIMIT ?)"
                            " UNION ALL (SELECT leadlist_id FROM leadlist_users WHERE org_id = ?"
                            " AND user_id = ? AND type = ? AND leadlist_id < ?"
                            " ORDER BY leadlist_id DESC LIMIT ?)"
                            " ORDER BY id DESC LIMIT ?"),
                        "page of the member's lists", false},
    [DB_IDEM_FIND] = {"SELECT fingerprint, status, leadlist_id, response FROM idempotency_keys"
                      " WHERE user_id = ? AND idem_key = ? AND expires_at > UTC_TIMESTAMP(3)",
                      "idempotency key lookup", false},
    /* Waits for no lock: a row another transaction holds is the same key in flight (409).
     * An expired row is taken over; a live one is left alone (affected rows 0). expires_at
     * comes last because each assignment sees the ones before it. */
    [DB_IDEM_INSERT] =
        {"SET STATEMENT innodb_lock_wait_timeout = 0 FOR"
         " INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, status, leadlist_id,"
         " response, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ? + INTERVAL ? SECOND)"
         " ON DUPLICATE KEY UPDATE"
         " fingerprint = IF(expires_at <= UTC_TIMESTAMP(3), VALUES(fingerprint), fingerprint),"
         " status = IF(expires_at <= UTC_TIMESTAMP(3), VALUES(status), status),"
         " leadlist_id = IF(expires_at <= UTC_TIMESTAMP(3), VALUES(leadlist_id), leadlist_id),"
         " response = IF(expires_at <= UTC_TIMESTAMP(3), VALUES(response), response),"
         " created_at = IF(expires_at <= UTC_TIMESTAMP(3), VALUES(created_at), created_at),"
         " expires_at = IF(expires_at <= UTC_TIMESTAMP(3), VALUES(expires_at), expires_at)",
         "idempotency key insert", true},
};

/* Every connection works in UTC (DATETIME columns hold UTC), refuses to invent values, and
 * reads committed data only, so a session revoked a moment ago is seen as revoked. A
 * statement on its own commits by itself, whatever the server's default: a create without an
 * Idempotency-Key is one INSERT, and needs no COMMIT round trip. */
static const char *const init_commands[] = {
    "SET autocommit = 1, time_zone = '+00:00', sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE,"
    "NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
};

/* Lock waits end well inside the read timeout, as an error the store can retry (1205). */
#define LOCK_WAIT_FORMAT "SET innodb_lock_wait_timeout = %lu, lock_wait_timeout = %lu"

struct db {
    const struct config *config;
    struct config_node nodes[CONFIG_NODES_MAX]; /* db_host's, when not on a Unix socket */
    size_t node_count;
    size_t node; /* the one to try first: the one in use, or the next after a loss */
    bool galera; /* the node in use is a Galera cluster's */
    MYSQL *conn;
    MYSQL_STMT *stmts[DB__STMT_COUNT];
    unsigned last_error;
    int64_t deadline_ms; /* 0: none */
    bool in_transaction; /* between db_begin and db_commit or db_rollback */
};

void db_set_deadline(struct db *db, int64_t deadline_ms)
{
    db->deadline_ms = deadline_ms;
}

bool db_time_left(const struct db *db)
{
    return db->deadline_ms == 0 || clock_mono_ms() < db->deadline_ms;
}

struct db *db_new(const struct config *c, unsigned start)
{
    struct db *db = calloc(1, sizeof(*db));
    if (db == NULL)
        return NULL;
    db->config = c;
    /* A Unix socket is one local server: db_host is then not used. */
    db->node_count = c->db_socket[0] != '\0' ? 0 : config_db_nodes(c, db->nodes);
    db->node = db->node_count > 0 ? start % db->node_count : 0;
    return db;
}

static void disconnect(struct db *db)
{
    for (int i = 0; i < DB__STMT_COUNT; i++) {
        if (db->stmts[i] != NULL)
            mysql_stmt_close(db->stmts[i]);
        db->stmts[i] = NULL;
    }
    if (db->conn != NULL)
        mysql_close(db->conn);
    db->conn = NULL;
    /* The server rolls back what the connection had open. */
    db->in_transaction = false;
}

void db_free(struct db *db)
{
    if (db == NULL)
        return;
    disconnect(db);
    free(db);
}

static bool connection_lost(unsigned err)
{
    switch (err) {
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_LOST_EXTENDED:
    case CR_COMMANDS_OUT_OF_SYNC:
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
    case ER_QUERY_INTERRUPTED:
    case 4031:                 /* ER_CLIENT_INTERACTION_TIMEOUT: closed by wait_timeout */
    case ER_UNKNOWN_COM_ERROR: /* 1047: a Galera node that left the primary component */
        return true;
    default:
        return false;
    }
}

static bool transient(unsigned err)
{
    return err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT;
}

/* A connection whose connect waits at most connect_timeout seconds; a failure is logged
 * unless quiet. */
static MYSQL *open_connection(const struct config *c, const struct config_node *node,
                              unsigned int connect_timeout, unsigned long client_flags, bool quiet,
                              const char *request_id)
{
    MYSQL *conn = mysql_init(NULL);
    if (conn == NULL) {
        log_msg(LOG_ERR, request_id, "database: mysql_init failed: out of memory");
        return NULL;
    }
    unsigned int read_timeout = (unsigned int)c->db_read_timeout;
    unsigned int write_timeout = (unsigned int)c->db_write_timeout;
    my_bool no = 0;
    mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
    mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
    /* Reconnecting behind our back would silently drop the prepared statements. */
    mysql_options(conn, MYSQL_OPT_RECONNECT, &no);
    mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    for (size_t i = 0; i < sizeof(init_commands) / sizeof(init_commands[0]); i++)
        mysql_options(conn, MYSQL_INIT_COMMAND, init_commands[i]);
    char lock_wait[96];
    snprintf(lock_wait, sizeof(lock_wait), LOCK_WAIT_FORMAT, c->db_lock_timeout,
             c->db_lock_timeout);
    mysql_options(conn, MYSQL_INIT_COMMAND, lock_wait);
    const char *socket = node == NULL ? c->db_socket : NULL;
    const char *host = node == NULL ? "localhost" : node->host;
    unsigned int port = node == NULL ? 0 : node->port;
    if (mysql_real_connect(conn, host, c->db_user, c->db_password, c->db_name, port, socket,
                           client_flags) == NULL) {
        if (!quiet) {
            char where[CONFIG_STR_MAX + 8];
            if (node == NULL)
                snprintf(where, sizeof(where), "%s", socket);
            else
                snprintf(where, sizeof(where), "%s:%u", host, port);
            log_msg(LOG_ERR, request_id, "database: connect to %s as %s failed: %s (%u)", where,
                    c->db_user, mysql_error(conn), mysql_errno(conn));
        }
        mysql_close(conn);
        return NULL;
    }
    return conn;
}

MYSQL *db_connect(const struct config *c, unsigned long client_flags, const char *request_id)
{
    unsigned int timeout = (unsigned int)c->db_connect_timeout;
    if (c->db_socket[0] != '\0')
        return open_connection(c, NULL, timeout, client_flags, false, request_id);
    struct config_node nodes[CONFIG_NODES_MAX];
    size_t n = config_db_nodes(c, nodes);
    for (size_t i = 0; i < n; i++) {
        MYSQL *conn = open_connection(c, &nodes[i], timeout, client_flags, false, request_id);
        if (conn != NULL)
            return conn;
    }
    return NULL;
}

/* Past the request's deadline nothing more is started, and what was begun is rolled back. */
static bool deadline_passed(struct db *db, const char *what, const char *request_id)
{
    if (db_time_left(db))
        return false;
    log_msg(LOG_WARNING, request_id, "database: request deadline passed before %s; rolled back",
            what);
    db_rollback(db, request_id);
    return true;
}

/* A node is usable unless it is a Galera node that is not Synced and ready: such a node
 * refuses statements, or serves a view of the data that may be behind the cluster's. On a
 * Galera node, reads then wait for every write the cluster had committed when they began
 * (wsrep_sync_wait = 1), so a client reads its own writes through any node. */
static const char galera_state[] =
    "SELECT @@wsrep_on, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
    " WHERE VARIABLE_NAME = 'WSREP_READY'), (SELECT VARIABLE_VALUE FROM"
    " information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT')";
static const char galera_reads[] = "SET SESSION wsrep_sync_wait = 1";

static bool usable_node(struct db *db, MYSQL *conn, const char *where, const char *request_id)
{
    db->galera = false;
    if (mysql_real_query(conn, galera_state, sizeof(galera_state) - 1) != 0) {
        log_msg(LOG_WARNING, request_id, "database: %s cannot say its state: %s (%u)", where,
                mysql_error(conn), mysql_errno(conn));
        return false;
    }
    MYSQL_RES *res = mysql_store_result(conn);
    MYSQL_ROW row = res != NULL ? mysql_fetch_row(res) : NULL;
    bool on = row != NULL && row[0] != NULL && strcmp(row[0], "1") == 0;
    bool ready = row != NULL && row[1] != NULL && strcmp(row[1], "ON") == 0;
    bool synced = row != NULL && row[2] != NULL && strcmp(row[2], "Synced") == 0;
    char state[32];
    snprintf(state, sizeof(state), "%s", row != NULL && row[2] != NULL ? row[2] : "?");
    mysql_free_result(res);
    if (!on)
        return true;
    if (!ready || !synced) {
        log_msg(LOG_WARNING, request_id,
                "database: %s is a Galera node not ready for clients (wsrep_ready %s, state %s)",
                where, ready ? "ON" : "OFF", state);
        return false;
    }
    if (mysql_real_query(conn, galera_reads, sizeof(galera_reads) - 1) != 0) {
        log_msg(LOG_WARNING, request_id, "database: %s: %s (%u)", where, mysql_error(conn),
                mysql_errno(conn));
        return false;
    }
    db->galera = true;
    return true;
}

/* A connection to the first usable node, trying them all once from db->node on. */
static MYSQL *connect_usable(struct db *db, unsigned int timeout, bool quiet,
                             const char *request_id)
{
    const struct config *c = db->config;
    if (db->node_count == 0) {
        MYSQL *conn = open_connection(c, NULL, timeout, 0, quiet, request_id);
        if (conn != NULL && !usable_node(db, conn, c->db_socket, request_id)) {
            mysql_close(conn);
            conn = NULL;
        }
        return conn;
    }
    for (size_t i = 0; i < db->node_count; i++) {
        size_t n = (db->node + i) % db->node_count;
        MYSQL *conn = open_connection(c, &db->nodes[n], timeout, 0, quiet, request_id);
        if (conn == NULL)
            continue;
        char where[CONFIG_STR_MAX + 8];
        snprintf(where, sizeof(where), "%s:%u", db->nodes[n].host, db->nodes[n].port);
        if (usable_node(db, conn, where, request_id)) {
            db->node = n;
            return conn;
        }
        mysql_close(conn);
    }
    return NULL;
}

/* Connects and prepares every statement. The connect waits no longer than the request has
 * left (whole seconds, at least one: the client library's unit). */
static enum db_result ensure(struct db *db, bool quiet, const char *request_id)
{
    if (deadline_passed(db, "connecting", request_id))
        return DB_UNAVAILABLE;
    if (db->conn != NULL)
        return DB_OK;
    unsigned int timeout = (unsigned int)db->config->db_connect_timeout;
    if (db->deadline_ms != 0) {
        int64_t left_s = (db->deadline_ms - clock_mono_ms()) / 1000;
        if (left_s < (int64_t)timeout)
            timeout = left_s < 1 ? 1 : (unsigned int)left_s;
    }
    MYSQL *conn = connect_usable(db, timeout, quiet, request_id);
    if (conn == NULL)
        return DB_UNAVAILABLE;
    db->conn = conn;
    for (int i = 0; i < DB__STMT_COUNT; i++) {
        MYSQL_STMT *st = mysql_stmt_init(conn);
        const char *sql = statements[i].sql;
        if (st == NULL || mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
            unsigned err = st != NULL ? mysql_stmt_errno(st) : mysql_errno(conn);
            log_msg(LOG_ERR, request_id, "database: prepare of the %s failed: %s (%u)",
                    statements[i].name, st != NULL ? mysql_stmt_error(st) : mysql_error(conn), err);
            if (st != NULL)
                mysql_stmt_close(st);
            disconnect(db);
            return connection_lost(err) ? DB_UNAVAILABLE : DB_FATAL;
        }
        db->stmts[i] = st;
    }
    if (db->node_count > 0)
        log_msg(LOG_INFO, request_id, "database: connected to %s:%u (server %s%s)",
                db->nodes[db->node].host, db->nodes[db->node].port, mysql_get_server_info(conn),
                db->galera ? ", a Galera node" : "");
    else
        log_msg(LOG_INFO, request_id, "database: connected (server %s)",
                mysql_get_server_info(conn));
    return DB_OK;
}

enum db_result db_ensure(struct db *db, const char *request_id)
{
    return ensure(db, false, request_id);
}

#define RUN_ATTEMPTS 3
/* A lost connection noticed only after this long was a timeout, not a drop. */
#define SLOW_LOSS_MS 500
/* Learning an outcome stops this long before the deadline, so the answer still gets out. */
#define SETTLE_MARGIN_MS 250
/* ... and takes this long at most outside a request (no deadline). */
#define SETTLE_WITHOUT_DEADLINE_MS 10000
#define SETTLE_FIRST_PAUSE_MS 10
#define SETTLE_MAX_PAUSE_MS 250

static void pause_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* After DB_UNKNOWN: reconnects until the work's find can tell whether it was stored. DB_OK
 * stored, DB_RETRY not stored, DB_UNAVAILABLE not learnt in time, DB_FATAL. */
static enum db_result settle(struct db *db, const struct db_work *w, const char *request_id)
{
    int64_t started = clock_mono_ms();
    int64_t until = db->deadline_ms != 0 ? db->deadline_ms - SETTLE_MARGIN_MS
                                         : started + SETTLE_WITHOUT_DEADLINE_MS;
    int64_t pause = SETTLE_FIRST_PAUSE_MS;
    int tries = 0;
    log_msg(LOG_WARNING, request_id, "database: %s: finding out whether %s was stored", w->what,
            w->subject);
    for (;;) {
        int64_t now = clock_mono_ms();
        if (now >= until)
            break;
        tries++;
        /* Quiet: a server on its way back refuses many connects in a row. */
        if (ensure(db, true, request_id) == DB_OK) {
            bool stored = false;
            enum db_result r = w->find(db, w->ctx, &stored, request_id);
            if (r == DB_OK) {
                log_msg(LOG_INFO, request_id,
                        "database: %s: %s %s (learnt after %lld ms, %d tries)", w->what, w->subject,
                        stored ? "was stored" : "was not stored",
                        (long long)(clock_mono_ms() - started), tries);
                return stored ? DB_OK : DB_RETRY;
            }
            if (r == DB_FATAL)
                return DB_FATAL;
        }
        now = clock_mono_ms();
        pause_ms(pause < until - now ? pause : until - now);
        pause = pause * 2 < SETTLE_MAX_PAUSE_MS ? pause * 2 : SETTLE_MAX_PAUSE_MS;
    }
    log_msg(LOG_ERR, request_id,
            "database: %s: outcome unknown for %s: the database did not answer in the %lld ms "
            "left (%d tries)",
            w->what, w->subject, (long long)(clock_mono_ms() - started), tries);
    return DB_UNAVAILABLE;
}

enum db_result db_run(struct db *db, const struct db_work *w, const char *request_id)
{
    for (int attempt = 1;; attempt++) {
        int64_t started = clock_mono_ms();
        enum db_result r = ensure(db, false, request_id);
        if (r == DB_OK)
            r = w->run(db, w->ctx, request_id);
        int64_t took = clock_mono_ms() - started;
        bool learnt = false;
        if (r == DB_UNKNOWN) {
            r = w->find != NULL ? settle(db, w, request_id) : DB_UNAVAILABLE;
            learnt = true;
        }
        if (r != DB_RETRY)
            return r;
        bool lost = !learnt && !transient(db->last_error);
        if (lost && took >= SLOW_LOSS_MS) {
            /* A frozen server: reconnecting would only make the client wait the connect
             * timeout on top, for the same 503. */
            log_msg(LOG_WARNING, request_id,
                    "database: %s: connection lost after %lld ms; not retrying", w->what,
                    (long long)took);
            return DB_UNAVAILABLE;
        }
        if (attempt >= RUN_ATTEMPTS || !db_time_left(db))
            return DB_UNAVAILABLE;
        log_msg(LOG_WARNING, request_id, "database: %s: attempt %d %s; retrying", w->what, attempt,
                learnt ? "was not stored" : "rolled back");
        /* A short, growing pause lets the transaction that won a deadlock finish. */
        pause_ms(20 * attempt);
    }
}

void db_bind_blob(MYSQL_BIND *b, const void *data, unsigned long *len)
{
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = (void *)data;
    b->buffer_length = *len;
    b->length = len;
}

void db_bind_text(MYSQL_BIND *b, const char *text, unsigned long *len)
{
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)text;
    b->buffer_length = *len;
    b->length = len;
}

void db_bind_uint(MYSQL_BIND *b, unsigned int *v)
{
    b->buffer_type = MYSQL_TYPE_LONG;
    b->buffer = v;
    b->is_unsigned = 1;
}

void db_bind_ulonglong(MYSQL_BIND *b, unsigned long long *v)
{
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = v;
    b->is_unsigned = 1;
}

void db_bind_time(MYSQL_BIND *b, MYSQL_TIME *t, int64_t ms)
{
    struct iso8601_tm tm;
    iso8601_to_tm(ms, &tm);
    memset(t, 0, sizeof(*t));
    t->year = (unsigned)tm.year;
    t->month = (unsigned)tm.month;
    t->day = (unsigned)tm.day;
    t->hour = (unsigned)tm.hour;
    t->minute = (unsigned)tm.minute;
    t->second = (unsigned)tm.second;
    t->second_part = (unsigned long)tm.millis * 1000;
    t->time_type = MYSQL_TIMESTAMP_DATETIME;
    b->buffer_type = MYSQL_TYPE_DATETIME;
    b->buffer = t;
}

int64_t db_time_ms(const MYSQL_TIME *t)
{
    struct iso8601_tm tm = {(int)t->year,
                            (int)t->month,
                            (int)t->day,
                            (int)t->hour,
                            (int)t->minute,
                            (int)t->second,
                            (int)(t->second_part / 1000)};
    return iso8601_from_tm(&tm);
}

void db_bind_sized(MYSQL_BIND *b, unsigned long *len, my_bool *is_null)
{
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = NULL;
    b->buffer_length = 0;
    b->length = len;
    b->is_null = is_null;
}

int db_fetch_column(struct db *db, enum db_stmt which, MYSQL_BIND *b, unsigned col, char *buf,
                    const char *request_id)
{
    unsigned long len = *b->length;
    b->buffer = buf;
    b->buffer_length = len;
    int rc = 0;
    if (len > 0 && mysql_stmt_fetch_column(db->stmts[which], b, col, 0) != 0) {
        log_msg(LOG_ERR, request_id, "database: reading column %u of the %s failed: %s", col,
                statements[which].name, mysql_stmt_error(db->stmts[which]));
        rc = -1;
    }
    buf[len] = '\0';
    b->buffer = NULL;
    b->buffer_length = 0;
    *b->length = len;
    return rc;
}

unsigned db_last_error(const struct db *db)
{
    return db->last_error;
}

MYSQL_STMT *db_stmt(struct db *db, enum db_stmt which)
{
    return db->stmts[which];
}

/* Classifies a failure and leaves the connection ready for the next transaction. commits is
 * true when the failed call was the one that commits: a lost connection then leaves the
 * outcome unknown instead of rolled back. */
static enum db_result fail(struct db *db, unsigned err, const char *what, const char *message,
                           bool commits, const char *request_id)
{
    db->last_error = err;
    /* The client reports 2006 when it could not send the statement: a server that never
     * received it cannot have committed it. */
    if (err == CR_SERVER_GONE_ERROR)
        commits = false;
    if (connection_lost(err)) {
        log_msg(LOG_WARNING, request_id, "database: %s: connection lost: %s (%u)%s", what, message,
                err, commits ? "; it may have been committed" : "");
        disconnect(db);
        /* The next connection tries another node first: this one may be the one that is
         * going away. */
        if (db->node_count > 1)
            db->node = (db->node + 1) % db->node_count;
        return commits ? DB_UNKNOWN : DB_RETRY;
    }
    if (transient(err)) {
        log_msg(LOG_WARNING, request_id, "database: %s: %s (%u); rolled back", what, message, err);
        db_rollback(db, request_id);
        return DB_RETRY;
    }
    if (err == ER_DUP_ENTRY) {
        log_msg(LOG_WARNING, request_id, "database: %s: %s (%u); rolled back", what, message, err);
        db_rollback(db, request_id);
        return DB_DUPLICATE;
    }
    log_msg(LOG_ERR, request_id, "database: %s failed: %s (%u)", what, message, err);
    db_rollback(db, request_id);
    return DB_FATAL;
}

enum db_result db_execute(struct db *db, enum db_stmt which, MYSQL_BIND *params,
                          MYSQL_BIND *results, const char *request_id)
{
    MYSQL_STMT *st = db->stmts[which];
    db->last_error = 0;
    if (st == NULL || deadline_passed(db, "a statement", request_id))
        return DB_UNAVAILABLE;
    if ((params != NULL && mysql_stmt_bind_param(st, params) != 0) ||
        (results != NULL && mysql_stmt_bind_result(st, results) != 0) ||
        mysql_stmt_execute(st) != 0)
        return fail(db, mysql_stmt_errno(st), statements[which].name, mysql_stmt_error(st),
                    statements[which].writes && !db->in_transaction, request_id);
    return DB_OK;
}

enum db_result db_begin(struct db *db, const char *request_id)
{
    static const char begin[] = "START TRANSACTION";
    db->last_error = 0;
    if (db->conn == NULL || deadline_passed(db, "a transaction", request_id))
        return DB_UNAVAILABLE;
    if (mysql_real_query(db->conn, begin, sizeof(begin) - 1) != 0)
        return fail(db, mysql_errno(db->conn), "start transaction", mysql_error(db->conn), false,
                    request_id);
    db->in_transaction = true;
    return DB_OK;
}

int db_fetch(struct db *db, enum db_stmt which, const char *request_id)
{
    MYSQL_STMT *st = db->stmts[which];
    int rc = mysql_stmt_fetch(st);
    /* Truncation is what columns bound with db_bind_sized report; the caller fetches them
     * with db_fetch_column, and checks the lengths of the others. */
    if (rc == 0 || rc == MYSQL_DATA_TRUNCATED)
        return 1;
    if (rc == MYSQL_NO_DATA)
        return 0;
    log_msg(LOG_ERR, request_id, "database: fetch failed: %s (%u)", mysql_stmt_error(st),
            mysql_stmt_errno(st));
    return -1;
}

void db_free_result(struct db *db, enum db_stmt which)
{
    if (db->stmts[which] != NULL)
        mysql_stmt_free_result(db->stmts[which]);
}

enum db_result db_commit(struct db *db, const char *request_id)
{
    if (db->conn == NULL || deadline_passed(db, "commit", request_id))
        return DB_UNAVAILABLE;
    if (mysql_commit(db->conn) == 0) {
        db->in_transaction = false;
        return DB_OK;
    }
    return fail(db, mysql_errno(db->conn), "commit", mysql_error(db->conn), true, request_id);
}

void db_finish_request(struct db *db, const char *request_id)
{
    db_rollback(db, request_id); /* nothing to do unless a transaction is open */
    db->deadline_ms = 0;
}

void db_rollback(struct db *db, const char *request_id)
{
    /* Outside a transaction a failed statement has already been undone by the server. */
    if (!db->in_transaction)
        return;
    db->in_transaction = false;
    if (db->conn == NULL)
        return;
    if (mysql_rollback(db->conn) != 0) {
        log_msg(LOG_WARNING, request_id, "database: rollback failed: %s (%u); reconnecting",
                mysql_error(db->conn), mysql_errno(db->conn));
        disconnect(db);
    }
}
