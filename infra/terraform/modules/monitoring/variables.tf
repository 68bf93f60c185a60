variable "name" {
  description = "Name prefix, e.g. \"moviestore-production\"; the alerts topic is \"<name>-alerts\"."
  type        = string
}

variable "alert_subscriptions" {
  description = "Subscribers of the alerts topic, by name (e.g. the on-call pager's HTTPS endpoint)."
  type = map(object({
    protocol = string
    endpoint = string
  }))
  default = {}
}

variable "queue_name" {
  description = "Name of the ingest queue."
  type        = string
}

variable "dlq_name" {
  description = "Name of the dead-letter queue."
  type        = string
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest message of the ingest queue is older than this: ingestion is stuck or too slow."
  type        = number
  default     = 900
}

variable "db_instance_identifier" {
  description = "Identifier of the primary DB instance."
  type        = string
}

variable "db_replica_identifier" {
  description = "Identifier of the read replica, or null."
  type        = string
  default     = null
}

variable "db_cpu_threshold_percent" {
  description = "Alarm when the primary's average CPU stays above this."
  type        = number
  default     = 80
}

variable "db_free_storage_threshold_bytes" {
  description = "Alarm when the primary's free storage falls below this (autoscaling storage has a ceiling)."
  type        = number
  default     = 10737418240
}

variable "db_replica_lag_threshold_seconds" {
  description = "Alarm when the read replica lags more than this."
  type        = number
  default     = 60
}

variable "cache_replication_group_id" {
  description = "ID of the Redis replication group."
  type        = string
}

variable "cache_num_nodes" {
  description = "Nodes of the replication group, named <id>-001, <id>-002, ... (known before apply, unlike member_clusters)."
  type        = number
}

variable "cache_memory_threshold_percent" {
  description = "Alarm when a Redis node's memory usage exceeds this."
  type        = number
  default     = 80
}

variable "alb_arn_suffix" {
  description = "ARN suffix (app/<name>/<id>) of the API's ALB, which the AWS Load Balancer Controller creates from the Ingress. Null until the first rollout; the 5xx alarm exists once it is set."
  type        = string
  default     = null
}

variable "api_5xx_threshold_percent" {
  description = "Alarm when more than this share of the API's requests end in a 5xx (target or load balancer)."
  type        = number
  default     = 5
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
