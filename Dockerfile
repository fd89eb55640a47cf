# The secret-sync container action: one static binary on an empty base image.
#
# Stage 1 compiles a static musl binary for the platform being built: the
# release builds linux/amd64 and linux/arm64 (GitHub has runners of both
# kinds; buildx runs the arm64 stage under QEMU). On Alpine the host target
# is `<arch>-unknown-linux-musl`, so a plain `cargo build` is that target,
# and musl links statically by default. Stage 2 is `scratch`: the binary, the CA
# bundle and nothing else — no shell, no package manager, no USER (the runner
# mounts the workspace owned by root and expects container actions to run as
# root).
#
# Base image pin
# --------------
# rust:1-alpine3.24@sha256:a10e64dd…4dce is the multi-platform OCI index of
# Rust 1.98.0 on Alpine 3.24.1 (linux/amd64, linux/arm64/v8, linux/ppc64le),
# built 2026-08-20. Source: Docker's official-images record,
#   https://github.com/docker-library/repo-info/blob/0db03f6ce992b3d4c9d4cad41df56a2ffe4908dc/repos/rust/remote/1-alpine3.24.md
# ("docker pull rust@sha256:a10e64dd139b7387337c7fbe8aca31b959b57b2fd4c8ae20a02cf1d6ea424dce").
# That image already installs ca-certificates, musl-dev and gcc (its own
# `apk add` layer), which is all `ring` needs, so this stage installs nothing.
#
# Refreshing it: Dependabot's `docker` ecosystem (.github/dependabot.yml)
# opens a pull request when the tag's digest moves. By hand:
#   docker buildx imagetools inspect rust:1-alpine3.24   # the "Digest:" line
# or read the same repo-info file at its newest commit. `scratch` is not an
# image and has nothing to pin.
FROM rust:1-alpine3.24@sha256:a10e64dd139b7387337c7fbe8aca31b959b57b2fd4c8ae20a02cf1d6ea424dce AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The workspace's other member (test doubles for the tests and the demo) must
# be present for cargo to read the workspace; it is not built: `-p` below
# builds the action alone, and without the `demo` feature nothing links it.
COPY crates ./crates
# `--no-default-features` leaves out the `demo` feature (and with it the
# emulators crate). The
# release profile (Cargo.toml) already sets LTO, one codegen unit, strip and
# panic=abort. musl targets link statically by default; the final `--version`
# run proves the binary starts without a dynamic loader. (No `RUN --mount`
# cache: the runner builds `image: Dockerfile` with whatever Docker it has,
# and a fresh build gains nothing from it.)
RUN cargo build --release --locked --no-default-features -p secret-sync \
    && cp target/release/secret-sync /secret-sync \
    && /secret-sync --version

FROM scratch
LABEL org.opencontainers.image.source="https://github.com/ai-cherry/secret-sync" \
      org.opencontainers.image.description="Check GitHub org secrets against a manifest and sync what changed to Pulumi ESC, Fly.io and GitHub, with a masked report." \
      org.opencontainers.image.licenses="MIT"
# HTTPS to Pulumi Cloud, Fly.io and GitHub: rustls uses its built-in roots
# and, where a client reads the system store, this bundle.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
COPY --from=build /secret-sync /secret-sync
ENTRYPOINT ["/secret-sync"]
