/*
 * lt_worker.h — one worker process of the load tester: its share of the
 * simulated clients on its own event loop.
 *
 * Phases (each change is driven by a record from the parent or a timer):
 *
 *   INIT --CONNECT--> CONNECTING --all clients joined or failed--> READY
 *     (sends HELLO)     (sends READY)
 *   READY --GO--> RUNNING --end time--> DRAIN_ACKS --no publish in flight
 *     (publishers follow their      (or timeout)--> WAIT_ACKS (sends DRAINED
 *      schedules; reconnect-storm                   with per-room acks)
 *      drops at the drop time)
 *   WAIT_ACKS --ACKS--> DRAIN_DELIVERIES --every member has every acked
 *     event and no catch-up is pending (or --drain passed)--> DONE (sends
 *     FINAL, then the loop ends)
 *
 * STOP ends RUNNING early (the drain still happens); in earlier phases it
 * goes straight to DONE. A PROGRESS record goes to the parent every second.
 *
 * In every phase before DONE, a joined client whose connection ends may
 * reconnect and rejoin (--reconnect; see lt_worker.c): the drain phases
 * wait for its resent publishes and its catch-up like for any other.
 */
#ifndef CHORUS_LT_WORKER_H
#define CHORUS_LT_WORKER_H

#include "lt_config.h"

/* Runs worker index of nprocs, reading parent records from rfd and writing
 * its own to wfd (both owned: closed on return). Returns the process exit
 * status. */
int lt_worker_run(const lt_config *cfg, int index, int nprocs, int rfd, int wfd, const char *run_id);

#endif
