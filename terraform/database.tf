resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
  tags       = local.tags
}

# The master password is generated and rotated by RDS in Secrets Manager
# (manage_master_user_password): it never appears in variables, state outputs or code.
resource "aws_db_instance" "this" {
  identifier                    = var.name
  engine                        = "postgres"
  engine_version                = var.db_engine_version
  instance_class                = var.db_instance_class
  allocated_storage             = var.db_allocated_storage_gb
  storage_encrypted             = true
  db_name                       = "payments"
  username                      = "payments"
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.db_secret_kms_key_arn
  db_subnet_group_name          = aws_db_subnet_group.this.name
  vpc_security_group_ids        = [aws_security_group.database.id]
  multi_az                      = true
  backup_retention_period       = 7
  deletion_protection           = var.db_deletion_protection
  skip_final_snapshot           = false
  final_snapshot_identifier     = "${var.name}-final"
  copy_tags_to_snapshot         = true
  tags                          = local.tags
}

resource "aws_iam_role" "proxy" {
  name               = "${var.name}-rds-proxy"
  assume_role_policy = local.assume_role_policy["rds"]
  tags               = local.tags
}

resource "aws_iam_role_policy" "proxy" {
  name   = "read-database-secret"
  role   = aws_iam_role.proxy.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.database_secret_statements })
}

# Lambda opens many short-lived connections: the proxy pools them in front of RDS.
resource "aws_db_proxy" "this" {
  name                   = var.name
  engine_family          = "POSTGRESQL"
  role_arn               = aws_iam_role.proxy.arn
  vpc_subnet_ids         = var.private_subnet_ids
  vpc_security_group_ids = [aws_security_group.database.id]
  # Clients must use TLS; the binaries verify the proxy's certificate and host name
  # (sslmode=verify-full) against the Amazon roots shipped in the image.
  require_tls         = true
  idle_client_timeout = 1800

  auth {
    auth_scheme = "SECRETS"
    iam_auth    = "DISABLED"
    secret_arn  = aws_db_instance.this.master_user_secret[0].secret_arn
  }

  tags = local.tags
}

resource "aws_db_proxy_default_target_group" "this" {
  db_proxy_name = aws_db_proxy.this.name

  connection_pool_config {
    max_connections_percent = 90
  }
}

resource "aws_db_proxy_target" "this" {
  db_proxy_name          = aws_db_proxy.this.name
  target_group_name      = aws_db_proxy_default_target_group.this.name
  db_instance_identifier = aws_db_instance.this.identifier
}
