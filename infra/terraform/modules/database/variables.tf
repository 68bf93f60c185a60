variable "name" {
  description = "Identifier of the DB instance and prefix of its resources, e.g. \"moviestore-production\"."
  type        = string
}

variable "vpc_id" {
  description = "ID of the VPC."
  type        = string
}

variable "subnet_ids" {
  description = "Database subnets, one per availability zone (no route to the internet)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Multi-AZ needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups admitted on port 5432 (the EKS cluster security group)."
  type        = list(string)
}

variable "engine_version" {
  description = "PostgreSQL version; a major version (\"17\") follows its minor upgrades automatically."
  type        = string
  default     = "17"
}

variable "parameter_group_family" {
  description = "DB parameter group family matching engine_version."
  type        = string
  default     = "postgres17"
}

variable "instance_class" {
  description = "Instance class of the primary (and of the replica unless replica_instance_class is set)."
  type        = string
  default     = "db.m7g.large"
}

variable "allocated_storage_gib" {
  description = "Initial gp3 storage in GiB."
  type        = number
  default     = 100
}

variable "max_allocated_storage_gib" {
  description = "Ceiling in GiB up to which RDS grows the storage by itself."
  type        = number
  default     = 1000
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "moviestore"
}

variable "master_username" {
  description = "Master user name."
  type        = string
  default     = "moviestore"
}

variable "password_version" {
  description = "Version of the master password. The password is generated and written (write-only, never in state) to RDS and Secrets Manager when this changes: increase it to rotate."
  type        = number
  default     = 1
}

variable "backup_retention_days" {
  description = "Days of automated backups, i.e. of point-in-time recovery."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "Keep between 7 and 35 days of point-in-time recovery."
  }
}

variable "backup_window" {
  description = "Daily UTC window of the automated backup (hh24:mi-hh24:mi)."
  type        = string
  default     = "02:00-03:00"
}

variable "maintenance_window" {
  description = "Weekly UTC maintenance window (ddd:hh24:mi-ddd:hh24:mi), after the backup window."
  type        = string
  default     = "sun:03:30-sun:04:30"
}

variable "create_read_replica" {
  description = "Create a read replica (MOVIESTORE_DATABASE_READ_URL points to it; to the primary otherwise)."
  type        = bool
  default     = false
}

variable "replica_instance_class" {
  description = "Instance class of the read replica; null uses instance_class."
  type        = string
  default     = null
}

variable "secret_name_prefix" {
  description = "Prefix of the Secrets Manager secret names read by External Secrets (deploy/k8s/base/externalsecret.yaml)."
  type        = string
  default     = "moviestore"
}

variable "log_retention_days" {
  description = "Days the PostgreSQL logs exported to CloudWatch Logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
