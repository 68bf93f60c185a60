# The API's edge: an AWS WAF web ACL on the load balancer the AWS Load Balancer Controller
# makes for the Ingress. A backstop to the API's own per-key limits (docs/api.md): it refuses
# what must never reach a pod, before the pod spends anything on it.
#
# * Bodies: the API only reads, so any request with a body is blocked (ALB's WAF sees the first
#   8 KB of a body; larger ones count as a match). The API also answers 413 itself, but Robyn
#   reads a body whole before any of its code runs: only the edge stops the memory it costs.
# * Rate per client address: more than `requests_per_ip` in `rate_window_seconds` from one
#   address is blocked for as long as it lasts (keys are limited per key by the API; this stops
#   one address cycling keys or sending no key at all).
# * AWS's known-bad-inputs rules (Log4j and similar probes).

resource "aws_wafv2_web_acl" "api" {
  name        = "${var.name}-api"
  description = "moviestore API: no bodies, a rate per client address, known bad inputs"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "no-request-bodies"
    priority = 10

    action {
      block {}
    }

    statement {
      size_constraint_statement {
        comparison_operator = "GT"
        size                = 0

        field_to_match {
          body {
            oversize_handling = "MATCH"
          }
        }

        text_transformation {
          priority = 0
          type     = "NONE"
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-api-no-bodies"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-per-client-address"
    priority = 20

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit                 = var.requests_per_ip
        evaluation_window_sec = var.rate_window_seconds
        aggregate_key_type    = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-api-rate-per-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "known-bad-inputs"
    priority = 30

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-api-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-api"
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # WAF's logs go to a log group whose name must start with aws-waf-logs-.
  log_group = "aws-waf-logs-${var.name}-api"
}

# The WAF's logs, encrypted with a key of their own.
resource "aws_kms_key" "waf_logs" {
  description         = "${var.name} API WAF logs"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${data.aws_region.current.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnEquals = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group}"
          }
        }
      },
    ]
  })

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "waf" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.waf_logs.arn
  tags              = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "api" {
  resource_arn            = aws_wafv2_web_acl.api.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  redacted_fields {
    single_header {
      name = "x-api-key"
    }
  }
}

# The load balancer exists once the controller has made it (var.load_balancer_arn is null
# before the first deploy of the Ingress).
resource "aws_wafv2_web_acl_association" "api" {
  count        = var.load_balancer_arn == null ? 0 : 1
  resource_arn = var.load_balancer_arn
  web_acl_arn  = aws_wafv2_web_acl.api.arn
}
