variable "name" {
  description = "Replication group ID and prefix of its resources, e.g. \"moviestore-production\"."
  type        = string
}

variable "vpc_id" {
  description = "ID of the VPC."
  type        = string
}

variable "subnet_ids" {
  description = "Database subnets, one per availability zone."
  type        = list(string)
}

variable "azs" {
  description = "Availability zones of the nodes, in order: the primary goes to the first."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups admitted on port 6379 (the EKS cluster security group)."
  type        = list(string)
}

variable "engine_version" {
  description = "Redis OSS engine version."
  type        = string
  default     = "7.1"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version."
  type        = string
  default     = "redis7"
}

variable "node_type" {
  description = "Cache node type."
  type        = string
  default     = "cache.m7g.large"
}

variable "num_cache_clusters" {
  description = "Nodes in the replication group: one primary and replicas, spread over azs."
  type        = number
  default     = 3

  validation {
    condition     = var.num_cache_clusters >= 2
    error_message = "Automatic failover needs a primary and at least one replica."
  }
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots kept."
  type        = number
  default     = 7

  validation {
    condition     = var.snapshot_retention_days >= 1
    error_message = "Keep at least one daily snapshot."
  }
}

variable "snapshot_window" {
  description = "Daily UTC window of the snapshot (hh24:mi-hh24:mi)."
  type        = string
  default     = "01:00-02:00"
}

variable "maintenance_window" {
  description = "Weekly UTC maintenance window (ddd:hh24:mi-ddd:hh24:mi)."
  type        = string
  default     = "sun:04:30-sun:05:30"
}

variable "auth_token_version" {
  description = "Version of the AUTH token: increase it to rotate (ElastiCache accepts old and new tokens until the next rotation)."
  type        = number
  default     = 1
}

variable "restore_snapshot_name" {
  description = "Name of a snapshot to create the replication group from. Changing it replaces the group (same ID and endpoint, data of the snapshot): see docs/operations.md, \"Restore Redis\"."
  type        = string
  default     = null
}

variable "secret_name_prefix" {
  description = "Prefix of the Secrets Manager secret name read by External Secrets."
  type        = string
  default     = "moviestore"
}

variable "log_retention_days" {
  description = "Days the slow log is kept in CloudWatch Logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
