# syntax=docker/dockerfile:1
# Builder: a static musl binary (no OpenSSL: every dependency is pure Rust).
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --no-default-features && cp target/release/secret-sync /secret-sync

# Final image: nothing but the binary. No shell, no USER (the runner mounts the
# workspace owned by root and expects container actions to run as root).
FROM scratch
COPY --from=build /secret-sync /secret-sync
ENTRYPOINT ["/secret-sync"]
