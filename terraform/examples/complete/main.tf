# Everything on: the API on Lambda and on ECS for native gRPC, the relay every minute,
# SASL/SCRAM to an existing Kafka cluster.
provider "aws" {
  region = "eu-west-1"
}

module "payment_service" {
  source = "../.."

  name                        = "payments-demo"
  vpc_id                      = "vpc-0123456789abcdef0"
  private_subnet_ids          = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  public_subnet_ids           = ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"]
  image_tag                   = "2026-11-30"
  kafka_bootstrap_servers     = "b-1.kafka.example:9096,b-2.kafka.example:9096"
  kafka_auth_mode             = "sasl_scram"
  kafka_sasl_secret_arn       = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_payments-AbCdEf"
  secrets_extension_layer_arn = "arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12"
  cors_allowed_origins        = ["https://shop.example"]
  enable_ecs_grpc             = true
  acm_certificate_arn         = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  relay_schedule_expression   = "rate(1 minute)"
  alarm_actions               = ["arn:aws:sns:eu-west-1:123456789012:payments-oncall"]
}

output "api_endpoint" {
  value = module.payment_service.api_endpoint
}
