#include "watchdog.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"

#define TICK_MS 100

/* The connection being watched. The mutex makes "is this descriptor still the connection"
 * and the shutdown one step: the main thread releases the connection under it before it
 * closes the descriptor, so a shutdown can never reach a descriptor number reused since. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int watched_fd = -1;
static int64_t watched_deadline_ms;
static int64_t deadline_ms_each;
static bool stop_requested;
static bool running;
static pthread_t thread;

static void tick(void)
{
    pthread_mutex_lock(&lock);
    if (watched_fd >= 0 && clock_mono_ms() >= watched_deadline_ms) {
        shutdown(watched_fd, SHUT_RDWR);
        watched_fd = -1; /* cut once; the main thread still owns and closes it */
    }
    pthread_mutex_unlock(&lock);
}

static void *watch(void *unused)
{
    (void)unused;
    struct timespec pause = {0, TICK_MS * 1000L * 1000L};
    for (;;) {
        pthread_mutex_lock(&lock);
        bool stop = stop_requested;
        pthread_mutex_unlock(&lock);
        if (stop)
            break;
        tick();
        nanosleep(&pause, NULL);
    }
    return NULL;
}

int watchdog_start(unsigned long deadline_seconds)
{
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
    pthread_mutex_lock(&lock);
    stop_requested = true;
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = false;
}

int64_t watchdog_watch(int fd)
{
    int64_t deadline = clock_mono_ms() + deadline_ms_each;
    pthread_mutex_lock(&lock);
    watched_fd = fd;
    watched_deadline_ms = deadline;
    pthread_mutex_unlock(&lock);
    return deadline;
}

void watchdog_release(void)
{
    pthread_mutex_lock(&lock);
    watched_fd = -1;
    pthread_mutex_unlock(&lock);
}
