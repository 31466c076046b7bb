# Every alarm notifies alarm_actions when it fires and again when it clears (ok_actions).
#
# The relay prints one CloudWatch embedded-metric-format line per invocation (namespace
# PaymentService/Relay, dimension Function): Published, DeadLettered and ExitCode always;
# Remaining, ParkedKeys and OldestPendingAgeMs only when it could read them. When the database
# is down those are absent, never zero, so the oldest-pending alarm (missing data = breaching)
# fires instead of seeing an empty backlog.
locals {
  relay_dimensions  = { FunctionName = aws_lambda_function.relay.function_name }
  api_dimensions    = { FunctionName = aws_lambda_function.api.function_name }
  stage_dimensions  = { ApiId = aws_apigatewayv2_api.http.id, Stage = aws_apigatewayv2_stage.default.name }
  emf_dimensions    = { Function = aws_lambda_function.relay.function_name }
  db_dimensions     = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  proxy_dimensions  = { ProxyName = aws_db_proxy.this.name }
  gigabyte_in_bytes = 1073741824

  alarms = {
    relay-dead-letters = {
      description = "Events were dead-lettered: read payments.dlq, fix the cause, then relay-job replay."
      namespace   = "PaymentService/Relay", metric = "DeadLettered", dimensions = local.emf_dimensions
      statistic   = "Sum", threshold = var.dead_letter_alarm_threshold, comparison = "GreaterThanOrEqualToThreshold"
      periods     = 1, missing = "notBreaching"
    }
    relay-oldest-pending = {
      description = "The oldest pending outbox event is older than allowed, or no relay run could read the backlog (database down): the relay is not keeping up, is failing, or a payment is parked."
      namespace   = "PaymentService/Relay", metric = "OldestPendingAgeMs", dimensions = local.emf_dimensions
      statistic   = "Maximum", threshold = var.oldest_pending_alarm_ms, comparison = "GreaterThanThreshold"
      periods     = 2, missing = "breaching"
    }
    relay-errors = {
      description = "Relay invocations failed (Kafka or the database unavailable, or a configuration error): see the relay's logs and the failures queue."
      namespace   = "AWS/Lambda", metric = "Errors", dimensions = local.relay_dimensions
      statistic   = "Sum", threshold = 0, comparison = "GreaterThanThreshold"
      periods     = 1, missing = "notBreaching"
    }
    relay-throttles = {
      description = "Relay invocations were throttled: a run outlasted the schedule period (reserved concurrency 1)."
      namespace   = "AWS/Lambda", metric = "Throttles", dimensions = local.relay_dimensions
      statistic   = "Sum", threshold = 0, comparison = "GreaterThanThreshold"
      periods     = 1, missing = "notBreaching"
    }
    relay-failed-invocations = {
      description = "Failed or stale relay invocations are waiting in the failures queue."
      namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", dimensions = { QueueName = aws_sqs_queue.relay_failures.name }
      statistic   = "Maximum", threshold = 0, comparison = "GreaterThanThreshold"
      periods     = 1, missing = "notBreaching"
    }
    api-5xx = {
      description = "The HTTP API answered 5xx (database unavailable, function errors or timeouts)."
      namespace   = "AWS/ApiGateway", metric = "5xx", dimensions = local.stage_dimensions
      statistic   = "Sum", threshold = var.api_5xx_alarm_threshold, comparison = "GreaterThanOrEqualToThreshold"
      periods     = 1, missing = "notBreaching"
    }
    api-latency-p99 = {
      description = "p99 latency of the HTTP API is above the threshold."
      namespace   = "AWS/ApiGateway", metric = "Latency", dimensions = local.stage_dimensions
      statistic   = "p99", threshold = var.api_latency_alarm_ms, comparison = "GreaterThanThreshold"
      periods     = 3, missing = "notBreaching"
    }
    api-throttles = {
      description = "API invocations were throttled (account or function concurrency exhausted)."
      namespace   = "AWS/Lambda", metric = "Throttles", dimensions = local.api_dimensions
      statistic   = "Sum", threshold = 0, comparison = "GreaterThanThreshold"
      periods     = 1, missing = "notBreaching"
    }
    database-cpu = {
      description = "The database's CPU has been above 80% for 15 minutes."
      namespace   = "AWS/RDS", metric = "CPUUtilization", dimensions = local.db_dimensions
      statistic   = "Average", threshold = 80, comparison = "GreaterThanThreshold"
      periods     = 3, missing = "breaching"
    }
    database-free-storage = {
      description = "Less than 10% of the database's storage is free."
      namespace   = "AWS/RDS", metric = "FreeStorageSpace", dimensions = local.db_dimensions
      statistic   = "Minimum", threshold = var.db_allocated_storage_gb * local.gigabyte_in_bytes / 10, comparison = "LessThanThreshold"
      periods     = 1, missing = "breaching"
    }
    database-proxy-auth-failures = {
      description = "Clients keep failing to authenticate at RDS Proxy: a password the secret no longer holds, or a rotation the proxy has not picked up."
      namespace   = "AWS/RDS", metric = "ClientConnectionsSetupFailedAuth", dimensions = local.proxy_dimensions
      statistic   = "Sum", threshold = 10, comparison = "GreaterThanOrEqualToThreshold"
      periods     = 1, missing = "notBreaching"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = startswith(each.value.statistic, "p") ? null : each.value.statistic
  extended_statistic  = startswith(each.value.statistic, "p") ? each.value.statistic : null
  period              = 300
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = each.value.missing
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}
