/*
 * ws_codec.h — RFC 6455 framing: a pure, incremental parser for frames sent
 * by clients and an encoder for frames sent by the server. No sockets, no
 * event loop: bytes in, events out.
 *
 * Parser invariants
 *  - Input may arrive split at any byte; every truncated prefix of a valid
 *    stream yields CH_WS_AGAIN with all input consumed.
 *  - Frames from clients must be masked (frames from servers must not be);
 *    the parser unmasks into its own message buffer.
 *  - A data message (text or binary, possibly fragmented, with control frames
 *    interleaved between fragments) is delivered once, complete, as
 *    CH_WS_EV_TEXT / CH_WS_EV_BINARY. Text is validated as UTF-8 while it
 *    streams in, across fragment boundaries, failing at the first bad byte.
 *  - A frame whose declared length would take the message past max_message is
 *    refused from its header alone (1009): the excess is never buffered.
 *  - After CH_WS_ERROR the parser is dead; every later call returns
 *    CH_WS_ERROR again.
 *
 * Ownership: the parser owns its message buffer (malloc'd, grown as payload
 * bytes arrive, never past max_message, released by ch_ws_parser_shrink when
 * no message is in progress, and by ch_ws_parser_free). Event payload
 * pointers point into parser memory and stay valid only until the next call
 * to ch_ws_parser_feed or ch_ws_parser_shrink.
 */
#ifndef CHORUS_WS_CODEC_H
#define CHORUS_WS_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Opcodes (RFC 6455 §5.2). */
#define CH_WS_OP_CONT   0x0
#define CH_WS_OP_TEXT   0x1
#define CH_WS_OP_BINARY 0x2
#define CH_WS_OP_CLOSE  0x8
#define CH_WS_OP_PING   0x9
#define CH_WS_OP_PONG   0xA

/* Close codes used by Chorus (RFC 6455 §7.4.1). */
#define CH_WS_CLOSE_NORMAL        1000
#define CH_WS_CLOSE_GOING_AWAY    1001
#define CH_WS_CLOSE_PROTOCOL      1002
#define CH_WS_CLOSE_UNSUPPORTED   1003
#define CH_WS_CLOSE_NO_STATUS     1005 /* never sent on the wire */
#define CH_WS_CLOSE_INVALID_DATA  1007
#define CH_WS_CLOSE_POLICY        1008
#define CH_WS_CLOSE_TOO_BIG       1009
#define CH_WS_CLOSE_INTERNAL      1011
#define CH_WS_CLOSE_TRY_LATER     1013

/* Result of ch_ws_parser_feed. */
typedef enum {
    CH_WS_AGAIN = 0,  /* all input consumed, no complete event yet */
    CH_WS_EVENT = 1,  /* *ev holds an event; *consumed says how much input was used */
    CH_WS_ERROR = -1  /* protocol error; ev->close_code and ev->reason say why */
} ch_ws_result;

typedef enum {
    CH_WS_EV_TEXT = 1,   /* complete text message, valid UTF-8 */
    CH_WS_EV_BINARY,     /* complete binary message */
    CH_WS_EV_PING,       /* payload: ping application data (<= 125 bytes) */
    CH_WS_EV_PONG,       /* payload: pong application data (<= 125 bytes) */
    CH_WS_EV_CLOSE       /* close_code (CH_WS_CLOSE_NO_STATUS if the frame had
                            no body) and reason/reason_len (valid UTF-8) */
} ch_ws_event_type;

typedef struct {
    ch_ws_event_type type;
    const uint8_t *payload;   /* borrowed from the parser; see ownership above */
    size_t payload_len;
    uint16_t close_code;      /* CLOSE event, or the code to close with on ERROR */
    const char *reason;       /* CLOSE: peer's reason (not NUL-terminated, reason_len bytes);
                                 ERROR: static NUL-terminated explanation */
    size_t reason_len;
} ch_ws_event;

typedef struct ch_ws_parser ch_ws_parser;

/* Which side of the connection the parser runs on. A server parses client
 * frames, which must be masked; a client (the load tester, tests) parses
 * server frames, which must not be. A violation is a 1002 error. */
#define CH_WS_ROLE_SERVER 0
#define CH_WS_ROLE_CLIENT 1

/* Creates a parser. max_message bounds the total payload of one data message
 * (all fragments). Returns NULL on allocation failure. */
ch_ws_parser *ch_ws_parser_new(size_t max_message, int role);
void ch_ws_parser_free(ch_ws_parser *p);

/* Releases the message buffer if it holds no partial message (call when idle
 * to keep memory per idle connection small). */
void ch_ws_parser_shrink(ch_ws_parser *p);

/* Feeds up to len bytes. Consumes input until one event is complete, the input
 * ends, or an error occurs; *consumed is set in every case. Call again with
 * the remaining input after CH_WS_EVENT. */
ch_ws_result ch_ws_parser_feed(ch_ws_parser *p, const uint8_t *buf, size_t len,
                               size_t *consumed, ch_ws_event *ev);

/* Server frame encoding (never masked, always FIN). */

/* Bytes of header needed for a payload of len bytes: 2, 4 or 10. */
size_t ch_ws_header_size(size_t len);

/* Writes the header of a final frame with this opcode into out (which must
 * hold ch_ws_header_size(len) bytes); returns the bytes written. */
size_t ch_ws_header_encode(uint8_t *out, int opcode, size_t len);

/* Encodes a complete close frame (code + reason, reason truncated so the
 * payload stays <= 125 bytes on a UTF-8 boundary) into out[127+2];
 * returns its length. code CH_WS_CLOSE_NO_STATUS encodes an empty body. */
size_t ch_ws_close_encode(uint8_t *out, uint16_t code, const char *reason);

/* 1 if code may appear in a close frame received from a peer (§7.4). */
int ch_ws_close_code_valid(unsigned code);

/* Client-side encoding (masked), for the load tester and tests. mask_key is
 * 4 bytes. out must hold ch_ws_header_size(len) + 4 + len bytes. Returns the
 * frame length. fin=0 produces a non-final fragment. */
size_t ch_ws_client_frame_encode(uint8_t *out, int fin, int opcode,
                                 const uint8_t *payload, size_t len,
                                 const uint8_t mask_key[4]);

#endif
