# Least privilege, written out statement by statement (no managed policies, so the tests can
# read every permission): each function may write its own logs, use its VPC network
# interfaces, read the secrets it needs, and nothing else.
data "aws_region" "current" {}

# The API function and the ops function (migrate, admin) share this role: both reach the
# database with the same secret; the API also reads the rate-limit cache's token (cache.tf).
resource "aws_iam_role" "api" {
  name               = "${var.name}-api"
  assume_role_policy = local.assume_role_policy["lambda"]
  tags               = local.tags
}

resource "aws_iam_role" "relay" {
  name               = "${var.name}-relay"
  assume_role_policy = local.assume_role_policy["lambda"]
  tags               = local.tags
}

locals {
  # Trust policies: which AWS service may assume each role.
  assume_role_policy = { for service in ["lambda", "ecs-tasks", "rds", "scheduler"] : service => jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["sts:AssumeRole"], Principal = { Service = ["${service}.amazonaws.com"] } }]
  }) }

  secretsmanager_service = "secretsmanager.${data.aws_region.current.name}.amazonaws.com"

  # Reading the RDS-managed database secret (and decrypting it, through Secrets Manager only,
  # when it has a customer-managed key).
  database_secret_statements = concat(
    [{
      Sid      = "ReadDatabaseSecret"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [aws_db_instance.this.master_user_secret[0].secret_arn]
    }],
    var.db_secret_kms_key_arn == null ? [] : [{
      Sid       = "DecryptDatabaseSecret"
      Effect    = "Allow"
      Action    = ["kms:Decrypt"]
      Resource  = [var.db_secret_kms_key_arn]
      Condition = { StringEquals = { "kms:ViaService" = local.secretsmanager_service } }
    }],
  )

  # What a function in a VPC needs for its network interfaces (the EC2 actions of
  # AWSLambdaVPCAccessExecutionRole; they take no resource-level scoping).
  vpc_network_statement = {
    Sid    = "VpcNetworkInterfaces"
    Effect = "Allow"
    Action = [
      "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
      "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
    ]
    Resource = ["*"]
  }

  # MSK IAM: Connect and idempotent writes are cluster actions; describe, write (and create,
  # when the relay creates missing topics) are topic actions on exactly the two topics.
  msk_topic_prefix = var.msk_cluster_arn == null ? "" : replace(var.msk_cluster_arn, ":cluster/", ":topic/")
  msk_iam          = var.kafka_auth_mode == "msk_iam"
  kafka_statements = concat(
    local.msk_iam ? [{
      Sid      = "MskConnectIdempotent"
      Effect   = "Allow"
      Action   = ["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"]
      Resource = [var.msk_cluster_arn]
    }] : [],
    local.msk_iam ? [{
      Sid    = "MskTopics"
      Effect = "Allow"
      Action = concat(
        ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
        var.relay_create_topics ? ["kafka-cluster:CreateTopic"] : [],
      )
      Resource = [
        "${local.msk_topic_prefix}/${var.kafka_events_topic}",
        "${local.msk_topic_prefix}/${var.kafka_dlq_topic}",
      ]
    }] : [],
    local.msk_iam ? [] : [{
      Sid      = "ReadKafkaSecret"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [var.kafka_sasl_secret_arn]
    }],
    local.msk_iam ? [] : [{
      Sid      = "DecryptKafkaSecret"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.kafka_sasl_kms_key_arn]
      Condition = { StringEquals = {
        "kms:ViaService"                  = local.secretsmanager_service
        "kms:EncryptionContext:SecretARN" = var.kafka_sasl_secret_arn
      } }
    }],
  )

  api_policy = {
    Version = "2012-10-17"
    Statement = concat(local.database_secret_statements, local.cache_secret_statements, [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.api.arn}:*", "${aws_cloudwatch_log_group.ops.arn}:*"]
      },
      local.vpc_network_statement,
    ])
  }

  relay_policy = {
    Version = "2012-10-17"
    Statement = concat(local.database_secret_statements, local.kafka_statements, [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.relay.arn}:*"]
      },
      {
        Sid      = "OnFailureDestination"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [aws_sqs_queue.relay_failures.arn]
      },
      local.vpc_network_statement,
    ])
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "payment-api"
  role   = aws_iam_role.api.id
  policy = jsonencode(local.api_policy)
}

resource "aws_iam_role_policy" "relay" {
  name   = "relay-job"
  role   = aws_iam_role.relay.id
  policy = jsonencode(local.relay_policy)
}
