# Offline tests with a mocked AWS provider. Only what AWS would compute (ARNs, ids, the
# image digest) is mocked; every IAM policy is the module's own JSON, decoded and checked
# statement by statement. `command = apply` runs plan and a mocked apply, so every value,
# including the policies that embed ARNs, is known to the assertions.
mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }

  # What Secrets Manager would generate: 64 letters and digits (exclude_punctuation).
  mock_data "aws_secretsmanager_random_password" {
    defaults = { random_password = "Tk3nA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4Y5z6A7b8C9d0" }
  }

  mock_data "aws_ecr_image" {
    defaults = { image_digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }
  }

  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/payment-service"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payment-service"
    }
  }

  mock_resource "aws_db_instance" {
    defaults = {
      master_user_secret = [{ secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds-db-credentials", kms_key_id = "", secret_status = "active" }]
      arn                = "arn:aws:rds:eu-west-1:123456789012:db:payment-service"
    }
  }

  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:eu-west-1:123456789012:function:payment-service"
      invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:payment-service/invocations"
      version    = "7"
    }
  }

  mock_resource "aws_lambda_alias" {
    defaults = {
      arn        = "arn:aws:lambda:eu-west-1:123456789012:function:payment-service:live"
      invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:payment-service:live/invocations"
    }
  }

  # Read back by aws_db_proxy_target, whose name validation a random mock value may fail.
  mock_resource "aws_db_proxy_default_target_group" {
    defaults = { name = "default" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/payment-service" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:payment-service-relay-failures" }
  }

  mock_resource "aws_apigatewayv2_api" {
    defaults = { execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:payment-service" }
  }

  mock_resource "aws_lb" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/payment-service/0123456789abcdef" }
  }

  mock_resource "aws_lb_target_group" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payment-service/0123456789abcdef" }
  }

  mock_resource "aws_lb_listener" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/payment-service/0123456789abcdef/0123456789abcdef" }
  }

  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:payment-service-rate-limit-cache-auth-AbCdEf" }
  }

  mock_resource "aws_elasticache_replication_group" {
    defaults = { primary_endpoint_address = "master.payment-service-rate-limits.abcdef.euw1.cache.amazonaws.com" }
  }

  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/payment-service-api:1" }
  }
}

variables {
  vpc_id                  = "vpc-0123456789abcdef0"
  private_subnet_ids      = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  public_subnet_ids       = ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"]
  private_route_table_ids = ["rtb-0a1b2c3d4e5f60001"]
  image_tag               = "0123abc"
  kafka_bootstrap_servers = "b-1.kafka.example:9096"
  kafka_sasl_secret_arn   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_payments-AbCdEf"
  kafka_sasl_kms_key_arn  = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  alarm_actions           = ["arn:aws:sns:eu-west-1:123456789012:payments-oncall"]
}

# --- IAM, per Kafka auth mode ---------------------------------------------------------------

run "sasl_scram_relay_reads_and_decrypts_only_its_secrets" {
  command = apply

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s.Sid] == [
      "ReadDatabaseSecret", "ReadKafkaSecret", "DecryptKafkaSecret", "WriteOwnLogs", "OnFailureDestination", "VpcNetworkInterfaces",
    ]
    error_message = "The relay's statements under sasl_scram: database secret, Kafka secret and its KMS key, own logs, failure queue, network interfaces; nothing else."
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s if s.Sid == "ReadKafkaSecret"]) == {
      Sid = "ReadKafkaSecret", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [var.kafka_sasl_secret_arn]
    }
    error_message = "The relay reads exactly the SASL secret."
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s if s.Sid == "DecryptKafkaSecret"]) == {
      Sid = "DecryptKafkaSecret", Effect = "Allow", Action = ["kms:Decrypt"], Resource = [var.kafka_sasl_kms_key_arn]
      Condition = { StringEquals = {
        "kms:ViaService"                  = "secretsmanager.eu-west-1.amazonaws.com"
        "kms:EncryptionContext:SecretARN" = var.kafka_sasl_secret_arn
      } }
    }
    error_message = "The relay decrypts with the SCRAM secret's key only through Secrets Manager, only for that secret."
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s if s.Sid == "ReadDatabaseSecret"]).Resource == [
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds-db-credentials",
    ]
    error_message = "The relay reads the RDS-managed database secret."
  }

  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement :
    s.Resource != ["*"] || s.Sid == "VpcNetworkInterfaces"])
    error_message = "Only the network-interface actions (which take no resource scoping) may use Resource \"*\"."
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s if s.Sid == "WriteOwnLogs"]) == {
      Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${aws_cloudwatch_log_group.relay.arn}:*"]
    }
    error_message = "The relay writes only its own log group (which terraform creates: no logs:CreateLogGroup)."
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s if s.Sid == "OnFailureDestination"]) == {
      Sid = "OnFailureDestination", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [aws_sqs_queue.relay_failures.arn]
    }
    error_message = "The relay may send failed invocations to its failures queue."
  }

  assert {
    condition     = aws_lambda_function.relay.environment[0].variables["KAFKA_SASL_SECRET_ARN"] == var.kafka_sasl_secret_arn && aws_lambda_function.relay.environment[0].variables["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512" && aws_lambda_function.relay.environment[0].variables["KAFKA_SECURITY_PROTOCOL"] == "sasl_ssl"
    error_message = "The relay reads SASL/SCRAM credentials from the secret, over TLS."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.api.policy).Statement : s.Sid] == ["ReadDatabaseSecret", "ReadRateLimitCacheSecret", "WriteOwnLogs", "VpcNetworkInterfaces"]
    error_message = "The API (and ops) role reads only the database secret and the rate-limit cache's token."
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.api.policy).Statement : s if s.Sid == "WriteOwnLogs"]).Resource == [
      "${aws_cloudwatch_log_group.api.arn}:*", "${aws_cloudwatch_log_group.ops.arn}:*",
    ]
    error_message = "The API role writes the API's and the ops function's log groups only."
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.scheduler.policy).Statement == [{
      Sid = "InvokeRelayAlias", Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = [aws_lambda_alias.relay.arn]
      }, {
      Sid = "InvokeOpsForRetention", Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = [aws_lambda_function.ops.arn]
    }]
    error_message = "The scheduler may invoke the relay's live alias and the ops function (for the retention purge), nothing else."
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.proxy.policy).Statement == [{
      Sid = "ReadDatabaseSecret", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds-db-credentials"]
    }]
    error_message = "RDS Proxy reads the database secret only."
  }

  assert {
    condition = alltrue([for role in [aws_iam_role.api, aws_iam_role.relay] :
    jsondecode(role.assume_role_policy).Statement == [{ Effect = "Allow", Action = ["sts:AssumeRole"], Principal = { Service = ["lambda.amazonaws.com"] } }]])
    error_message = "Only Lambda assumes the function roles."
  }
}

run "msk_iam_relay_writes_idempotently_to_its_two_topics" {
  command = apply

  variables {
    kafka_auth_mode        = "msk_iam"
    kafka_sasl_secret_arn  = null
    kafka_sasl_kms_key_arn = null
    msk_cluster_arn        = "arn:aws:kafka:eu-west-1:123456789012:cluster/payments/11111111-2222-3333-4444-555555555555-1"
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s.Sid] == [
      "ReadDatabaseSecret", "MskConnectIdempotent", "MskTopics", "WriteOwnLogs", "OnFailureDestination", "VpcNetworkInterfaces",
    ]
    error_message = "Under msk_iam the relay gets MSK statements and no Kafka secret."
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s if s.Sid == "MskConnectIdempotent"]) == {
      Sid      = "MskConnectIdempotent", Effect = "Allow"
      Action   = ["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"]
      Resource = [var.msk_cluster_arn]
    }
    error_message = "The idempotent producer needs kafka-cluster:WriteDataIdempotently on the cluster."
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s if s.Sid == "MskTopics"]) == {
      Sid    = "MskTopics", Effect = "Allow"
      Action = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData", "kafka-cluster:CreateTopic"]
      Resource = [
        "arn:aws:kafka:eu-west-1:123456789012:topic/payments/11111111-2222-3333-4444-555555555555-1/payments.events",
        "arn:aws:kafka:eu-west-1:123456789012:topic/payments/11111111-2222-3333-4444-555555555555-1/payments.dlq",
      ]
    }
    error_message = "Describe, write and create exactly the events and DLQ topics of that cluster."
  }

  assert {
    condition     = aws_lambda_function.relay.environment[0].variables["KAFKA_MSK_IAM"] == "true" && !contains(keys(aws_lambda_function.relay.environment[0].variables), "KAFKA_SASL_SECRET_ARN")
    error_message = "The relay signs MSK IAM tokens and reads no SASL secret."
  }
}

run "msk_iam_without_topic_creation_grants_no_create" {
  command = apply

  variables {
    kafka_auth_mode        = "msk_iam"
    kafka_sasl_secret_arn  = null
    kafka_sasl_kms_key_arn = null
    msk_cluster_arn        = "arn:aws:kafka:eu-west-1:123456789012:cluster/payments/11111111-2222-3333-4444-555555555555-1"
    relay_create_topics    = false
  }

  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s if s.Sid == "MskTopics"]).Action == ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    error_message = "Without relay_create_topics the relay may not create topics."
  }

  assert {
    condition     = aws_lambda_function.relay.environment[0].variables["RELAY_CREATE_TOPICS"] == "false"
    error_message = "The relay is told to only check the topics."
  }
}

run "customer_managed_database_key_is_decrypted_through_secrets_manager_only" {
  command = apply

  variables {
    db_secret_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/99999999-2222-3333-4444-555555555555"
  }

  assert {
    condition = alltrue([for policy in [aws_iam_role_policy.api.policy, aws_iam_role_policy.relay.policy, aws_iam_role_policy.proxy.policy] :
      one([for s in jsondecode(policy).Statement : s if s.Sid == "DecryptDatabaseSecret"]) == {
        Sid       = "DecryptDatabaseSecret", Effect = "Allow", Action = ["kms:Decrypt"], Resource = [var.db_secret_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.eu-west-1.amazonaws.com" } }
    }])
    error_message = "API, relay and proxy decrypt the database secret's key through Secrets Manager."
  }

  assert {
    condition     = aws_db_instance.this.master_user_secret_kms_key_id == var.db_secret_kms_key_arn
    error_message = "RDS encrypts the managed secret with the given key."
  }
}

# --- Deploy flow: image, migrations, versions and aliases -----------------------------------

run "deploys_run_the_pushed_image_by_digest_migrate_then_move_the_aliases" {
  command = apply

  assert {
    condition = alltrue([for image in [aws_lambda_function.api.image_uri, aws_lambda_function.relay.image_uri, aws_lambda_function.ops.image_uri] :
    image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payment-service@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"])
    error_message = "Every function runs the pushed tag's image by digest."
  }

  assert {
    condition     = data.aws_ecr_image.app.image_tag == "0123abc" && data.aws_ecr_image.app.repository_name == aws_ecr_repository.app.name
    error_message = "The digest is looked up for image_tag in the module's repository."
  }

  assert {
    condition     = aws_ecr_repository.app.image_tag_mutability == "IMMUTABLE"
    error_message = "Tags are immutable: a deploy is always a new tag."
  }

  assert {
    condition     = alltrue([for f in [aws_lambda_function.api, aws_lambda_function.relay, aws_lambda_function.ops] : f.publish && try(length(f.layers), 0) == 0])
    error_message = "Functions publish versions (for roll-back) and carry no layers (image functions refuse them)."
  }

  assert {
    condition     = aws_lambda_function.ops.image_config[0].command == tolist(["payment-api", "ops"])
    error_message = "The ops function runs `payment-api ops`."
  }

  assert {
    condition     = jsondecode(aws_lambda_invocation.migrate.input) == { args = ["migrate"] } && aws_lambda_invocation.migrate.function_name == aws_lambda_function.ops.function_name
    error_message = "Each deploy invokes the ops function with `migrate`."
  }

  assert {
    condition     = aws_lambda_invocation.migrate.qualifier == aws_lambda_function.ops.version
    error_message = "Migrations run with the version just published (the new image)."
  }

  assert {
    condition     = aws_lambda_invocation.migrate.triggers["image"] == aws_lambda_function.api.image_uri
    error_message = "A new image runs the migrations again."
  }

  assert {
    condition     = aws_lambda_alias.api.function_version == aws_lambda_function.api.version && aws_lambda_alias.relay.function_version == aws_lambda_function.relay.version
    error_message = "The live aliases point at the published versions."
  }

  assert {
    condition     = aws_apigatewayv2_integration.api.integration_uri == aws_lambda_alias.api.invoke_arn && aws_lambda_permission.api_gateway.qualifier == "live"
    error_message = "The HTTP API invokes the live alias, so traffic moves only when the alias does."
  }

  assert {
    condition     = aws_scheduler_schedule.relay.target[0].arn == aws_lambda_alias.relay.arn && aws_lambda_function_event_invoke_config.relay.qualifier == "live"
    error_message = "The schedule runs the relay's live alias, with the failure destination configured on it."
  }
}

run "var_image_tag_latest_is_refused" {
  command = plan

  variables {
    image_tag = "latest"
  }

  expect_failures = [var.image_tag]
}

# --- Database and credentials ---------------------------------------------------------------

run "database_over_verified_tls_with_a_secret_read_at_run_time" {
  command = apply

  assert {
    condition     = aws_db_proxy.this.require_tls == true
    error_message = "RDS Proxy requires TLS."
  }

  assert {
    condition = alltrue([for f in [aws_lambda_function.api, aws_lambda_function.relay, aws_lambda_function.ops] :
      f.environment[0].variables["DATABASE_SSLMODE"] == "verify-full" &&
      f.environment[0].variables["DATABASE_POOL_MODE"] == "transaction" &&
      f.environment[0].variables["DATABASE_SSLROOTCERT"] == "/usr/share/payment-service/amazon-root-ca.pem" &&
      f.environment[0].variables["DATABASE_SECRET_ARN"] == aws_db_instance.this.master_user_secret[0].secret_arn &&
      f.environment[0].variables["DATABASE_USER"] == "payments" &&
    f.environment[0].variables["DATABASE_HOST"] == aws_db_proxy.this.endpoint])
    error_message = "Every function connects through the proxy in transaction-pooler mode with verify-full against the shipped CA, reading the password from the secret."
  }

  assert {
    condition     = aws_db_instance.this.manage_master_user_password == true
    error_message = "RDS must manage the master password in Secrets Manager."
  }

  assert {
    condition = alltrue([
      for name in keys(merge(aws_lambda_function.api.environment[0].variables, aws_lambda_function.relay.environment[0].variables, aws_lambda_function.ops.environment[0].variables)) :
      !can(regex("PASSWORD|SECRET$|TOKEN|DATABASE_URL", name))
    ])
    error_message = "Function environments carry secret ARNs, never passwords or URLs with credentials."
  }
}

# --- Rate limits: the shared cache -----------------------------------------------------------

run "rate_limits_live_in_a_private_tls_cache_that_only_the_api_reaches" {
  command = apply

  variables {
    enable_ecs_grpc     = true
    acm_certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  }

  assert {
    condition = (
      aws_elasticache_replication_group.rate_limits[0].engine == "valkey" &&
      aws_elasticache_replication_group.rate_limits[0].transit_encryption_enabled &&
      aws_elasticache_replication_group.rate_limits[0].transit_encryption_mode == "required" &&
      aws_elasticache_replication_group.rate_limits[0].at_rest_encryption_enabled &&
      aws_elasticache_replication_group.rate_limits[0].automatic_failover_enabled &&
      aws_elasticache_replication_group.rate_limits[0].num_cache_clusters == 2
    )
    error_message = "Valkey with TLS required in transit, encryption at rest, and a replica to fail over to."
  }

  assert {
    condition     = toset(aws_elasticache_subnet_group.rate_limits[0].subnet_ids) == toset(var.private_subnet_ids) && aws_elasticache_replication_group.rate_limits[0].subnet_group_name == aws_elasticache_subnet_group.rate_limits[0].name
    error_message = "The cache lives in the private subnets."
  }

  assert {
    condition     = aws_elasticache_replication_group.rate_limits[0].auth_token == jsondecode(aws_secretsmanager_secret_version.cache_auth[0].secret_string).password && length(aws_elasticache_replication_group.rate_limits[0].auth_token) == 64
    error_message = "AUTH with the 64-character token stored in Secrets Manager."
  }

  assert {
    condition = (
      aws_elasticache_replication_group.rate_limits[0].security_group_ids == toset([aws_security_group.cache[0].id]) &&
      length(aws_vpc_security_group_ingress_rule.cache_from_api) == 1 &&
      aws_vpc_security_group_ingress_rule.cache_from_api[0].referenced_security_group_id == aws_security_group.api.id &&
      aws_vpc_security_group_ingress_rule.cache_from_api[0].from_port == 6379 &&
      aws_vpc_security_group_ingress_rule.cache_from_api[0].to_port == 6379 &&
      aws_vpc_security_group_ingress_rule.cache_from_api[0].cidr_ipv4 == null
    )
    error_message = "The cache admits port 6379 from the API's security group and nothing else."
  }

  assert {
    condition = (
      contains(aws_lambda_function.api.vpc_config[0].security_group_ids, aws_security_group.api.id) &&
      contains(aws_ecs_service.api[0].network_configuration[0].security_groups, aws_security_group.api.id) &&
      !contains(aws_lambda_function.relay.vpc_config[0].security_group_ids, aws_security_group.api.id) &&
      !contains(aws_lambda_function.ops.vpc_config[0].security_group_ids, aws_security_group.api.id)
    )
    error_message = "Only the API (Lambda and ECS tasks) carries the group the cache admits."
  }

  assert {
    condition = alltrue([for env in [
      aws_lambda_function.api.environment[0].variables,
      { for e in jsondecode(aws_ecs_task_definition.api[0].container_definitions)[0].environment : e.name => e.value },
      ] :
      env["REDIS_URL"] == "rediss://master.payment-service-rate-limits.abcdef.euw1.cache.amazonaws.com:6379" &&
      env["REDIS_AUTH_SECRET_ARN"] == aws_secretsmanager_secret.cache_auth[0].arn &&
      env["RATE_LIMIT_FAIL_MODE"] == "open"
    ])
    error_message = "The API Lambda and the ECS task reach the cache over TLS, without credentials in the URL, and read the token from its secret."
  }

  assert {
    condition = alltrue([for policy in [aws_iam_role_policy.api.policy, aws_iam_role_policy.ecs_task[0].policy] :
      one([for s in jsondecode(policy).Statement : s if s.Sid == "ReadRateLimitCacheSecret"]) == {
        Sid = "ReadRateLimitCacheSecret", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [aws_secretsmanager_secret.cache_auth[0].arn]
    }])
    error_message = "The API roles read exactly the cache's token secret."
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.relay.policy).Statement : s if s.Sid == "ReadRateLimitCacheSecret"]) == 0 && !contains(keys(aws_lambda_function.relay.environment[0].variables), "REDIS_URL")
    error_message = "The relay neither reads the token nor knows the cache."
  }
}

run "without_the_cache_each_instance_limits_alone" {
  command = plan

  variables {
    rate_limit_cache = false
  }

  assert {
    condition     = length(aws_elasticache_replication_group.rate_limits) == 0 && length(aws_secretsmanager_secret.cache_auth) == 0 && !contains(keys(aws_lambda_function.api.environment[0].variables), "REDIS_URL")
    error_message = "rate_limit_cache = false: no cache, no secret, no REDIS_URL."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.api.policy).Statement : s.Sid] == ["ReadDatabaseSecret", "WriteOwnLogs", "VpcNetworkInterfaces"]
    error_message = "Without the cache the API role reads only the database secret."
  }
}

run "a_rate_limit_fail_mode_other_than_open_or_closed_is_refused" {
  command = plan

  variables {
    rate_limit_fail_mode = "maybe"
  }

  expect_failures = [var.rate_limit_fail_mode]
}

# --- Scheduling -------------------------------------------------------------------------------

run "idempotency_records_are_purged_on_a_schedule_with_the_api_s_ttl" {
  command = apply

  variables {
    idempotency_key_ttl        = "7d"
    idempotency_purge_max_rows = 500000
  }

  assert {
    condition = (
      aws_scheduler_schedule.purge_idempotency.schedule_expression == "rate(1 hour)" &&
      aws_scheduler_schedule.purge_idempotency.target[0].arn == aws_lambda_function.ops.arn &&
      jsondecode(aws_scheduler_schedule.purge_idempotency.target[0].input) == { args = ["admin", "purge-idempotency", "--max-rows", "500000"] }
    )
    error_message = "Every hour the ops function runs admin purge-idempotency with the configured bound."
  }

  assert {
    condition = (
      aws_lambda_function.api.environment[0].variables.IDEMPOTENCY_KEY_TTL == "7d" &&
      aws_lambda_function.ops.environment[0].variables.IDEMPOTENCY_KEY_TTL == "7d"
    )
    error_message = "The API and the purge read one TTL, so the purge never deletes a record that still answers replays."
  }
}

run "an_idempotency_ttl_that_is_not_a_duration_is_refused" {
  command = plan

  variables {
    idempotency_key_ttl = "1 day"
  }

  expect_failures = [var.idempotency_key_ttl]
}

run "relay_runs_on_the_schedule_one_at_a_time_within_its_period" {
  command = apply

  variables {
    relay_schedule_expression   = "rate(2 minutes)"
    relay_max_runtime_seconds   = 100
    relay_flush_timeout_seconds = 15
  }

  assert {
    condition     = aws_scheduler_schedule.relay.schedule_expression == "rate(2 minutes)"
    error_message = "The schedule must use relay_schedule_expression."
  }

  assert {
    condition     = aws_lambda_function.relay.reserved_concurrent_executions == 1
    error_message = "The relay must have reserved concurrency 1."
  }

  assert {
    condition     = aws_lambda_function.relay.timeout == 120 && aws_lambda_function.relay.environment[0].variables["RELAY_MAX_RUNTIME"] == "100s" && aws_lambda_function.relay.environment[0].variables["RELAY_FLUSH_TIMEOUT"] == "15s"
    error_message = "The timeout is runtime + flush + 5 s, and fits in the 120 s period."
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.relay.maximum_retry_attempts == 0 && aws_lambda_function_event_invoke_config.relay.maximum_event_age_in_seconds == 120
    error_message = "No blind retries; a tick older than one period goes to the failures queue."
  }
}

run "defaults_fit_a_one_minute_schedule" {
  command = plan

  assert {
    condition     = aws_lambda_function.relay.timeout <= 60
    error_message = "The default runtime and flush timeout must fit rate(1 minute)."
  }
}

run "a_relay_run_longer_than_the_schedule_period_is_refused" {
  command = plan

  variables {
    relay_max_runtime_seconds   = 50
    relay_flush_timeout_seconds = 10
  }

  expect_failures = [aws_lambda_function.relay]
}

run "a_cron_schedule_counts_as_one_minute" {
  command = plan

  variables {
    relay_schedule_expression = "cron(0/5 * * * ? *)"
    relay_max_runtime_seconds = 120
  }

  expect_failures = [aws_lambda_function.relay]
}

# --- Observability ----------------------------------------------------------------------------

run "alarms_cover_api_relay_queue_and_database_and_notify_on_recovery" {
  command = apply

  assert {
    condition = toset(keys(aws_cloudwatch_metric_alarm.this)) == toset([
      "relay-dead-letters", "relay-oldest-pending", "relay-errors", "relay-throttles", "relay-failed-invocations",
      "api-5xx", "api-latency-p99", "api-throttles", "database-cpu", "database-free-storage", "database-proxy-auth-failures",
    ])
    error_message = "Alarms for API 5xx, latency and throttles, relay errors and throttles, dead letters, the failures queue, oldest pending age, RDS and the proxy."
  }

  assert {
    condition     = alltrue([for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_actions == toset(var.alarm_actions) && alarm.ok_actions == toset(var.alarm_actions)])
    error_message = "Every alarm notifies when it fires and when it clears."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["relay-oldest-pending"].treat_missing_data == "breaching" && aws_cloudwatch_metric_alarm.this["relay-oldest-pending"].namespace == "PaymentService/Relay"
    error_message = "No backlog reading (database down: the relay omits the metric) must raise the oldest-pending alarm."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["api-latency-p99"].extended_statistic == "p99" && aws_cloudwatch_metric_alarm.this["api-latency-p99"].statistic == null
    error_message = "Latency is alarmed on p99."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["relay-throttles"].dimensions["FunctionName"] == aws_lambda_function.relay.function_name
    error_message = "Relay throttles are read from the relay function."
  }

  assert {
    condition = alltrue([for f in [aws_lambda_function.api, aws_lambda_function.relay, aws_lambda_function.ops] :
    f.logging_config[0].log_format == "JSON" && f.environment[0].variables["LOG_FORMAT"] == "json"])
    error_message = "The functions log JSON and Lambda's log format is JSON to match."
  }
}

# --- HTTP API and native gRPC -----------------------------------------------------------------

run "the_http_api_covers_every_rest_route" {
  command = plan

  assert {
    condition = alltrue([
      for route in [
        "POST /v1/payments", "GET /v1/payments", "GET /v1/payments/{id}",
        "POST /v1/payments/{id}/capture", "POST /v1/payments/{id}/void", "POST /v1/payments/{id}/refunds",
        "GET /openapi.json", "GET /docs", "GET /healthz", "GET /readyz",
        "POST /payments.v1.PaymentService/{proxy+}", "OPTIONS /payments.v1.PaymentService/{proxy+}",
      ] : contains(keys(aws_apigatewayv2_route.api), route)
    ])
    error_message = "Every REST path, the docs, the probes and the gRPC-web paths need a route."
  }

  assert {
    condition     = aws_apigatewayv2_integration.api.payload_format_version == "2.0" && aws_apigatewayv2_api.http.protocol_type == "HTTP"
    error_message = "An HTTP API with payload v2 (what lambda_http's apigw_http expects)."
  }
}

run "native_grpc_on_ecs_reads_the_secret_itself_and_reaches_aws_through_endpoints" {
  command = apply

  variables {
    enable_ecs_grpc     = true
    acm_certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  }

  assert {
    condition     = aws_lb_target_group.grpc[0].protocol_version == "GRPC" && aws_lb_target_group.http1[0].protocol_version == "HTTP1"
    error_message = "One GRPC and one HTTP1 target group."
  }

  assert {
    condition = alltrue([
      for condition in aws_lb_listener_rule.grpc[0].condition : alltrue([
        for header in condition.http_header : header.http_header_name == "content-type" && alltrue([
          for value in header.values : startswith(value, "application/grpc") && !startswith(value, "application/grpc-web")
        ])
      ])
    ])
    error_message = "Only content-type application/grpc (not gRPC-web) may reach the GRPC target group."
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.ecs_execution[0].policy).Statement : { sid = s.Sid, resource = s.Resource }] == [
      { sid = "EcrLogin", resource = ["*"] },
      { sid = "PullImage", resource = [aws_ecr_repository.app.arn] },
      { sid = "WriteLogs", resource = ["${aws_cloudwatch_log_group.ecs[0].arn}:*"] },
    ]
    error_message = "The execution role pulls this repository's image and writes the task's logs, nothing else."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.ecs_task[0].policy).Statement : s.Sid] == ["ReadDatabaseSecret", "ReadRateLimitCacheSecret"]
    error_message = "The task role reads the database secret and the rate-limit cache's token, nothing else."
  }

  assert {
    condition = alltrue([for c in jsondecode(aws_ecs_task_definition.api[0].container_definitions) :
      !contains(keys(c), "secrets") && contains([for e in c.environment : e.name], "DATABASE_SECRET_ARN") &&
    contains([for e in c.environment : "${e.name}=${e.value}"], "DATABASE_SSLMODE=verify-full")])
    error_message = "The task reads the password from the secret at run time (so a rotation is picked up), over verified TLS."
  }

  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["secretsmanager", "ecr.api", "ecr.dkr", "logs"]) && length(aws_vpc_endpoint.s3) == 1
    error_message = "Private subnets reach Secrets Manager, ECR, S3 and CloudWatch Logs through endpoints."
  }

  assert {
    condition     = aws_vpc_endpoint.interface["ecr.dkr"].service_name == "com.amazonaws.eu-west-1.ecr.dkr" && aws_vpc_endpoint.interface["secretsmanager"].private_dns_enabled
    error_message = "Endpoints for the region, with private DNS so the SDK's default host names resolve to them."
  }

  assert {
    condition     = output.app_security_group_id == aws_security_group.app.id && output.relay_role_arn == aws_iam_role.relay.arn && output.ecs_task_role_arn == aws_iam_role.ecs_task[0].arn
    error_message = "The app security group and the role ARNs are outputs (for the Kafka cluster's security group and ACLs)."
  }
}

run "lambda_only_needs_just_the_secrets_manager_endpoint" {
  command = plan

  assert {
    condition     = keys(aws_vpc_endpoint.interface) == ["secretsmanager"] && length(aws_vpc_endpoint.s3) == 0 && length(aws_ecs_service.api) == 0 && length(aws_lb.grpc) == 0
    error_message = "Without ECS only Secrets Manager needs an endpoint (Lambda pulls images and ships logs itself)."
  }
}

run "no_endpoints_when_the_subnets_have_a_nat" {
  command = plan

  variables {
    vpc_endpoints = false
  }

  assert {
    condition     = length(aws_vpc_endpoint.interface) == 0 && length(aws_security_group.endpoints) == 0
    error_message = "vpc_endpoints = false creates none."
  }
}

# --- Cross-variable rules refuse bad input ------------------------------------------------------

run "sasl_scram_without_a_secret_is_refused" {
  command = plan
  variables {
    kafka_sasl_secret_arn = null
  }
  expect_failures = [var.kafka_sasl_secret_arn]
}

run "sasl_scram_without_the_secret_key_is_refused" {
  command = plan
  variables {
    kafka_sasl_kms_key_arn = null
  }
  expect_failures = [var.kafka_sasl_kms_key_arn]
}

run "msk_iam_without_a_cluster_is_refused" {
  command = plan
  variables {
    kafka_auth_mode = "msk_iam"
  }
  expect_failures = [var.msk_cluster_arn]
}

run "ecs_without_public_subnets_is_refused" {
  command = plan
  variables {
    enable_ecs_grpc     = true
    acm_certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    public_subnet_ids   = []
  }
  expect_failures = [var.public_subnet_ids]
}

run "ecs_without_a_certificate_is_refused" {
  command = plan
  variables {
    enable_ecs_grpc = true
  }
  expect_failures = [var.acm_certificate_arn]
}

run "ecs_endpoints_without_route_tables_are_refused" {
  command = plan
  variables {
    enable_ecs_grpc         = true
    acm_certificate_arn     = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    private_route_table_ids = []
  }
  expect_failures = [var.private_route_table_ids]
}

run "a_malformed_schedule_is_refused" {
  command = plan
  variables {
    relay_schedule_expression = "every minute"
  }
  expect_failures = [var.relay_schedule_expression]
}

# --- The example a user starts from -------------------------------------------------------------

run "examples_complete_applies" {
  command = apply

  module {
    source = "./examples/complete"
  }

  variables {
    image_tag = "0123abc"
  }

  assert {
    condition     = output.app_security_group_id != null && output.api_endpoint != null
    error_message = "The complete example plans and applies (mocked) with ECS, endpoints and SASL/SCRAM."
  }
}

# --- Observability: the CloudWatch dashboard ---------------------------------------------------

run "one_dashboard_shows_the_relay_lambda_api_and_database_metrics" {
  command = apply

  assert {
    condition = alltrue([
      for name in ["Published", "DeadLettered", "ExitCode", "Remaining", "ParkedKeys", "OldestPendingAgeMs"] : anytrue(flatten([
        for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
          for metric in widget.properties.metrics : metric[0] == "PaymentService/Relay" && metric[1] == name && metric[3] == aws_lambda_function.relay.function_name
        ]
      ]))
    ])
    error_message = "Every metric of the relay's EMF line (lambda.rs emf) has a widget, for the relay function."
  }

  assert {
    condition = alltrue([
      for wanted in [
        ["AWS/Lambda", "Errors", aws_lambda_function.api.function_name],
        ["AWS/Lambda", "Errors", aws_lambda_function.relay.function_name],
        ["AWS/Lambda", "Duration", aws_lambda_function.api.function_name],
        ["AWS/ApiGateway", "5xx", aws_apigatewayv2_api.http.id],
        ["AWS/ApiGateway", "Latency", aws_apigatewayv2_api.http.id],
        ["AWS/RDS", "CPUUtilization", aws_db_instance.this.identifier],
        ["AWS/RDS", "DatabaseConnections", aws_db_instance.this.identifier],
        ] : anytrue(flatten([
          for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
            for metric in widget.properties.metrics : metric[0] == wanted[0] && metric[1] == wanted[1] && metric[3] == wanted[2]
          ]
      ]))
    ])
    error_message = "The dashboard shows Lambda errors and duration of both functions, the HTTP API's 5xx and latency, and the database's CPU and connections."
  }

  assert {
    condition     = output.dashboard_name == var.name
    error_message = "The dashboard is named after the deployment."
  }
}
