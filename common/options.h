/*
 * options.h — command-line and environment settings for every binary.
 *
 * A binary describes each setting once (flag, environment variable, default,
 * help line); ch_options_collect resolves each to text with the rule
 * "flag over variable over default", and ch_options_usage prints --help from
 * the same table, so help, flags and environment can never disagree.
 */
#ifndef CHORUS_OPTIONS_H
#define CHORUS_OPTIONS_H

#include <stdio.h>

typedef struct {
    const char *flag;   /* "--listen" */
    const char *env;    /* "CHORUS_LISTEN" */
    const char *def;    /* default as text; NULL = unset */
    const char *help;
} ch_option;

/* Resolves every option into vals[i] (pointers into argv, the environment or
 * the table; NULL when unset). Arguments not starting with "--" are
 * positional: up to npos of them are stored in pos[] (may be NULL when
 * npos is 0). Returns 0, 1 if --help/-h was given, -1 on an error (printed
 * on stderr). */
int ch_options_collect(const ch_option *opts, int n, int argc, char **argv, const char **vals,
                       const char **pos, int npos);

/* Prints the option table (flag, variable, help, default). */
void ch_options_usage(FILE *f, const ch_option *opts, int n);

/* Parses a decimal integer in [min, max]; -1 (reported) on error. */
int ch_option_long(const char *flag, const char *s, long min, long max, long *out);

/* Splits "host:port"; -1 (reported) on error. */
int ch_option_hostport(const char *flag, const char *s, char *host, size_t hostlen, int *port);

/* Reads a small file (<= 1 MiB) into a NUL-terminated malloc'd buffer. */
char *ch_option_read_file(const char *path, size_t *len);

#endif
