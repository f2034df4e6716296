/*
 * worker_persist_feed.c — writes synthetic durable events straight into the
 * persistence streams ch:{pN}:persist, exactly as publish.lua lays them out
 * (room, seq, epoch, author, kind, cid, ts, payload, session), for the
 * worker persistence benchmark (worker_persist.sh). Not a test.
 *
 * Rooms are "chat.<workspace>.<n>", each with its own gapless seq from 1 in
 * one epoch (the start time), events "message.create" with a ~100-byte text,
 * so the worker's reducers and snapshots run as they would in production.
 * ts is this machine's clock in ms at the moment the event is sent (the
 * worker's delay histogram measures commit time minus ts).
 *
 * Rate control is open loop: every millisecond it sends, pipelined, as many
 * events as the target rate owes since the start (--rate 0: batches of
 * --pipeline as fast as Redis answers).
 *
 * Usage: worker_persist_feed --redis HOST:PORT [--partitions 16] [--rooms 200]
 *        [--workspace 1] [--events N] [--rate EV_PER_S] [--pipeline 500]
 * Prints one line: "sent=N seconds=S rate=R".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "keys.h"

static void
usage(void)
{
    fprintf(stderr, "usage: worker_persist_feed --redis HOST:PORT [--partitions P] [--rooms R] "
                    "[--workspace W] [--events N] [--rate EV_PER_S] [--pipeline K]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    char host[256] = "127.0.0.1";
    int port = 6379;
    unsigned partitions = CH_DEFAULT_PARTITIONS;
    int rooms = 200, workspace = 1, pipeline = 500;
    long long events = 100000;
    double rate = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) usage();
        if (strcmp(a, "--redis") == 0) {
            const char *c = strrchr(v, ':');
            if (c == NULL || (size_t)(c - v) >= sizeof(host)) usage();
            memcpy(host, v, (size_t)(c - v));
            host[c - v] = '\0';
            port = atoi(c + 1);
        } else if (strcmp(a, "--partitions") == 0) {
            partitions = (unsigned)atoi(v);
        } else if (strcmp(a, "--rooms") == 0) {
            rooms = atoi(v);
        } else if (strcmp(a, "--workspace") == 0) {
            workspace = atoi(v);
        } else if (strcmp(a, "--events") == 0) {
            events = atoll(v);
        } else if (strcmp(a, "--rate") == 0) {
            rate = atof(v);
        } else if (strcmp(a, "--pipeline") == 0) {
            pipeline = atoi(v);
        } else {
            usage();
        }
        i++;
    }
    if (rooms < 1 || partitions < 1 || pipeline < 1 || events < 1) usage();

    redisContext *rc = redisConnect(host, port);
    if (rc == NULL || rc->err) {
        fprintf(stderr, "feed: cannot connect to redis %s:%d: %s\n", host, port,
                rc ? rc->errstr : "out of memory");
        return 1;
    }
    char (*room)[64] = calloc((size_t)rooms, sizeof(*room));
    char (*stream)[64] = calloc((size_t)rooms, sizeof(*stream));
    long long *seq = calloc((size_t)rooms, sizeof(long long));
    if (!room || !stream || !seq) return 1;
    for (int r = 0; r < rooms; r++) {
        snprintf(room[r], sizeof(room[r]), "chat.%d.%d", workspace, r + 1);
        ch_persist_key(stream[r], sizeof(stream[r]),
                       ch_room_partition(room[r], strlen(room[r]), partitions));
    }
    char epoch[24];
    snprintf(epoch, sizeof(epoch), "%lld", (long long)ch_wall_ms());

    long long sent = 0;
    int64_t t0 = ch_mono_us();
    while (sent < events) {
        long long owed;
        if (rate > 0) {
            double el = (double)(ch_mono_us() - t0) / 1e6;
            owed = (long long)(el * rate) - sent;
            if (owed <= 0) {
                struct timespec ts = { 0, 200000 };
                nanosleep(&ts, NULL);
                continue;
            }
            if (owed > pipeline * 4) owed = pipeline * 4;
        } else {
            owed = pipeline;
        }
        if (owed > events - sent) owed = events - sent;
        char ts[24];
        snprintf(ts, sizeof(ts), "%lld", (long long)ch_wall_ms());
        for (long long k = 0; k < owed; k++) {
            int r = (int)((sent + k) % rooms);
            char sq[24], cid[48], author[32], payload[192];
            snprintf(sq, sizeof(sq), "%lld", ++seq[r]);
            snprintf(cid, sizeof(cid), "feed-%lld", sent + k);
            snprintf(author, sizeof(author), "user%d", (int)((sent + k) % 50));
            snprintf(payload, sizeof(payload),
                     "{\"text\":\"benchmark message %lld: the quick brown fox jumps over the "
                     "lazy dog\"}", sent + k);
            const char *av[] = { "XADD", stream[r], "*", "room", room[r], "seq", sq, "epoch",
                                 epoch, "author", author, "kind", "message.create", "cid", cid,
                                 "ts", ts, "payload", payload, "session", "bench.1" };
            if (redisAppendCommandArgv(rc, (int)(sizeof(av) / sizeof(av[0])), av, NULL) !=
                REDIS_OK) {
                fprintf(stderr, "feed: append failed\n");
                return 1;
            }
        }
        for (long long k = 0; k < owed; k++) {
            void *rep;
            if (redisGetReply(rc, &rep) != REDIS_OK) {
                fprintf(stderr, "feed: redis error: %s\n", rc->errstr);
                return 1;
            }
            redisReply *r = rep;
            if (r->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "feed: XADD failed: %s\n", r->str);
                return 1;
            }
            freeReplyObject(r);
        }
        sent += owed;
    }
    double secs = (double)(ch_mono_us() - t0) / 1e6;
    printf("sent=%lld seconds=%.3f rate=%.0f\n", sent, secs, (double)sent / secs);
    free(room);
    free(stream);
    free(seq);
    redisFree(rc);
    return 0;
}
