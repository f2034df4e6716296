/*
 * jwt_auth.c — access-token verification on top of libjwt 1.10.2.
 *
 * libjwt only checks the signature, and even that is unsafe when driven
 * naively (alg=none with no key, HMAC keyed with a public PEM). This file
 * therefore wraps one libjwt call in checks of its own, in this order:
 *
 *   1. length: 1..max_token_len bytes, before anything else looks at it;
 *   2. shape: only base64url characters and exactly two '.' separators
 *      (which also excludes NUL, controls and anything non-ASCII);
 *   3. configuration: a supported algorithm and a non-empty key;
 *   4. header: a JSON object without duplicate keys whose "alg" is exactly
 *      the configured algorithm and that carries no "crit" extension;
 *   5. payload: a JSON object without duplicate keys;
 *   6. signature: jwt_decode with the configured key, then jwt_get_alg must
 *      equal the configured algorithm (second barrier against alg confusion);
 *   7. claims: exp (required), nbf, iat, iss, aud, sub and name, each with a
 *      precise type check, times compared with saturating arithmetic.
 *
 * Invariants: a non-zero return never fills *out; *reason is always a static
 * string and never contains any part of the token; every allocation made
 * here is released before returning.
 */
#include "jwt_auth.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>

/* Upper bound for a configured leeway; larger values are clamped. */
#define JWT_LEEWAY_MAX (366L * 24 * 3600)

static const char *alg_name(ch_jwt_alg alg)
{
    switch (alg) {
    case CH_JWT_HS256: return "HS256";
    case CH_JWT_RS256: return "RS256";
    case CH_JWT_ES256: return "ES256";
    }
    return NULL;
}

static jwt_alg_t alg_libjwt(ch_jwt_alg alg)
{
    switch (alg) {
    case CH_JWT_HS256: return JWT_ALG_HS256;
    case CH_JWT_RS256: return JWT_ALG_RS256;
    case CH_JWT_ES256: return JWT_ALG_ES256;
    }
    return JWT_ALG_INVAL;
}

ch_jwt_alg ch_jwt_alg_parse(const char *name)
{
    if (name == NULL)
        return 0;
    if (strcmp(name, "HS256") == 0)
        return CH_JWT_HS256;
    if (strcmp(name, "RS256") == 0)
        return CH_JWT_RS256;
    if (strcmp(name, "ES256") == 0)
        return CH_JWT_ES256;
    return 0;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Decodes unpadded base64url src[0..n) into dst (at least n bytes). Returns
 * the decoded length, or -1 if n is not a possible encoded length or a
 * character is outside the alphabet. */
static long b64url_decode(const char *src, size_t n, unsigned char *dst)
{
    unsigned long acc = 0;
    int bits = 0;
    size_t i, o = 0;

    if (n % 4 == 1)
        return -1;
    for (i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)src[i]);
        if (v < 0)
            return -1;
        acc = ((acc << 6) | (unsigned long)v) & 0xffffffUL;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    return (long)o;
}

/* Decodes one base64url segment and parses it as a JSON object, refusing
 * duplicate member names. scratch must hold at least n bytes. Returns a new
 * reference or NULL. */
static json_t *segment_object(const char *src, size_t n, unsigned char *scratch)
{
    long dlen;
    json_t *obj;

    if (n == 0)
        return NULL;
    dlen = b64url_decode(src, n, scratch);
    if (dlen <= 0)
        return NULL;
    obj = json_loadb((const char *)scratch, (size_t)dlen, JSON_REJECT_DUPLICATES, NULL);
    if (obj != NULL && !json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* a + b, saturated to the range of long long. */
static long long sat_add(long long a, long long b)
{
    if (b > 0 && a > LLONG_MAX - b)
        return LLONG_MAX;
    if (b < 0 && a < LLONG_MIN - b)
        return LLONG_MIN;
    return a + b;
}

/* Reads a NumericDate claim (JSON integer, or real truncated toward negative
 * infinity and saturated). Returns 0, or -1 if v is not a number. */
static int claim_time(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 9.0e18)
            *out = LLONG_MAX;
        else if (d <= -9.0e18)
            *out = LLONG_MIN;
        else {
            long long t = (long long)d;
            if ((double)t > d)
                t--;
            *out = t;
        }
        return 0;
    }
    return -1;
}

static int has_control(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

/* Longest prefix of the UTF-8 string s (n bytes) that is at most max bytes
 * and ends on a character boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

static int audience_ok(const json_t *aud, const char *want)
{
    size_t i;
    json_t *v;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    if (json_is_array(aud)) {
        json_array_foreach(aud, i, v) {
            if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
                return 1;
        }
    }
    return 0;
}

/* Checks the claims of an already authenticated payload and fills *c.
 * Returns NULL on success, else the reason. */
static const char *check_claims(const ch_jwt_config *cfg, const json_t *claims,
                                time_t now, ch_jwt_claims *c)
{
    long long t, leeway, now_ll = (long long)now;
    const json_t *v;
    const char *s;
    size_t n;

    leeway = cfg->leeway < 0 ? 0 : cfg->leeway;
    if (leeway > JWT_LEEWAY_MAX)
        leeway = JWT_LEEWAY_MAX;

    v = json_object_get(claims, "exp");
    if (v == NULL)
        return "missing exp";
    if (claim_time(v, &t) != 0)
        return "invalid exp";
    if (now_ll > sat_add(t, leeway))
        return "token expired";
    c->exp = t;

    v = json_object_get(claims, "nbf");
    if (v != NULL) {
        if (claim_time(v, &t) != 0)
            return "invalid nbf";
        if (now_ll < sat_add(t, -leeway))
            return "token not yet valid";
    }

    c->iat = 0;
    v = json_object_get(claims, "iat");
    if (v != NULL) {
        if (claim_time(v, &t) != 0)
            return "invalid iat";
        c->iat = t;
    }

    if (cfg->issuer != NULL) {
        v = json_object_get(claims, "iss");
        if (!json_is_string(v) || strcmp(json_string_value(v), cfg->issuer) != 0)
            return "issuer mismatch";
    }

    if (cfg->audience != NULL) {
        v = json_object_get(claims, "aud");
        if (v == NULL || !audience_ok(v, cfg->audience))
            return "audience mismatch";
    }

    v = json_object_get(claims, "sub");
    if (v == NULL)
        return "missing subject";
    if (!json_is_string(v))
        return "invalid subject";
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n > CH_JWT_SUB_MAX || n != strlen(s) || has_control(s, n))
        return "invalid subject";
    memcpy(c->sub, s, n);
    c->sub[n] = '\0';

    v = json_object_get(claims, "name");
    if (v != NULL) {
        if (!json_is_string(v))
            return "invalid name";
        s = json_string_value(v);
        n = json_string_length(v);
        if (n != strlen(s) || has_control(s, n))
            return "invalid name";
        n = utf8_cut(s, n, CH_JWT_SUB_MAX);
    }
    if (v == NULL || n == 0) {
        s = c->sub;
        n = strlen(c->sub);
    }
    memcpy(c->name, s, n);
    c->name[n] = '\0';
    return NULL;
}

int ch_jwt_verify(const ch_jwt_config *cfg, const char *token, size_t len,
                  time_t now, ch_jwt_claims *out, const char **reason)
{
    const char *why = "malformed token";
    const char *name;
    size_t max, i, dot1 = 0, dot2 = 0, dots = 0;
    char *copy = NULL;               /* owned: NUL-terminated token for libjwt */
    unsigned char *scratch = NULL;   /* owned: base64url-decoded segments */
    json_t *header = NULL;           /* owned reference */
    json_t *claims = NULL;           /* owned reference */
    jwt_t *jwt = NULL;               /* owned: libjwt's decoded token */
    ch_jwt_claims c;
    const json_t *alg;

    if (cfg == NULL) {
        why = "no configuration";
        goto fail;
    }
    max = cfg->max_token_len ? cfg->max_token_len : CH_JWT_MAX_TOKEN;
    if (len == 0 || token == NULL) {
        why = "empty token";
        goto fail;
    }
    if (len > max) {
        why = "token too long";
        goto fail;
    }

    /* Shape: base64url segments separated by exactly two dots. */
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)token[i];
        if (ch == '.') {
            if (dots == 0)
                dot1 = i;
            else
                dot2 = i;
            dots++;
        } else if (b64url_value(ch) < 0) {
            goto fail;
        }
    }
    if (dots != 2 || dot1 == 0 || dot2 == dot1 + 1)
        goto fail;

    name = alg_name(cfg->alg);
    if (name == NULL) {
        why = "algorithm not configured";
        goto fail;
    }
    if (cfg->key == NULL || cfg->key_len == 0 || cfg->key_len > INT_MAX) {
        why = "no key configured";
        goto fail;
    }
    if (out == NULL) {
        why = "no output";
        goto fail;
    }

    scratch = malloc(len);
    if (scratch == NULL) {
        why = "out of memory";
        goto fail;
    }

    header = segment_object(token, dot1, scratch);
    if (header == NULL)
        goto fail;
    alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), name) != 0) {
        why = "algorithm not allowed";
        goto fail;
    }
    if (json_object_get(header, "crit") != NULL) {
        why = "unsupported critical header";
        goto fail;
    }

    claims = segment_object(token + dot1 + 1, dot2 - dot1 - 1, scratch);
    if (claims == NULL)
        goto fail;

    if (dot2 + 1 == len) {
        why = "bad signature";
        goto fail;
    }

    copy = malloc(len + 1);
    if (copy == NULL) {
        why = "out of memory";
        goto fail;
    }
    memcpy(copy, token, len);
    copy[len] = '\0';

    if (jwt_decode(&jwt, copy, cfg->key, (int)cfg->key_len) != 0 || jwt == NULL) {
        why = "bad signature";
        goto fail;
    }
    if (jwt_get_alg(jwt) != alg_libjwt(cfg->alg)) {
        why = "algorithm not allowed";
        goto fail;
    }

    memset(&c, 0, sizeof c);
    why = check_claims(cfg, claims, now, &c);
    if (why != NULL)
        goto fail;

    *out = c;
    if (reason != NULL)
        *reason = NULL;
    jwt_free(jwt);
    json_decref(claims);
    json_decref(header);
    free(copy);
    free(scratch);
    return 0;

fail:
    if (jwt != NULL)
        jwt_free(jwt);
    json_decref(claims);
    json_decref(header);
    free(copy);
    free(scratch);
    if (reason != NULL)
        *reason = why;
    return -1;
}
