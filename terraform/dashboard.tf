# One CloudWatch dashboard for the deployment: the relay's EMF metrics (namespace
# PaymentService/Relay, printed once per invocation; see alarms.tf), the Lambda functions', the
# HTTP API's and the database's. Prometheus users get the same picture from
# dashboards/grafana/payment-service.json (the API's /metrics and the relay's Pushgateway push).
locals {
  # The relay's EMF metrics, as relay-job/src/lambda.rs (`emf`) names them.
  relay_emf_metrics = ["Published", "DeadLettered", "ExitCode", "Remaining", "ParkedKeys", "OldestPendingAgeMs"]

  dashboard_widgets = [
    {
      title = "Relay: events published and dead-lettered per invocation"
      stat  = "Sum"
      metrics = [
        ["PaymentService/Relay", "Published", "Function", aws_lambda_function.relay.function_name],
        ["PaymentService/Relay", "DeadLettered", "Function", aws_lambda_function.relay.function_name],
      ]
    },
    {
      title = "Outbox backlog after each relay run (events; parked payments)"
      stat  = "Maximum"
      metrics = [
        ["PaymentService/Relay", "Remaining", "Function", aws_lambda_function.relay.function_name],
        ["PaymentService/Relay", "ParkedKeys", "Function", aws_lambda_function.relay.function_name],
      ]
    },
    {
      title = "Oldest pending outbox event (ms)"
      stat  = "Maximum"
      metrics = [
        ["PaymentService/Relay", "OldestPendingAgeMs", "Function", aws_lambda_function.relay.function_name],
      ]
    },
    {
      title = "Relay exit code (0 drained, 2 configuration, 3 Kafka, 4 database)"
      stat  = "Maximum"
      metrics = [
        ["PaymentService/Relay", "ExitCode", "Function", aws_lambda_function.relay.function_name],
      ]
    },
    {
      title = "Lambda invocations, errors and throttles"
      stat  = "Sum"
      metrics = [
        ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.api.function_name],
        ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.api.function_name],
        ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.api.function_name],
        ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.relay.function_name],
        ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.relay.function_name],
        ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.relay.function_name],
      ]
    },
    {
      title = "Lambda duration p99 (ms) and concurrency"
      stat  = "p99"
      metrics = [
        ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.api.function_name],
        ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.relay.function_name],
        ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", aws_lambda_function.api.function_name, { stat = "Maximum" }],
      ]
    },
    {
      title = "HTTP API: requests, 4xx, 5xx"
      stat  = "Sum"
      metrics = [
        ["AWS/ApiGateway", "Count", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name],
        ["AWS/ApiGateway", "4xx", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name],
        ["AWS/ApiGateway", "5xx", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name],
      ]
    },
    {
      title = "HTTP API latency p50 / p99 (ms)"
      stat  = "p99"
      metrics = [
        ["AWS/ApiGateway", "Latency", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name, { stat = "p50" }],
        ["AWS/ApiGateway", "Latency", "ApiId", aws_apigatewayv2_api.http.id, "Stage", aws_apigatewayv2_stage.default.name],
      ]
    },
    {
      title = "Database: CPU (%) and connections"
      stat  = "Average"
      metrics = [
        ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", aws_db_instance.this.identifier],
        ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", aws_db_instance.this.identifier],
        ["AWS/RDS", "ClientConnections", "ProxyName", aws_db_proxy.this.name],
      ]
    },
    {
      title = "Database: free storage and memory (bytes)"
      stat  = "Minimum"
      metrics = [
        ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", aws_db_instance.this.identifier],
        ["AWS/RDS", "FreeableMemory", "DBInstanceIdentifier", aws_db_instance.this.identifier],
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = data.aws_region.current.name
          view    = "timeSeries"
          stacked = false
          period  = 60
          stat    = widget.stat
          metrics = widget.metrics
        }
      }
    ]
  })
}
