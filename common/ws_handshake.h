/*
 * ws_handshake.h — the server side of the RFC 6455 opening handshake, as pure
 * functions over already-parsed request fields (no sockets, no HTTP parser).
 *
 * The caller (the gateway's HTTP layer) copies the relevant header values
 * into a ch_ws_request and gets back either 101 with the accept key and the
 * selected subprotocol, or an HTTP status with a reason.
 */
#ifndef CHORUS_WS_HANDSHAKE_H
#define CHORUS_WS_HANDSHAKE_H

#include <stddef.h>

/* The subprotocol Chorus speaks; a client that sends Sec-WebSocket-Protocol
 * must offer it. A client may also offer "bearer.<JWT>" to carry its token
 * (browsers cannot set Authorization); that entry is never echoed. */
#define CH_WS_SUBPROTOCOL "chorus.v1"
#define CH_WS_BEARER_PREFIX "bearer."

/* Header values as received; NULL when the header is absent. */
typedef struct {
    const char *method;      /* "GET" */
    const char *upgrade;     /* Upgrade */
    const char *connection;  /* Connection (a comma-separated token list) */
    const char *key;         /* Sec-WebSocket-Key */
    const char *version;     /* Sec-WebSocket-Version */
    const char *protocol;    /* Sec-WebSocket-Protocol */
} ch_ws_request;

typedef struct {
    int status;              /* 101 on success; 400, 405 or 426 otherwise (500 if
                                hashing failed for lack of memory) */
    const char *reason;      /* static text explaining a refusal; NULL on 101 */
    char accept[29];         /* Sec-WebSocket-Accept value, NUL-terminated (on 101) */
    const char *subprotocol; /* CH_WS_SUBPROTOCOL if it must be echoed, else NULL */
} ch_ws_handshake;

/* Validates the upgrade request (method GET, "Upgrade: websocket" case-
 * insensitive, "upgrade" among the Connection tokens, version 13 — anything
 * else is 426 — and a key that base64-decodes to 16 bytes; if a protocol
 * header is present it must offer chorus.v1). Fills *out; returns out->status. */
int ch_ws_handshake_check(const ch_ws_request *req, ch_ws_handshake *out);

/* Computes base64(SHA-1(key + GUID)) into out[29]. */
void ch_ws_accept_key(const char *key, char out[29]);

/* Finds a "bearer.<token>" entry in a Sec-WebSocket-Protocol value and copies
 * the token into out (NUL-terminated). Returns the token length, 0 if there is
 * none, or -1 if it does not fit in outlen-1 bytes. */
int ch_ws_protocol_token(const char *protocol, char *out, size_t outlen);

/* Origin allowlist. allowlist is a comma-separated list of origins
 * ("https://app.example.com"), "*" allowing any; an empty or NULL allowlist
 * allows only an origin whose host[:port] equals host (the request's Host
 * header). A request with no Origin (non-browser client) is allowed.
 * Comparison is ASCII case-insensitive, exact otherwise. Returns 1 if allowed. */
int ch_ws_origin_allowed(const char *origin, const char *allowlist, const char *host);

#endif
