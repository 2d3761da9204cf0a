#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* A worker that exits sooner than this after its start is failing, not finished. */
#define QUICK_EXIT_MS 1000
#define FIRST_PAUSE_MS 100
#define MAX_PAUSE_MS 5000
/* The longest the pool sleeps without looking at its slots. */
#define IDLE_WAIT_MS 1000

struct slot {
    pid_t pid; /* 0: empty */
    int64_t started_ms;
    int64_t restart_at_ms;
    int quick_exits; /* in a row */
};

static struct slot slots[POOL_MAX_WORKERS];
static int worker_slot; /* in a worker: its slot's index */

int pool_worker_slot(void)
{
    return worker_slot;
}

/* Forks a worker into the slot. Returns true in the new worker. */
static bool spawn(struct slot *s, pid_t pool_pid, const sigset_t *worker_mask)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* Without its pool no one would replace or stop this worker: it stops too. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != pool_pid)
            _exit(1);
        worker_slot = (int)(s - slots);
        sigprocmask(SIG_SETMASK, worker_mask, NULL);
        return true;
    }
    if (pid < 0) {
        log_msg(LOG_ERR, NULL, "pool: fork failed: %s; trying again in %d ms", strerror(errno),
                MAX_PAUSE_MS);
        s->restart_at_ms = clock_mono_ms() + MAX_PAUSE_MS;
        return false;
    }
    s->pid = pid;
    s->started_ms = clock_mono_ms();
    return false;
}

static void worker_exited(struct slot *s, int status, bool stopping)
{
    int64_t now = clock_mono_ms();
    long lived_ms = (long)(now - s->started_ms);
    int pid = (int)s->pid;
    char how[48];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
    s->pid = 0;
    if (stopping) {
        log_msg(LOG_INFO, NULL, "pool: worker %d %s", pid, how);
        return;
    }
    long pause_ms = 0;
    if (lived_ms < QUICK_EXIT_MS) {
        s->quick_exits++;
        pause_ms = FIRST_PAUSE_MS;
        for (int i = 1; i < s->quick_exits && pause_ms < MAX_PAUSE_MS; i++)
            pause_ms *= 2;
        if (pause_ms > MAX_PAUSE_MS)
            pause_ms = MAX_PAUSE_MS;
    } else {
        s->quick_exits = 0;
    }
    s->restart_at_ms = now + pause_ms;
    if (pause_ms > 0)
        log_msg(LOG_ERR, NULL,
                "pool: worker %d %s %ld ms after its start; starting another in %ld ms", pid, how,
                lived_ms, pause_ms);
    else
        log_msg(LOG_WARNING, NULL, "pool: worker %d %s; starting another", pid, how);
}

static int live_workers(int workers)
{
    int n = 0;
    for (int i = 0; i < workers; i++)
        n += slots[i].pid != 0;
    return n;
}

static void signal_workers(int workers, int sig)
{
    for (int i = 0; i < workers; i++)
        if (slots[i].pid != 0)
            kill(slots[i].pid, sig);
}

enum pool_role pool_run(int workers)
{
    if (workers < 1 || workers > POOL_MAX_WORKERS) {
        log_msg(LOG_ERR, NULL, "pool: %d workers is out of range (1 to %d)", workers,
                POOL_MAX_WORKERS);
        return POOL_FAILED;
    }
    /* The pool takes its signals with sigtimedwait: they stay blocked, and SIGCHLD must not be
     * ignored (an ignored SIGCHLD would reap the workers behind the pool's back). */
    sigset_t handled, worker_mask;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGUSR1);
    sigaddset(&handled, SIGHUP);
    sigaddset(&handled, SIGCHLD);
    signal(SIGCHLD, SIG_DFL);
    if (sigprocmask(SIG_BLOCK, &handled, &worker_mask) != 0) {
        log_msg(LOG_ERR, NULL, "pool: signal set-up failed: %s", strerror(errno));
        return POOL_FAILED;
    }
    pid_t pool_pid = getpid();
    memset(slots, 0, sizeof(slots));
    log_msg(LOG_INFO, NULL, "pool: starting %d workers", workers);

    bool stopping = false;
    for (;;) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < workers; i++) {
                if (slots[i].pid == pid) {
                    worker_exited(&slots[i], status, stopping);
                    break;
                }
            }
        }
        if (stopping && live_workers(workers) == 0)
            break;

        int64_t now = clock_mono_ms(), wake = now + IDLE_WAIT_MS;
        for (int i = 0; i < workers && !stopping; i++) {
            struct slot *s = &slots[i];
            if (s->pid != 0)
                continue;
            if (s->restart_at_ms <= now && spawn(s, pool_pid, &worker_mask))
                return POOL_WORKER;
            if (s->pid == 0 && s->restart_at_ms < wake)
                wake = s->restart_at_ms;
        }

        int64_t wait_ms = wake > now ? wake - now : 0;
        struct timespec timeout = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000L};
        int sig = sigtimedwait(&handled, NULL, &timeout);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGUSR1) {
            if (!stopping)
                log_msg(LOG_INFO, NULL, "pool: signal %d: stopping %d workers", sig,
                        live_workers(workers));
            stopping = true;
            /* Again on every stop signal: each finishes its request in flight, then exits. */
            signal_workers(workers, SIGTERM);
        } else if (sig == SIGHUP) {
            log_msg(LOG_INFO, NULL, "pool: SIGHUP ignored (restart the service to reload)");
        }
    }
    log_msg(LOG_INFO, NULL, "pool: every worker has exited");
    sigprocmask(SIG_SETMASK, &worker_mask, NULL);
    return POOL_STOPPED;
}
