# Everything on: the API on Lambda and on ECS for native gRPC, the relay every minute,
# SASL/SCRAM to an existing Kafka cluster, VPC endpoints for private subnets without a NAT.
# scripts/deploy applies this directory by default: it passes image_tag (the git commit it
# pushed) and reads module.payment_service from the state.
provider "aws" {
  region = "eu-west-1"
}

variable "image_tag" {
  description = "Tag of the pushed image (scripts/deploy passes the git commit)."
  type        = string
}

module "payment_service" {
  source = "../.."

  name                    = "payments-demo"
  vpc_id                  = "vpc-0123456789abcdef0"
  private_subnet_ids      = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  private_route_table_ids = ["rtb-0a1b2c3d4e5f60001"]
  public_subnet_ids       = ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"]
  image_tag               = var.image_tag
  kafka_bootstrap_servers = "b-1.kafka.example:9096,b-2.kafka.example:9096"
  kafka_auth_mode         = "sasl_scram"
  kafka_sasl_secret_arn   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_payments-AbCdEf"
  kafka_sasl_kms_key_arn  = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  cors_allowed_origins    = ["https://shop.example"]
  enable_ecs_grpc         = true
  acm_certificate_arn     = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  alarm_actions           = ["arn:aws:sns:eu-west-1:123456789012:payments-oncall"]
}

output "api_endpoint" {
  value = module.payment_service.api_endpoint
}

output "grpc_endpoint" {
  value = module.payment_service.grpc_endpoint
}

output "app_security_group_id" {
  value = module.payment_service.app_security_group_id
}
