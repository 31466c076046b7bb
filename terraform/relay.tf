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
  layers                         = [var.secrets_extension_layer_arn]

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
      RELAY_FLUSH_TIMEOUT = "${local.relay_flush_seconds}s"
      RELAY_WORKERS       = tostring(var.relay_workers)
      RELAY_BATCH_SIZE    = tostring(var.relay_batch_size)
      LOG_FORMAT          = "json"
    })
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.relay.name
  }

  tags = local.tags
}

# Failed invocations (exit 3/4 become function errors) land here.
resource "aws_sqs_queue" "relay_failures" {
  name                      = "${var.name}-relay-failures"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

data "aws_iam_policy_document" "relay_destination" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.relay_failures.arn]
  }
}

resource "aws_iam_role_policy" "relay_destination" {
  name   = "on-failure-destination"
  role   = aws_iam_role.relay.id
  policy = data.aws_iam_policy_document.relay_destination.json
}

resource "aws_lambda_function_event_invoke_config" "relay" {
  function_name                = aws_lambda_function.relay.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 300

  destination_config {
    on_failure {
      destination = aws_sqs_queue.relay_failures.arn
    }
  }
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.relay.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-relay"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "relay" {
  name                = "${var.name}-relay"
  schedule_expression = var.relay_schedule_expression

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.relay.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "aws.scheduler", job = "relay" })

    retry_policy {
      maximum_retry_attempts = 0
    }
  }
}
