# relay-job as a Lambda run by EventBridge Scheduler. Reserved concurrency 1: one drain at a
# time per deployment (the claim is safe with several, but one keeps the broker load even).
resource "aws_cloudwatch_log_group" "relay" {
  name              = "/aws/lambda/${var.name}-relay"
  retention_in_days = 30
  tags              = local.tags
}

resource "aws_lambda_function" "relay" {
  function_name                  = "${var.name}-relay"
  role                           = aws_iam_role.relay.arn
  package_type                   = "Image"
  image_uri                      = local.image
  architectures                  = ["x86_64"]
  memory_size                    = 256
  timeout                        = local.relay_timeout_seconds
  reserved_concurrent_executions = 1
  publish                        = true

  image_config {
    command = ["relay-job", "run"]
  }

  vpc_config {
    subnet_ids         = var.private_subnet_ids
    security_group_ids = [aws_security_group.app.id]
  }

  environment {
    variables = merge(local.database_env, local.kafka_env, {
      RELAY_MAX_RUNTIME   = "${var.relay_max_runtime_seconds}s"
      RELAY_FLUSH_TIMEOUT = "${var.relay_flush_timeout_seconds}s"
      RELAY_WORKERS       = tostring(var.relay_workers)
      RELAY_BATCH_SIZE    = tostring(var.relay_batch_size)
      LOG_FORMAT          = "json"
    })
  }

  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.relay.name
  }

  lifecycle {
    precondition {
      condition     = local.relay_timeout_seconds <= local.relay_schedule_period_seconds
      error_message = "A relay invocation may last relay_max_runtime_seconds + relay_flush_timeout_seconds + 5 s = ${local.relay_timeout_seconds} s, longer than the schedule period of ${local.relay_schedule_period_seconds} s: with reserved concurrency 1 the next tick would be throttled. Shorten the runtime or the flush timeout, or schedule less often."
    }
  }

  tags = local.tags
}

# What the schedule invokes; moved to a new version after the migrations ran.
resource "aws_lambda_alias" "relay" {
  name             = "live"
  description      = "The version the schedule runs; moved after migrations succeed."
  function_name    = aws_lambda_function.relay.function_name
  function_version = aws_lambda_function.relay.version

  depends_on = [aws_lambda_invocation.migrate]
}

# Failed invocations (exit 3/4 become function errors) land here.
resource "aws_sqs_queue" "relay_failures" {
  name                      = "${var.name}-relay-failures"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_lambda_function_event_invoke_config" "relay" {
  function_name = aws_lambda_function.relay.function_name
  qualifier     = aws_lambda_alias.relay.name
  # No blind retries (the next tick is the retry); a tick still queued after one period is
  # stale and goes to the failures queue instead of running late.
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = max(60, min(21600, local.relay_schedule_period_seconds))

  destination_config {
    on_failure {
      destination = aws_sqs_queue.relay_failures.arn
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = local.assume_role_policy["scheduler"]
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-relay"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokeRelayAlias"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [aws_lambda_alias.relay.arn]
      }, {
      Sid      = "InvokeOpsForRetention"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [aws_lambda_function.ops.arn]
    }]
  })
}

resource "aws_scheduler_schedule" "relay" {
  name                = "${var.name}-relay"
  schedule_expression = var.relay_schedule_expression

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_alias.relay.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "aws.scheduler", job = "relay" })

    retry_policy {
      maximum_retry_attempts = 0
    }
  }
}
