/*
 * core_token.c — minting access tokens and making refresh tokens (see
 * core_token.h for the claims and the formats).
 */
#include "core_token.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
wk_token_mint(const wk_mint_config *cfg, long long uid, const char *name, time_t now)
{
    jwt_t *jwt = NULL;
    char *tok = NULL;
    char sub[24];
    jwt_alg_t alg;

    if (!cfg || !cfg->key || cfg->key_len == 0 || cfg->key_len > INT_MAX || uid <= 0 ||
        cfg->ttl <= 0)
        return NULL;
    switch (cfg->alg) {
    case CH_JWT_HS256: alg = JWT_ALG_HS256; break;
    case CH_JWT_RS256: alg = JWT_ALG_RS256; break;
    case CH_JWT_ES256: alg = JWT_ALG_ES256; break;
    default: return NULL;
    }
    snprintf(sub, sizeof(sub), "%lld", uid);
    if (jwt_new(&jwt) != 0)
        return NULL;
    if (jwt_add_grant(jwt, "sub", sub) != 0 ||
        (name && name[0] && jwt_add_grant(jwt, "name", name) != 0) ||
        jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)now + cfg->ttl) != 0 ||
        (cfg->issuer && cfg->issuer[0] && jwt_add_grant(jwt, "iss", cfg->issuer) != 0) ||
        (cfg->audience && cfg->audience[0] && jwt_add_grant(jwt, "aud", cfg->audience) != 0) ||
        jwt_set_alg(jwt, alg, cfg->key, (int)cfg->key_len) != 0)
        goto out;
    tok = jwt_encode_str(jwt);
out:
    jwt_free(jwt);
    return tok;
}

int
wk_refresh_new(char out[WK_REFRESH_LEN + 1])
{
    unsigned char raw[WK_REFRESH_BYTES + 1];   /* one spare byte: 32 is not a multiple of 3 */
    size_t o = 0;

    if (RAND_bytes(raw, WK_REFRESH_BYTES) != 1)
        return -1;
    raw[WK_REFRESH_BYTES] = 0;
    for (size_t i = 0; i < WK_REFRESH_BYTES; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 |
                     (i + 2 < WK_REFRESH_BYTES ? raw[i + 2] : 0);
        size_t left = WK_REFRESH_BYTES - i;
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (left > 1) out[o++] = b64url[(v >> 6) & 63];
        if (left > 2) out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return o == WK_REFRESH_LEN ? 0 : -1;
}

int
wk_refresh_valid(const char *s, size_t len)
{
    if (!s || len != WK_REFRESH_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!memchr(b64url, s[i], sizeof(b64url) - 1) || s[i] == '\0')
            return 0;
    return 1;
}

int
wk_sha256(const char *s, size_t len, unsigned char out[WK_SHA256_LEN])
{
    unsigned int n = 0;

    if (EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) != 1 || n != WK_SHA256_LEN)
        return -1;
    return 0;
}

char *
wk_public_pem(const char *priv_pem, size_t len)
{
    BIO *in = NULL, *out = NULL;
    EVP_PKEY *key = NULL;
    char *data = NULL, *copy = NULL;
    long n;

    if (!priv_pem || len == 0 || len > INT_MAX)
        return NULL;
    in = BIO_new_mem_buf(priv_pem, (int)len);
    out = BIO_new(BIO_s_mem());
    if (!in || !out)
        goto done;
    key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    if (!key || PEM_write_bio_PUBKEY(out, key) != 1)
        goto done;
    n = BIO_get_mem_data(out, &data);
    if (n <= 0)
        goto done;
    copy = malloc((size_t)n + 1);
    if (copy) {
        memcpy(copy, data, (size_t)n);
        copy[n] = '\0';
    }
done:
    EVP_PKEY_free(key);
    BIO_free(in);
    BIO_free(out);
    return copy;
}
