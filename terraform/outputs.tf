output "api_endpoint" {
  description = "Base URL of the HTTP API (REST, gRPC-web, /docs)."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "grpc_endpoint" {
  description = "DNS name of the ALB for native gRPC (when enable_ecs_grpc)."
  value       = var.enable_ecs_grpc ? aws_lb.grpc[0].dns_name : null
}

output "ecr_repository_url" {
  description = "Where scripts/deploy pushes the image built from the Dockerfile."
  value       = aws_ecr_repository.app.repository_url
}

output "image" {
  description = "The image the functions and tasks run, by digest."
  value       = local.image
}

output "api_function_name" {
  description = "Name of the API Lambda; its alias `live` serves traffic."
  value       = aws_lambda_function.api.function_name
}

output "api_live_version" {
  description = "Version of the API Lambda behind the `live` alias (roll back by pointing the alias at an earlier one)."
  value       = aws_lambda_alias.api.function_version
}

output "relay_function_name" {
  description = "Name of the relay Lambda (invoke its `live` alias by hand to drain now)."
  value       = aws_lambda_function.relay.function_name
}

output "relay_live_version" {
  description = "Version of the relay Lambda behind the `live` alias."
  value       = aws_lambda_alias.relay.function_version
}

output "ops_function_name" {
  description = "Name of the ops Lambda: invoke it with {\"args\": [\"migrate\"]} or {\"args\": [\"admin\", …]} (scripts/deploy invoke …)."
  value       = aws_lambda_function.ops.function_name
}

output "relay_failures_queue_url" {
  description = "SQS queue of failed relay invocations."
  value       = aws_sqs_queue.relay_failures.url
}

output "database_proxy_endpoint" {
  description = "RDS Proxy endpoint the functions connect to (TLS required)."
  value       = aws_db_proxy.this.endpoint
}

output "database_secret_arn" {
  description = "Secrets Manager secret of the database credentials (managed and rotated by RDS)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "app_security_group_id" {
  description = "Security group of the functions and tasks: admit it on the Kafka cluster's security group (e.g. MSK's, port 9096 or 9098)."
  value       = aws_security_group.app.id
}

output "api_role_arn" {
  description = "IAM role of the API and ops functions."
  value       = aws_iam_role.api.arn
}

output "relay_role_arn" {
  description = "IAM role of the relay function (for MSK or Kafka ACLs that name principals)."
  value       = aws_iam_role.relay.arn
}

output "ecs_task_role_arn" {
  description = "IAM role of the ECS API tasks (when enable_ecs_grpc)."
  value       = var.enable_ecs_grpc ? aws_iam_role.ecs_task[0].arn : null
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of the deployment (relay EMF, Lambda, HTTP API, database metrics)."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
