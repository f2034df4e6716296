/*
 * core_token.h — access tokens (JWT, minted with libjwt) and refresh tokens.
 *
 * Access token claims: sub = the user id as a decimal string, name = the
 * display name, iat = now, exp = now + ttl, and iss / aud when configured.
 * They are exactly what common/jwt_auth.c (ch_jwt_verify) requires, so the
 * gateways accept what the worker mints.
 *
 * Refresh tokens: 32 random bytes (OpenSSL RAND_bytes), base64url without
 * padding (43 characters). Only their SHA-256 is stored, so a database
 * leak does not hand out live sessions.
 *
 * Pure and thread-safe; nothing here logs a token or a key.
 */
#ifndef CHORUS_WK_CORE_TOKEN_H
#define CHORUS_WK_CORE_TOKEN_H

#include <stddef.h>
#include <time.h>

#include "jwt_auth.h"

#define WK_REFRESH_BYTES 32
#define WK_REFRESH_LEN   43      /* base64url characters of 32 bytes, unpadded */
#define WK_SHA256_LEN    32

typedef struct {
    ch_jwt_alg alg;              /* HS256, RS256 or ES256 */
    const unsigned char *key;    /* HS256 secret, or the private key PEM */
    size_t key_len;
    const char *issuer;          /* "iss" claim, NULL or "" to omit */
    const char *audience;        /* "aud" claim, NULL or "" to omit */
    long ttl;                    /* seconds until "exp" */
} wk_mint_config;

/* Mints an access token for user uid with display name name at time now.
 * Returns a malloc'd NUL-terminated token (the caller frees it), or NULL. */
char *wk_token_mint(const wk_mint_config *cfg, long long uid, const char *name, time_t now);

/* Writes a fresh refresh token (WK_REFRESH_LEN characters + NUL) into out.
 * 0, or -1 if no randomness was available. */
int wk_refresh_new(char out[WK_REFRESH_LEN + 1]);

/* 1 if s (len bytes) has the shape of a refresh token. */
int wk_refresh_valid(const char *s, size_t len);

/* SHA-256 of s (len bytes) into out. 0, or -1. */
int wk_sha256(const char *s, size_t len, unsigned char out[WK_SHA256_LEN]);

/* The public key PEM of a private key PEM (RS256/ES256 verification with
 * the key the worker signs with). malloc'd NUL-terminated, or NULL. */
char *wk_public_pem(const char *priv_pem, size_t len);

#endif
