/*
 * lt_jwt.h — minting HS256 access tokens for simulated clients (the
 * gateway verifies them with common/jwt_auth.h). Pure: OpenSSL HMAC and
 * base64url, no I/O.
 */
#ifndef CHORUS_LT_JWT_H
#define CHORUS_LT_JWT_H

#include <stddef.h>

/* Writes header.claims.signature for {"sub":sub,"name":sub,"iat":iat,"exp":exp}
 * signed with secret into out (NUL-terminated). sub must need no JSON
 * escaping ([A-Za-z0-9_.:-]). Returns the token length, or -1 if it does
 * not fit or hashing failed. */
int lt_jwt_mint(char *out, size_t outlen, const char *secret, size_t secret_len,
                const char *sub, long long iat, long long exp);

/* base64url without padding of in[0..n) into out (which holds
 * 4 * ceil(n / 3) + 1 bytes); returns the length written. */
size_t lt_base64url(const unsigned char *in, size_t n, char *out);

#endif
