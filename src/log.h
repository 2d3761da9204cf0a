/* One log format for the whole service: the request id first ("-" outside a request), then
 * the level and the message. Never pass a token or a password. */
#ifndef LEADLISTS_LOG_H
#define LEADLISTS_LOG_H

#include <syslog.h>

/* target is "stderr" or "syslog"; ident names the program. With "syslog" and no syslog
 * socket to be reached, one warning on stderr, then every line goes to stderr. */
void log_open(const char *target, const char *ident);

void log_msg(int priority, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
