/*
 * migrate.c — applies migrations/NNNN_*.sql in order (see migrate.h).
 *
 *   connect -> pg_advisory_lock -> CREATE TABLE IF NOT EXISTS schema_migrations
 *     -> read the recorded rows -> list the folder -> check checksums
 *     -> for each pending file: BEGIN; <file>; INSERT schema_migrations; COMMIT
 *     -> disconnect (which also releases the lock)
 *
 * Blocking libpq: this runs from main() before any event loop exists.
 * Every statement that carries data is parameterised; the only SQL sent as
 * text is the migration files themselves.
 */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "log.h"

#define MIG_MAX_FILES 10000
#define MIG_MAX_BYTES (16u << 20)   /* a larger migration file is refused */
#define MIG_NAME_MAX 256

typedef struct {
    long version;
    char file[MIG_NAME_MAX];        /* file name inside dir */
} mig_file;

typedef struct {
    long version;
    char checksum[65];
} mig_applied;

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* libpq messages end in a newline: keep the reason on one line. */
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    size_t n = strlen(err);
    while (n > 0 && err[n - 1] == ' ') err[--n] = '\0';
}

/* 1 and *version set if name is "<digits>_<something>.sql". */
static int
parse_name(const char *name, long *version)
{
    size_t n = strlen(name);
    if (n < 6 || n >= MIG_NAME_MAX || strcmp(name + n - 4, ".sql") != 0) return 0;
    size_t i = 0;
    while (name[i] >= '0' && name[i] <= '9') i++;
    if (i == 0 || i > 9 || name[i] != '_' || i + 1 >= n - 4) return 0;
    char *end;
    long v = strtol(name, &end, 10);
    if (end != name + i || v <= 0) return 0;
    *version = v;
    return 1;
}

static int
cmp_file(const void *a, const void *b)
{
    const mig_file *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Lists migration files sorted by version. *out is malloc'd, owned by the
 * caller. Returns the count, or -1 with err set. */
static int
list_dir(const char *dir, mig_file **out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        seterr(err, errlen, "cannot open migrations folder %s: %s", dir, strerror(errno));
        return -1;
    }
    mig_file *v = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long ver;
        if (!parse_name(de->d_name, &ver)) continue;
        if (n == MIG_MAX_FILES) {
            seterr(err, errlen, "more than %d migration files in %s", MIG_MAX_FILES, dir);
            goto fail;
        }
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            mig_file *nv = realloc(v, (size_t)ncap * sizeof(*v));
            if (nv == NULL) {
                seterr(err, errlen, "out of memory listing migrations");
                goto fail;
            }
            v = nv;
            cap = ncap;
        }
        v[n].version = ver;
        snprintf(v[n].file, sizeof(v[n].file), "%s", de->d_name);
        n++;
    }
    closedir(d);
    d = NULL;
    if (n > 0) qsort(v, (size_t)n, sizeof(*v), cmp_file);
    for (int i = 1; i < n; i++) {
        if (v[i].version == v[i - 1].version) {
            seterr(err, errlen, "two migrations with version %ld: %s and %s", v[i].version,
                   v[i - 1].file, v[i].file);
            goto fail;
        }
    }
    *out = v;
    return n;
fail:
    if (d != NULL) closedir(d);
    free(v);
    return -1;
}

/* Reads dir/file into a malloc'd NUL-terminated buffer (owned by the caller)
 * and its SHA-256 as 64 hex digits into hex. Returns NULL with err set. */
static char *
read_file(const char *dir, const char *file, char hex[65], char *err, size_t errlen)
{
    char path[4096];
    int pn = snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (pn < 0 || (size_t)pn >= sizeof(path)) {
        seterr(err, errlen, "migration path too long: %s", file);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 16384;
            if (ncap > MIG_MAX_BYTES + 4096 + 1) ncap = MIG_MAX_BYTES + 4096 + 1;
            if (ncap <= cap) {
                seterr(err, errlen, "%s is larger than %u bytes", path, MIG_MAX_BYTES);
                goto fail;
            }
            char *nb = realloc(buf, ncap);
            if (nb == NULL) {
                seterr(err, errlen, "out of memory reading %s", path);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        seterr(err, errlen, "cannot read %s", path);
        goto fail;
    }
    if (len > MIG_MAX_BYTES) {
        seterr(err, errlen, "%s is larger than %u bytes", path, MIG_MAX_BYTES);
        goto fail;
    }
    if (memchr(buf, '\0', len) != NULL) {
        seterr(err, errlen, "%s contains a NUL byte", path);
        goto fail;
    }
    buf[len] = '\0';
    fclose(f);
    f = NULL;

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        seterr(err, errlen, "sha256 of %s failed", path);
        goto fail;
    }
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    return buf;
fail:
    if (f != NULL) fclose(f);
    free(buf);
    return NULL;
}

/* Runs a statement without parameters that returns no rows. */
static int
exec_cmd(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok) seterr(err, errlen, "%s: %s", what, PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Loads schema_migrations into *out (malloc'd, owned by the caller). */
static int
load_applied(PGconn *c, mig_applied **out, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT version, checksum FROM schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        seterr(err, errlen, "reading schema_migrations: %s", PQerrorMessage(c));
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    mig_applied *v = calloc(n > 0 ? (size_t)n : 1, sizeof(*v));
    if (v == NULL) {
        seterr(err, errlen, "out of memory");
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        v[i].version = strtol(PQgetvalue(r, i, 0), NULL, 10);
        snprintf(v[i].checksum, sizeof(v[i].checksum), "%s", PQgetvalue(r, i, 1));
    }
    PQclear(r);
    *out = v;
    return n;
}

/* Applies one migration and records it, in one transaction. */
static int
apply_one(PGconn *c, const mig_file *m, const char *sql, const char *checksum, char *err,
          size_t errlen)
{
    if (exec_cmd(c, "BEGIN", "BEGIN", err, errlen) < 0) return -1;
    char what[MIG_NAME_MAX + 32];
    snprintf(what, sizeof(what), "migration %s", m->file);
    if (exec_cmd(c, sql, what, err, errlen) < 0) goto rollback;

    char ver[24];
    snprintf(ver, sizeof(ver), "%ld", m->version);
    const char *params[3] = { ver, m->file, checksum };
    PGresult *r = PQexecParams(c,
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::int, $2, $3)",
        3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        seterr(err, errlen, "recording %s: %s", m->file, PQerrorMessage(c));
        PQclear(r);
        goto rollback;
    }
    PQclear(r);
    if (exec_cmd(c, "COMMIT", "COMMIT", err, errlen) < 0) return -1;
    return 0;
rollback:
    {
        PGresult *rb = PQexec(c, "ROLLBACK");
        PQclear(rb);
    }
    return -1;
}

static const mig_applied *
find_applied(const mig_applied *a, int n, long version)
{
    for (int i = 0; i < n; i++)
        if (a[i].version == version) return &a[i];
    return NULL;
}

int
wk_migrate(const char *conninfo, const char *dir, char *err, size_t errlen)
{
    int rc = -1;
    mig_file *files = NULL;
    mig_applied *applied = NULL;
    char *sql = NULL;
    PGconn *c = NULL;

    if (err != NULL && errlen > 0) err[0] = '\0';
    int nfiles = list_dir(dir, &files, err, errlen);
    if (nfiles < 0) goto out;

    c = PQconnectdb(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        seterr(err, errlen, "cannot connect to PostgreSQL: %s",
               c ? PQerrorMessage(c) : "out of memory");
        goto out;
    }
    if (PQsetClientEncoding(c, "UTF8") != 0) {
        seterr(err, errlen, "cannot set client encoding: %s", PQerrorMessage(c));
        goto out;
    }
    {
        PGresult *r = PQexec(c, "SET client_min_messages = warning");
        PQclear(r);
    }
    {
        char key[32];
        snprintf(key, sizeof(key), "%lld", (long long)WK_MIGRATE_LOCK_KEY);
        const char *params[1] = { key };
        PGresult *r = PQexecParams(c, "SELECT pg_advisory_lock($1::bigint)", 1, NULL, params,
                                   NULL, NULL, 0);
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok) seterr(err, errlen, "taking the migration lock: %s", PQerrorMessage(c));
        PQclear(r);
        if (!ok) goto out;
    }
    if (exec_cmd(c,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version int PRIMARY KEY,"
                 " name text NOT NULL,"
                 " checksum text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 "creating schema_migrations", err, errlen) < 0)
        goto out;

    int napplied = load_applied(c, &applied, err, errlen);
    if (napplied < 0) goto out;

    /* Check everything before changing anything. */
    long max_applied = 0;
    for (int i = 0; i < napplied; i++)
        if (applied[i].version > max_applied) max_applied = applied[i].version;
    for (int i = 0; i < nfiles; i++) {
        char hex[65];
        free(sql);
        sql = read_file(dir, files[i].file, hex, err, errlen);
        if (sql == NULL) goto out;
        const mig_applied *a = find_applied(applied, napplied, files[i].version);
        if (a != NULL && strcmp(a->checksum, hex) != 0) {
            seterr(err, errlen, "migration %s was changed after it was applied "
                   "(checksum %.12s..., recorded %.12s...): add a new migration instead",
                   files[i].file, hex, a->checksum);
            goto out;
        }
        if (a == NULL && files[i].version < max_applied) {
            seterr(err, errlen, "migration %s is not applied but version %ld is: "
                   "refusing to apply out of order", files[i].file, max_applied);
            goto out;
        }
    }
    for (int i = 0; i < napplied; i++) {
        int known = 0;
        for (int j = 0; j < nfiles && !known; j++) known = files[j].version == applied[i].version;
        if (!known)
            CH_WARN("applied migration has no file", " version=%ld dir=%s", applied[i].version,
                    dir);
    }

    int done = 0;
    for (int i = 0; i < nfiles; i++) {
        if (find_applied(applied, napplied, files[i].version) != NULL) continue;
        char hex[65];
        free(sql);
        sql = read_file(dir, files[i].file, hex, err, errlen);
        if (sql == NULL) goto out;
        if (apply_one(c, &files[i], sql, hex, err, errlen) < 0) goto out;
        CH_INFO("migration applied", " version=%ld file=%s", files[i].version, files[i].file);
        done++;
    }
    if (done == 0) CH_INFO("migrations up to date", " files=%d", nfiles);
    rc = 0;
out:
    free(sql);
    free(applied);
    free(files);
    if (c != NULL) PQfinish(c); /* ends the session: the advisory lock goes with it */
    return rc;
}
