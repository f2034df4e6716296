/*
 * options.c — settings from flags, environment and defaults (options.h).
 */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
ch_options_collect(const ch_option *opts, int n, int argc, char **argv, const char **vals,
                   const char **pos, int npos)
{
    int npositional = 0;
    for (int i = 0; i < n; i++) {
        const char *e = opts[i].env ? getenv(opts[i].env) : NULL;
        vals[i] = e && *e ? e : opts[i].def;
    }
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) return 1;
        if (strncmp(argv[a], "--", 2) != 0) {
            if (npositional >= npos) {
                fprintf(stderr, "config: unexpected argument '%s' (see --help)\n", argv[a]);
                return -1;
            }
            pos[npositional++] = argv[a];
            continue;
        }
        int found = 0;
        for (int i = 0; i < n && !found; i++) {
            size_t fl = strlen(opts[i].flag);
            if (strncmp(argv[a], opts[i].flag, fl) != 0) continue;
            if (argv[a][fl] == '=') {
                vals[i] = argv[a] + fl + 1;
                found = 1;
            } else if (argv[a][fl] == '\0') {
                if (a + 1 >= argc) {
                    fprintf(stderr, "config: %s needs a value\n", opts[i].flag);
                    return -1;
                }
                vals[i] = argv[++a];
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "config: unknown option '%s' (see --help)\n", argv[a]);
            return -1;
        }
    }
    return 0;
}

void
ch_options_usage(FILE *f, const ch_option *opts, int n)
{
    for (int i = 0; i < n; i++)
        fprintf(f, "  %-22s %-26s %s%s%s%s\n", opts[i].flag, opts[i].env ? opts[i].env : "",
                opts[i].help, opts[i].def ? " [" : "", opts[i].def ? opts[i].def : "",
                opts[i].def ? "]" : "");
    fprintf(f, "  %-22s %-26s %s\n", "--help", "", "print this help");
}

int
ch_option_long(const char *flag, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "config: %s: '%s' is not an integer in [%ld, %ld]\n", flag,
                s ? s : "(unset)", min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int
ch_option_hostport(const char *flag, const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    long p;
    if (!colon || colon == s || (size_t)(colon - s) >= hostlen) {
        fprintf(stderr, "config: %s: expected HOST:PORT, got '%s'\n", flag, s ? s : "(unset)");
        return -1;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (ch_option_long(flag, colon + 1, 1, 65535, &p) < 0) return -1;
    *port = (int)p;
    return 0;
}

char *
ch_option_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > 1 << 20 || fseek(f, 0, SEEK_SET) != 0)
        goto fail;
    if (!(buf = malloc((size_t)n + 1))) goto fail;
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) goto fail;
    buf[n] = '\0';
    *len = (size_t)n;
    fclose(f);
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}
