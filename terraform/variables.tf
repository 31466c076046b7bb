variable "name" {
  description = "Name prefix of every resource (lowercase letters, digits and dashes)."
  type        = string
  default     = "payment-service"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC that holds the database, the functions and the optional ECS service."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two, in different availability zones) for RDS, RDS Proxy, the Lambda functions and ECS tasks. They need a route to Kafka and to AWS APIs."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "private_subnet_ids needs at least two subnets."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets for the ALB of the optional native-gRPC ECS service."
  type        = list(string)
  default     = []
}

variable "image_tag" {
  description = "Tag of the image in the ECR repository (built from the repository's Dockerfile; holds payment-api and relay-job)."
  type        = string
  default     = "latest"
}

variable "api_memory_mb" {
  description = "Memory of the API function, in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.api_memory_mb >= 128 && var.api_memory_mb <= 10240
    error_message = "api_memory_mb must be between 128 and 10240."
  }
}

variable "api_timeout_seconds" {
  description = "Timeout of the API function, in seconds (API Gateway HTTP APIs stop waiting after 30 s)."
  type        = number
  default     = 29

  validation {
    condition     = var.api_timeout_seconds >= 1 && var.api_timeout_seconds <= 30
    error_message = "api_timeout_seconds must be between 1 and 30."
  }
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to call the API (gRPC-web and REST), e.g. [\"https://shop.example\"]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.cors_allowed_origins : can(regex("^https?://[^/]+$", origin))])
    error_message = "Each origin is scheme://host[:port] with no path."
  }
}

variable "relay_schedule_expression" {
  description = "EventBridge Scheduler expression of the relay, e.g. rate(1 minute) or cron(* * * * ? *)."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.relay_schedule_expression))
    error_message = "relay_schedule_expression must be rate(...) or cron(...)."
  }
}

variable "relay_max_runtime_seconds" {
  description = "How long one relay invocation claims events (--max-runtime), in seconds. The function timeout adds the flush timeout and a margin."
  type        = number
  default     = 50

  validation {
    condition     = var.relay_max_runtime_seconds >= 5 && var.relay_max_runtime_seconds <= 840
    error_message = "relay_max_runtime_seconds must be between 5 and 840 (Lambda's limit is 900 s)."
  }
}

variable "relay_workers" {
  description = "Batches relayed at once by one invocation, one database connection each (--workers)."
  type        = number
  default     = 2

  validation {
    condition     = var.relay_workers >= 1 && var.relay_workers <= 64
    error_message = "relay_workers must be between 1 and 64."
  }
}

variable "relay_batch_size" {
  description = "Events claimed per batch (--batch-size)."
  type        = number
  default     = 1000
}

variable "kafka_bootstrap_servers" {
  description = "Kafka bootstrap servers (MSK or any cluster), host:port[,host:port]."
  type        = string

  validation {
    condition     = length(var.kafka_bootstrap_servers) > 0
    error_message = "kafka_bootstrap_servers is required."
  }
}

variable "kafka_auth_mode" {
  description = "How the relay authenticates to Kafka: sasl_scram (username and password from a Secrets Manager secret, over TLS) or msk_iam (IAM, OAUTHBEARER)."
  type        = string
  default     = "sasl_scram"

  validation {
    condition     = contains(["sasl_scram", "msk_iam"], var.kafka_auth_mode)
    error_message = "kafka_auth_mode must be sasl_scram or msk_iam."
  }
}

variable "kafka_sasl_secret_arn" {
  description = "ARN of the Secrets Manager secret holding {\"username\": …, \"password\": …} for SASL/SCRAM (kafka_auth_mode = sasl_scram). The password is never a Terraform variable."
  type        = string
  default     = null
}

variable "msk_cluster_arn" {
  description = "ARN of the MSK cluster, for the IAM policy when kafka_auth_mode = msk_iam."
  type        = string
  default     = null
}

variable "kafka_events_topic" {
  description = "Topic of the events."
  type        = string
  default     = "payments.events"
}

variable "kafka_dlq_topic" {
  description = "Dead-letter topic."
  type        = string
  default     = "payments.dlq"
}

variable "secrets_extension_layer_arn" {
  description = "ARN of the AWS Parameters and Secrets Lambda Extension layer for the region; the functions read the database and Kafka credentials through it."
  type        = string
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage_gb" {
  description = "RDS storage, in GB."
  type        = number
  default     = 50
}

variable "db_engine_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "15"
}

variable "db_deletion_protection" {
  description = "Protect the database from deletion."
  type        = bool
  default     = true
}

variable "enable_ecs_grpc" {
  description = "Also run the API on ECS Fargate behind an ALB, for native gRPC (API Gateway and Lambda cannot carry HTTP/2 gRPC)."
  type        = bool
  default     = false
}

variable "acm_certificate_arn" {
  description = "ACM certificate of the ALB's HTTPS listener (required when enable_ecs_grpc)."
  type        = string
  default     = null
}

variable "ecs_desired_count" {
  description = "Tasks of the ECS service."
  type        = number
  default     = 2
}

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified by the alarms."
  type        = list(string)
  default     = []
}

variable "dead_letter_alarm_threshold" {
  description = "Dead-lettered events in 5 minutes that raise the alarm."
  type        = number
  default     = 1
}

variable "oldest_pending_alarm_ms" {
  description = "Age of the oldest pending outbox event, in ms, that raises the alarm."
  type        = number
  default     = 300000
}
