/*
 * clock.h — the clocks every binary reads. Monotonic time measures
 * durations and deadlines (never jumps); wall time stamps what other
 * machines must understand (event ts, latency embedded in payloads).
 */
#ifndef CHORUS_CLOCK_H
#define CHORUS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
ch_clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t ch_mono_us(void) { return ch_clock_us(CLOCK_MONOTONIC); }
static inline int64_t ch_mono_ms(void) { return ch_clock_us(CLOCK_MONOTONIC) / 1000; }
static inline int64_t ch_wall_us(void) { return ch_clock_us(CLOCK_REALTIME); }
static inline int64_t ch_wall_ms(void) { return ch_clock_us(CLOCK_REALTIME) / 1000; }

#endif
