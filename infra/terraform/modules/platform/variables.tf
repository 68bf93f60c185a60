variable "environment" {
  description = "Environment name: \"staging\" or \"production\". Resources are named \"moviestore-<environment>-...\"."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment is \"staging\" or \"production\"."
  }
}

variable "azs" {
  description = "The three availability zones used."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
}

variable "public_subnets" {
  description = "Public subnet CIDRs, one per AZ, inside one block that deploy/k8s admits as the ALB's source."
  type        = list(string)
}

variable "private_subnets" {
  description = "Private subnet CIDRs of nodes and pods, one per AZ."
  type        = list(string)
}

variable "database_subnets" {
  description = "Database subnet CIDRs, one per AZ, inside one block that deploy/k8s admits as the destination of PostgreSQL and Redis traffic."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per AZ."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the EKS cluster, e.g. \"1.35\"."
  type        = string
}

variable "node_instance_types" {
  description = "EC2 instance types of the nodes."
  type        = list(string)
  default     = ["m7i.large", "m6i.large"]
}

variable "node_min_size_per_az" {
  description = "Minimum nodes per availability zone."
  type        = number
  default     = 1
}

variable "node_max_size_per_az" {
  description = "Maximum nodes per availability zone."
  type        = number
  default     = 4
}

variable "cluster_admin_principal_arns" {
  description = "IAM principals given cluster-admin on the EKS cluster (the release pipeline's deploy role is added to them)."
  type        = list(string)
  default     = []
}

variable "db_instance_class" {
  description = "Instance class of PostgreSQL."
  type        = string
  default     = "db.m7g.large"
}

variable "db_allocated_storage_gib" {
  description = "Initial PostgreSQL storage in GiB."
  type        = number
  default     = 100
}

variable "db_backup_retention_days" {
  description = "Days of PostgreSQL point-in-time recovery (7 to 35)."
  type        = number
  default     = 14
}

variable "db_create_read_replica" {
  description = "Create a PostgreSQL read replica."
  type        = bool
  default     = false
}

variable "db_password_version" {
  description = "Version of the PostgreSQL master password; increase to rotate."
  type        = number
  default     = 1
}

variable "api_cursor_secret_version" {
  description = "Version of the API's cursor-signing key (MOVIESTORE_API_CURSOR_SECRET); increase to rotate."
  type        = number
  default     = 1
}

variable "cache_node_type" {
  description = "Node type of Redis."
  type        = string
  default     = "cache.m7g.large"
}

variable "cache_num_nodes" {
  description = "Redis nodes (a primary and replicas)."
  type        = number
  default     = 3
}

variable "cache_snapshot_retention_days" {
  description = "Days of daily Redis snapshots."
  type        = number
  default     = 7
}

variable "cache_auth_token_version" {
  description = "Version of the Redis AUTH token; increase to rotate."
  type        = number
  default     = 1
}

variable "cache_restore_snapshot_name" {
  description = "Redis snapshot to recreate the replication group from (null: none). Changing it replaces the group."
  type        = string
  default     = null
}

variable "upload_providers" {
  description = "Data providers and who may assume their upload roles (see modules/storage)."
  type = map(object({
    principal_arns = list(string)
    external_id    = string
  }))
  default = {}
}

variable "provider_subscriptions" {
  description = "Subscriptions to the provider-notification topic (see modules/messaging)."
  type = map(object({
    protocol  = string
    endpoint  = string
    providers = list(string)
  }))
  default = {}
}

variable "alert_subscriptions" {
  description = "Subscribers of the alerts topic."
  type = map(object({
    protocol = string
    endpoint = string
  }))
  default = {}
}

variable "api_domain" {
  description = "Host name of the API (the Ingress host); its ACM certificate is created and validated in route53_zone_id."
  type        = string
}

variable "route53_zone_id" {
  description = "Public Route 53 hosted zone of api_domain."
  type        = string
}

variable "api_load_balancer_created" {
  description = "Set to true once the first rollout has created the API's ALB (named \"moviestore-<environment>-api\" by the Ingress): then the API's DNS record and the 5xx alarm are created."
  type        = bool
  default     = false
}

variable "keda_enabled" {
  description = "Create the KEDA operator's IAM role (deploy/k8s/components/keda)."
  type        = bool
  default     = true
}

variable "github_repository" {
  description = "GitHub repository (\"owner/name\") whose release workflow may push images and whose deploy jobs in the GitHub environment named like this environment may deploy (see modules/ci-identities)."
  type        = string
}

variable "gate_upload_provider" {
  description = "Provider the release gate uploads as (benchmarks/gates.toml, the environment's ingest scenario): its upload role trusts the deploy role, with a generated external ID. null: the gate uploads nothing here."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "api_waf_requests_per_ip" {
  description = "Requests one client address may send to the API in a minute before its WAF blocks it (a backstop to the per-key limits)."
  type        = number
  default     = 3000
}
