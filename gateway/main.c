/*
 * main.c — the chorus-gateway binary: parses the configuration, then runs
 * one node per worker process. With --workers N > 1 a supervisor forks N
 * workers that share the listening port through SO_REUSEPORT (each its own
 * node towards Redis), forwards SIGTERM/SIGINT to them, restarts a worker
 * that crashes, and exits 0 once all have drained.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "gateway.h"
#include "log.h"
#include "metrics.h"

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    CH_INFO("signal received", " signal=%d", (int)sig);
    gw_node_start_drain(arg);
}

static int
run_worker(const gw_config *cfg, int worker)
{
    gw_node node;
    int rc = 1;
    struct event_base *base = event_base_new();
    struct event *sigterm = NULL, *sigint = NULL;
    if (!base) return 1;
    gw_metrics_use_slot(worker);
    char id[64];
    if (cfg->workers > 1) snprintf(id, sizeof(id), "%s-%d", cfg->node_id, worker);
    else snprintf(id, sizeof(id), "%s", cfg->node_id);
    ch_log_init("gateway", id, (ch_log_level)cfg->log_level);

    if (gw_node_init(&node, base, cfg, worker) < 0) {
        CH_ERROR("startup failed", NULL);
        goto out;
    }
    sigterm = evsignal_new(base, SIGTERM, on_signal, &node);
    sigint = evsignal_new(base, SIGINT, on_signal, &node);
    if (!sigterm || !sigint || event_add(sigterm, NULL) < 0 || event_add(sigint, NULL) < 0) goto out;
    event_base_dispatch(base);
    rc = 0;
out:
    if (sigterm) event_free(sigterm);
    if (sigint) event_free(sigint);
    gw_node_fini(&node);
    event_base_free(base);
    CH_INFO("exit", " code=%d", rc);
    return rc;
}

static volatile sig_atomic_t stop_signal;

static void
supervisor_signal(int sig)
{
    stop_signal = sig;
}

static pid_t
spawn(const gw_config *cfg, int worker)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        _exit(run_worker(cfg, worker));
    }
    return pid;
}

static int
supervise(const gw_config *cfg)
{
    pid_t *pids = calloc((size_t)cfg->workers, sizeof(pid_t));
    int alive = 0, failed = 0, forwarded = 0;
    struct sigaction sa;
    if (!pids) return 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = supervisor_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    for (int i = 0; i < cfg->workers; i++) {
        if ((pids[i] = spawn(cfg, i)) > 0) alive++;
        else CH_ERROR("fork failed", " worker=%d", i);
    }
    while (alive > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                if (stop_signal && !forwarded) {
                    CH_INFO("stopping workers", " signal=%d", (int)stop_signal);
                    for (int i = 0; i < cfg->workers; i++)
                        if (pids[i] > 0) kill(pids[i], SIGTERM);
                    forwarded = 1;
                }
                continue;
            }
            break;
        }
        for (int i = 0; i < cfg->workers; i++) {
            if (pids[i] != pid) continue;
            int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            pids[i] = 0;
            alive--;
            if (stop_signal) { failed |= !ok; break; }
            CH_ERROR("worker died, restarting", " worker=%d status=%d", i, status);
            sleep(1);
            if ((pids[i] = spawn(cfg, i)) > 0) alive++;
            break;
        }
    }
    free(pids);
    return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
    gw_config cfg;
    int rc = gw_config_parse(&cfg, argc, argv);
    if (rc != 0) return rc > 0 ? 0 : 2;

    signal(SIGPIPE, SIG_IGN);
    ch_log_init("gateway", cfg.node_id, (ch_log_level)cfg.log_level);
    if (cfg.jwt_key_is_dev_default)
        CH_WARN("using the built-in development JWT secret; set CHORUS_JWT_SECRET in production", NULL);
    if (gw_metrics_init(cfg.workers) < 0) {
        CH_ERROR("cannot map metrics", NULL);
        return 1;
    }
    CH_INFO("starting", " workers=%d listen=%s:%d redis=%s:%d partitions=%u", cfg.workers,
            cfg.listen_host, cfg.listen_port, cfg.redis_host, cfg.redis_port, cfg.partitions);
    rc = cfg.workers > 1 ? supervise(&cfg) : run_worker(&cfg, 0);
    gw_config_free(&cfg);
    return rc;
}
