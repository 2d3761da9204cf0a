/* The database connection: options, prepared statements, reconnects and error classes. Every
 * statement the service runs is in this room's table and prepared once per connection. */
#ifndef LEADLISTS_DB_H
#define LEADLISTS_DB_H

#include <mysql.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

enum db_stmt {
    DB_SESSION_LOOKUP,
    DB_HEALTH,
    DB_LEADLIST_INSERT,
    DB_LEADLIST_EXISTS,
    DB_LEADLIST_READ,
    DB_LEADLIST_LOCK,
    DB_LEADLIST_UPDATE_FIELDS,
    DB_LEADLIST_UPDATE_ALL,
    DB_LEADLIST_DELETE,
    DB_USER_INSERT,
    DB_USER_DELETE,
    DB_CHANGE_INSERT,
    DB_CHANGE_FIND,
    DB_CHANGES_DELETE,
    DB_PAGE_ADMIN,
    DB_PAGE_MEMBER,
    DB_IDEM_FIND,
    DB_IDEM_INSERT,
    DB__STMT_COUNT
};

enum db_result {
    DB_OK,
    DB_RETRY,       /* rolled back (deadlock, lock wait, connection lost before the commit was
                       sent): safe to run the whole transaction again */
    DB_UNKNOWN,     /* the connection was lost after the statement that commits was sent (a
                       COMMIT, or a write that commits by itself): it may have been stored */
    DB_UNAVAILABLE, /* cannot reach the database in the request's time */
    DB_DUPLICATE,   /* a unique key already holds the row (1062); rolled back */
    DB_FATAL        /* anything else: a bug or a schema mismatch */
};

struct db;

/* start picks the node a worker tries first, so a pool spreads over db_host's nodes. */
struct db *db_new(const struct config *c, unsigned start);
void db_free(struct db *db);

/* The current request's deadline in CLOCK_MONOTONIC milliseconds (0: none). Past it, no
 * statement or commit is started: the transaction is rolled back and DB_UNAVAILABLE returned. */
void db_set_deadline(struct db *db, int64_t deadline_ms);

/* True while the deadline has not passed. */
bool db_time_left(const struct db *db);

/* A connection with the service's options (timeouts, utf8mb4, UTC, strict mode, no automatic
 * reconnect), for tools that run their own SQL. NULL on failure, which is logged. */
MYSQL *db_connect(const struct config *c, unsigned long client_flags, const char *request_id);

/* Connects and prepares the statements unless that is done. Only between transactions. */
enum db_result db_ensure(struct db *db, const char *request_id);

MYSQL_STMT *db_stmt(struct db *db, enum db_stmt which);

/* Parameters and results, bound to values the caller keeps alive until the statement has
 * run (MYSQL_BIND points at them). The bind must be zeroed first. */
void db_bind_blob(MYSQL_BIND *b, const void *data, unsigned long *len);
void db_bind_text(MYSQL_BIND *b, const char *text, unsigned long *len);
void db_bind_uint(MYSQL_BIND *b, unsigned int *v);
void db_bind_ulonglong(MYSQL_BIND *b, unsigned long long *v);
/* A DATETIME(3) holding UTC, from or to milliseconds since the epoch (db_time_ms). */
void db_bind_time(MYSQL_BIND *b, MYSQL_TIME *t, int64_t ms);
int64_t db_time_ms(const MYSQL_TIME *t);
/* A result column whose size is learnt from the row: fetch it with db_fetch_column. */
void db_bind_sized(MYSQL_BIND *b, unsigned long *len, my_bool *is_null);
/* Fetches column col of the current row (bound with db_bind_sized, its length known) into
 * buf (at least *b->length + 1 bytes, NUL-terminated). 0, or -1 (logged). */
int db_fetch_column(struct db *db, enum db_stmt which, MYSQL_BIND *b, unsigned col, char *buf,
                    const char *request_id);

/* Binds params (and results, when not NULL) and executes. Outside db_begin the statement
 * commits by itself (autocommit). On failure the error is logged, the transaction rolled back
 * and, for a lost connection, the connection dropped so the next db_ensure reconnects. */
enum db_result db_execute(struct db *db, enum db_stmt which, MYSQL_BIND *params,
                          MYSQL_BIND *results, const char *request_id);

/* Fetches the next row of a statement executed with results. 1 row, 0 no more, -1 error.
 * Columns bound with db_bind_sized are then fetched with db_fetch_column. */
int db_fetch(struct db *db, enum db_stmt which, const char *request_id);

/* Ends the statement's result set so the connection is free for the next one. */
void db_free_result(struct db *db, enum db_stmt which);

/* The server's error number for the last failure (0 when none), for callers that give one
 * error a meaning of its own. */
unsigned db_last_error(const struct db *db);

/* Starts a transaction of several statements, ended by db_commit or db_rollback. */
enum db_result db_begin(struct db *db, const char *request_id);
enum db_result db_commit(struct db *db, const char *request_id);
void db_rollback(struct db *db, const char *request_id);

/* Rolls back a transaction the request left open, so none spans two requests; costs nothing
 * when there is none. */
void db_finish_request(struct db *db, const char *request_id);

/* One unit of work: a read, a write that commits by itself, or a transaction. db_run owns
 * what to do when it fails, for every statement of the service:
 * - a deadlock, a lock wait timeout or a connection lost before anything could commit: the
 *   work is run again, up to 3 attempts, with a short growing pause, while the deadline
 *   allows; a connection lost only after 500 ms was a timeout against a server that stopped
 *   answering, and is answered at once;
 * - a connection lost after the commit was sent (DB_UNKNOWN): the outcome is learnt before
 *   anything is answered: db_run reconnects, with a short growing pause, until the request's
 *   deadline is near, then asks find whether the write is stored. Stored: DB_OK, as if the
 *   commit had answered. Not stored: the work is run again. Still unknown at the deadline:
 *   DB_UNAVAILABLE, logged as "outcome unknown" with the subject. */
struct db_work {
    const char *what; /* for the log: "session lookup", "create" */
    /* Runs the statements once, the commit included. DB_OK when it ran to its end; what it
     * decided (a key in flight, a list not found) is its own business, in ctx. A transaction
     * it ends early is rolled back by it. */
    enum db_result (*run)(struct db *db, void *ctx, const char *request_id);
    /* After DB_UNKNOWN: sets *stored to whether run's write is in the database. NULL for work
     * that writes nothing. */
    enum db_result (*find)(struct db *db, void *ctx, bool *stored, const char *request_id);
    void *ctx;
    const char *subject; /* names the write in the log, e.g. "list 0193f1d2-..." */
};

/* DB_OK, DB_UNAVAILABLE, DB_DUPLICATE or DB_FATAL. */
enum db_result db_run(struct db *db, const struct db_work *work, const char *request_id);

#endif
