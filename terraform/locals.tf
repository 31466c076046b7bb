locals {
  tags = merge({ "app" = var.name }, var.tags)

  # The image by digest: what a function version runs can never change under it, and a
  # missing tag fails the plan (data.aws_ecr_image) instead of the function's creation.
  image = "${aws_ecr_repository.app.repository_url}@${data.aws_ecr_image.app.image_digest}"

  # Every REST route of the API (see openapi/openapi.json), the gRPC-web paths and the operator
  # paths. API Gateway HTTP APIs match `{proxy+}` greedily.
  api_routes = [
    "POST /v1/payments",
    "GET /v1/payments",
    "GET /v1/payments/{id}",
    "POST /v1/payments/{id}/capture",
    "POST /v1/payments/{id}/void",
    "POST /v1/payments/{id}/refunds",
    "GET /openapi.json",
    "GET /docs",
    "GET /docs/{proxy+}",
    "GET /healthz",
    "GET /readyz",
    "POST /payments.v1.PaymentService/{proxy+}",
    "OPTIONS /payments.v1.PaymentService/{proxy+}",
    "OPTIONS /v1/{proxy+}",
  ]

  # One relay invocation: --max-runtime, then at most --flush-timeout for acknowledgements,
  # plus start-up and the summary. It must end before the schedule fires again, or reserved
  # concurrency 1 throttles the next tick (checked by a precondition in relay.tf).
  relay_timeout_seconds = var.relay_max_runtime_seconds + var.relay_flush_timeout_seconds + 5
  relay_schedule_units  = { minute = 60, minutes = 60, hour = 3600, hours = 3600, day = 86400, days = 86400 }
  relay_schedule_period_seconds = try(
    tonumber(regex("^rate\\(([0-9]+) ", var.relay_schedule_expression)[0]) *
    local.relay_schedule_units[regex(" ([a-z]+)\\)$", var.relay_schedule_expression)[0]],
    60, # cron(...): its shortest possible period
  )

  # Where the image keeps the CA certificates that sign RDS Proxy's endpoint (Amazon Trust
  # Services roots, from Debian's ca-certificates: see the Dockerfile).
  database_ca_path = "/usr/share/payment-service/amazon-root-ca.pem"

  # The binaries compose DATABASE_URL from these and the secret's password (re-read when the
  # database refuses it, so a rotation needs no restart), with TLS verified against the CA.
  # RDS Proxy hands each transaction to any pooled server connection (multiplexing), so the
  # binaries keep no prepared statement or setting beyond a transaction.
  database_env = {
    DATABASE_POOL_MODE   = "transaction"
    DATABASE_HOST        = aws_db_proxy.this.endpoint
    DATABASE_NAME        = aws_db_instance.this.db_name
    DATABASE_USER        = aws_db_instance.this.username
    DATABASE_SECRET_ARN  = aws_db_instance.this.master_user_secret[0].secret_arn
    DATABASE_SSLMODE     = "verify-full"
    DATABASE_SSLROOTCERT = local.database_ca_path
  }

  kafka_env = merge(
    {
      KAFKA_BROKERS       = var.kafka_bootstrap_servers
      RELAY_EVENTS_TOPIC  = var.kafka_events_topic
      RELAY_DLQ_TOPIC     = var.kafka_dlq_topic
      RELAY_CREATE_TOPICS = tostring(var.relay_create_topics)
    },
    var.kafka_auth_mode == "sasl_scram" ? {
      KAFKA_SECURITY_PROTOCOL = "sasl_ssl"
      KAFKA_SASL_MECHANISM    = "SCRAM-SHA-512"
      KAFKA_SASL_SECRET_ARN   = var.kafka_sasl_secret_arn
      } : {
      KAFKA_SECURITY_PROTOCOL = "sasl_ssl"
      KAFKA_SASL_MECHANISM    = "OAUTHBEARER"
      KAFKA_MSK_IAM           = "true"
    },
  )
}
