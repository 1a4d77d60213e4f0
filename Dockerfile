# One image for both services: `central` (the default command) and `store-node` (docker-compose.yml picks the
# command), with `posctl` for the one-shot `posctl bootstrap`. The SQL schemas are compiled into the binaries, so the runtime stage needs nothing else of the tree.
#
#   docker build -t pos-backend:local .
#
# The cache mounts need BuildKit (the default builder of Docker 23 and later, and of `docker compose`).

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# --locked: build exactly the committed Cargo.lock. The target directory is a cache mount, so the binaries are
# copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin central --bin store-node --bin posctl \
    && install -D -m 0755 -t /out target/release/central target/release/store-node target/release/posctl

FROM debian:bookworm-slim AS runtime
# curl serves the compose healthchecks (GET /health); ca-certificates for any TLS the operator configures.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 pos \
    && useradd --system --uid 10001 --gid pos --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin pos
COPY --from=builder /out/central /out/store-node /out/posctl /usr/local/bin/
USER 10001:10001
# Listen on every interface inside the container; everything else comes from the POS_ variables.
ENV POS_HTTP_HOST=0.0.0.0 \
    POS_HTTP_PORT=8080 \
    POS_LOG_FORMAT=json
EXPOSE 8080
CMD ["central"]
