variable "api_load_balancer_created" {
  description = "Set to true after the first rollout has created the API's ALB (then its DNS record and the 5xx alarm are created)."
  type        = bool
  default     = false
}

variable "db_password_version" {
  description = "Version of the PostgreSQL master password; increase to rotate (docs/operations.md)."
  type        = number
  default     = 1
}

variable "cache_auth_token_version" {
  description = "Version of the Redis AUTH token; increase to rotate (docs/operations.md)."
  type        = number
  default     = 1
}

variable "cache_restore_snapshot_name" {
  description = "Redis snapshot to recreate the replication group from (docs/operations.md, \"Restore Redis\"); null in normal operation."
  type        = string
  default     = null
}

variable "api_cursor_secret_version" {
  description = "Version of the API's cursor-signing key; increase to rotate (docs/operations.md)."
  type        = number
  default     = 1
}

variable "github_repository" {
  description = "GitHub repository (\"owner/name\") of moviestore, whose release and deploy jobs get the CI roles; no default, so that no other repository is trusted by mistake: set it in terraform.tfvars."
  type        = string
}

variable "alert_subscriptions" {
  description = "Subscribers of the alerts topic, e.g. { pager = { protocol = \"https\", endpoint = \"https://...\" } }; kept out of the repository."
  type = map(object({
    protocol = string
    endpoint = string
  }))
  default = {}
}

variable "upload_providers" {
  description = "Data providers and who may assume their upload roles: { name = { principal_arns = [...], external_id = \"...\" } }; kept out of the repository."
  type = map(object({
    principal_arns = list(string)
    external_id    = string
  }))
  default = {}
}

variable "provider_subscriptions" {
  description = "Subscriptions to the provider-notification topic: { name = { protocol, endpoint, providers = [...] } }."
  type = map(object({
    protocol  = string
    endpoint  = string
    providers = list(string)
  }))
  default = {}
}
