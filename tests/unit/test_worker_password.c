/*
 * test_worker_password.c — argon2id hashing (core_password.c): the encoded
 * form carries the documented parameters, the right password verifies, a
 * wrong one, a truncated one and a foreign encoding do not, and two hashes
 * of one password differ (random salt).
 */
#include "core_password.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
    char h1[WK_PW_ENCODED_MAX], h2[WK_PW_ENCODED_MAX], small[16];
    const char *pw = "correct horse battery staple";
    size_t n = strlen(pw);

    CHECK_EQ_INT(wk_password_hash(pw, n, h1, sizeof(h1)), 0);
    CHECK_EQ_INT(wk_password_hash(pw, n, h2, sizeof(h2)), 0);
    CHECK(strncmp(h1, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK(strcmp(h1, h2) != 0);                        /* salted */
    CHECK(strstr(h1, pw) == NULL);

    CHECK_EQ_INT(wk_password_verify(h1, pw, n), 1);
    CHECK_EQ_INT(wk_password_verify(h2, pw, n), 1);
    CHECK_EQ_INT(wk_password_verify(h1, pw, n - 1), 0);
    CHECK_EQ_INT(wk_password_verify(h1, "Correct horse battery staple", n), 0);
    CHECK_EQ_INT(wk_password_verify(h1, "", 0), 0);

    /* Passwords are bytes: embedded NULs and non-ASCII count. */
    const char bin[] = { 'a', 0, 'b', (char)0xc3, (char)0xa9, 'x', 'y', 'z' };
    CHECK_EQ_INT(wk_password_hash(bin, sizeof(bin), h1, sizeof(h1)), 0);
    CHECK_EQ_INT(wk_password_verify(h1, bin, sizeof(bin)), 1);
    CHECK_EQ_INT(wk_password_verify(h1, bin, 1), 0);

    /* Encodings this module does not produce are refused, not crashed on. */
    CHECK_EQ_INT(wk_password_verify("", pw, n), 0);
    CHECK_EQ_INT(wk_password_verify("$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", pw, n), 0);
    CHECK_EQ_INT(wk_password_verify("$argon2id$garbage", pw, n), 0);
    CHECK_EQ_INT(wk_password_verify(NULL, pw, n), 0);
    char cut[WK_PW_ENCODED_MAX];
    snprintf(cut, sizeof(cut), "%.*s", (int)strlen(h2) - 5, h2);
    CHECK_EQ_INT(wk_password_verify(cut, pw, n), 0);

    /* Output buffer too small: an error, never an overflow. */
    CHECK_EQ_INT(wk_password_hash(pw, n, small, sizeof(small)), -1);
    TEST_MAIN_END();
}
