# Optional: the API on ECS Fargate behind an ALB for native gRPC (HTTP/2 end to end). The HTTPS
# listener sends `content-type: application/grpc` to a GRPC target group and everything else
# (REST, gRPC-web, docs, probes) to an HTTP1 one; both reach the same container port.
locals {
  ecs_count = var.enable_ecs_grpc ? 1 : 0
}

resource "aws_ecs_cluster" "this" {
  count = local.ecs_count
  name  = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ecs_execution" {
  count              = local.ecs_count
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "ecs_execution" {
  count      = local.ecs_count
  role       = aws_iam_role.ecs_execution[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "ecs_execution_secret" {
  count  = local.ecs_count
  name   = "read-database-secret"
  role   = aws_iam_role.ecs_execution[0].id
  policy = data.aws_iam_policy_document.api.json
}

resource "aws_cloudwatch_log_group" "ecs" {
  count             = local.ecs_count
  name              = "/ecs/${var.name}-api"
  retention_in_days = 30
  tags              = local.tags
}

data "aws_region" "current" {}

resource "aws_ecs_task_definition" "api" {
  count                    = local.ecs_count
  family                   = "${var.name}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.ecs_execution[0].arn

  container_definitions = jsonencode([{
    name         = "api"
    image        = local.image
    command      = ["payment-api", "serve"]
    essential    = true
    portMappings = [{ containerPort = 8080, protocol = "tcp" }]
    environment = [
      { name = "LISTEN_ADDR", value = "0.0.0.0:8080" },
      { name = "LOG_FORMAT", value = "json" },
      { name = "DATABASE_HOST", value = aws_db_proxy.this.endpoint },
      { name = "DATABASE_NAME", value = aws_db_instance.this.db_name },
      { name = "DATABASE_USER", value = aws_db_instance.this.username },
      { name = "CORS_ALLOWED_ORIGINS", value = join(",", var.cors_allowed_origins) },
    ]
    # Injected by ECS from Secrets Manager at start; never in the task definition.
    secrets = [
      { name = "DATABASE_PASSWORD", valueFrom = "${aws_db_instance.this.master_user_secret[0].secret_arn}:password::" },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.ecs[0].name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "api"
      }
    }
  }])

  tags = local.tags
}

resource "aws_security_group" "alb" {
  count       = local.ecs_count
  name        = "${var.name}-alb"
  description = "HTTPS from clients to the ALB"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  count             = local.ecs_count
  security_group_id = aws_security_group.alb[0].id
  description       = "HTTPS (gRPC, gRPC-web, REST)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_app" {
  count                        = local.ecs_count
  security_group_id            = aws_security_group.alb[0].id
  description                  = "To the API tasks"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  count                        = local.ecs_count
  security_group_id            = aws_security_group.app.id
  description                  = "From the ALB"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.alb[0].id
}

resource "aws_lb" "grpc" {
  count              = local.ecs_count
  name               = substr("${var.name}-api", 0, 32)
  load_balancer_type = "application"
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.alb[0].id]
  tags               = local.tags
}

resource "aws_lb_target_group" "grpc" {
  count            = local.ecs_count
  name             = substr("${var.name}-grpc", 0, 32)
  port             = 8080
  protocol         = "HTTP"
  protocol_version = "GRPC"
  target_type      = "ip"
  vpc_id           = var.vpc_id

  health_check {
    path    = "/grpc.health.v1.Health/Check"
    matcher = "0"
  }

  tags = local.tags
}

resource "aws_lb_target_group" "http1" {
  count            = local.ecs_count
  name             = substr("${var.name}-http", 0, 32)
  port             = 8080
  protocol         = "HTTP"
  protocol_version = "HTTP1"
  target_type      = "ip"
  vpc_id           = var.vpc_id

  health_check {
    path    = "/readyz"
    matcher = "200"
  }

  tags = local.tags
}

resource "aws_lb_listener" "https" {
  count             = local.ecs_count
  load_balancer_arn = aws_lb.grpc[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.acm_certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.http1[0].arn
  }

  lifecycle {
    precondition {
      condition     = var.acm_certificate_arn != null
      error_message = "enable_ecs_grpc needs acm_certificate_arn for the HTTPS listener."
    }
  }
}

resource "aws_lb_listener_rule" "grpc" {
  count        = local.ecs_count
  listener_arn = aws_lb_listener.https[0].arn
  priority     = 10

  condition {
    http_header {
      http_header_name = "content-type"
      values           = ["application/grpc", "application/grpc+proto"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.grpc[0].arn
  }
}

resource "aws_ecs_service" "api" {
  count           = local.ecs_count
  name            = "${var.name}-api"
  cluster         = aws_ecs_cluster.this[0].id
  task_definition = aws_ecs_task_definition.api[0].arn
  desired_count   = var.ecs_desired_count
  launch_type     = "FARGATE"

  network_configuration {
    subnets         = var.private_subnet_ids
    security_groups = [aws_security_group.app.id]
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.grpc[0].arn
    container_name   = "api"
    container_port   = 8080
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.http1[0].arn
    container_name   = "api"
    container_port   = 8080
  }

  depends_on = [aws_lb_listener.https]
  tags       = local.tags
}
