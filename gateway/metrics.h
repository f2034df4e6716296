/*
 * metrics.h — gateway counters, gauges and the publish->ack latency
 * histogram, kept in one shared-memory block with a slot per worker process.
 *
 * Each worker writes only its own slot (relaxed atomics); whichever worker
 * answers GET /metrics sums all slots, so a scrape through the shared port
 * sees the whole node no matter which process accepts it.
 */
#ifndef CHORUS_GW_METRICS_H
#define CHORUS_GW_METRICS_H

#include <stdint.h>

#include "protocol.h"

/* X(name, type, help) */
#define GW_METRICS(X) \
    X(connections, gauge, "Open WebSocket connections") \
    X(connections_total, counter, "WebSocket connections accepted") \
    X(handshakes_rejected_total, counter, "Upgrade requests refused (bad request, auth, origin, draining)") \
    X(rooms, gauge, "Rooms with local members (one Redis subscription each)") \
    X(frames_in_total, counter, "WebSocket frames received") \
    X(frames_out_total, counter, "WebSocket messages sent") \
    X(bytes_in_total, counter, "Bytes received on WebSocket connections") \
    X(bytes_out_total, counter, "Bytes queued to WebSocket connections") \
    X(publishes_total, counter, "Durable publishes acknowledged") \
    X(publishes_ephemeral_total, counter, "Ephemeral publishes forwarded") \
    X(publish_errors_total, counter, "Publishes that failed (Redis unavailable or the script failed)") \
    X(publish_forbidden_total, counter, "Durable publishes refused: not on the room's access list, or a role too low") \
    X(publish_duplicates_total, counter, "Retried publishes answered with their original seq") \
    X(events_delivered_total, counter, "Events written to local sockets") \
    X(catchup_events_total, counter, "Events sent from the room stream during catch-up") \
    X(snapshot_required_total, counter, "Joins told to load a snapshot") \
    X(rate_limited_total, counter, "Requests refused by the per-connection publish rate") \
    X(slow_consumer_closes_total, counter, "Connections closed for exceeding the outbound buffer cap") \
    X(protocol_closes_total, counter, "Connections closed for protocol errors (1002/1007/1009)") \
    X(redis_reconnects_total, counter, "Redis connections re-established") \
    X(redis_up, gauge, "1 if Redis is connected and subscriptions are current")

#define GW_ACK_BUCKETS 14  /* upper bounds in microseconds, see metrics.c */

typedef struct {
#define X(name, type, help) uint64_t name;
    GW_METRICS(X)
#undef X
    uint64_t ack_bucket[GW_ACK_BUCKETS + 1]; /* last: +Inf */
    uint64_t ack_sum_us;
    uint64_t ack_count;
} gw_metrics;

/* This process's slot (valid after gw_metrics_init). */
extern gw_metrics *gw_stats;

/* Maps the shared block for `workers` slots; call before fork(). */
int gw_metrics_init(int workers);
/* Selects this process's slot. */
void gw_metrics_use_slot(int worker);

#define GW_INC(field) __atomic_fetch_add(&gw_stats->field, 1, __ATOMIC_RELAXED)
#define GW_ADD(field, n) __atomic_fetch_add(&gw_stats->field, (uint64_t)(n), __ATOMIC_RELAXED)
#define GW_DEC(field) __atomic_fetch_sub(&gw_stats->field, 1, __ATOMIC_RELAXED)

void gw_metrics_observe_ack(uint64_t micros);

/* Renders the Prometheus text exposition of all slots into b. */
void gw_metrics_render(ch_buf *b, const char *node, int draining);

#endif
