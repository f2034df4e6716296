/*
 * ws_handshake.c — the server side of the RFC 6455 opening handshake as pure
 * functions over header values: request validation, Sec-WebSocket-Accept,
 * the bearer token carried in Sec-WebSocket-Protocol, and the Origin check.
 *
 * Header values are taken as received; leading and trailing optional
 * whitespace (SP, HTAB) is ignored everywhere, and list-valued headers are
 * split on commas with whitespace around each element ignored.
 *
 * Invariants: nothing here allocates except the SHA-1 context inside
 * ch_ws_accept_key; every reason string is static; output buffers are
 * always NUL-terminated when they have room for at least one byte.
 */
#include "ws_handshake.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_B64_LEN 24   /* base64 of a 16-byte nonce, with "==" */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional whitespace from both ends of s[0..*n); returns the start. */
static const char *trim(const char *s, size_t *n)
{
    while (*n > 0 && is_ows(s[0])) {
        s++;
        (*n)--;
    }
    while (*n > 0 && is_ows(s[*n - 1]))
        (*n)--;
    return s;
}

/* Iterates over the comma-separated elements of a list header. *pos starts
 * at the beginning of the value; each call yields the next element, trimmed
 * (possibly empty), and returns 0 once the value is exhausted. */
static int list_next(const char **pos, const char **elem, size_t *elen)
{
    const char *p = *pos, *comma;
    size_t n;

    if (p == NULL)
        return 0;
    comma = strchr(p, ',');
    n = comma ? (size_t)(comma - p) : strlen(p);
    *elem = trim(p, &n);
    *elen = n;
    *pos = comma ? comma + 1 : NULL;
    return 1;
}

/* 1 if the list header value contains tok (compared case-insensitively when
 * icase, exactly otherwise). */
static int list_has(const char *value, const char *tok, int icase)
{
    const char *pos = value, *e;
    size_t n, tlen = strlen(tok);

    while (list_next(&pos, &e, &n)) {
        if (n != tlen)
            continue;
        if (icase ? strncasecmp(e, tok, n) == 0 : memcmp(e, tok, n) == 0)
            return 1;
    }
    return 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* 1 if s[0..n) is padded base64 of exactly 16 bytes: 22 alphabet characters
 * followed by "==". */
static int key_valid(const char *s, size_t n)
{
    size_t i;

    if (n != WS_KEY_B64_LEN || s[22] != '=' || s[23] != '=')
        return 0;
    for (i = 0; i < 22; i++)
        if (b64_value((unsigned char)s[i]) < 0)
            return 0;
    return 1;
}

void ch_ws_accept_key(const char *key, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    int ok;

    out[0] = '\0';
    if (key == NULL)
        key = "";
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return;
    ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1
      && EVP_DigestUpdate(ctx, key, strlen(key)) == 1
      && EVP_DigestUpdate(ctx, WS_GUID, sizeof WS_GUID - 1) == 1
      && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1
      && mdlen == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return;
    /* 20 bytes encode to 28 characters plus the terminating NUL. */
    EVP_EncodeBlock((unsigned char *)out, md, 20);
}

int ch_ws_handshake_check(const ch_ws_request *req, ch_ws_handshake *out)
{
    char key[WS_KEY_B64_LEN + 1];
    const char *k;
    size_t n;

    out->status = 400;
    out->reason = NULL;
    out->accept[0] = '\0';
    out->subprotocol = NULL;

    if (req == NULL) {
        out->reason = "bad request";
        return out->status;
    }
    if (req->method == NULL || strcmp(req->method, "GET") != 0) {
        out->status = 405;
        out->reason = "method must be GET";
        return out->status;
    }
    if (req->upgrade == NULL || !list_has(req->upgrade, "websocket", 1)) {
        out->status = 426;
        out->reason = "Upgrade: websocket required";
        return out->status;
    }
    if (req->connection == NULL || !list_has(req->connection, "upgrade", 1)) {
        out->status = 400;
        out->reason = "Connection: upgrade required";
        return out->status;
    }
    n = req->version ? strlen(req->version) : 0;
    k = req->version ? trim(req->version, &n) : NULL;
    if (k == NULL || n != 2 || memcmp(k, "13", 2) != 0) {
        out->status = 426;
        out->reason = "Sec-WebSocket-Version: 13 required";
        return out->status;
    }
    n = req->key ? strlen(req->key) : 0;
    k = req->key ? trim(req->key, &n) : NULL;
    if (k == NULL || !key_valid(k, n)) {
        out->status = 400;
        out->reason = "invalid Sec-WebSocket-Key";
        return out->status;
    }
    if (req->protocol != NULL) {
        if (!list_has(req->protocol, CH_WS_SUBPROTOCOL, 0)) {
            out->status = 400;
            out->reason = "subprotocol " CH_WS_SUBPROTOCOL " required";
            return out->status;
        }
        out->subprotocol = CH_WS_SUBPROTOCOL;
    }

    memcpy(key, k, WS_KEY_B64_LEN);
    key[WS_KEY_B64_LEN] = '\0';
    ch_ws_accept_key(key, out->accept);
    if (out->accept[0] == '\0') {
        out->status = 500;
        out->reason = "internal error";
        out->subprotocol = NULL;
        return out->status;
    }
    out->status = 101;
    return out->status;
}

int ch_ws_protocol_token(const char *protocol, char *out, size_t outlen)
{
    const char *pos = protocol, *e;
    size_t n, plen = sizeof CH_WS_BEARER_PREFIX - 1;

    if (out != NULL && outlen > 0)
        out[0] = '\0';
    while (list_next(&pos, &e, &n)) {
        if (n <= plen || memcmp(e, CH_WS_BEARER_PREFIX, plen) != 0)
            continue;
        e += plen;
        n -= plen;
        if (out == NULL || outlen == 0 || n > outlen - 1 || n > INT_MAX)
            return -1;
        memcpy(out, e, n);
        out[n] = '\0';
        return (int)n;
    }
    return 0;
}

/* Splits a serialized origin "scheme://host[:port]" into its scheme and its
 * host[:port]. Returns 0, or -1 if the text is not of that form (including
 * any userinfo, path, query or fragment). */
static int origin_split(const char *s, size_t n, const char **scheme, size_t *slen,
                        const char **hp, size_t *hplen)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            continue;
        if (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
            continue;
        break;
    }
    if (i == 0 || n - i < 4 || memcmp(s + i, "://", 3) != 0)
        return -1;
    *scheme = s;
    *slen = i;
    *hp = s + i + 3;
    *hplen = n - i - 3;
    for (i = 0; i < *hplen; i++) {
        unsigned char c = (unsigned char)(*hp)[i];
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '@'
            || c == '\\' || c == ',')
            return -1;
    }
    return 0;
}

/* Length of host[:port] hp[0..n) once a port equal to the scheme's default
 * (80 for http/ws, 443 for https/wss) is dropped. */
static size_t strip_default_port(const char *hp, size_t n, const char *scheme, size_t slen)
{
    const char *dflt = NULL;
    size_t dlen;

    if ((slen == 4 && strncasecmp(scheme, "http", 4) == 0)
        || (slen == 2 && strncasecmp(scheme, "ws", 2) == 0))
        dflt = ":80";
    else if ((slen == 5 && strncasecmp(scheme, "https", 5) == 0)
             || (slen == 3 && strncasecmp(scheme, "wss", 3) == 0))
        dflt = ":443";
    if (dflt == NULL)
        return n;
    dlen = strlen(dflt);
    if (n > dlen && memcmp(hp + n - dlen, dflt, dlen) == 0
        && (hp[0] != '[' || hp[n - dlen - 1] == ']'))
        return n - dlen;
    return n;
}

int ch_ws_origin_allowed(const char *origin, const char *allowlist, const char *host)
{
    const char *o, *pos, *e, *scheme, *hp, *h;
    size_t olen, n, slen, hplen, hlen;
    int have_entries = 0;

    if (origin == NULL)
        return 1;
    olen = strlen(origin);
    o = trim(origin, &olen);

    pos = allowlist;
    while (list_next(&pos, &e, &n)) {
        if (n == 1 && e[0] == '*')
            return 1;
        if (n > 0)
            have_entries = 1;
    }

    if (olen == 4 && memcmp(o, "null", 4) == 0)
        return 0;
    if (origin_split(o, olen, &scheme, &slen, &hp, &hplen) != 0 || hplen == 0)
        return 0;

    if (have_entries) {
        pos = allowlist;
        while (list_next(&pos, &e, &n)) {
            if (n == olen && strncasecmp(e, o, n) == 0)
                return 1;
        }
        return 0;
    }

    if (host == NULL)
        return 0;
    hlen = strlen(host);
    h = trim(host, &hlen);
    if (hlen == 0)
        return 0;
    hplen = strip_default_port(hp, hplen, scheme, slen);
    hlen = strip_default_port(h, hlen, scheme, slen);
    return hplen == hlen && strncasecmp(hp, h, hlen) == 0;
}
