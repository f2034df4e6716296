/*
 * fuzz_jwt_auth.c — libFuzzer target for ch_jwt_verify.
 *
 * Two passes per input, both under one fixed HS256 configuration (issuer,
 * audience and a small length cap, so every check is reachable):
 *
 *   1. the raw input is the token;
 *   2. the raw input is the payload of a token this target signs with the
 *      configured secret, so the claim checks behind the signature see
 *      arbitrary JSON too (mutating a signed token almost never gets past
 *      the signature).
 *
 * Results go to volatile sinks so the calls and the claim copies cannot be
 * optimised away.
 */
#include "jwt_auth.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_TOKEN 2048
#define FUZZ_NOW ((time_t)1700000000)
/* base64url of {"alg":"HS256","typ":"JWT"} */
#define FUZZ_HEADER "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

static const unsigned char fuzz_secret[] = "chorus-fuzz-secret-0123456789abcdef";

static volatile int sink_rc;
static volatile size_t sink_len;
static volatile const char *sink_reason;

static size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        out[o++] = tab[in[i] >> 2];
        out[o++] = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        out[o++] = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        out[o++] = tab[in[i + 2] & 63];
    }
    if (n - i == 1) {
        out[o++] = tab[in[i] >> 2];
        out[o++] = tab[(in[i] & 3) << 4];
    } else if (n - i == 2) {
        out[o++] = tab[in[i] >> 2];
        out[o++] = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        out[o++] = tab[(in[i + 1] & 15) << 2];
    }
    return o;
}

static void verify(const ch_jwt_config *cfg, const char *tok, size_t len)
{
    ch_jwt_claims claims;
    const char *reason = NULL;

    sink_rc = ch_jwt_verify(cfg, tok, len, FUZZ_NOW, &claims, &reason);
    sink_reason = reason;
    if (sink_rc == 0)
        sink_len = strlen(claims.sub) + strlen(claims.name) + (size_t)claims.exp
                   + (size_t)claims.iat;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char tok[FUZZ_MAX_TOKEN + 64];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    ch_jwt_config cfg;
    size_t n;

    memset(&cfg, 0, sizeof cfg);
    cfg.alg = CH_JWT_HS256;
    cfg.key = fuzz_secret;
    cfg.key_len = sizeof fuzz_secret - 1;
    cfg.issuer = "https://auth.chorus.test";
    cfg.audience = "chorus";
    cfg.leeway = 30;
    cfg.max_token_len = FUZZ_MAX_TOKEN;

    verify(&cfg, (const char *)data, size);

    /* header "." payload "." signature must fit in tok. */
    if (size > (FUZZ_MAX_TOKEN - sizeof FUZZ_HEADER - 45) / 4 * 3)
        return 0;
    memcpy(tok, FUZZ_HEADER ".", sizeof FUZZ_HEADER);
    n = sizeof FUZZ_HEADER;
    n += b64url_encode(data, size, tok + n);
    if (HMAC(EVP_sha256(), fuzz_secret, (int)(sizeof fuzz_secret - 1),
             (const unsigned char *)tok, n, mac, &maclen) == NULL)
        return 0;
    tok[n++] = '.';
    n += b64url_encode(mac, maclen, tok + n);
    verify(&cfg, tok, n);
    return 0;
}
