#include "log.h"

#include <errno.h>
#include <paths.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static bool use_syslog;
static const char *log_ident = "leadlists";

/* 0 when something accepts log lines on the syslog socket (_PATH_LOG, /dev/log), tried the
 * way syslog(3) connects (a datagram socket, then a stream one); else the errno of the
 * last try. */
static int syslog_socket_error(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", _PATH_LOG);
    static const int types[] = {SOCK_DGRAM, SOCK_STREAM};
    int err = 0;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int rc = connect(fd, (const struct sockaddr *)&addr, sizeof(addr));
        err = rc == 0 ? 0 : errno;
        close(fd);
        if (rc == 0)
            return 0;
    }
    return err;
}

void log_open(const char *target, const char *ident)
{
    log_ident = ident;
    use_syslog = strcmp(target, "syslog") == 0;
    if (!use_syslog)
        return;
    /* syslog(3) drops every line, silently, when nothing listens on its socket (a container,
     * a chroot): say so once, where someone may see it, and keep the lines on stderr. */
    int err = syslog_socket_error();
    if (err != 0) {
        use_syslog = false;
        log_msg(LOG_WARNING, NULL,
                "log = syslog, but no syslog socket at %s (%s): logging to stderr", _PATH_LOG,
                strerror(err));
        return;
    }
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
