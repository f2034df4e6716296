# syntax=docker/dockerfile:1
#
# chorus-loadtest image (docs/loadtest.md). Build from the repository root:
#   docker build -f deploy/docker/loadtest.Dockerfile -t chorus-loadtest .
# Run, e.g.:
#   docker run --rm --network chorus_default --ulimit nofile=262144:262144 \
#     -e CHORUS_LOADTEST_SECRET -v "$PWD/out:/out" chorus-loadtest \
#     fanout --url ws://web:8080/ws --connections 2000 --json /out/run.json --html /out/run.html

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
 && cmake --build /build --target chorus-loadtest -j"$(nproc)" \
 && strip --strip-debug /build/loadtest/chorus-loadtest

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-openssl-2.1-7 libjansson4 libjwt0 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 chorus \
 && useradd --system --uid 10001 --gid chorus --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin chorus
COPY --from=build /build/loadtest/chorus-loadtest /usr/local/bin/chorus-loadtest
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/chorus-loadtest"]
CMD ["--help"]
