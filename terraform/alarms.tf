# The relay prints one CloudWatch embedded-metric-format line per invocation (namespace
# PaymentService/Relay, dimension Function): DeadLettered, Remaining, ParkedKeys,
# OldestPendingAgeMs, Published, ExitCode. CloudWatch turns those log lines into metrics.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-relay-dead-letters"
  alarm_description   = "Events were dead-lettered: read payments.dlq, fix the cause, then relay-job replay."
  namespace           = "PaymentService/Relay"
  metric_name         = "DeadLettered"
  dimensions          = { Function = aws_lambda_function.relay.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.dead_letter_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_pending" {
  alarm_name          = "${var.name}-relay-oldest-pending"
  alarm_description   = "The oldest pending outbox event is older than allowed: the relay is not keeping up, is failing, or a payment is parked."
  namespace           = "PaymentService/Relay"
  metric_name         = "OldestPendingAgeMs"
  dimensions          = { Function = aws_lambda_function.relay.function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.oldest_pending_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "relay_failures" {
  alarm_name          = "${var.name}-relay-failed-invocations"
  alarm_description   = "Relay invocations failed (Kafka or the database unavailable): see the failures queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.relay_failures.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}
