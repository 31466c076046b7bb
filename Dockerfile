# Both binaries in one image, for AWS Lambda (container image) and ECS Fargate.
# Build: docker build -t payment-service .
# The API:   CMD ["payment-api", "serve"]   (Lambda: set AWS_LAMBDA_RUNTIME_API, done by Lambda)
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
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 payments
COPY --from=build /usr/local/bin/payment-api /usr/local/bin/relay-job /usr/local/bin/
COPY openapi/openapi.json /usr/share/payment-service/openapi.json
USER payments
ENV LISTEN_ADDR=0.0.0.0:8080 LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT []
CMD ["payment-api", "serve"]
