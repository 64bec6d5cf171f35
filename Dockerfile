# syntax=docker/dockerfile:1

# Build stage: the release binary.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY openapi.yaml ./
RUN cargo build --release --locked --bin gatehouse \
    && install -D -m 0755 target/release/gatehouse /out/gatehouse \
    && install -d -m 0755 /out/data /out/keys

# Runtime stage: glibc and CA certificates only, no shell, runs as the unprivileged user
# 65532 ("nonroot" in distroless).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
COPY --from=build --chown=65532:65532 /out/data /var/lib/gatehouse/data
COPY --from=build --chown=65532:65532 /out/keys /var/lib/gatehouse/keys
WORKDIR /var/lib/gatehouse
USER 65532:65532
ENV GATEHOUSE_SERVER__BIND=0.0.0.0:8080 \
    GATEHOUSE_LOG__FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/gatehouse/data", "/var/lib/gatehouse/keys"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/gatehouse", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
