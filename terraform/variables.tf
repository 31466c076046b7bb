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
  description = "Public subnets (at least two, in different availability zones) for the ALB of the optional native-gRPC ECS service; required when enable_ecs_grpc."
  type        = list(string)
  default     = []

  validation {
    condition     = !var.enable_ecs_grpc || length(var.public_subnet_ids) >= 2
    error_message = "enable_ecs_grpc needs at least two public_subnet_ids for the ALB."
  }
}

variable "image_tag" {
  description = "Tag of the image in the module's ECR repository, pushed before the apply (scripts/deploy uses the git commit). The functions and tasks run the image by its digest; the tag must already exist (see the README's deployment walkthrough)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a Docker tag (letters, digits, _ . -, at most 128) and not \"latest\": the repository is immutable, so each deploy pushes a new tag such as the git commit."
  }
}

variable "ecr_force_delete" {
  description = "Let `terraform destroy` delete the ECR repository while it still holds images (every image of every deploy)."
  type        = bool
  default     = false
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
  description = "EventBridge Scheduler expression of the relay, e.g. rate(1 minute) or cron(* * * * ? *). A cron expression counts as a 1-minute period (its shortest) for the check that an invocation ends before the next starts."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)$", var.relay_schedule_expression)) || can(regex("^cron\\(.+\\)$", var.relay_schedule_expression))
    error_message = "relay_schedule_expression must be rate(N minute[s]|hour[s]|day[s]) or cron(...)."
  }
}

variable "relay_max_runtime_seconds" {
  description = "How long one relay invocation claims events (--max-runtime), in seconds. The function timeout is this plus relay_flush_timeout_seconds plus 5 s for start-up and the summary, and must fit in one schedule period (checked)."
  type        = number
  default     = 40

  validation {
    condition     = var.relay_max_runtime_seconds >= 5 && var.relay_max_runtime_seconds <= 840
    error_message = "relay_max_runtime_seconds must be between 5 and 840 (Lambda's limit is 900 s)."
  }
}

variable "relay_flush_timeout_seconds" {
  description = "Longest wait for in-flight Kafka acknowledgements after the deadline (--flush-timeout), in seconds."
  type        = number
  default     = 10

  validation {
    condition     = var.relay_flush_timeout_seconds >= 1 && var.relay_flush_timeout_seconds <= 60
    error_message = "relay_flush_timeout_seconds must be between 1 and 60."
  }
}

variable "relay_create_topics" {
  description = "Let the relay create missing topics (RELAY_CREATE_TOPICS); with msk_iam this grants kafka-cluster:CreateTopic on the two topics. false: the topics must exist and the relay only describes them."
  type        = bool
  default     = true
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

  validation {
    condition     = var.relay_batch_size >= 1 && var.relay_batch_size <= 100000
    error_message = "relay_batch_size must be between 1 and 100000."
  }
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
  description = "ARN of the Secrets Manager secret holding {\"username\": …, \"password\": …} for SASL/SCRAM (required when kafka_auth_mode = sasl_scram). The password is never a Terraform variable."
  type        = string
  default     = null

  validation {
    condition     = var.kafka_sasl_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.kafka_sasl_secret_arn))
    error_message = "kafka_sasl_secret_arn must be a Secrets Manager secret ARN."
  }

  validation {
    condition     = var.kafka_auth_mode != "sasl_scram" || var.kafka_sasl_secret_arn != null
    error_message = "kafka_auth_mode = \"sasl_scram\" needs kafka_sasl_secret_arn (the secret with the SCRAM username and password)."
  }
}

variable "kafka_sasl_kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts kafka_sasl_secret_arn (required when kafka_auth_mode = sasl_scram: MSK only accepts SCRAM secrets encrypted with such a key). The relay may decrypt with it only through Secrets Manager, for that secret."
  type        = string
  default     = null

  validation {
    condition     = var.kafka_sasl_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kafka_sasl_kms_key_arn))
    error_message = "kafka_sasl_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }

  validation {
    condition     = var.kafka_auth_mode != "sasl_scram" || var.kafka_sasl_kms_key_arn != null
    error_message = "kafka_auth_mode = \"sasl_scram\" needs kafka_sasl_kms_key_arn (the customer-managed key of the SCRAM secret), so the relay may decrypt it."
  }
}

variable "msk_cluster_arn" {
  description = "ARN of the MSK cluster (required when kafka_auth_mode = msk_iam): the IAM policy grants Connect and idempotent writes on it and describe/write (and create, with relay_create_topics) on the two topics."
  type        = string
  default     = null

  validation {
    condition     = var.msk_cluster_arn == null || can(regex("^arn:aws[a-z-]*:kafka:[a-z0-9-]+:[0-9]{12}:cluster/[^/]+/[^/]+$", var.msk_cluster_arn))
    error_message = "msk_cluster_arn must be an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)."
  }

  validation {
    condition     = var.kafka_auth_mode != "msk_iam" || var.msk_cluster_arn != null
    error_message = "kafka_auth_mode = \"msk_iam\" needs msk_cluster_arn (the IAM policy is scoped to the cluster and its topics)."
  }
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

variable "vpc_endpoints" {
  description = "Create interface endpoints (Secrets Manager; with enable_ecs_grpc also ECR API, ECR Docker, CloudWatch Logs) and an S3 gateway endpoint in the VPC, so private subnets without a NAT reach the AWS APIs they need. false: the private subnets already route to a NAT gateway or the VPC already has these endpoints (a second endpoint with private DNS for the same service is refused)."
  type        = bool
  default     = true
}

variable "private_route_table_ids" {
  description = "Route tables of the private subnets, for the S3 gateway endpoint (image layers of ECS tasks). Required when vpc_endpoints and enable_ecs_grpc are both on."
  type        = list(string)
  default     = []

  validation {
    condition     = !(var.vpc_endpoints && var.enable_ecs_grpc) || length(var.private_route_table_ids) > 0
    error_message = "vpc_endpoints with enable_ecs_grpc needs private_route_table_ids (ECS pulls image layers from S3 through a gateway endpoint)."
  }
}

variable "db_secret_kms_key_arn" {
  description = "Customer-managed KMS key for the RDS-managed database secret; null uses the account's aws/secretsmanager key. With a key, the functions get kms:Decrypt on it through Secrets Manager only."
  type        = string
  default     = null
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

  validation {
    condition     = !var.enable_ecs_grpc || var.acm_certificate_arn != null
    error_message = "enable_ecs_grpc needs acm_certificate_arn for the ALB's HTTPS listener."
  }
}

variable "ecs_desired_count" {
  description = "Tasks of the ECS service."
  type        = number
  default     = 2

  validation {
    condition     = var.ecs_desired_count >= 0 && var.ecs_desired_count <= 100
    error_message = "ecs_desired_count must be between 0 and 100."
  }
}

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified when an alarm fires and again when it clears (ok_actions)."
  type        = list(string)
  default     = []
}

variable "dead_letter_alarm_threshold" {
  description = "Dead-lettered events in 5 minutes that raise the alarm."
  type        = number
  default     = 1
}

variable "api_latency_alarm_ms" {
  description = "p99 latency of the HTTP API over 5 minutes, in ms, that raises the alarm."
  type        = number
  default     = 1000
}

variable "api_5xx_alarm_threshold" {
  description = "5xx answers of the HTTP API in 5 minutes that raise the alarm."
  type        = number
  default     = 5
}

variable "oldest_pending_alarm_ms" {
  description = "Age of the oldest pending outbox event, in ms, that raises the alarm."
  type        = number
  default     = 300000
}

variable "rate_limit_cache" {
  description = "Create the ElastiCache (Valkey) replication group that holds every merchant's rate-limit budgets, shared by all API instances (cache.tf). false: each API instance limits on its own, so N instances admit N times the limit."
  type        = bool
  default     = true
}

variable "rate_limit_cache_node_type" {
  description = "Node type of the rate-limit cache (two nodes: a primary and a replica in another zone)."
  type        = string
  default     = "cache.t4g.micro"
}

variable "rate_limit_cache_engine_version" {
  description = "Valkey version of the rate-limit cache."
  type        = string
  default     = "8.0"
}

variable "rate_limit_fail_mode" {
  description = "What the API does when the rate-limit cache does not answer within 20 ms: open (admit, count rate_limiter_errors_total) or closed (503 rate_limiter_unavailable)."
  type        = string
  default     = "open"

  validation {
    condition     = contains(["open", "closed"], var.rate_limit_fail_mode)
    error_message = "rate_limit_fail_mode is open or closed."
  }
}

variable "idempotency_key_ttl" {
  description = "How long an idempotency key replays its answer (IDEMPOTENCY_KEY_TTL of the API and of the scheduled purge), a humantime duration from 1m to 365d, e.g. 24h (the default, as Stripe's keys) or 7d."
  type        = string
  default     = "24h"

  validation {
    condition     = can(regex("^[1-9][0-9]*(m|h|d)$", var.idempotency_key_ttl))
    error_message = "idempotency_key_ttl must be a whole number of minutes, hours or days, e.g. 24h or 7d."
  }
}

variable "idempotency_purge_schedule_expression" {
  description = "EventBridge Scheduler expression of the idempotency-record purge (the ops function runs `admin purge-idempotency`)."
  type        = string
  default     = "rate(1 hour)"
}

variable "idempotency_purge_max_rows" {
  description = "Most idempotency records one scheduled purge deletes (--max-rows); the rest wait for the next run. 1,000,000 records took 3.3 s here (100 batches of 10,000), well inside the ops function's 300 s."
  type        = number
  default     = 1000000

  validation {
    condition     = var.idempotency_purge_max_rows >= 1 && floor(var.idempotency_purge_max_rows) == var.idempotency_purge_max_rows
    error_message = "idempotency_purge_max_rows must be a whole number of at least 1."
  }
}
