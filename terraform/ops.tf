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
    variables = merge(local.database_env, { LOG_FORMAT = "json" })
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
