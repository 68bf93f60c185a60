# Secrets that moviestore generates for itself rather than for a managed service: the key that
# signs the API's pagination cursors (MOVIESTORE_API_CURSOR_SECRET), which every API pod must
# share. External Secrets copies it into the namespace (deploy/k8s/base/externalsecret.yaml).
data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

resource "aws_kms_key" "this" {
  description         = "${var.name} application secrets"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministration"
      Effect    = "Allow"
      Principal = { AWS = local.account_root }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-app-secrets"
  target_key_id = aws_kms_key.this.key_id
}

# Generated for each cursor_secret_version and written through a write-only argument: never in
# the Terraform state or plan. Alphanumeric, 64 characters (about 380 bits).
ephemeral "random_password" "cursor" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "cursor" {
  #checkov:skip=CKV2_AWS_57:Rotated by increasing cursor_secret_version (one apply writes a new key; the API pods pick it up on restart); see docs/operations.md
  name                    = "${var.secret_name_prefix}/api/cursor"
  description             = "Key that signs the API's pagination cursors of ${var.name} (secret)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 30

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "cursor" {
  secret_id = aws_secretsmanager_secret.cursor.id
  secret_string_wo = jsonencode({
    secret = ephemeral.random_password.cursor.result
  })
  secret_string_wo_version = var.cursor_secret_version
}
