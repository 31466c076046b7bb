# Both binaries in one image, for AWS Lambda (container image) and ECS Fargate.
# Build (scripts/deploy does this): docker build --platform linux/amd64 --provenance=false .
# (Lambda takes a single-platform image manifest, not the index a provenance attestation makes.)
# The API:   CMD ["payment-api", "serve"]   (Lambda: set AWS_LAMBDA_RUNTIME_API, done by Lambda)
# Ops:       CMD ["payment-api", "ops"]     (Lambda: runs `migrate` / `admin …` per invocation)
# The relay: CMD ["relay-job", "run"]
FROM rust:1-bookworm AS build
WORKDIR /src
# librdkafka is built from rdkafka-sys's bundled source (configure + make, OpenSSL for TLS/SASL).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev zlib1g-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin payment-api --bin relay-job \
 && cp target/release/payment-api target/release/relay-job /usr/local/bin/

FROM debian:bookworm-slim
# The database CA: RDS Proxy's certificates chain to the Amazon Trust Services roots (ACM),
# which Debian's ca-certificates carries; DATABASE_SSLROOTCERT names this file so that
# sslmode=verify-full trusts those four roots only. (A direct connection to an RDS instance
# needs the RDS CA bundle instead, which no Debian package ships: see the README.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /usr/share/payment-service \
 && cat /usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt \
        /usr/share/ca-certificates/mozilla/Amazon_Root_CA_2.crt \
        /usr/share/ca-certificates/mozilla/Amazon_Root_CA_3.crt \
        /usr/share/ca-certificates/mozilla/Amazon_Root_CA_4.crt \
        > /usr/share/payment-service/amazon-root-ca.pem \
 && useradd --system --uid 10001 payments
COPY --from=build /usr/local/bin/payment-api /usr/local/bin/relay-job /usr/local/bin/
COPY openapi/openapi.json /usr/share/payment-service/openapi.json
USER payments
ENV LISTEN_ADDR=0.0.0.0:8080 LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT []
CMD ["payment-api", "serve"]
