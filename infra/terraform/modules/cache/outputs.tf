output "replication_group_id" {
  description = "ID of the replication group."
  value       = aws_elasticache_replication_group.this.replication_group_id
}

output "num_cache_clusters" {
  description = "Number of nodes; ElastiCache names them <replication_group_id>-001, -002, ..."
  value       = var.num_cache_clusters
}

output "primary_endpoint_address" {
  description = "Host name of the primary endpoint (follows failovers)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "port" {
  description = "Redis port."
  value       = local.port
}

output "secret_arn" {
  description = "Secrets Manager secret with auth_token, host and port."
  value       = aws_secretsmanager_secret.this.arn
}

output "kms_key_arn" {
  description = "KMS key of the cache, its snapshots and its secret."
  value       = aws_kms_key.this.arn
}

output "security_group_id" {
  description = "Security group of the cache."
  value       = aws_security_group.this.id
}
