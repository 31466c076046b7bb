# The ops function: the same image run as `payment-api ops`, which answers each invocation
# `{"args": ["migrate"]}` or `{"args": ["admin", …]}` by running that command once and returning
# `{"exit_code", "stdout", "stderr"}` (a non-zero exit is a function error). It lives in the
# VPC next to the API, so it reaches the database the app security group admits: this is how
# migrations run in every deploy and how an operator runs admin commands (scripts/deploy
# invoke …). Nothing else may invoke it: it has no trigger and no resource policy.
resource "aws_cloudwatch_log_group" "ops" {
  name              = "/aws/lambda/${var.name}-ops"
  retention_in_days = 30
  tags              = local.tags
}

resource "aws_lambda_function" "ops" {
  function_name = "${var.name}-ops"
  role          = aws_iam_role.api.arn
  package_type  = "Image"
  image_uri     = local.image
  architectures = ["x86_64"]
  memory_size   = 256
  timeout       = 300
  publish       = true

  image_config {
    command = ["payment-api", "ops"]
  }

  vpc_config {
    subnet_ids         = var.private_subnet_ids
    security_group_ids = [aws_security_group.app.id]
  }

  environment {
    variables = merge(local.database_env, local.idempotency_env, { LOG_FORMAT = "json" })
  }

  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.ops.name
  }

  tags = local.tags
}

# Migrations run in every apply that changes the image (or the database), after the ops
# function runs the new image and before the API and relay aliases move to their new versions
# (they depend on this): a failed migration fails the apply and traffic stays where it was.
resource "aws_lambda_invocation" "migrate" {
  function_name = aws_lambda_function.ops.function_name
  qualifier     = aws_lambda_function.ops.version
  input         = jsonencode({ args = ["migrate"] })

  triggers = {
    image    = local.image
    database = aws_db_instance.this.id
  }

  # The ops function reads the database secret through the endpoint when there is one.
  depends_on = [aws_db_proxy_target.this, aws_iam_role_policy.api, aws_vpc_endpoint.interface]
}

# Retention of idempotency records: the ops function runs `admin purge-idempotency` on a
# schedule (hourly by default), deleting records past IDEMPOTENCY_KEY_TTL in batches of 10,000
# rows, each its own short transaction, at most `idempotency_purge_max_rows` per run (more
# wait for the next run; the output says so). The function reads the same TTL as the API, and
# the command refuses a retention shorter than it.
locals {
  idempotency_env = { IDEMPOTENCY_KEY_TTL = var.idempotency_key_ttl }
}

resource "aws_scheduler_schedule" "purge_idempotency" {
  name                = "${var.name}-purge-idempotency"
  schedule_expression = var.idempotency_purge_schedule_expression

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.ops.arn
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      args = ["admin", "purge-idempotency", "--max-rows", tostring(var.idempotency_purge_max_rows)]
    })

    retry_policy {
      maximum_retry_attempts = 0
    }
  }
}
