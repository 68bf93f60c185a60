# Staging: AWS account 111111111111, eu-west-1. Production's shape (three AZs, Multi-AZ database
# and cache) on smaller, fewer machines. deploy/k8s/overlays/staging carries the same account,
# names, domain and network ranges (tests/infra checks they agree).
module "platform" {
  source = "../../modules/platform"

  environment = "staging"

  azs                = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  vpc_cidr           = "10.1.0.0/16"
  public_subnets     = ["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"]
  database_subnets   = ["10.1.8.0/24", "10.1.9.0/24", "10.1.10.0/24"]
  private_subnets    = ["10.1.32.0/19", "10.1.64.0/19", "10.1.96.0/19"]
  single_nat_gateway = true

  kubernetes_version           = "1.35"
  node_instance_types          = ["m7i.large", "m6i.large"]
  node_min_size_per_az         = 1
  node_max_size_per_az         = 2
  cluster_admin_principal_arns = ["arn:aws:iam::111111111111:role/moviestore-platform-admin"]

  db_instance_class        = "db.t4g.medium"
  db_allocated_storage_gib = 50
  db_backup_retention_days = 7
  db_create_read_replica   = false
  db_password_version      = var.db_password_version

  cache_node_type               = "cache.t4g.medium"
  cache_num_nodes               = 2
  cache_snapshot_retention_days = 3
  cache_auth_token_version      = var.cache_auth_token_version
  cache_restore_snapshot_name   = var.cache_restore_snapshot_name

  api_domain                = "api.staging.moviestore.example.com"
  route53_zone_id           = "Z0STAGINGZONEID"
  api_load_balancer_created = var.api_load_balancer_created

  upload_providers       = var.upload_providers
  gate_upload_provider   = "loadtest" # benchmarks/gates.toml, [environments.staging.ingest]
  provider_subscriptions = var.provider_subscriptions
  alert_subscriptions    = var.alert_subscriptions

  api_cursor_secret_version = var.api_cursor_secret_version

  # The release pipeline's roles trust this repository's workflows (docs/release.md).
  github_repository = var.github_repository
}
