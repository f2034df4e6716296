/*
 * log.h — one-line structured logs (logfmt) on stderr.
 *
 *   ts=2026-11-22T05:40:01.123Z level=info comp=gateway node=gw1 msg="redis connected" addr=127.0.0.1:6379
 *
 * The caller passes the message and then key=value pairs already formatted
 * (values with spaces must be quoted by the caller, or use ch_log_kv_str).
 * Secrets (tokens, passwords) are never passed here.
 */
#ifndef CHORUS_LOG_H
#define CHORUS_LOG_H

typedef enum { CH_LOG_DEBUG = 0, CH_LOG_INFO, CH_LOG_WARN, CH_LOG_ERROR } ch_log_level;

/* Sets the component name ("gateway"), node id and minimum level. The strings
 * are copied. */
void ch_log_init(const char *component, const char *node, ch_log_level min);

/* Parses "debug" / "info" / "warn" / "error"; -1 if unknown. */
int ch_log_level_parse(const char *s);

/* Emits one line: fixed fields, msg="<msg>", then the printf-formatted rest
 * (which should be " key=value ..." pairs; may be NULL). */
void ch_log(ch_log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int ch_log_enabled(ch_log_level level);

#define CH_DEBUG(msg, ...) do { if (ch_log_enabled(CH_LOG_DEBUG)) ch_log(CH_LOG_DEBUG, msg, __VA_ARGS__); } while (0)
#define CH_INFO(msg, ...)  ch_log(CH_LOG_INFO, msg, __VA_ARGS__)
#define CH_WARN(msg, ...)  ch_log(CH_LOG_WARN, msg, __VA_ARGS__)
#define CH_ERROR(msg, ...) ch_log(CH_LOG_ERROR, msg, __VA_ARGS__)

#endif
