# Least privilege: each function may write its logs, use its network interfaces, and read the
# secrets it needs, nothing else.
data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api" {
  name               = "${var.name}-api"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

resource "aws_iam_role" "relay" {
  name               = "${var.name}-relay"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "api_vpc" {
  role       = aws_iam_role.api.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "relay_vpc" {
  role       = aws_iam_role.relay.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "ReadDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.this.master_user_secret[0].secret_arn]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "payment-api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

data "aws_iam_policy_document" "relay" {
  statement {
    sid       = "ReadDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.this.master_user_secret[0].secret_arn]
  }

  dynamic "statement" {
    for_each = var.kafka_auth_mode == "sasl_scram" ? [var.kafka_sasl_secret_arn] : []
    content {
      sid       = "ReadKafkaSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.kafka_auth_mode == "msk_iam" ? [var.msk_cluster_arn] : []
    content {
      sid     = "MskIamProduce"
      actions = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic", "kafka-cluster:WriteData"]
      resources = [
        statement.value,
        "${replace(statement.value, ":cluster/", ":topic/")}/${var.kafka_events_topic}",
        "${replace(statement.value, ":cluster/", ":topic/")}/${var.kafka_dlq_topic}",
      ]
    }
  }
}

resource "aws_iam_role_policy" "relay" {
  name   = "relay-job"
  role   = aws_iam_role.relay.id
  policy = data.aws_iam_policy_document.relay.json
}
