# syntax=docker/dockerfile:1

FROM rust:1-bookworm AS builder
# cmake/nasm/pkg-config: the C parts of aws-lc and of the image codecs. libde265/libdav1d: the
# HEVC and AV1 decoders of the libheif built into sous (HEIC and AVIF uploads).
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake nasm pkg-config libde265-dev libdav1d-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build

# Dependencies first, against stub sources, so a source change does not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY migrations/Cargo.toml migrations/Cargo.toml
# Patched dependencies are dependencies: built with the others.
COPY patches patches
# Cargo refuses a manifest whose declared targets are missing: stub every [[bench]], [[test]],
# [[bin]] and [[example]] (at its explicit `path`, else at the default one).
RUN mkdir -p src migrations/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs migrations/src/lib.rs \
    && awk 'function flush() { if (dir != "" && name != "" && !haspath) print dir "/" name ".rs"; dir = ""; name = ""; haspath = 0 }; \
        /^\[/ { flush() }; /^\[\[bench\]\]/ { dir = "benches" }; /^\[\[test\]\]/ { dir = "tests" }; \
        /^\[\[example\]\]/ { dir = "examples" }; /^\[\[bin\]\]/ { dir = "src/bin" }; \
        dir != "" && /^name *=/ { name = $0; gsub(/.*= *"|".*/, "", name) }; \
        /^path *= *".*\.rs"/ { p = $0; gsub(/.*= *"|".*/, "", p); print p; haspath = 1 }; \
        END { flush() }' Cargo.toml \
    | while read -r stub; do mkdir -p "$(dirname "$stub")"; [ -e "$stub" ] || echo 'fn main() {}' > "$stub"; done \
    && cargo build --release --locked \
    && rm -rf src migrations/src

COPY . .
# COPY keeps the context's mtimes, which may be older than the stub build: make sure cargo
# rebuilds our two crates rather than shipping the stubs.
# The release profile keeps line tables for readable backtraces; compressing them shrinks the
# binary about threefold (223 to 81 MB today) and backtraces still resolve.
RUN touch src/main.rs src/lib.rs migrations/src/lib.rs \
    && cargo build --release --locked \
    && mkdir -p models assets \
    && objcopy --compress-debug-sections=zlib target/release/sous /usr/local/bin/sous

FROM debian:bookworm-slim
# fonts-ipafont-gothic: the labels PDF draws Japanese text. libde265-0/libdav1d6: see above.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates fonts-ipafont-gothic \
        libde265-0 libdav1d6 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/sous --shell /usr/sbin/nologin sous \
    && mkdir -p /var/lib/sous \
    && chown sous:sous /var/lib/sous

COPY --from=builder /usr/local/bin/sous /usr/local/bin/sous
COPY --from=builder /build/models /opt/sous/models
COPY --from=builder /build/assets /opt/sous/assets

USER sous
WORKDIR /var/lib/sous
ENV SOUS_BIND=0.0.0.0:8080 \
    SOUS_LOG_FORMAT=json \
    SOUS_MODEL_DIR=/opt/sous/models
EXPOSE 8080
# No HEALTHCHECK: the image has no HTTP client, and worker-only containers do not listen, so
# one probe cannot fit every role. Orchestrators probe /healthz and /readyz themselves;
# docker-compose.yml gives the api service its own check.
ENTRYPOINT ["sous"]
CMD ["serve"]
