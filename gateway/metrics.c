/*
 * metrics.c — shared-memory metrics (see metrics.h). The block is mapped
 * MAP_SHARED|MAP_ANONYMOUS before the workers fork, so all of them see it.
 */
#include "metrics.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static gw_metrics *slots;
static int nslots;
static gw_metrics fallback;
gw_metrics *gw_stats = &fallback;

static const uint64_t ack_bounds_us[GW_ACK_BUCKETS] = {
    100, 250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000
};

int
gw_metrics_init(int workers)
{
    size_t len = sizeof(gw_metrics) * (size_t)workers;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    memset(p, 0, len);
    slots = p;
    nslots = workers;
    gw_stats = &slots[0];
    return 0;
}

void
gw_metrics_use_slot(int worker)
{
    if (slots && worker >= 0 && worker < nslots) gw_stats = &slots[worker];
}

void
gw_metrics_observe_ack(uint64_t us)
{
    int i = 0;
    while (i < GW_ACK_BUCKETS && us > ack_bounds_us[i]) i++;
    GW_INC(ack_bucket[i]);
    GW_ADD(ack_sum_us, us);
    GW_INC(ack_count);
}

static uint64_t
load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void
gw_metrics_render(ch_buf *b, const char *node, int draining)
{
    gw_metrics sum;
    const gw_metrics *src = slots ? slots : &fallback;
    int n = slots ? nslots : 1;

    memset(&sum, 0, sizeof(sum));
    for (int w = 0; w < n; w++) {
#define X(name, type, help) sum.name += load(&src[w].name);
        GW_METRICS(X)
#undef X
        for (int i = 0; i <= GW_ACK_BUCKETS; i++) sum.ack_bucket[i] += load(&src[w].ack_bucket[i]);
        sum.ack_sum_us += load(&src[w].ack_sum_us);
        sum.ack_count += load(&src[w].ack_count);
    }
    /* redis_up is per worker; report it as "all workers up". */
    sum.redis_up = sum.redis_up == (uint64_t)n;

    ch_buf_reset(b);
#define X(name, type, help) \
    ch_buf_printf(b, "# HELP chorus_gateway_" #name " " help "\n# TYPE chorus_gateway_" #name " " #type \
                  "\nchorus_gateway_" #name " %llu\n", (unsigned long long)sum.name);
    GW_METRICS(X)
#undef X
    ch_buf_printf(b, "# HELP chorus_gateway_workers Worker processes of this node\n"
                     "# TYPE chorus_gateway_workers gauge\nchorus_gateway_workers %d\n", n);
    ch_buf_printf(b, "# HELP chorus_gateway_draining 1 while draining after SIGTERM\n"
                     "# TYPE chorus_gateway_draining gauge\nchorus_gateway_draining %d\n", draining);
    ch_buf_puts(b, "# HELP chorus_gateway_publish_ack_seconds Durable publish to ack latency\n"
                   "# TYPE chorus_gateway_publish_ack_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < GW_ACK_BUCKETS; i++) {
        cum += sum.ack_bucket[i];
        ch_buf_printf(b, "chorus_gateway_publish_ack_seconds_bucket{le=\"%g\"} %llu\n",
                      (double)ack_bounds_us[i] / 1e6, (unsigned long long)cum);
    }
    cum += sum.ack_bucket[GW_ACK_BUCKETS];
    ch_buf_printf(b, "chorus_gateway_publish_ack_seconds_bucket{le=\"+Inf\"} %llu\n"
                     "chorus_gateway_publish_ack_seconds_sum %.6f\n"
                     "chorus_gateway_publish_ack_seconds_count %llu\n",
                  (unsigned long long)cum, (double)sum.ack_sum_us / 1e6,
                  (unsigned long long)sum.ack_count);
    ch_buf_printf(b, "# HELP chorus_gateway_info Node identity\n# TYPE chorus_gateway_info gauge\n"
                     "chorus_gateway_info{node=\"%s\"} 1\n", node);
}
