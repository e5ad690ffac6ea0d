# syntax=docker/dockerfile:1
# org-members: a release build from the committed Cargo.lock, on a small non-root runtime image.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first: this layer is rebuilt only when the manifests or the lock file change.
COPY Cargo.toml Cargo.lock ./
# Build settings, among them the SQLite compile flags (see .cargo/config.toml).
COPY .cargo .cargo
COPY migration/Cargo.toml migration/Cargo.toml
RUN mkdir -p src migration/src \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs && touch migration/src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src migration/src
COPY src src
COPY migration/src migration/src
# Touch the sources so cargo rebuilds them rather than reusing the placeholder artefacts.
RUN touch src/main.rs src/lib.rs migration/src/lib.rs \
 && cargo build --release --locked \
 && mkdir -p /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/org-members /usr/local/bin/org-members
COPY --from=build --chown=nonroot:nonroot /data /data
# DATABASE_URL is left unset: the default path, data/org-members.sqlite3 from /, is the volume,
# created on a first run. A DATABASE_URL naming a file makes a missing file a refusal instead.
WORKDIR /
ENV HOST=0.0.0.0 \
    PORT=8080 \
    RUST_LOG=info
VOLUME ["/data"]
EXPOSE 8080
USER nonroot
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/org-members", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/org-members"]
