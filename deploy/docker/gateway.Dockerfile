# syntax=docker/dockerfile:1
#
# chorus-gateway image. Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t chorus-gateway .
#
# Configuration is by CHORUS_* environment variables (chorus-gateway --help).
# Set CHORUS_WORKERS to the container's CPU limit: the default (the CPU count)
# sees the host's CPUs, not the container's share.

# ---------------------------------------------------------------- build
FROM debian:bookworm-slim AS build
# The configure step checks every library of the project (the worker's too),
# so the build stage has all -dev packages even though only one binary is built.
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
 && cmake --build /build --target chorus-gateway -j"$(nproc)" \
 && strip --strip-debug /build/gateway/chorus-gateway

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-openssl-2.1-7 libevhtp0 libhiredis0.14 \
        libjansson4 libjwt0 libonig5 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 chorus \
 && useradd --system --uid 10001 --gid chorus --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin chorus
COPY --from=build /build/gateway/chorus-gateway /usr/local/bin/chorus-gateway
COPY deploy/docker/healthcheck.sh /usr/local/bin/chorus-healthcheck

ENV CHORUS_LISTEN=0.0.0.0:8080
EXPOSE 8080
# Numeric, so Kubernetes can enforce runAsNonRoot without a user lookup.
USER 10001:10001
# SIGTERM starts the drain: /readyz turns 503, new upgrades get 503, clients
# get a reconnect notice and a 1001 close spread over CHORUS_DRAIN_SECONDS,
# then the process exits 0. Give it drain + 5 s + a margin to stop
# (docker stop -t, compose stop_grace_period, terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=4s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/chorus-healthcheck", "8080", "/readyz"]
# Exec form: the gateway is PID 1 and receives the stop signal itself.
ENTRYPOINT ["/usr/local/bin/chorus-gateway"]
