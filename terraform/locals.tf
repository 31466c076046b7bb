locals {
  tags  = merge({ "app" = var.name }, var.tags)
  image = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"

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

  relay_flush_seconds   = 10
  relay_timeout_seconds = var.relay_max_runtime_seconds + local.relay_flush_seconds + 30

  database_env = {
    DATABASE_SECRET_ARN = aws_db_instance.this.master_user_secret[0].secret_arn
    DATABASE_HOST       = aws_db_proxy.this.endpoint
    DATABASE_NAME       = aws_db_instance.this.db_name
  }

  kafka_env = merge(
    {
      KAFKA_BROKERS      = var.kafka_bootstrap_servers
      RELAY_EVENTS_TOPIC = var.kafka_events_topic
      RELAY_DLQ_TOPIC    = var.kafka_dlq_topic
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
