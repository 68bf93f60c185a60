data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  port         = 5432
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
  log_groups = concat(
    ["/aws/rds/instance/${var.name}/postgresql", "/aws/rds/instance/${var.name}/upgrade"],
    var.create_read_replica ? ["/aws/rds/instance/${var.name}-replica/postgresql", "/aws/rds/instance/${var.name}-replica/upgrade"] : [],
  )
}

# One key for the data of this database: storage, snapshots, Performance Insights, its secrets
# and its exported logs.
resource "aws_kms_key" "this" {
  description         = "${var.name} PostgreSQL"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
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
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:/aws/rds/instance/${var.name}*"
          }
        }
      },
    ]
  })

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-postgres"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_db_subnet_group" "this" {
  name        = var.name
  description = "Database subnets of ${var.name}"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

# Inbound 5432 from the cluster only; no egress rule (RDS initiates no connection).
resource "aws_security_group" "this" {
  name        = "${var.name}-postgres"
  description = "PostgreSQL of ${var.name}: port 5432 from the EKS cluster"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-postgres" })
}

# count, not for_each: the cluster security group's ID is only known after apply.
resource "aws_vpc_security_group_ingress_rule" "postgres" {
  count = length(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from the EKS cluster"
  referenced_security_group_id = var.allowed_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

# A new family (major upgrade) needs a new group before the old one can go: hence a prefix.
resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-"
  family      = var.parameter_group_family
  description = "PostgreSQL parameters of ${var.name}"

  # Clients must use TLS.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Log DDL, connections and statements slower than one second.
  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(local.log_groups)

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn

  tags = var.tags
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# ---------------------------------------------------------------------------------------------
# Master credentials: generated for each password_version, written to RDS and to Secrets
# Manager through write-only arguments, so they never reach the Terraform state or plan.
# Alphanumeric, so they go into a URL unescaped.
# ---------------------------------------------------------------------------------------------
ephemeral "random_password" "master" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "credentials" {
  #checkov:skip=CKV2_AWS_57:Rotated by increasing password_version (one apply updates RDS and the secret); see docs/operations.md
  name                    = "${var.secret_name_prefix}/database/credentials"
  description             = "Master credentials of ${var.name} (username, password)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 30

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "credentials" {
  secret_id = aws_secretsmanager_secret.credentials.id
  secret_string_wo = jsonencode({
    username = var.master_username
    password = ephemeral.random_password.master.result
  })
  secret_string_wo_version = var.password_version
}

resource "aws_db_instance" "this" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  storage_type          = "gp3"
  allocated_storage     = var.allocated_storage_gib
  max_allocated_storage = var.max_allocated_storage_gib
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.this.arn

  db_name             = var.database_name
  username            = var.master_username
  password_wo         = ephemeral.random_password.master.result
  password_wo_version = var.password_version
  port                = local.port

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false
  ca_cert_identifier     = "rds-ca-rsa2048-g1"
  parameter_group_name   = aws_db_parameter_group.this.name

  iam_database_authentication_enabled = true

  backup_retention_period   = var.backup_retention_days
  backup_window             = var.backup_window
  maintenance_window        = var.maintenance_window
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = false

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.this.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this]
}

resource "aws_db_instance" "replica" {
  #checkov:skip=CKV_AWS_157:A read replica only serves reads and the primary is Multi-AZ; if the replica fails, reads move to the primary (create_read_replica = false) and it is recreated from the primary (docs/operations.md)
  count = var.create_read_replica ? 1 : 0

  identifier          = "${var.name}-replica"
  replicate_source_db = aws_db_instance.this.identifier
  instance_class      = coalesce(var.replica_instance_class, var.instance_class)

  storage_type          = "gp3"
  max_allocated_storage = var.max_allocated_storage_gib
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.this.arn

  multi_az               = false
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false
  ca_cert_identifier     = "rds-ca-rsa2048-g1"
  parameter_group_name   = aws_db_parameter_group.this.name

  iam_database_authentication_enabled = true

  backup_retention_period = 7
  copy_tags_to_snapshot   = true
  deletion_protection     = true
  skip_final_snapshot     = true

  auto_minor_version_upgrade = true
  apply_immediately          = false

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.this.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this]
}

# Where to connect: not a credential, but kept beside it so that External Secrets builds the
# URLs from one place. Follows a restore or a new replica on the next apply.
resource "aws_secretsmanager_secret" "endpoint" {
  #checkov:skip=CKV2_AWS_57:Holds host names and ports, no credential: nothing to rotate
  name                    = "${var.secret_name_prefix}/database/endpoint"
  description             = "Connection endpoint of ${var.name} (host, read_host, port, dbname)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 30

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "endpoint" {
  secret_id = aws_secretsmanager_secret.endpoint.id
  secret_string = jsonencode({
    host      = aws_db_instance.this.address
    read_host = var.create_read_replica ? aws_db_instance.replica[0].address : aws_db_instance.this.address
    port      = tostring(local.port)
    dbname    = var.database_name
  })
}
