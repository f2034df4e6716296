/*
 * test_worker_token.c — access tokens minted by core_token.c pass the
 * gateways' verification (ch_jwt_verify) with the right claims, and fail it
 * with another key, after expiry, or with a different issuer/audience;
 * RS256 tokens verify with the public key derived from the private PEM;
 * refresh tokens have the documented shape and are random.
 */
#include "core_token.h"
#include "jwt_auth.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define NOW 1700000000L

static const unsigned char secret[] = "worker-unit-test-secret-0123456789";

static ch_jwt_config vcfg(const unsigned char *key, size_t len, ch_jwt_alg alg)
{
    ch_jwt_config c;
    memset(&c, 0, sizeof(c));
    c.alg = alg;
    c.key = key;
    c.key_len = len;
    c.leeway = 0;
    return c;
}

static void test_hs256(void)
{
    wk_mint_config mc = { CH_JWT_HS256, secret, sizeof(secret) - 1, NULL, NULL, 900 };
    ch_jwt_config vc = vcfg(secret, sizeof(secret) - 1, CH_JWT_HS256);
    ch_jwt_claims cl;
    const char *why = NULL;
    char *tok = wk_token_mint(&mc, 42, "Alice Liddell", NOW);

    CHECK(tok != NULL);
    if (!tok) return;
    CHECK_EQ_INT(ch_jwt_verify(&vc, tok, strlen(tok), NOW, &cl, &why), 0);
    CHECK_EQ_STR(cl.sub, "42");
    CHECK_EQ_STR(cl.name, "Alice Liddell");
    CHECK_EQ_INT(cl.iat, NOW);
    CHECK_EQ_INT(cl.exp, NOW + 900);
    /* Expired one second after exp (no leeway here). */
    CHECK_EQ_INT(ch_jwt_verify(&vc, tok, strlen(tok), NOW + 901, &cl, &why), -1);
    /* Another secret. */
    static const unsigned char other[] = "another-secret-another-secret-0000";
    ch_jwt_config bad = vcfg(other, sizeof(other) - 1, CH_JWT_HS256);
    CHECK_EQ_INT(ch_jwt_verify(&bad, tok, strlen(tok), NOW, &cl, &why), -1);
    /* A verifier that pins RS256 refuses an HS256 token. */
    ch_jwt_config rs = vcfg(secret, sizeof(secret) - 1, CH_JWT_RS256);
    CHECK_EQ_INT(ch_jwt_verify(&rs, tok, strlen(tok), NOW, &cl, &why), -1);
    free(tok);

    /* Issuer and audience, when configured, are claimed and checked. */
    wk_mint_config mia = { CH_JWT_HS256, secret, sizeof(secret) - 1, "chorus", "chorus-web", 60 };
    tok = wk_token_mint(&mia, 7, "Bob", NOW);
    CHECK(tok != NULL);
    if (!tok) return;
    vc.issuer = "chorus";
    vc.audience = "chorus-web";
    CHECK_EQ_INT(ch_jwt_verify(&vc, tok, strlen(tok), NOW, &cl, &why), 0);
    CHECK_EQ_STR(cl.sub, "7");
    vc.audience = "elsewhere";
    CHECK_EQ_INT(ch_jwt_verify(&vc, tok, strlen(tok), NOW, &cl, &why), -1);
    free(tok);

    /* Refusals: no key, bad user id, bad ttl. */
    wk_mint_config nokey = { CH_JWT_HS256, NULL, 0, NULL, NULL, 60 };
    CHECK(wk_token_mint(&nokey, 1, "x", NOW) == NULL);
    CHECK(wk_token_mint(&mc, 0, "x", NOW) == NULL);
    wk_mint_config nottl = { CH_JWT_HS256, secret, sizeof(secret) - 1, NULL, NULL, 0 };
    CHECK(wk_token_mint(&nottl, 1, "x", NOW) == NULL);
}

static char *rsa_private_pem(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long n;

    if (k && b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1) {
        n = BIO_get_mem_data(b, &data);
        out = calloc((size_t)n + 1, 1);
        if (out) memcpy(out, data, (size_t)n);
    }
    BIO_free(b);
    EVP_PKEY_free(k);
    return out;
}

static void test_rs256(void)
{
    char *priv = rsa_private_pem();
    char *pub = priv ? wk_public_pem(priv, strlen(priv)) : NULL;
    ch_jwt_claims cl;
    const char *why = NULL;

    CHECK(priv != NULL);
    CHECK(pub != NULL);
    if (!priv || !pub) goto out;
    CHECK(strstr(pub, "BEGIN PUBLIC KEY") != NULL);
    wk_mint_config mc = { CH_JWT_RS256, (const unsigned char *)priv, strlen(priv), NULL, NULL, 300 };
    char *tok = wk_token_mint(&mc, 9, "Carol", NOW);
    CHECK(tok != NULL);
    ch_jwt_config vc = vcfg((const unsigned char *)pub, strlen(pub), CH_JWT_RS256);
    CHECK_EQ_INT(ch_jwt_verify(&vc, tok, strlen(tok), NOW, &cl, &why), 0);
    CHECK_EQ_STR(cl.sub, "9");
    free(tok);
    CHECK(wk_public_pem("not a key", 9) == NULL);
out:
    free(priv);
    free(pub);
}

static void test_refresh(void)
{
    char a[WK_REFRESH_LEN + 1], b[WK_REFRESH_LEN + 1];
    unsigned char ha[WK_SHA256_LEN], hb[WK_SHA256_LEN];

    CHECK_EQ_INT(wk_refresh_new(a), 0);
    CHECK_EQ_INT(wk_refresh_new(b), 0);
    CHECK_EQ_INT(strlen(a), WK_REFRESH_LEN);
    CHECK(strcmp(a, b) != 0);
    CHECK_EQ_INT(wk_refresh_valid(a, strlen(a)), 1);
    CHECK_EQ_INT(wk_refresh_valid(a, strlen(a) - 1), 0);
    CHECK_EQ_INT(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                 WK_REFRESH_LEN);
    char bad[WK_REFRESH_LEN + 1];
    memcpy(bad, a, sizeof(bad));
    bad[5] = '+';
    CHECK_EQ_INT(wk_refresh_valid(bad, WK_REFRESH_LEN), 0);
    bad[5] = '\0';
    CHECK_EQ_INT(wk_refresh_valid(bad, WK_REFRESH_LEN), 0);

    CHECK_EQ_INT(wk_sha256(a, strlen(a), ha), 0);
    CHECK_EQ_INT(wk_sha256(b, strlen(b), hb), 0);
    CHECK(memcmp(ha, hb, WK_SHA256_LEN) != 0);
    /* Known vector: SHA-256("abc"). */
    static const unsigned char abc[WK_SHA256_LEN] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
    CHECK_EQ_INT(wk_sha256("abc", 3, ha), 0);
    CHECK(memcmp(ha, abc, WK_SHA256_LEN) == 0);
}

int main(void)
{
    test_hs256();
    test_rs256();
    test_refresh();
    TEST_MAIN_END();
}
