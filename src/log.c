#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static bool use_syslog;
static const char *log_ident = "leadlists";

void log_open(const char *target, const char *ident)
{
    log_ident = ident;
    use_syslog = strcmp(target, "syslog") == 0;
    if (use_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static const char *level_name(int priority)
{
    switch (priority) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
    case LOG_ERR:
        return "error";
    case LOG_WARNING:
        return "warn";
    case LOG_NOTICE:
    case LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void log_msg(int priority, const char *request_id, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    /* One line per entry, whatever the message holds. */
    for (char *p = message; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    const char *rid = request_id != NULL ? request_id : "-";
    if (use_syslog) {
        syslog(priority, "%s %s %s", rid, level_name(priority), message);
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s %s.%03ldZ %s[%ld] %s %s\n", rid, stamp, (long)(tv.tv_usec / 1000),
            log_ident, (long)getpid(), level_name(priority), message);
}
