# Root module for scripts/terraform-check's offline apply + destroy against moto (an AWS
# emulator from PyPI), with every endpoint overridden by AWS_ENDPOINT_URL. scripts/deploy
# drives it exactly as it drives a real root module. The VPC is made here because moto has
# none of ours.
provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
}

variable "image_tag" {
  type = string
}

variable "enable_ecs_grpc" {
  type    = bool
  default = true
}

resource "aws_vpc" "this" {
  cidr_block = "10.42.0.0/16"
}

resource "aws_subnet" "private" {
  count             = 2
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.42.${count.index}.0/24"
  availability_zone = "eu-west-1${["a", "b"][count.index]}"
}

resource "aws_subnet" "public" {
  count             = 2
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.42.${count.index + 10}.0/24"
  availability_zone = "eu-west-1${["a", "b"][count.index]}"
}

resource "aws_acm_certificate" "api" {
  domain_name       = "payments.example"
  validation_method = "DNS"
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id
}

module "payment_service" {
  source = "../.."

  name                    = "payments-moto"
  vpc_id                  = aws_vpc.this.id
  private_subnet_ids      = aws_subnet.private[*].id
  public_subnet_ids       = aws_subnet.public[*].id
  private_route_table_ids = [aws_route_table.private.id]
  image_tag               = var.image_tag
  kafka_bootstrap_servers = "b-1.kafka.example:9096"
  kafka_sasl_secret_arn   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_payments-AbCdEf"
  kafka_sasl_kms_key_arn  = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  enable_ecs_grpc         = var.enable_ecs_grpc
  acm_certificate_arn     = aws_acm_certificate.api.arn
  db_deletion_protection  = false
  ecr_force_delete        = true
  alarm_actions           = ["arn:aws:sns:eu-west-1:123456789012:payments-oncall"]
  # moto 5.2.5 creates ElastiCache subnet groups but cannot delete them (no
  # DeleteCacheSubnetGroup), so the destroy step would fail; the mocked `terraform test`
  # covers the cache (cache.tf).
  rate_limit_cache = false
}
