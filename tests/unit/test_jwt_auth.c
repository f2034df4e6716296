/*
 * test_jwt_auth.c — ch_jwt_verify against tokens minted here with libjwt.
 *
 * HS256 tokens use a fixed secret; RS256 and ES256 keys are generated at
 * start-up with OpenSSL and kept as PEM strings in memory. Every verification
 * uses the fixed clock NOW, so expiry cases are exact. Attack tokens (alg=none,
 * HMAC keyed with the RSA public PEM) are first shown to pass plain
 * jwt_decode, so their rejection here is the wrapper's doing.
 */
#include "jwt_auth.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define NOW 1700000000LL

static const unsigned char secret[] = "correct horse battery staple, 32+";

/* PEM strings generated in main(); owned here, freed at exit. */
static char *rsa_priv, *rsa_pub, *ec_priv, *ec_pub;

/* Returns a malloc'd PEM of pkey (private if priv), or NULL. */
static char *pem_of(EVP_PKEY *pkey, int priv)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *copy = NULL;
    long n;
    int ok;

    if (bio == NULL)
        return NULL;
    ok = priv ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
              : PEM_write_bio_PUBKEY(bio, pkey);
    if (ok == 1) {
        n = BIO_get_mem_data(bio, &data);
        copy = malloc((size_t)n + 1);
        if (copy != NULL) {
            memcpy(copy, data, (size_t)n);
            copy[n] = '\0';
        }
    }
    BIO_free(bio);
    return copy;
}

static int make_keys(void)
{
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    int rc = -1;

    if (rsa == NULL || ec == NULL)
        goto out;
    rsa_priv = pem_of(rsa, 1);
    rsa_pub = pem_of(rsa, 0);
    ec_priv = pem_of(ec, 1);
    ec_pub = pem_of(ec, 0);
    if (rsa_priv && rsa_pub && ec_priv && ec_pub)
        rc = 0;
out:
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    return rc;
}

/* Signs claims (a JSON object text) with libjwt; returns a malloc'd token. */
static char *mint(jwt_alg_t alg, const void *key, size_t keylen, const char *claims)
{
    jwt_t *j = NULL;
    char *tok = NULL;

    if (jwt_new(&j) != 0)
        return NULL;
    if (claims != NULL && jwt_add_grants_json(j, claims) != 0)
        goto out;
    if (jwt_set_alg(j, alg, key, (int)keylen) != 0)
        goto out;
    tok = jwt_encode_str(j);
out:
    jwt_free(j);
    return tok;
}

static char *mint_hs(const char *claims)
{
    return mint(JWT_ALG_HS256, secret, sizeof secret - 1, claims);
}

/* Unpadded base64url of s into out (large enough). */
static void b64url(const char *s, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(s), i, o = 0;
    const unsigned char *u = (const unsigned char *)s;

    for (i = 0; i + 2 < n; i += 3) {
        out[o++] = tab[u[i] >> 2];
        out[o++] = tab[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
        out[o++] = tab[((u[i + 1] & 15) << 2) | (u[i + 2] >> 6)];
        out[o++] = tab[u[i + 2] & 63];
    }
    if (n - i == 1) {
        out[o++] = tab[u[i] >> 2];
        out[o++] = tab[(u[i] & 3) << 4];
    } else if (n - i == 2) {
        out[o++] = tab[u[i] >> 2];
        out[o++] = tab[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
        out[o++] = tab[(u[i + 1] & 15) << 2];
    }
    out[o] = '\0';
}

static ch_jwt_config hs_config(void)
{
    ch_jwt_config cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.alg = CH_JWT_HS256;
    cfg.key = secret;
    cfg.key_len = sizeof secret - 1;
    cfg.leeway = 30;
    return cfg;
}

static ch_jwt_config pem_config(ch_jwt_alg alg, const char *pem)
{
    ch_jwt_config cfg = hs_config();

    cfg.alg = alg;
    cfg.key = (const unsigned char *)pem;
    cfg.key_len = strlen(pem);
    return cfg;
}

/* Verifies a NUL-terminated token at NOW; returns ch_jwt_verify's result. */
static int verify(const ch_jwt_config *cfg, const char *tok, ch_jwt_claims *c,
                  const char **why)
{
    *why = "unset";
    return ch_jwt_verify(cfg, tok, tok ? strlen(tok) : 0, (time_t)NOW, c, why);
}

/* Mints an HS256 token from claims and expects rejection with reason want. */
static void expect_hs_reject(const ch_jwt_config *cfg, const char *claims, const char *want)
{
    ch_jwt_claims c;
    const char *why;
    char *tok = mint_hs(claims);

    CHECK(tok != NULL);
    if (tok == NULL)
        return;
    CHECK_EQ_INT(verify(cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, want);
    free(tok);
}

static void expect_hs_accept(const ch_jwt_config *cfg, const char *claims, ch_jwt_claims *c)
{
    const char *why;
    char *tok = mint_hs(claims);

    CHECK(tok != NULL);
    if (tok == NULL)
        return;
    CHECK_EQ_INT(verify(cfg, tok, c, &why), 0);
    if (why != NULL && strcmp(why, "unset") != 0)
        fprintf(stderr, "  unexpected rejection: %s (claims %s)\n", why, claims);
    free(tok);
}

static void test_alg_parse(void)
{
    CHECK_EQ_INT(ch_jwt_alg_parse("HS256"), CH_JWT_HS256);
    CHECK_EQ_INT(ch_jwt_alg_parse("RS256"), CH_JWT_RS256);
    CHECK_EQ_INT(ch_jwt_alg_parse("ES256"), CH_JWT_ES256);
    CHECK_EQ_INT(ch_jwt_alg_parse("hs256"), 0);
    CHECK_EQ_INT(ch_jwt_alg_parse("none"), 0);
    CHECK_EQ_INT(ch_jwt_alg_parse(""), 0);
    CHECK_EQ_INT(ch_jwt_alg_parse(NULL), 0);
}

static void test_hs256_valid(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c;
    const char *why;
    char claims[256], *tok, *padded;
    size_t n;

    snprintf(claims, sizeof claims,
             "{\"sub\":\"user-42\",\"name\":\"Ada\",\"exp\":%lld,\"iat\":%lld}",
             NOW + 600, NOW - 5);
    tok = mint_hs(claims);
    CHECK(tok != NULL);
    if (tok == NULL)
        return;
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), 0);
    CHECK(why == NULL);
    CHECK_EQ_STR(c.sub, "user-42");
    CHECK_EQ_STR(c.name, "Ada");
    CHECK_EQ_INT(c.exp, NOW + 600);
    CHECK_EQ_INT(c.iat, NOW - 5);

    /* Only len bytes are read: trailing bytes after the token are ignored. */
    n = strlen(tok);
    padded = malloc(n + 8);
    CHECK(padded != NULL);
    if (padded != NULL) {
        memcpy(padded, tok, n);
        memcpy(padded + n, "\x01junk!", 7);
        CHECK_EQ_INT(ch_jwt_verify(&cfg, padded, n, (time_t)NOW, &c, &why), 0);
        free(padded);
    }

    /* Wrong secret. */
    cfg.key = (const unsigned char *)"another secret entirely";
    cfg.key_len = strlen((const char *)cfg.key);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "bad signature");
    free(tok);
}

static void test_expiry(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c;
    char claims[256];

    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld}", NOW - 31);
    expect_hs_reject(&cfg, claims, "token expired");

    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld}", NOW - 30);
    expect_hs_accept(&cfg, claims, &c);
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld}", NOW - 10);
    expect_hs_accept(&cfg, claims, &c);
    CHECK_EQ_INT(c.exp, NOW - 10);
    CHECK_EQ_INT(c.iat, 0);

    /* A fractional NumericDate is accepted. */
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld.75}", NOW + 100);
    expect_hs_accept(&cfg, claims, &c);
    CHECK_EQ_INT(c.exp, NOW + 100);

    /* Zero leeway: exp == now still valid, exp == now - 1 not. */
    cfg.leeway = 0;
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld}", NOW);
    expect_hs_accept(&cfg, claims, &c);
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld}", NOW - 1);
    expect_hs_reject(&cfg, claims, "token expired");

    /* A negative leeway counts as zero. */
    cfg.leeway = -1000;
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld}", NOW);
    expect_hs_accept(&cfg, claims, &c);

    /* Extreme values do not overflow. */
    cfg.leeway = 30;
    expect_hs_accept(&cfg, "{\"sub\":\"u\",\"exp\":9223372036854775807}", &c);
    expect_hs_reject(&cfg, "{\"sub\":\"u\",\"exp\":-9223372036854775807}", "token expired");
    expect_hs_accept(&cfg, "{\"sub\":\"u\",\"exp\":1e300}", &c);
    expect_hs_reject(&cfg,
                     "{\"sub\":\"u\",\"exp\":9223372036854775807,\"nbf\":9223372036854775807}",
                     "token not yet valid");
    expect_hs_accept(&cfg,
                     "{\"sub\":\"u\",\"exp\":9223372036854775807,\"nbf\":-9223372036854775807}",
                     &c);

    expect_hs_reject(&cfg, "{\"sub\":\"u\"}", "missing exp");
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":\"%lld\"}", NOW + 600);
    expect_hs_reject(&cfg, claims, "invalid exp");
    expect_hs_reject(&cfg, "{\"sub\":\"u\",\"exp\":true}", "invalid exp");
    expect_hs_reject(&cfg, "{\"sub\":\"u\",\"exp\":null}", "invalid exp");
    expect_hs_reject(&cfg, "{\"sub\":\"u\",\"exp\":[1]}", "invalid exp");
}

static void test_nbf_iat(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c;
    char claims[256];

    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld}",
             NOW + 600, NOW + 31);
    expect_hs_reject(&cfg, claims, "token not yet valid");
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld}",
             NOW + 600, NOW + 30);
    expect_hs_accept(&cfg, claims, &c);
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld}",
             NOW + 600, NOW - 100);
    expect_hs_accept(&cfg, claims, &c);
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":\"soon\"}", NOW + 600);
    expect_hs_reject(&cfg, claims, "invalid nbf");

    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"iat\":\"x\"}", NOW + 600);
    expect_hs_reject(&cfg, claims, "invalid iat");
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"iat\":%lld}", NOW + 600, NOW);
    expect_hs_accept(&cfg, claims, &c);
    CHECK_EQ_INT(c.iat, NOW);
}

static void test_alg_none(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c;
    const char *why;
    char claims[128], payload[256], tok[512];
    jwt_t *j = NULL;

    snprintf(claims, sizeof claims, "{\"sub\":\"admin\",\"exp\":%lld}", NOW + 600);
    b64url(claims, payload);

    snprintf(tok, sizeof tok, "eyJhbGciOiJub25lIn0.%s.", payload);
    /* Plain libjwt with no key takes it. */
    CHECK_EQ_INT(jwt_decode(&j, tok, NULL, 0), 0);
    jwt_free(j);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");

    /* Same with a bogus signature attached, and with other capitalisation. */
    snprintf(tok, sizeof tok, "eyJhbGciOiJub25lIn0.%s.AAAA", payload);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");
    b64url("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", claims);
    snprintf(tok, sizeof tok, "%s.%s.AAAA", claims, payload);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");

    /* A header without alg, or with a non-string alg. */
    b64url("{\"typ\":\"JWT\"}", claims);
    snprintf(tok, sizeof tok, "%s.%s.AAAA", claims, payload);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");
    b64url("{\"alg\":1}", claims);
    snprintf(tok, sizeof tok, "%s.%s.AAAA", claims, payload);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");

    /* Duplicate "alg" members are refused outright. */
    b64url("{\"alg\":\"none\",\"alg\":\"HS256\"}", claims);
    snprintf(tok, sizeof tok, "%s.%s.AAAA", claims, payload);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "malformed token");
}

static void test_key_confusion(void)
{
    ch_jwt_config rs = pem_config(CH_JWT_RS256, rsa_pub);
    ch_jwt_config hs = pem_config(CH_JWT_HS256, rsa_pub);
    ch_jwt_claims c;
    const char *why;
    char claims[128], *forged;
    jwt_t *j = NULL;

    snprintf(claims, sizeof claims, "{\"sub\":\"admin\",\"exp\":%lld}", NOW + 600);
    forged = mint(JWT_ALG_HS256, rsa_pub, strlen(rsa_pub), claims);
    CHECK(forged != NULL);
    if (forged == NULL)
        return;
    /* Plain libjwt, handed the public PEM, takes the forgery. */
    CHECK_EQ_INT(jwt_decode(&j, forged, (const unsigned char *)rsa_pub, (int)strlen(rsa_pub)), 0);
    jwt_free(j);

    CHECK_EQ_INT(verify(&rs, forged, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");
    /* Only a deployment that pins HS256 with that exact secret accepts it. */
    CHECK_EQ_INT(verify(&hs, forged, &c, &why), 0);
    free(forged);
}

static void test_rs256_es256(void)
{
    ch_jwt_config rs = pem_config(CH_JWT_RS256, rsa_pub);
    ch_jwt_config es = pem_config(CH_JWT_ES256, ec_pub);
    ch_jwt_config hs = hs_config();
    ch_jwt_config rs_wrong = pem_config(CH_JWT_RS256, ec_pub);
    ch_jwt_config es_wrong = pem_config(CH_JWT_ES256, rsa_pub);
    ch_jwt_claims c;
    const char *why;
    char claims[128], *rtok, *etok;

    snprintf(claims, sizeof claims, "{\"sub\":\"rs-user\",\"exp\":%lld}", NOW + 600);
    rtok = mint(JWT_ALG_RS256, rsa_priv, strlen(rsa_priv), claims);
    snprintf(claims, sizeof claims, "{\"sub\":\"es-user\",\"exp\":%lld}", NOW + 600);
    etok = mint(JWT_ALG_ES256, ec_priv, strlen(ec_priv), claims);
    CHECK(rtok != NULL);
    CHECK(etok != NULL);
    if (rtok == NULL || etok == NULL)
        goto out;

    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(verify(&rs, rtok, &c, &why), 0);
    CHECK_EQ_STR(c.sub, "rs-user");
    CHECK_EQ_INT(verify(&hs, rtok, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");
    CHECK_EQ_INT(verify(&es, rtok, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");
    CHECK_EQ_INT(verify(&rs_wrong, rtok, &c, &why), -1);
    CHECK_EQ_STR(why, "bad signature");

    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(verify(&es, etok, &c, &why), 0);
    CHECK_EQ_STR(c.sub, "es-user");
    CHECK_EQ_INT(verify(&rs, etok, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");
    CHECK_EQ_INT(verify(&hs, etok, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");
    CHECK_EQ_INT(verify(&es_wrong, etok, &c, &why), -1);
    CHECK_EQ_STR(why, "bad signature");
out:
    free(rtok);
    free(etok);
}

static void test_tampering(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c;
    const char *why;
    char claims[128], payload[256], tok[1024], *good, *dot1, *dot2;

    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld}", NOW + 600);
    good = mint_hs(claims);
    CHECK(good != NULL);
    if (good == NULL)
        return;
    dot1 = strchr(good, '.');
    dot2 = strrchr(good, '.');

    /* Payload swapped for one naming another user, signature kept. */
    snprintf(claims, sizeof claims, "{\"sub\":\"mallory\",\"exp\":%lld}", NOW + 600);
    b64url(claims, payload);
    snprintf(tok, sizeof tok, "%.*s.%s%s", (int)(dot1 - good), good, payload, dot2);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "bad signature");

    /* One signature character changed. */
    snprintf(tok, sizeof tok, "%s", good);
    tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "bad signature");

    /* Signature removed. */
    snprintf(tok, sizeof tok, "%.*s", (int)(dot2 - good + 1), good);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "bad signature");

    /* Structural garbage. */
    CHECK_EQ_INT(verify(&cfg, "abc", &c, &why), -1);
    CHECK_EQ_STR(why, "malformed token");
    CHECK_EQ_INT(verify(&cfg, "a.b", &c, &why), -1);
    CHECK_EQ_STR(why, "malformed token");
    CHECK_EQ_INT(verify(&cfg, "..", &c, &why), -1);
    CHECK_EQ_STR(why, "malformed token");
    CHECK_EQ_INT(verify(&cfg, "a.b.c.d", &c, &why), -1);
    CHECK_EQ_STR(why, "malformed token");
    CHECK_EQ_INT(verify(&cfg, "e30.e30.e30", &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not allowed");
    snprintf(tok, sizeof tok, "%s", good);
    tok[3] = '=';
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "malformed token");
    snprintf(tok, sizeof tok, "%s", good);
    tok[5] = ' ';
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "malformed token");
    /* Payload that is JSON but not an object. */
    b64url("[1,2]", payload);
    snprintf(tok, sizeof tok, "%.*s.%s%s", (int)(dot1 - good), good, payload, dot2);
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "malformed token");
    free(good);
}

static void test_size_and_bytes(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c;
    const char *why;
    char claims[128], *good, *big, *nul;
    size_t n;

    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld}", NOW + 600);
    good = mint_hs(claims);
    CHECK(good != NULL);
    if (good == NULL)
        return;
    n = strlen(good);

    /* A valid token one byte over a configured cap is refused by size. */
    cfg.max_token_len = n - 1;
    CHECK_EQ_INT(verify(&cfg, good, &c, &why), -1);
    CHECK_EQ_STR(why, "token too long");
    cfg.max_token_len = n;
    CHECK_EQ_INT(verify(&cfg, good, &c, &why), 0);
    cfg.max_token_len = 0;

    /* Default cap: CH_JWT_MAX_TOKEN + 1 bytes never reach the parser. */
    big = malloc(CH_JWT_MAX_TOKEN + 2);
    CHECK(big != NULL);
    if (big != NULL) {
        memset(big, 'A', CH_JWT_MAX_TOKEN + 1);
        big[CH_JWT_MAX_TOKEN + 1] = '\0';
        CHECK_EQ_INT(ch_jwt_verify(&cfg, big, CH_JWT_MAX_TOKEN + 1, (time_t)NOW, &c, &why), -1);
        CHECK_EQ_STR(why, "token too long");
        CHECK_EQ_INT(ch_jwt_verify(&cfg, big, CH_JWT_MAX_TOKEN, (time_t)NOW, &c, &why), -1);
        CHECK_EQ_STR(why, "malformed token");
        free(big);
    }

    CHECK_EQ_INT(ch_jwt_verify(&cfg, good, 0, (time_t)NOW, &c, &why), -1);
    CHECK_EQ_STR(why, "empty token");
    CHECK_EQ_INT(ch_jwt_verify(&cfg, NULL, 10, (time_t)NOW, &c, &why), -1);

    /* An embedded NUL (len covers it) and a control byte. */
    nul = malloc(n + 1);
    CHECK(nul != NULL);
    if (nul != NULL) {
        memcpy(nul, good, n + 1);
        nul[n / 2] = '\0';
        CHECK_EQ_INT(ch_jwt_verify(&cfg, nul, n, (time_t)NOW, &c, &why), -1);
        CHECK_EQ_STR(why, "malformed token");
        nul[n / 2] = '\n';
        CHECK_EQ_INT(ch_jwt_verify(&cfg, nul, n, (time_t)NOW, &c, &why), -1);
        CHECK_EQ_STR(why, "malformed token");
        nul[n / 2] = (char)0xc3;
        CHECK_EQ_INT(ch_jwt_verify(&cfg, nul, n, (time_t)NOW, &c, &why), -1);
        CHECK_EQ_STR(why, "malformed token");
        free(nul);
    }
    /* NUL right after a valid token, included in len. */
    CHECK_EQ_INT(ch_jwt_verify(&cfg, good, n + 1, (time_t)NOW, &c, &why), -1);
    CHECK_EQ_STR(why, "malformed token");
    free(good);
}

static void test_config_errors(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c, before;
    const char *why;
    char claims[128], *good;

    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld}", NOW + 600);
    good = mint_hs(claims);
    CHECK(good != NULL);
    if (good == NULL)
        return;

    cfg.key_len = 0;
    CHECK_EQ_INT(verify(&cfg, good, &c, &why), -1);
    CHECK_EQ_STR(why, "no key configured");
    cfg = hs_config();
    cfg.key = NULL;
    CHECK_EQ_INT(verify(&cfg, good, &c, &why), -1);
    CHECK_EQ_STR(why, "no key configured");
    cfg = hs_config();
    cfg.alg = (ch_jwt_alg)0;
    CHECK_EQ_INT(verify(&cfg, good, &c, &why), -1);
    CHECK_EQ_STR(why, "algorithm not configured");
    CHECK_EQ_INT(verify(NULL, good, &c, &why), -1);

    /* A failed verification leaves *out untouched; a NULL reason is fine. */
    cfg = hs_config();
    cfg.issuer = "https://issuer.example";
    memset(&c, 0x5a, sizeof c);
    before = c;
    CHECK_EQ_INT(ch_jwt_verify(&cfg, good, strlen(good), (time_t)NOW, &c, NULL), -1);
    CHECK(memcmp(&c, &before, sizeof c) == 0);
    free(good);
}

static void test_iss_aud(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c;
    char claims[256];
    long long exp = NOW + 600;

    cfg.issuer = "https://auth.example";
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"iss\":\"https://auth.example\"}", exp);
    expect_hs_accept(&cfg, claims, &c);
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"iss\":\"https://auth.example.evil\"}", exp);
    expect_hs_reject(&cfg, claims, "issuer mismatch");
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"iss\":\"HTTPS://AUTH.EXAMPLE\"}", exp);
    expect_hs_reject(&cfg, claims, "issuer mismatch");
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld}", exp);
    expect_hs_reject(&cfg, claims, "issuer mismatch");
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"iss\":[\"https://auth.example\"]}", exp);
    expect_hs_reject(&cfg, claims, "issuer mismatch");

    cfg.issuer = NULL;
    cfg.audience = "chorus";
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"aud\":\"chorus\"}", exp);
    expect_hs_accept(&cfg, claims, &c);
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"aud\":[\"other\",\"chorus\"]}", exp);
    expect_hs_accept(&cfg, claims, &c);
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"aud\":\"chorus2\"}", exp);
    expect_hs_reject(&cfg, claims, "audience mismatch");
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"aud\":[\"other\",1,null]}", exp);
    expect_hs_reject(&cfg, claims, "audience mismatch");
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"aud\":[]}", exp);
    expect_hs_reject(&cfg, claims, "audience mismatch");
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld}", exp);
    expect_hs_reject(&cfg, claims, "audience mismatch");

    /* Not configured: any iss/aud passes. */
    cfg.audience = NULL;
    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld,\"aud\":\"x\",\"iss\":\"y\"}", exp);
    expect_hs_accept(&cfg, claims, &c);
}

static void test_sub_name(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c;
    char claims[1024], s128[129], s129[130], longname[400];
    long long exp = NOW + 600;
    size_t i;

    snprintf(claims, sizeof claims, "{\"exp\":%lld}", exp);
    expect_hs_reject(&cfg, claims, "missing subject");
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"\"}", exp);
    expect_hs_reject(&cfg, claims, "invalid subject");
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":42}", exp);
    expect_hs_reject(&cfg, claims, "invalid subject");
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"a\\u0001b\"}", exp);
    expect_hs_reject(&cfg, claims, "invalid subject");
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"a\\nb\"}", exp);
    expect_hs_reject(&cfg, claims, "invalid subject");

    memset(s128, 'x', 128);
    s128[128] = '\0';
    memset(s129, 'y', 129);
    s129[129] = '\0';
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"%s\"}", exp, s129);
    expect_hs_reject(&cfg, claims, "invalid subject");
    memset(&c, 0, sizeof c);
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"%s\"}", exp, s128);
    expect_hs_accept(&cfg, claims, &c);
    CHECK_EQ_STR(c.sub, s128);
    CHECK_EQ_STR(c.name, s128);

    /* name defaults to sub; present names are kept; empty falls back. */
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"u-1\"}", exp);
    expect_hs_accept(&cfg, claims, &c);
    CHECK_EQ_STR(c.name, "u-1");
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"u-1\",\"name\":\"\"}", exp);
    expect_hs_accept(&cfg, claims, &c);
    CHECK_EQ_STR(c.name, "u-1");
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"u-1\",\"name\":\"Zo\\u00eb\"}", exp);
    expect_hs_accept(&cfg, claims, &c);
    CHECK_EQ_STR(c.name, "Zo\xc3\xab");
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"u-1\",\"name\":7}", exp);
    expect_hs_reject(&cfg, claims, "invalid name");
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"u-1\",\"name\":null}", exp);
    expect_hs_reject(&cfg, claims, "invalid name");
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"u-1\",\"name\":\"a\\tb\"}", exp);
    expect_hs_reject(&cfg, claims, "invalid name");

    /* A long name is cut to at most 128 bytes on a character boundary:
     * "a" followed by 2-byte characters puts byte 128 mid-character. */
    longname[0] = 'a';
    for (i = 0; i < 100; i++) {
        longname[1 + 2 * i] = (char)0xc3;
        longname[2 + 2 * i] = (char)0xa9;
    }
    longname[201] = '\0';
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"u-1\",\"name\":\"%s\"}", exp, longname);
    memset(&c, 0, sizeof c);
    expect_hs_accept(&cfg, claims, &c);
    CHECK_EQ_INT(strlen(c.name), 127);
    CHECK(memcmp(c.name, longname, 127) == 0);
    /* Exactly 128 ASCII bytes then more: cut at 128. */
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"u-1\",\"name\":\"%s%s\"}", exp, s128, "tail");
    expect_hs_accept(&cfg, claims, &c);
    CHECK_EQ_STR(c.name, s128);
}

static void test_crit_header(void)
{
    ch_jwt_config cfg = hs_config();
    ch_jwt_claims c;
    const char *why;
    char claims[128], *tok;
    jwt_t *j = NULL;

    snprintf(claims, sizeof claims, "{\"sub\":\"u\",\"exp\":%lld}", NOW + 600);
    CHECK_EQ_INT(jwt_new(&j), 0);
    if (j == NULL)
        return;
    jwt_add_grants_json(j, claims);
    jwt_add_headers_json(j, "{\"crit\":[\"x-ext\"],\"x-ext\":1}");
    jwt_set_alg(j, JWT_ALG_HS256, secret, (int)(sizeof secret - 1));
    tok = jwt_encode_str(j);
    jwt_free(j);
    CHECK(tok != NULL);
    if (tok == NULL)
        return;
    CHECK_EQ_INT(verify(&cfg, tok, &c, &why), -1);
    CHECK_EQ_STR(why, "unsupported critical header");
    free(tok);
}

int main(void)
{
    if (make_keys() != 0) {
        fprintf(stderr, "key generation failed\n");
        return 2;
    }
    test_alg_parse();
    test_hs256_valid();
    test_expiry();
    test_nbf_iat();
    test_alg_none();
    test_key_confusion();
    test_rs256_es256();
    test_tampering();
    test_size_and_bytes();
    test_config_errors();
    test_iss_aud();
    test_sub_name();
    test_crit_header();
    free(rsa_priv);
    free(rsa_pub);
    free(ec_priv);
    free(ec_pub);
    TEST_MAIN_END();
}
