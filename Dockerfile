# syntax=docker/dockerfile:1
# Multi-stage build: compile in the full Rust image, ship only the binary.

FROM rust:1-bookworm AS builder
WORKDIR /src
# The whole workspace is needed: Cargo.toml lists "." and "loadgen" as members,
# and cargo refuses to build if a member's manifest is missing.
COPY Cargo.toml Cargo.lock diesel.toml schema.graphql ./
COPY src ./src
# Embedded into the binary by diesel_migrations::embed_migrations!.
COPY migrations ./migrations
COPY loadgen ./loadgen
RUN cargo build --release --locked -p gigmarket --bin gigmarket

FROM debian:bookworm-slim
# The binary talks to PostgreSQL via tokio-postgres and uses rustls, so no
# libpq/openssl is needed; ca-certificates is for outgoing TLS (e.g. SMTP).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home --home-dir /home/gigmarket --shell /usr/sbin/nologin gigmarket
WORKDIR /app
# Create the upload directories owned by the app user: a fresh named volume
# mounted here copies this ownership, so the server can write to it.
RUN mkdir -p /app/uploads /app/private-uploads \
    && chown gigmarket:gigmarket /app/uploads /app/private-uploads
COPY --from=builder /src/target/release/gigmarket /usr/local/bin/gigmarket
USER gigmarket
ENV BIND_ADDR=0.0.0.0:8080 UPLOAD_DIR=/app/uploads PRIVATE_UPLOAD_DIR=/app/private-uploads
EXPOSE 8080
CMD ["gigmarket", "serve"]
