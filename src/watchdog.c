#include "watchdog.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define TICK_MS 100
#define NUDGE_MS 1000

static FCGX_Request *watched;
static int64_t deadline_ms_each;
static pthread_t thread;
static pthread_t main_thread;
static const volatile sig_atomic_t *stopping_flag;
static int64_t last_nudge_ms;
static bool running;
/* Shared with the thread; plain words accessed with atomic builtins. */
static int64_t opened_at; /* when the current connection was first seen open; 0: none */
static int cut;           /* the current connection was shut down */
static int stop_requested;

int64_t watchdog_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tick(void)
{
    int fd = __atomic_load_n(&watched->ipcFd, __ATOMIC_RELAXED);
    int64_t now = watchdog_now_ms();
    if (fd < 0) {
        __atomic_store_n(&opened_at, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&cut, 0, __ATOMIC_RELAXED);
        if (stopping_flag != NULL && __atomic_load_n(stopping_flag, __ATOMIC_RELAXED) &&
            now - last_nudge_ms >= NUDGE_MS) {
            last_nudge_ms = now;
            pthread_kill(main_thread, SIGTERM);
        }
        return;
    }
    if (__atomic_load_n(&cut, __ATOMIC_RELAXED)) {
        /* libfcgi drops a cut connection and may accept the next one under the same fd
         * number inside one FCGX_Accept_r call: a descriptor that is not hung up is new. */
        struct pollfd p = {.fd = fd, .events = 0, .revents = 0};
        if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
            __atomic_store_n(&cut, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&opened_at, now, __ATOMIC_RELAXED);
        }
        return;
    }
    int64_t opened = __atomic_load_n(&opened_at, __ATOMIC_RELAXED);
    if (opened == 0) {
        /* Compare-and-swap: the main thread may have set it in the meantime. */
        __atomic_compare_exchange_n(&opened_at, &opened, now, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
    } else if (now - opened >= deadline_ms_each) {
        __atomic_store_n(&cut, 1, __ATOMIC_RELAXED);
        shutdown(fd, SHUT_RDWR);
    }
}

static void *watch(void *unused)
{
    (void)unused;
    struct timespec pause = {0, TICK_MS * 1000L * 1000L};
    while (!__atomic_load_n(&stop_requested, __ATOMIC_RELAXED)) {
        tick();
        nanosleep(&pause, NULL);
    }
    return NULL;
}

int watchdog_start(FCGX_Request *req, unsigned long deadline_seconds,
                   const volatile sig_atomic_t *stopping)
{
    watched = req;
    main_thread = pthread_self();
    stopping_flag = stopping;
    deadline_ms_each = (int64_t)deadline_seconds * 1000;
    /* Signals (SIGTERM above all) must reach the main thread, never this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&thread, NULL, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    running = rc == 0;
    return rc;
}

void watchdog_stop(void)
{
    if (!running)
        return;
    __atomic_store_n(&stop_requested, 1, __ATOMIC_RELAXED);
    pthread_join(thread, NULL);
    running = false;
}

void watchdog_rearm(void)
{
    __atomic_store_n(&opened_at, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&cut, 0, __ATOMIC_RELAXED);
}

int64_t watchdog_request_begin(void)
{
    int64_t now = watchdog_now_ms();
    /* A request arrived, so this connection is not the one that was cut, whatever fd number
     * it reuses; its time counts from the first sight of it, or from now. */
    if (__atomic_exchange_n(&cut, 0, __ATOMIC_RELAXED))
        __atomic_store_n(&opened_at, now, __ATOMIC_RELAXED);
    int64_t opened = __atomic_load_n(&opened_at, __ATOMIC_RELAXED);
    if (opened == 0) {
        __atomic_compare_exchange_n(&opened_at, &opened, now, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
        opened = __atomic_load_n(&opened_at, __ATOMIC_RELAXED);
    }
    return opened + deadline_ms_each;
}
