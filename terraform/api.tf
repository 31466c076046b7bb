# The API as a container-image Lambda behind an API Gateway HTTP API (payload v2): REST,
# gRPC-web, OpenAPI, Swagger UI and the health probes. Native gRPC needs HTTP/2 end to end:
# see ecs.tf.
resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/lambda/${var.name}-api"
  retention_in_days = 30
  tags              = local.tags
}

resource "aws_lambda_function" "api" {
  function_name = "${var.name}-api"
  role          = aws_iam_role.api.arn
  package_type  = "Image"
  image_uri     = local.image
  architectures = ["x86_64"]
  memory_size   = var.api_memory_mb
  timeout       = var.api_timeout_seconds
  # Each apply that changes the function publishes a version; traffic reaches it only through
  # the `live` alias, which moves after the migrations ran (ops.tf).
  publish = true

  image_config {
    command = ["payment-api", "serve"]
  }

  vpc_config {
    subnet_ids         = var.private_subnet_ids
    security_group_ids = [aws_security_group.app.id, aws_security_group.api.id]
  }

  environment {
    variables = merge(local.database_env, local.cache_env, local.idempotency_env, {
      CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins)
      DATABASE_POOL_SIZE   = "2"
      LOG_FORMAT           = "json"
    })
  }

  # The binaries log one JSON object per line (tracing's JSON format: timestamp, level,
  # fields, target), which is what Lambda's JSON log format expects.
  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.api.name
  }

  tags = local.tags
}

# What the HTTP API invokes. Rolling back is pointing it at an earlier version (README).
resource "aws_lambda_alias" "api" {
  name             = "live"
  description      = "The version serving traffic; moved after migrations succeed."
  function_name    = aws_lambda_function.api.function_name
  function_version = aws_lambda_function.api.version

  depends_on = [aws_lambda_invocation.migrate]
}

resource "aws_apigatewayv2_api" "http" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "payment-service REST and gRPC-web"

  # CORS is answered by the API itself (so gRPC-web preflights and exposed headers are exactly
  # what the browser test checks); API Gateway passes OPTIONS through.
  tags = local.tags
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_alias.api.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.api_timeout_seconds * 1000
}

resource "aws_apigatewayv2_route" "api" {
  for_each  = toset(local.api_routes)
  api_id    = aws_apigatewayv2_api.http.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.api.id}"
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = 30
  tags              = local.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId = "$context.requestId", routeKey = "$context.routeKey", status = "$context.status",
      latencyMs = "$context.responseLatency", integrationError = "$context.integrationErrorMessage"
    })
  }

  tags = local.tags
}

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  qualifier     = aws_lambda_alias.api.name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}
