/*
 * migrate.h — forward-only schema migrations for the worker.
 *
 * A migration is a file NNNN_name.sql in the migrations folder (NNNN: its
 * version, a positive decimal number; versions are unique). wk_migrate
 * applies the ones not yet recorded, in version order, each in its own
 * transaction together with its row in schema_migrations (version, name,
 * sha256 checksum of the file, applied_at), so a migration is either fully
 * applied and recorded or not at all.
 *
 * Invariants:
 *  - All work happens under one PostgreSQL session advisory lock
 *    (WK_MIGRATE_LOCK_KEY): two processes migrating at once serialise; the
 *    second finds nothing left to do.
 *  - An applied migration is never run twice and never edited: a file whose
 *    checksum differs from the recorded one is an error, as is a missing
 *    version below an applied one (history would diverge).
 *  - Migration files must not contain their own BEGIN/COMMIT, nor statements
 *    that cannot run inside a transaction (CREATE INDEX CONCURRENTLY).
 */
#ifndef CHORUS_WK_MIGRATE_H
#define CHORUS_WK_MIGRATE_H

#include <stddef.h>

/* pg_advisory_lock key held while migrating ("Chorus migrate"). */
#define WK_MIGRATE_LOCK_KEY 4352524573LL

/* Connects with conninfo (blocking libpq), applies pending migrations from
 * dir and disconnects. Returns 0, or -1 with a one-line reason in err (never
 * containing conninfo). Logs one line per applied migration. */
int wk_migrate(const char *conninfo, const char *dir, char *err, size_t errlen);

#endif
