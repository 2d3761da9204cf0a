/* Bounds how long one FastCGI connection can hold a worker. libfcgi has no timeouts: a peer
 * that connects and stalls, while the worker waits for its parameters or its body, would
 * hold the worker forever. A watchdog thread measures how long the current connection has
 * been open and shuts it down once it outlives the deadline, which ends any read or write
 * on it; the database work checks the same deadline between statements. A thread rather
 * than a timer signal, because a signal would interrupt the poll() calls that libfcgi and
 * the database client make and restart their timeouts. */
#ifndef LEADLISTS_WATCHDOG_H
#define LEADLISTS_WATCHDOG_H

#include <fcgiapp.h>
#include <signal.h>
#include <stdint.h>

/* Watches req's connection. Once *stopping is set, it also sends the calling (main) thread
 * SIGTERM each second while no connection is open: a stop signal that lands just before
 * the main thread blocks in accept() would otherwise leave it there until the next
 * connection, and a worker whose pool is gone might never get one. Returns 0, or an errno
 * value. */
int watchdog_start(FCGX_Request *req, unsigned long deadline_seconds,
                   const volatile sig_atomic_t *stopping);

/* Stops and joins the thread. */
void watchdog_stop(void);

/* Called before each FCGX_Accept_r: the previous connection is closed, the next one's time
 * starts when it opens. */
void watchdog_rearm(void);

/* Called when FCGX_Accept_r returned a request: returns its deadline, in watchdog_now_ms()
 * time, counted from when its connection opened. */
int64_t watchdog_request_begin(void);

/* Monotonic milliseconds. */
int64_t watchdog_now_ms(void);

#endif
