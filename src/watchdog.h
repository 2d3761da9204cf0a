/* Bounds how long one FastCGI connection can hold a worker. libfcgi has no timeouts: a peer
 * that connects and stalls, while the worker waits for its parameters or its body, would
 * hold the worker forever. The main thread accepts every connection itself and hands it to
 * the watchdog at once, so a connection's deadline always counts from its own accept; a
 * watchdog thread shuts the connection down once it outlives the deadline, which ends any
 * read or write on it, and the database work checks the same deadline between statements.
 * A thread rather than a timer signal, because a signal would interrupt the poll() calls
 * that libfcgi and the database client make and restart their timeouts. */
#ifndef LEADLISTS_WATCHDOG_H
#define LEADLISTS_WATCHDOG_H

#include <stdint.h>

/* Starts the thread; each connection gets deadline_seconds. Returns 0, or an errno value. */
int watchdog_start(unsigned long deadline_seconds);

/* Stops and joins the thread. */
void watchdog_stop(void);

/* Watches fd, a connection the caller has just accepted and keeps open until after
 * watchdog_release. Returns its deadline in clock_mono_ms() time. */
int64_t watchdog_watch(int fd);

/* Stops watching the connection. Once it returns, the watchdog no longer touches the
 * descriptor, so the caller may close it. */
void watchdog_release(void);

#endif
