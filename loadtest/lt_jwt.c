/*
 * lt_jwt.c — HS256 token minting; see lt_jwt.h.
 */
#include "lt_jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

size_t
lt_base64url(const unsigned char *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
    }
    out[o] = 0;
    return o;
}

int
lt_jwt_mint(char *out, size_t outlen, const char *secret, size_t secret_len,
            const char *sub, long long iat, long long exp)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char claims[512];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int cl = snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"name\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
                      sub, sub, iat, exp);
    if (cl < 0 || (size_t)cl >= sizeof(claims)) return -1;
    size_t need = 4 * ((sizeof(header) - 1 + 2) / 3) + 1 + 4 * (((size_t)cl + 2) / 3) + 1 + 44 + 1;
    if (outlen < need) return -1;
    size_t o = lt_base64url((const unsigned char *)header, sizeof(header) - 1, out);
    out[o++] = '.';
    o += lt_base64url((const unsigned char *)claims, (size_t)cl, out + o);
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)out, o, mac, &maclen))
        return -1;
    out[o++] = '.';
    o += lt_base64url(mac, maclen, out + o);
    return (int)o;
}
