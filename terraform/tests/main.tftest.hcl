# Offline tests: a mocked AWS provider, plans only. They check properties that matter, not
# that Terraform can type-check.
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
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
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/payment-service"
    }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:payment-service-relay-failures"
    }
  }

  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:payment-service"
    }
  }

  mock_resource "aws_lb" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/payment-service/0123456789abcdef"
    }
  }

  mock_resource "aws_lb_target_group" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payment-service/0123456789abcdef"
    }
  }

  mock_resource "aws_lb_listener" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/payment-service/0123456789abcdef/0123456789abcdef"
    }
  }

  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/payment-service-api:1"
    }
  }
}

variables {
  vpc_id                      = "vpc-0123456789abcdef0"
  private_subnet_ids          = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  public_subnet_ids           = ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"]
  kafka_bootstrap_servers     = "b-1.kafka.example:9096"
  kafka_sasl_secret_arn       = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_payments-AbCdEf"
  secrets_extension_layer_arn = "arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12"
}

run "relay_runs_on_the_schedule_one_at_a_time" {
  command = plan

  variables {
    relay_schedule_expression = "rate(2 minutes)"
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
    condition     = aws_lambda_function.relay.timeout > var.relay_max_runtime_seconds
    error_message = "The relay's timeout must leave room after --max-runtime for the flush and the summary."
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.relay.maximum_retry_attempts == 0
    error_message = "Failed relay invocations go to the on-failure destination, not to blind retries."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dead_letters.namespace == "PaymentService/Relay" && aws_cloudwatch_metric_alarm.oldest_pending.metric_name == "OldestPendingAgeMs"
    error_message = "The alarms must read the relay's embedded metrics."
  }
}

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
    condition     = aws_apigatewayv2_integration.api.payload_format_version == "2.0"
    error_message = "The integration must use payload v2 (what lambda_http's apigw_http expects)."
  }

  assert {
    condition     = aws_apigatewayv2_api.http.protocol_type == "HTTP"
    error_message = "An HTTP API, not a REST API."
  }
}

run "native_grpc_goes_only_to_the_grpc_target_group" {
  command = plan

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
    condition     = aws_lb_listener.https[0].protocol == "HTTPS" && aws_lb_listener.https[0].port == 443
    error_message = "The ALB listens on HTTPS."
  }
}

run "ecs_is_off_by_default" {
  command = plan

  assert {
    condition     = length(aws_ecs_service.api) == 0 && length(aws_lb.grpc) == 0
    error_message = "ECS and the ALB exist only with enable_ecs_grpc."
  }
}

run "no_secret_is_a_plain_value" {
  command = plan

  assert {
    condition     = aws_db_instance.this.manage_master_user_password == true
    error_message = "RDS must manage the master password in Secrets Manager."
  }

  assert {
    condition = alltrue([
      for name in keys(merge(aws_lambda_function.api.environment[0].variables, aws_lambda_function.relay.environment[0].variables)) :
      !can(regex("PASSWORD|SECRET$|TOKEN|DATABASE_URL", name))
    ])
    error_message = "Function environments carry secret ARNs, never passwords or URLs with credentials."
  }

  assert {
    condition     = aws_lambda_function.relay.environment[0].variables["KAFKA_SASL_SECRET_ARN"] == var.kafka_sasl_secret_arn
    error_message = "The relay reads SASL/SCRAM credentials from the secret."
  }
}

run "bad_inputs_are_refused" {
  command = plan

  variables {
    relay_schedule_expression = "every minute"
  }

  expect_failures = [var.relay_schedule_expression]
}
