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

resource "aws_iam_role" "ecs_execution" {
  count              = local.ecs_count
  name               = "${var.name}-ecs-execution"
  assume_role_policy = local.assume_role_policy["ecs-tasks"]
  tags               = local.tags
}

# What ECS itself needs to start a task: pull this repository's image, write the task's logs.
resource "aws_iam_role_policy" "ecs_execution" {
  count = local.ecs_count
  name  = "pull-image-write-logs"
  role  = aws_iam_role.ecs_execution[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "EcrLogin", Effect = "Allow", Action = ["ecr:GetAuthorizationToken"], Resource = ["*"] },
      {
        Sid      = "PullImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        Resource = [aws_ecr_repository.app.arn]
      },
      {
        Sid      = "WriteLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.ecs[0].arn}:*"]
      },
    ]
  })
}

# What the API process in the task may do: read the database secret (and re-read it after a
# rotation, which an injected environment variable could not) and the rate-limit cache's token.
resource "aws_iam_role" "ecs_task" {
  count              = local.ecs_count
  name               = "${var.name}-ecs-task"
  assume_role_policy = local.assume_role_policy["ecs-tasks"]
  tags               = local.tags
}

resource "aws_iam_role_policy" "ecs_task" {
  count  = local.ecs_count
  name   = "read-database-secret"
  role   = aws_iam_role.ecs_task[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = concat(local.database_secret_statements, local.cache_secret_statements) })
}

resource "aws_cloudwatch_log_group" "ecs" {
  count             = local.ecs_count
  name              = "/ecs/${var.name}-api"
  retention_in_days = 30
  tags              = local.tags
}

resource "aws_ecs_task_definition" "api" {
  count                    = local.ecs_count
  family                   = "${var.name}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.ecs_execution[0].arn
  task_role_arn            = aws_iam_role.ecs_task[0].arn

  container_definitions = jsonencode([{
    name         = "api"
    image        = local.image
    command      = ["payment-api", "serve"]
    essential    = true
    portMappings = [{ containerPort = 8080, protocol = "tcp" }]
    environment = [for key, value in merge(local.database_env, local.cache_env, local.idempotency_env, {
      LISTEN_ADDR          = "0.0.0.0:8080"
      LOG_FORMAT           = "json"
      CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins)
    }) : { name = key, value = value }]
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
    security_groups = [aws_security_group.app.id, aws_security_group.api.id]
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

  # New tasks start only after the migrations of their image ran.
  depends_on = [aws_lb_listener.https, aws_lambda_invocation.migrate]
  tags       = local.tags
}
