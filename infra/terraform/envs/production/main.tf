# Production: AWS account 222222222222, eu-west-1. deploy/k8s/overlays/production carries the
# same account, names, domain and network ranges (tests/infra checks they agree).
module "platform" {
  source = "../../modules/platform"

  environment = "production"

  azs              = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  vpc_cidr         = "10.0.0.0/16"
  public_subnets   = ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
  database_subnets = ["10.0.8.0/24", "10.0.9.0/24", "10.0.10.0/24"]
  private_subnets  = ["10.0.32.0/19", "10.0.64.0/19", "10.0.96.0/19"]

  kubernetes_version           = "1.35"
  node_instance_types          = ["m7i.xlarge", "m6i.xlarge"]
  node_min_size_per_az         = 1
  node_max_size_per_az         = 4
  cluster_admin_principal_arns = ["arn:aws:iam::222222222222:role/moviestore-platform-admin"]

  db_instance_class        = "db.m7g.large"
  db_allocated_storage_gib = 200
  db_backup_retention_days = 14
  db_create_read_replica   = true
  db_password_version      = var.db_password_version

  cache_node_type               = "cache.m7g.large"
  cache_num_nodes               = 3
  cache_snapshot_retention_days = 7
  cache_auth_token_version      = var.cache_auth_token_version
  cache_restore_snapshot_name   = var.cache_restore_snapshot_name

  api_domain                = "api.moviestore.example.com"
  route53_zone_id           = "Z0PRODUCTIONZONEID"
  api_load_balancer_created = var.api_load_balancer_created

  upload_providers       = var.upload_providers
  provider_subscriptions = var.provider_subscriptions
  alert_subscriptions    = var.alert_subscriptions

  api_cursor_secret_version = var.api_cursor_secret_version

  # The release pipeline's roles trust this repository's workflows (docs/release.md).
  github_repository = var.github_repository
}
