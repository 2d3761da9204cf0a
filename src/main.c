/* leadlists-fcgi: a FastCGI worker. Started by spawn-fcgi (or any FastCGI process manager)
 * with the listening socket on descriptor 0. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <fcgiapp.h>
#include <mysql.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "op.h"
#include "pool.h"
#include "request.h"
#include "route.h"
#include "watchdog.h"

#define BODY_CHUNK (64 * 1024)
#define ARENA_BLOCK (64 * 1024)

static volatile sig_atomic_t stopping;
/* The listening socket, closed by the stop handler (see below). */
static volatile sig_atomic_t listen_fd = -1;

/* A stop only ever arrives while the worker waits for a connection (it stays blocked the rest
 * of the time). accept() then fails with EINTR; and if the signal lands between the check of
 * `stopping` and the start of accept(), the closed socket makes that accept() fail at once
 * (EBADF) instead of waiting for a connection that may never come. The socket is the
 * worker's own descriptor of it: the pool and the other workers keep theirs. */
static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
    if (listen_fd >= 0) {
        close(listen_fd);
        listen_fd = -1;
    }
}

/* The worker's way to its next connection: accept() on the socket every worker of the pool
 * shares, which the kernel hands to the waiting workers in turn, with the stop signals open
 * only for the wait. */
struct listener {
    sigset_t waiting_mask; /* the mask while waiting: the stop signals unblocked */
    sigset_t serving_mask; /* the mask otherwise */
    unsigned failures;     /* accept errors in a row */
};

/* SIGTERM, SIGINT and SIGUSR1 (libfcgi's own "shutdown pending" signal) stop the worker. They
 * stay blocked except while the worker waits for a connection in accept(), so the request in
 * flight always finishes. Installed after FCGX_Init, which sets its own SIGUSR1 handler. */
static int install_signals(struct listener *l)
{
    sigset_t stop_set;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGUSR1, &sa, NULL) != 0)
        return -1;
    /* A client that goes away must not kill the worker, nor a SIGHUP meant for the pool
     * (systemctl kill signals every process of the service). */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &stop_set, &l->waiting_mask) != 0 ||
        sigprocmask(SIG_BLOCK, NULL, &l->serving_mask) != 0)
        return -1;
    sigdelset(&l->waiting_mask, SIGTERM);
    sigdelset(&l->waiting_mask, SIGINT);
    sigdelset(&l->waiting_mask, SIGUSR1);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: leadlists-fcgi [-c CONFIG] [-w WORKERS]\n"
                    "Serves the lead-list API over FastCGI on the socket given as descriptor 0,\n"
                    "with a pool of WORKERS worker processes (default: workers in CONFIG).\n");
}

/* The next connection, or -1 once the worker is told to stop. */
static int listener_next(struct listener *l)
{
    while (!stopping) {
        sigprocmask(SIG_SETMASK, &l->waiting_mask, NULL);
        int fd = stopping ? -1 : accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        int err = errno;
        sigprocmask(SIG_SETMASK, &l->serving_mask, NULL);
        if (fd >= 0) {
            l->failures = 0;
            return fd;
        }
        if (stopping || err == EINTR || err == ECONNABORTED || err == EAGAIN)
            continue;
        /* Descriptors exhausted, say: pause rather than spin, and say so now and then. */
        if (l->failures++ % 100 == 0)
            log_msg(LOG_WARNING, NULL, "accept: %s (%u failures in a row)", strerror(err),
                    l->failures);
        struct timespec pause = {0, 100L * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return -1;
}

/* Serves the request on conn, a connection just accepted. libfcgi reads and writes a
 * duplicate of it and closes that when it is done; conn itself stays open, and watched, until
 * libfcgi has finished with the connection (its last flush and close can block on a peer
 * that does not read), so the watchdog can always cut it and never cuts anything else. */
static void serve_connection(int conn, struct request *req, struct app *app,
                             const struct config *config)
{
    int64_t started_us = clock_mono_us();
    int64_t deadline = watchdog_watch(conn);
    int lib_fd = fcntl(conn, F_DUPFD_CLOEXEC, 0);
    if (lib_fd < 0) {
        log_msg(LOG_ERR, NULL, "accept: dup failed: %s", strerror(errno));
        goto done;
    }
    req->fcgx.ipcFd = lib_fd;
    /* Keeps FCGX_Accept_r's opening clean-up from closing the connection it is given; the
     * request's own flags replace it once its parameters are read. */
    req->fcgx.keepConnection = 1;
    /* With no listening socket of its own (-1), libfcgi reads this connection's parameters
     * and, should they fail, closes it and returns instead of accepting another. */
    if (FCGX_Accept_r(&req->fcgx) != 0)
        goto done;
    request_begin(req);
    req->retry_after = (unsigned)config->retry_after;
    db_set_deadline(app->db, deadline);
    route_dispatch(req, app);
    db_finish_request(app->db, req->id);
    double took_ms = (double)(clock_mono_us() - started_us) / 1000.0;
    /* The log line is written once the answer is out, off the client's path; what it names
     * lives in libfcgi's parameters, which FCGX_Finish_r frees. */
    const char *method = arena_strndup(req->arena, req->method, strlen(req->method));
    const char *path = arena_strndup(req->arena, req->path, strlen(req->path));
    req->fcgx.keepConnection = 0; /* one request per connection: libfcgi closes its copy */
    /* libfcgi closes a connection by shutting down its sending side and waiting (up to 2 s)
     * for the peer to close first, so that data still arriving cannot turn the close into a
     * reset that loses the answer. Once the whole request is in, that cannot happen: a plain
     * close spares the worker the wait and three system calls. */
    if (request_fully_received(req, lib_fd))
        FCGX_Detach(&req->fcgx);
    FCGX_Finish_r(&req->fcgx);
    log_msg(LOG_INFO, req->id, "%s %s %d %.1fms", method != NULL ? method : "?",
            path != NULL ? path : "?", req->http_status, took_ms);
    bool large = arena_used(req->arena) > ARENA_BLOCK;
    arena_reset(req->arena);
    /* What a large list needed (its ids, the statement, the response) is free again but
     * would stay in the heap: give it back, so a worker's size follows its usual work. */
    if (large)
        malloc_trim(0);
done:
    watchdog_release();
    close(conn);
}

/* A worker: serves requests until it is told to stop. Returns the exit status. */
static int serve(const struct config *config, const char *config_path)
{
    int status = 1;
    struct db *db = NULL;
    struct arena *arena = NULL;
    unsigned char *chunk = NULL;
    struct listener listener;
    memset(&listener, 0, sizeof(listener));
    bool watching = false;
    listen_fd = 0; /* as spawn-fcgi and systemd hand it over */
    if (FCGX_Init() != 0 || install_signals(&listener) != 0) {
        log_msg(LOG_ERR, NULL, "start: signal or FastCGI set-up failed: %s", strerror(errno));
        goto cleanup;
    }
    db = db_new(config, (unsigned)pool_worker_slot());
    auth_cache_init(config->session_cache);
    arena = arena_new(ARENA_BLOCK);
    chunk = malloc(BODY_CHUNK);
    if (db == NULL || arena == NULL || chunk == NULL) {
        log_msg(LOG_ERR, NULL, "start: out of memory");
        goto cleanup;
    }
    struct app app = {.config = config, .db = db, .chunk = chunk, .chunk_size = BODY_CHUNK};
    /* Connecting now finds configuration mistakes at start; a database that is down is not
     * fatal: requests answer 503 until it is back. */
    (void)db_ensure(db, NULL);
    log_msg(LOG_INFO, NULL, "start: serving (config %s)", config_path);

    struct request req;
    memset(&req, 0, sizeof(req));
    req.arena = arena;
    FCGX_InitRequest(&req.fcgx, -1, 0);
    int watchdog_rc = watchdog_start(config->request_timeout);
    if (watchdog_rc != 0) {
        log_msg(LOG_ERR, NULL, "start: request watchdog failed: %s", strerror(watchdog_rc));
        goto cleanup;
    }
    watching = true;
    int conn;
    while ((conn = listener_next(&listener)) >= 0)
        serve_connection(conn, &req, &app, config);
    log_msg(LOG_INFO, NULL, "stop: exiting");
    FCGX_Free(&req.fcgx, 1);
    status = 0;
cleanup:
    if (watching)
        watchdog_stop();
    free(chunk);
    arena_free(arena);
    db_free(db);
    return status;
}

int main(int argc, char **argv)
{
    const char *config_path = getenv("LEADLISTS_CONFIG");
    if (config_path == NULL)
        config_path = CONFIG_DEFAULT_PATH;
    long workers = 0;
    int opt;
    while ((opt = getopt(argc, argv, "c:w:h")) != -1) {
        char *end = NULL;
        if (opt == 'c') {
            config_path = optarg;
        } else if (opt == 'w' && (workers = strtol(optarg, &end, 10)) >= 1 &&
                   workers <= POOL_MAX_WORKERS && *end == '\0') {
            continue;
        } else {
            if (opt == 'w')
                fprintf(stderr, "leadlists-fcgi: -w takes a number of workers from 1 to %d\n",
                        POOL_MAX_WORKERS);
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }

    struct config config;
    char err[512];
    if (config_load(config_path, &config, err, sizeof(err)) != 0) {
        fprintf(stderr, "leadlists-fcgi: %s\n", err);
        return 2;
    }
    if (config_load_cursor_key(&config, err, sizeof(err)) != 0) {
        fprintf(stderr, "leadlists-fcgi: %s\n", err);
        return 2;
    }
    if (workers == 0)
        workers = (long)config.workers;
    log_open(config.log, "leadlists-fcgi");
    /* Everything set up before the pool forks is one copy that the workers share. */
    int status = 1;
    if (crypto_init() != 0) {
        log_msg(LOG_ERR, NULL, "start: OpenSSL could not be set up (SHA-256, random bytes)");
        goto cleanup;
    }
    if (mysql_library_init(0, NULL, NULL) != 0) {
        log_msg(LOG_ERR, NULL, "start: the MariaDB client library could not be set up");
        goto cleanup;
    }
    switch (pool_run((int)workers)) {
    case POOL_WORKER:
        status = serve(&config, config_path);
        break;
    case POOL_STOPPED:
        status = 0;
        break;
    case POOL_FAILED:
        break;
    }
    mysql_library_end();
cleanup:
    crypto_free();
    return status;
}
