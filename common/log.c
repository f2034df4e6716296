/*
 * log.c — one-line structured logs. Each line is built in a stack buffer
 * and written with a single write(2), so lines from several worker
 * processes sharing stderr never interleave mid-line (for lines under
 * PIPE_BUF bytes).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_component[32] = "chorus";
static char log_node[64] = "-";
static ch_log_level log_min = CH_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
ch_log_init(const char *component, const char *node, ch_log_level min)
{
    if (component) snprintf(log_component, sizeof(log_component), "%s", component);
    if (node) snprintf(log_node, sizeof(log_node), "%s", node);
    log_min = min;
}

int
ch_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, level_names[i]) == 0) return i;
    return -1;
}

int
ch_log_enabled(ch_log_level level)
{
    return level >= log_min;
}

void
ch_log(ch_log_level level, const char *msg, const char *fmt, ...)
{
    if (level < log_min) return;

    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);

    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s comp=%s node=%s msg=\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), level_names[level], log_component,
                     log_node);
    /* The message is ours, but escape quotes and control bytes anyway. */
    for (const char *p = msg; *p && n < (int)sizeof(line) - 8; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') { line[n++] = '\\'; line[n++] = (char)c; }
        else if (c < 0x20) line[n++] = ' ';
        else line[n++] = (char)c;
    }
    line[n++] = '"';
    if (fmt && n < (int)sizeof(line) - 2) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (m > 0) n += m < (int)sizeof(line) - n - 1 ? m : (int)sizeof(line) - n - 2;
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
