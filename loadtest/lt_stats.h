/*
 * lt_stats.h — what a worker counts: counters, error kinds and histograms,
 * with their stable names (used in the JSON report, the SLO expressions and
 * the docs). Every counter is a plain sum, so merging the counts of several
 * workers is element-wise addition (the two gauges, open and joined, are
 * sums of per-worker gauges).
 *
 * Connection endings that the client survived by reconnecting (lt_retry.h)
 * are not errors: they are tallied by kind in lt_counts.retried, apart from
 * err, so "errors=0" still means "nothing went wrong for the users".
 */
#ifndef CHORUS_LT_STATS_H
#define CHORUS_LT_STATS_H

#include <stdint.h>

typedef enum {
    LT_C_CONN_ATTEMPTS = 0, /* TCP connects started (first connects and reconnects) */
    LT_C_CONN_OK,           /* welcomes received */
    LT_C_CONN_OPEN,         /* gauge: connections past the welcome, still open */
    LT_C_JOINED,            /* gauge: clients currently joined to their room */
    LT_C_SENT,              /* durable publishes sent */
    LT_C_SENT_EPH,          /* ephemeral publishes sent */
    LT_C_ACKED,             /* durable publishes acked with a seq */
    LT_C_ACKED_EPH,         /* ephemeral publishes acked */
    LT_C_RECV,              /* unique durable events received (not counting dups) */
    LT_C_RECV_EPH,          /* ephemeral events received */
    LT_C_RECV_CATCHUP,      /* durable events received while catching up after a rejoin */
    LT_C_PRESENCE,          /* presence messages received */
    LT_C_GAPS,              /* seqs skipped (see lt_seq.h) */
    LT_C_DUPS,              /* duplicate durable events */
    LT_C_REORDERS,          /* durable events that arrived after a later seq */
    LT_C_DROPPED,           /* connections dropped on purpose (reconnect storm) */
    LT_C_RECONNECTS,        /* rejoins completed after a drop or a lost connection */
    LT_C_CAUGHT_UP,         /* clients caught up after a rejoin */
    LT_C_DISCONNECTS,       /* joined connections that ended and were reconnected (--reconnect) */
    LT_C_RECONNECT_FAILS,   /* reconnect attempts that failed and were tried again */
    LT_C_NOTICES,           /* {"type":"reconnect"} notices received */
    LT_C_RESENT,            /* durable publishes sent again with their cid after a reconnect */
    LT_C_DEDUPED,           /* acks with "duplicate":true for a resent publish (first send stored) */
    LT_C_EPH_LOST,          /* ephemeral publishes in flight when their connection was lost */
    LT_C_BEHIND,            /* sends that were due but waited for the in-flight cap */
    LT_C_BYTES_IN,          /* WebSocket payload bytes received */
    LT_C_BYTES_OUT,         /* WebSocket payload bytes sent */
    LT_C_COUNT
} lt_counter;

typedef enum {
    LT_E_SOCKET = 0,        /* socket()/bind()/connect() failed on this side (EMFILE,
                               EADDRNOTAVAIL: out of local ports, ...) */
    LT_E_CONNECT,           /* TCP connect failed */
    LT_E_TIMEOUT,           /* no welcome + joined within the handshake timeout */
    LT_E_HTTP_401,          /* upgrade refused: unauthorized */
    LT_E_HTTP_403,          /* upgrade refused: origin */
    LT_E_HTTP_503,          /* upgrade refused: draining / over capacity */
    LT_E_HTTP_OTHER,        /* upgrade refused with another status */
    LT_E_BAD_HANDSHAKE,     /* malformed 101 response or wrong Sec-WebSocket-Accept */
    LT_E_PROTOCOL,          /* bad frame, binary message, unparsable JSON */
    LT_E_LOST,              /* TCP connection ended without a close frame */
    LT_E_CLOSE_1001,        /* server closed: going away (drain, idle) */
    LT_E_CLOSE_1008,        /* server closed: policy (rate, token, slow consumer) */
    LT_E_CLOSE_OTHER,       /* server closed with another code */
    LT_E_RATE_LIMITED,      /* error message: rate_limited */
    LT_E_UNAVAILABLE,       /* error message: unavailable */
    LT_E_SNAPSHOT,          /* error message: snapshot_required */
    LT_E_SERVER,            /* any other error message */
    LT_E_UNACKED,           /* publish never acked (drain timeout or connection lost) */
    LT_E_NOT_CAUGHT_UP,     /* rejoined client not caught up by the end */
    LT_E_DUP_ACK,           /* ack with "duplicate":true (cids are unique per run) */
    LT_E_WORKER,            /* a worker process died */
    LT_E_COUNT
} lt_error_kind;

typedef enum {
    LT_H_LATENCY = 0,       /* durable publish (intended time) -> delivery, live only */
    LT_H_ACK,               /* publish (intended time) -> ack */
    LT_H_EPH,               /* ephemeral publish (intended time) -> delivery */
    LT_H_CONNECT,           /* connect start -> welcome */
    LT_H_CATCHUP,           /* drop or connection lost -> caught up to the room's seq at rejoin */
    LT_H_RECONNECT,         /* connection lost (or dropped) -> joined again */
    LT_H_COUNT
} lt_hist_id;

typedef struct {
    uint64_t c[LT_C_COUNT];
    uint64_t err[LT_E_COUNT];      /* errors, by kind */
    uint64_t retried[LT_E_COUNT];  /* endings survived by reconnecting, by kind: not errors */
} lt_counts;

extern const char *const lt_counter_names[LT_C_COUNT];
extern const char *const lt_error_names[LT_E_COUNT];
extern const char *const lt_hist_names[LT_H_COUNT];

void lt_counts_add(lt_counts *dst, const lt_counts *src);
/* Sum of err (retried endings are not errors). */
uint64_t lt_counts_errors(const lt_counts *c);
/* Sum of retried. */
uint64_t lt_counts_retried(const lt_counts *c);

#endif
