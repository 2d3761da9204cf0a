/* The worker pool: one process that forks the workers and keeps their number up. Whatever the
 * workers would each build the same way at start (the libraries' relocated tables, OpenSSL's
 * algorithms and random generator, the configuration) is built once, before the fork, and
 * shared by all of them. */
#ifndef LEADLISTS_POOL_H
#define LEADLISTS_POOL_H

#define POOL_MAX_WORKERS 256

enum pool_role {
    POOL_WORKER,  /* in a worker: serve, then exit */
    POOL_STOPPED, /* in the pool process: told to stop, and every worker has exited */
    POOL_FAILED   /* in the pool process: it could not start (logged) */
};

/* Forks `workers` workers (1 to POOL_MAX_WORKERS) and supervises them until SIGTERM, SIGINT or
 * SIGUSR1: a worker that exits is replaced at once, or after a pause growing to 5 s while it
 * keeps exiting within a second of its start. On the stop signal every worker gets SIGTERM
 * (each finishes its request in flight) and the pool waits for them all. A worker gets
 * SIGTERM if the pool process dies. Call with no thread running. */
enum pool_role pool_run(int workers);

/* In a worker: the index of its slot in the pool, 0 to workers - 1 (a replacement takes the
 * slot of the worker it replaces). */
int pool_worker_slot(void);

#endif
