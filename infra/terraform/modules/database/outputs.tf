output "instance_identifier" {
  description = "Identifier of the primary DB instance (CloudWatch dimension DBInstanceIdentifier)."
  value       = aws_db_instance.this.identifier
}

output "replica_identifier" {
  description = "Identifier of the read replica, or null."
  value       = var.create_read_replica ? aws_db_instance.replica[0].identifier : null
}

output "address" {
  description = "Host name of the primary."
  value       = aws_db_instance.this.address
}

output "read_address" {
  description = "Host name for reads: the replica, or the primary without one."
  value       = var.create_read_replica ? aws_db_instance.replica[0].address : aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = local.port
}

output "allocated_storage_gib" {
  description = "Initial storage of the primary, in GiB."
  value       = var.allocated_storage_gib
}

output "credentials_secret_arn" {
  description = "Secrets Manager secret with the master username and password."
  value       = aws_secretsmanager_secret.credentials.arn
}

output "endpoint_secret_arn" {
  description = "Secrets Manager secret with host, read_host, port and dbname."
  value       = aws_secretsmanager_secret.endpoint.arn
}

output "kms_key_arn" {
  description = "KMS key of the database, its snapshots and its secrets."
  value       = aws_kms_key.this.arn
}

output "parameter_group_name" {
  description = "DB parameter group of the instances (restores use it too)."
  value       = aws_db_parameter_group.this.name
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.this.id
}
