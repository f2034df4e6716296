/*
 * lt_stats.c — names of the counters, error kinds and histograms.
 */
#include "lt_stats.h"

const char *const lt_counter_names[LT_C_COUNT] = {
    [LT_C_CONN_ATTEMPTS] = "connect_attempts",
    [LT_C_CONN_OK] = "connected",
    [LT_C_CONN_OPEN] = "open",
    [LT_C_JOINED] = "joined",
    [LT_C_SENT] = "sent",
    [LT_C_SENT_EPH] = "sent_ephemeral",
    [LT_C_ACKED] = "acked",
    [LT_C_ACKED_EPH] = "acked_ephemeral",
    [LT_C_RECV] = "received",
    [LT_C_RECV_EPH] = "received_ephemeral",
    [LT_C_RECV_CATCHUP] = "received_catchup",
    [LT_C_PRESENCE] = "presence",
    [LT_C_GAPS] = "gaps",
    [LT_C_DUPS] = "dups",
    [LT_C_REORDERS] = "reorders",
    [LT_C_DROPPED] = "dropped",
    [LT_C_RECONNECTS] = "reconnects",
    [LT_C_CAUGHT_UP] = "caught_up",
    [LT_C_DISCONNECTS] = "disconnects",
    [LT_C_RECONNECT_FAILS] = "reconnect_attempts_failed",
    [LT_C_NOTICES] = "reconnect_notices",
    [LT_C_RESENT] = "resent",
    [LT_C_DEDUPED] = "deduplicated",
    [LT_C_EPH_LOST] = "ephemeral_lost",
    [LT_C_BEHIND] = "behind",
    [LT_C_BYTES_IN] = "bytes_in",
    [LT_C_BYTES_OUT] = "bytes_out",
};

const char *const lt_error_names[LT_E_COUNT] = {
    [LT_E_SOCKET] = "socket",
    [LT_E_CONNECT] = "connect_failed",
    [LT_E_TIMEOUT] = "handshake_timeout",
    [LT_E_HTTP_401] = "http_401",
    [LT_E_HTTP_403] = "http_403",
    [LT_E_HTTP_503] = "http_503",
    [LT_E_HTTP_OTHER] = "http_other",
    [LT_E_BAD_HANDSHAKE] = "bad_handshake",
    [LT_E_PROTOCOL] = "protocol",
    [LT_E_LOST] = "connection_lost",
    [LT_E_CLOSE_1001] = "close_1001",
    [LT_E_CLOSE_1008] = "close_1008",
    [LT_E_CLOSE_OTHER] = "close_other",
    [LT_E_RATE_LIMITED] = "rate_limited",
    [LT_E_UNAVAILABLE] = "unavailable",
    [LT_E_SNAPSHOT] = "snapshot_required",
    [LT_E_SERVER] = "server_error",
    [LT_E_UNACKED] = "unacked",
    [LT_E_NOT_CAUGHT_UP] = "not_caught_up",
    [LT_E_DUP_ACK] = "duplicate_ack",
    [LT_E_WORKER] = "worker_failed",
};

const char *const lt_hist_names[LT_H_COUNT] = {
    [LT_H_LATENCY] = "latency",
    [LT_H_ACK] = "ack",
    [LT_H_EPH] = "eph",
    [LT_H_CONNECT] = "connect",
    [LT_H_CATCHUP] = "catchup",
    [LT_H_RECONNECT] = "reconnect",
};

void
lt_counts_add(lt_counts *dst, const lt_counts *src)
{
    for (int i = 0; i < LT_C_COUNT; i++) dst->c[i] += src->c[i];
    for (int i = 0; i < LT_E_COUNT; i++) dst->err[i] += src->err[i];
    for (int i = 0; i < LT_E_COUNT; i++) dst->retried[i] += src->retried[i];
}

uint64_t
lt_counts_errors(const lt_counts *c)
{
    uint64_t n = 0;
    for (int i = 0; i < LT_E_COUNT; i++) n += c->err[i];
    return n;
}

uint64_t
lt_counts_retried(const lt_counts *c)
{
    uint64_t n = 0;
    for (int i = 0; i < LT_E_COUNT; i++) n += c->retried[i];
    return n;
}
