/*
 * jwt_auth.h — access-token verification: the one function every entry point
 * (gateway handshake, in-band re-auth, unit tests, fuzz target) uses.
 *
 * Debian's libjwt 1.10.2 does not check expiry, accepts alg=none when given
 * no key, and accepts an HS256 token whose HMAC secret is an RSA public PEM.
 * So ch_jwt_verify: caps the token length before parsing, always passes a
 * non-empty key, requires the decoded header's alg to equal the configured
 * one, and checks exp (required), nbf, iss and aud itself with a leeway.
 */
#ifndef CHORUS_JWT_AUTH_H
#define CHORUS_JWT_AUTH_H

#include <stddef.h>
#include <time.h>

typedef enum { CH_JWT_HS256 = 1, CH_JWT_RS256, CH_JWT_ES256 } ch_jwt_alg;

#define CH_JWT_MAX_TOKEN 4096   /* default cap on token length, in bytes */

typedef struct {
    ch_jwt_alg alg;              /* the only algorithm accepted */
    const unsigned char *key;    /* HS256: the secret; RS256/ES256: public key PEM */
    size_t key_len;              /* must be > 0 */
    const char *issuer;          /* required "iss" value; NULL: not checked */
    const char *audience;        /* required "aud" (string or array member); NULL: not checked */
    long leeway;                 /* seconds of clock skew tolerated for exp/nbf */
    size_t max_token_len;        /* 0: CH_JWT_MAX_TOKEN */
} ch_jwt_config;

#define CH_JWT_SUB_MAX 128
typedef struct {
    char sub[CH_JWT_SUB_MAX + 1];   /* user id (required, 1..128 bytes, no control chars) */
    char name[CH_JWT_SUB_MAX + 1];  /* display name ("name" claim, else copy of sub) */
    long long exp;                  /* expiry, seconds since the epoch */
    long long iat;                  /* 0 if absent */
} ch_jwt_claims;

/* Verifies token (len bytes, need not be NUL-terminated) against cfg at time
 * now. On success fills *out and returns 0. On failure returns -1 and sets
 * *reason to a static string naming the check that failed (never containing
 * the token). */
int ch_jwt_verify(const ch_jwt_config *cfg, const char *token, size_t len,
                  time_t now, ch_jwt_claims *out, const char **reason);

/* Parses "HS256" / "RS256" / "ES256" (case-sensitive); 0 if unknown. */
ch_jwt_alg ch_jwt_alg_parse(const char *name);

#endif
