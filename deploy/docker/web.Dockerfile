# syntax=docker/dockerfile:1
#
# chorus-web image: nginx serving the browser apps (web/) and, with the
# default configuration, load-balancing /ws over the gateways and /api/ over
# the workers (deploy/nginx). Build from the repository root:
#   docker build -f deploy/docker/web.Dockerfile -t chorus-web .
#
# Two configurations are included:
#   /etc/chorus/nginx/nginx.conf  static files + load balancer (docker-compose)
#   /etc/chorus/nginx/static.conf static files only (behind a Kubernetes Ingress)
# Select one with the -c argument (see CMD).

# ---------------------------------------------------------------- assets
FROM debian:bookworm-slim AS assets
COPY web/ /web/
# Precompressed copies for gzip_static: nginx sends file.gz when the browser
# accepts gzip, without compressing on every request.
RUN find /web -type f \( -name '*.html' -o -name '*.js' -o -name '*.mjs' -o -name '*.css' \
        -o -name '*.svg' -o -name '*.json' -o -name '*.map' \) -size +1k -exec gzip -9 -k -n {} +

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 chorus \
 && useradd --system --uid 10001 --gid chorus --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin chorus \
 && install -d -o chorus -g chorus /var/lib/chorus-nginx /var/lib/chorus-nginx/run \
        /var/lib/chorus-nginx/tmp /var/lib/chorus-nginx/logs \
 && ln -sf /dev/stdout /var/lib/chorus-nginx/logs/access.log \
 && ln -sf /dev/stderr /var/lib/chorus-nginx/logs/error.log
COPY deploy/nginx/nginx.conf deploy/nginx/static.conf /etc/chorus/nginx/
COPY deploy/nginx/chorus/ /etc/chorus/nginx/chorus/
COPY --from=assets /web/ /usr/share/chorus/web/
COPY deploy/docker/healthcheck.sh /usr/local/bin/chorus-healthcheck

EXPOSE 8080 8443
# Runs as an unprivileged user from the start, so it listens on 8080/8443
# (publish them as 80/443).
USER 10001:10001
# SIGQUIT: graceful stop (open WebSockets get up to worker_shutdown_timeout).
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=10s --timeout=4s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/chorus-healthcheck", "8080", "/healthz"]
ENTRYPOINT ["nginx", "-p", "/var/lib/chorus-nginx/", "-g", "daemon off;"]
CMD ["-c", "/etc/chorus/nginx/nginx.conf"]
