output "api_endpoint" {
  description = "Base URL of the HTTP API (REST, gRPC-web, /docs)."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "grpc_endpoint" {
  description = "DNS name of the ALB for native gRPC (when enable_ecs_grpc)."
  value       = var.enable_ecs_grpc ? aws_lb.grpc[0].dns_name : null
}

output "ecr_repository_url" {
  description = "Where to push the image built from the Dockerfile."
  value       = aws_ecr_repository.app.repository_url
}

output "relay_function_name" {
  description = "Name of the relay Lambda (invoke it by hand to drain now)."
  value       = aws_lambda_function.relay.function_name
}

output "relay_failures_queue_url" {
  description = "SQS queue of failed relay invocations."
  value       = aws_sqs_queue.relay_failures.url
}

output "database_proxy_endpoint" {
  description = "RDS Proxy endpoint the functions connect to."
  value       = aws_db_proxy.this.endpoint
}

output "database_secret_arn" {
  description = "Secrets Manager secret of the database credentials (managed by RDS)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}
