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
    DB_LEADLIST_INSERT,
    DB_IDEM_FIND,
    DB_IDEM_INSERT,
    DB__STMT_COUNT
};

enum db_result {
    DB_OK,
    DB_RETRY,       /* rolled back (deadlock, lock wait, connection lost before commit): safe to
                       run the whole transaction again */
    DB_UNAVAILABLE, /* cannot reach the database, or the outcome of a commit is unknown */
    DB_DUPLICATE,   /* a unique key already holds the row (1062); rolled back */
    DB_FATAL        /* anything else: a bug or a schema mismatch */
};

struct db;

struct db *db_new(const struct config *c);
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

/* Binds params (and results, when not NULL) and executes. Outside db_begin the statement
 * commits by itself (autocommit). On failure the error is logged, the transaction rolled back
 * and, for a lost connection, the connection dropped so the next db_ensure reconnects. */
enum db_result db_execute(struct db *db, enum db_stmt which, MYSQL_BIND *params,
                          MYSQL_BIND *results, const char *request_id);

/* Fetches the next row of a statement executed with results. 1 row, 0 no more, -1 error. */
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

#endif
