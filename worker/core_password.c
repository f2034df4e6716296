/*
 * core_password.c — argon2id hashing and verification (see core_password.h
 * for the parameters and why they were chosen).
 */
#include "core_password.h"

#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

int
wk_password_hash(const char *pw, size_t len, char *out, size_t outlen)
{
    unsigned char salt[WK_PW_SALT_LEN];
    size_t need = argon2_encodedlen(WK_PW_T_COST, WK_PW_M_COST, WK_PW_LANES, WK_PW_SALT_LEN,
                                    WK_PW_HASH_LEN, Argon2_id);
    int rc;

    if (!pw || !out || outlen < need)
        return -1;
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return -1;
    rc = argon2id_hash_encoded(WK_PW_T_COST, WK_PW_M_COST, WK_PW_LANES, pw, len, salt,
                               sizeof(salt), WK_PW_HASH_LEN, out, outlen);
    OPENSSL_cleanse(salt, sizeof(salt));
    return rc == ARGON2_OK ? 0 : -1;
}

int
wk_password_verify(const char *encoded, const char *pw, size_t len)
{
    int rc;

    if (!encoded || !pw || strncmp(encoded, "$argon2id$", 10) != 0)
        return 0;
    rc = argon2id_verify(encoded, pw, len);
    if (rc == ARGON2_OK)
        return 1;
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
        return -1;
    return 0;   /* mismatch, or a malformed / unsupported encoding */
}
