# syntax=docker/dockerfile:1
#
# chorus-worker image: persistence, snapshots and the HTTP API (`serve`, the
# default command), or the migrations alone (`migrate`). Build from the
# repository root:
#   docker build -f deploy/docker/worker.Dockerfile -t chorus-worker .
#
# Configuration is by CHORUS_* environment variables (chorus-worker --help);
# the PostgreSQL password is best given as PGPASSWORD (read by libpq), so the
# CHORUS_PG connection string holds no secret.

# ---------------------------------------------------------------- build
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        libevent-dev libevhtp-dev libonig-dev libhiredis-dev libjansson-dev \
        libjwt-dev libssl-dev libpq-dev libargon2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY common/ common/
COPY gateway/ gateway/
COPY worker/ worker/
COPY loadtest/ loadtest/
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
 && cmake --build /build --target chorus-worker -j"$(nproc)" \
 && strip --strip-debug /build/worker/chorus-worker

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-openssl-2.1-7 libevent-pthreads-2.1-7 libevhtp0 \
        libhiredis0.14 libjansson4 libjwt0 libonig5 libssl3 libpq5 libargon2-1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 chorus \
 && useradd --system --uid 10001 --gid chorus --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin chorus
COPY --from=build /build/worker/chorus-worker /usr/local/bin/chorus-worker
COPY migrations/ /usr/share/chorus/migrations/
COPY deploy/docker/healthcheck.sh /usr/local/bin/chorus-healthcheck

ENV CHORUS_WORKER_LISTEN=0.0.0.0:8090 \
    CHORUS_MIGRATIONS=/usr/share/chorus/migrations
EXPOSE 8090
USER 10001:10001
# SIGTERM stops the worker. Stream entries are acknowledged in Redis only
# after their PostgreSQL commit, so anything not yet committed is read again:
# by this consumer name when it comes back, or by another worker after
# CHORUS_CLAIM_IDLE_MS. Rows are idempotent by (room, epoch, seq).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=4s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/chorus-healthcheck", "8090", "/readyz"]
ENTRYPOINT ["/usr/local/bin/chorus-worker"]
CMD ["serve"]
