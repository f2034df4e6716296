/*
 * core_password.h — password hashing with argon2id (libargon2).
 *
 * Parameters: t = 2 passes, m = 19 MiB (19456 KiB), p = 1 lane, a 16-byte
 * random salt (OpenSSL RAND_bytes) and a 32-byte tag: the OWASP minimum
 * for argon2id. They are stored inside the encoded string
 * ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<tag>"), so raising them later
 * leaves old hashes verifiable.
 *
 * Pure and thread-safe: no global state, no I/O besides the random salt.
 * Passwords are never logged or kept: callers pass a pointer and a length.
 */
#ifndef CHORUS_WK_CORE_PASSWORD_H
#define CHORUS_WK_CORE_PASSWORD_H

#include <stddef.h>

#define WK_PW_T_COST    2u
#define WK_PW_M_COST    19456u   /* KiB */
#define WK_PW_LANES     1u
#define WK_PW_SALT_LEN  16u
#define WK_PW_HASH_LEN  32u
#define WK_PW_ENCODED_MAX 192    /* bytes, NUL included; the encoding above needs ~100 */

/* Hashes pw (len bytes) into out as a NUL-terminated encoded string.
 * 0 on success, -1 on failure (no randomness, out too small, argon2 error). */
int wk_password_hash(const char *pw, size_t len, char *out, size_t outlen);

/* 1 if pw matches encoded, 0 if not (or encoded is not an argon2id string
 * this library accepts), -1 on an internal error (e.g. out of memory). */
int wk_password_verify(const char *encoded, const char *pw, size_t len);

#endif
