/* leadlists-fcgi: a FastCGI worker. Started by spawn-fcgi (or any FastCGI process manager)
 * with the listening socket on descriptor 0. */
#include <errno.h>
#include <malloc.h>
#include <fcgiapp.h>
#include <mysql.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "handler.h"
#include "log.h"
#include "pool.h"
#include "request.h"
#include "route.h"
#include "watchdog.h"

#define BODY_CHUNK (64 * 1024)
#define ARENA_BLOCK (64 * 1024)

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
    /* Makes libfcgi's accept give up instead of waiting for the next connection. */
    FCGX_ShutdownPending();
}

/* SIGTERM, SIGINT and SIGUSR1 (libfcgi's own "shutdown pending" signal, whose handler would
 * otherwise make every accept fail at once) stop the worker. They interrupt accept() (no
 * SA_RESTART); during a request they stay blocked so the request in flight always finishes.
 * Installed after FCGX_Init, which sets its own SIGUSR1 handler. */
static int install_signals(sigset_t *stop_set)
{
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
    sigemptyset(stop_set);
    sigaddset(stop_set, SIGTERM);
    sigaddset(stop_set, SIGINT);
    sigaddset(stop_set, SIGUSR1);
    return 0;
}

static double elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) * 1e3 +
           (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: leadlists-fcgi [-c CONFIG] [-w WORKERS]\n"
                    "Serves the lead-list API over FastCGI on the socket given as descriptor 0,\n"
                    "with a pool of WORKERS worker processes (default: workers in CONFIG).\n");
}

/* A worker: serves requests until it is told to stop. Returns the exit status. */
static int serve(const struct config *config, const char *config_path)
{
    int status = 1;
    struct db *db = NULL;
    struct arena *arena = NULL;
    unsigned char *chunk = NULL;
    sigset_t stop_set;
    if (FCGX_Init() != 0 || install_signals(&stop_set) != 0) {
        log_msg(LOG_ERR, NULL, "start: signal or FastCGI set-up failed: %s", strerror(errno));
        goto cleanup;
    }
    db = db_new(config);
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
    if (FCGX_InitRequest(&req.fcgx, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_msg(LOG_ERR, NULL, "start: FCGX_InitRequest failed");
        goto cleanup;
    }
    int watchdog_rc = watchdog_start(&req.fcgx, config->request_timeout, &stopping);
    if (watchdog_rc != 0) {
        log_msg(LOG_ERR, NULL, "start: request watchdog failed: %s", strerror(watchdog_rc));
        goto cleanup;
    }
    int failed_accepts = 0;
    while (!stopping) {
        watchdog_rearm();
        int accepted = FCGX_Accept_r(&req.fcgx);
        if (accepted < 0) {
            if (stopping)
                break;
            /* A connection that failed before it was ours. Should accept itself keep failing
             * (descriptors exhausted, say), pause rather than spin. */
            if (++failed_accepts % 100 == 0) {
                log_msg(LOG_WARNING, NULL, "accept: %d failures in a row (last %d)", failed_accepts,
                        accepted);
                struct timespec pause = {0, 100L * 1000 * 1000};
                nanosleep(&pause, NULL);
            }
            continue;
        }
        failed_accepts = 0;
        sigprocmask(SIG_BLOCK, &stop_set, NULL);
        struct timespec started;
        clock_gettime(CLOCK_MONOTONIC, &started);
        request_begin(&req);
        req.retry_after = (unsigned)config->retry_after;
        db_set_deadline(db, watchdog_request_begin());
        route_dispatch(&req, &app);
        db_finish_request(db, req.id);
        log_msg(LOG_INFO, req.id, "%s %s %d %.1fms", req.method, req.path, req.http_status,
                elapsed_ms(&started));
        FCGX_Finish_r(&req.fcgx);
        bool large = arena_used(arena) > ARENA_BLOCK;
        arena_reset(arena);
        /* What a large list needed (its ids, the statement, the response) is free again but
         * would stay in the heap: give it back, so a worker's size follows its usual work. */
        if (large)
            malloc_trim(0);
        sigprocmask(SIG_UNBLOCK, &stop_set, NULL);
    }
    log_msg(LOG_INFO, NULL, "stop: exiting");
    watchdog_stop();
    FCGX_Free(&req.fcgx, 1);
    status = 0;
cleanup:
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
