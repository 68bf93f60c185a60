# moviestore in one AWS account: the composition of the modules, an ECR repository and the
# API's certificate and DNS name. Environments (../../envs/*) only call this with their values.
locals {
  name = "moviestore-${var.environment}"
  tags = merge(var.tags, { Application = "moviestore", Environment = var.environment })
}

module "network" {
  source = "../network"

  name               = local.name
  vpc_cidr           = var.vpc_cidr
  azs                = var.azs
  public_subnets     = var.public_subnets
  private_subnets    = var.private_subnets
  database_subnets   = var.database_subnets
  single_nat_gateway = var.single_nat_gateway
  tags               = local.tags
}

module "eks" {
  source = "../eks"

  name                         = local.name
  kubernetes_version           = var.kubernetes_version
  vpc_id                       = module.network.vpc_id
  subnet_ids                   = module.network.private_subnet_ids
  node_instance_types          = var.node_instance_types
  node_min_size_per_az         = var.node_min_size_per_az
  node_max_size_per_az         = var.node_max_size_per_az
  cluster_admin_principal_arns = concat(var.cluster_admin_principal_arns, [module.ci_identities.deploy_role_arn])
  tags                         = local.tags
}

module "database" {
  source = "../database"

  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.database_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  instance_class             = var.db_instance_class
  allocated_storage_gib      = var.db_allocated_storage_gib
  backup_retention_days      = var.db_backup_retention_days
  create_read_replica        = var.db_create_read_replica
  password_version           = var.db_password_version
  tags                       = local.tags
}

module "cache" {
  source = "../cache"

  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.database_subnet_ids
  azs                        = var.azs
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  node_type                  = var.cache_node_type
  num_cache_clusters         = var.cache_num_nodes
  snapshot_retention_days    = var.cache_snapshot_retention_days
  auth_token_version         = var.cache_auth_token_version
  restore_snapshot_name      = var.cache_restore_snapshot_name
  tags                       = local.tags
}

module "storage" {
  source = "../storage"

  name                   = local.name
  notification_queue_arn = module.messaging.queue_arn
  upload_providers       = merge(var.upload_providers, local.gate_upload_providers)
  tags                   = local.tags
}

module "messaging" {
  source = "../messaging"

  name                   = local.name
  source_bucket_arn      = module.storage.bucket_arn
  provider_subscriptions = var.provider_subscriptions
  tags                   = local.tags
}

module "monitoring" {
  source = "../monitoring"

  name                       = local.name
  alert_subscriptions        = var.alert_subscriptions
  queue_name                 = module.messaging.queue_name
  dlq_name                   = module.messaging.dlq_name
  db_instance_identifier     = module.database.instance_identifier
  db_replica_identifier      = module.database.replica_identifier
  cache_replication_group_id = module.cache.replication_group_id
  cache_num_nodes            = module.cache.num_cache_clusters
  alb_arn_suffix             = var.api_load_balancer_created ? data.aws_lb.api[0].arn_suffix : null
  tags                       = local.tags
}

module "workload_iam" {
  source = "../workload-iam"

  name                  = local.name
  oidc_provider_arn     = module.eks.oidc_provider_arn
  oidc_issuer           = module.eks.oidc_issuer
  bucket_arn            = module.storage.bucket_arn
  bucket_kms_key_arn    = module.storage.kms_key_arn
  queue_arn             = module.messaging.queue_arn
  dlq_arn               = module.messaging.dlq_arn
  messaging_kms_key_arn = module.messaging.kms_key_arn
  provider_topic_arn    = module.messaging.provider_topic_arn
  alerts_topic_arn      = module.monitoring.alerts_topic_arn
  alerts_kms_key_arn    = module.monitoring.alerts_kms_key_arn
  secret_arns = concat(
    [
      module.database.credentials_secret_arn,
      module.database.endpoint_secret_arn,
      module.cache.secret_arn,
    ],
    module.app_secrets.secret_arns,
  )
  secret_kms_key_arns  = [module.database.kms_key_arn, module.cache.kms_key_arn, module.app_secrets.kms_key_arn]
  keda_service_account = var.keda_enabled ? "keda:keda-operator" : null
  tags                 = local.tags
}

module "app_secrets" {
  source = "../app-secrets"

  name                  = local.name
  cursor_secret_version = var.api_cursor_secret_version
  tags                  = local.tags
}

# ---------------------------------------------------------------------------------------------
# The release pipeline's identities (docs/release.md): GitHub's OIDC provider, the ECR push
# role, the deploy role (a cluster-admin access entry, above) and, where the release gate
# uploads a catalog, its provider's upload role, which only the deploy role may assume.
# ---------------------------------------------------------------------------------------------
module "ci_identities" {
  source = "../ci-identities"

  github_repository     = var.github_repository
  github_environment    = var.environment
  ecr_repository_arns   = [aws_ecr_repository.moviestore.arn]
  cluster_arn           = module.eks.cluster_arn
  gate_upload_role_arns = [for provider in keys(local.gate_upload_providers) : module.storage.upload_role_arns[provider]]
  tags                  = local.tags
}

# The external ID is no secret (it guards against a confused deputy), but stays out of the
# repository like the other providers'.
resource "random_password" "gate_upload_external_id" {
  count = var.gate_upload_provider == null ? 0 : 1

  length  = 32
  special = false
}

locals {
  gate_upload_providers = var.gate_upload_provider == null ? {} : {
    (var.gate_upload_provider) = {
      principal_arns = [module.ci_identities.deploy_role_arn]
      external_id    = random_password.gate_upload_external_id[0].result
    }
  }
}

# ---------------------------------------------------------------------------------------------
# The image registry: immutable tags, scanned on push, KMS-encrypted.
# ---------------------------------------------------------------------------------------------
resource "aws_ecr_repository" "moviestore" {
  name                 = "moviestore"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }

  tags = local.tags
}

resource "aws_ecr_lifecycle_policy" "moviestore" {
  repository = aws_ecr_repository.moviestore.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 200 images (rollbacks reach back that far)"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 200
      }
      action = { type = "expire" }
    }]
  })
}

# ---------------------------------------------------------------------------------------------
# The API's certificate (the AWS Load Balancer Controller finds it from the Ingress's host) and,
# once the ALB exists, its DNS name.
# ---------------------------------------------------------------------------------------------
resource "aws_acm_certificate" "api" {
  domain_name       = var.api_domain
  validation_method = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "api_validation" {
  for_each = {
    for option in aws_acm_certificate.api.domain_validation_options : option.domain_name => option
  }

  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "api" {
  certificate_arn         = aws_acm_certificate.api.arn
  validation_record_fqdns = [for record in aws_route53_record.api_validation : record.fqdn]
}

module "edge" {
  source = "../edge"

  name              = local.name
  load_balancer_arn = var.api_load_balancer_created ? data.aws_lb.api[0].arn : null
  requests_per_ip   = var.api_waf_requests_per_ip
  tags              = local.tags
}

data "aws_lb" "api" {
  count = var.api_load_balancer_created ? 1 : 0

  name = "${local.name}-api"
}

resource "aws_route53_record" "api" {
  count = var.api_load_balancer_created ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.api_domain
  type    = "A"

  alias {
    name                   = data.aws_lb.api[0].dns_name
    zone_id                = data.aws_lb.api[0].zone_id
    evaluate_target_health = true
  }
}
