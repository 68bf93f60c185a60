output "cluster_name" {
  description = "EKS cluster name."
  value       = module.platform.cluster_name
}

output "kubernetes_version" {
  description = "Kubernetes minor version of the cluster."
  value       = module.platform.kubernetes_version
}

output "vpc_id" {
  description = "ID of the VPC of the environment."
  value       = module.platform.vpc_id
}

output "load_balancer_controller_role_arn" {
  description = "IRSA role of the AWS Load Balancer Controller."
  value       = module.platform.load_balancer_controller_role_arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role of the Cluster Autoscaler."
  value       = module.platform.cluster_autoscaler_role_arn
}

output "ecr_repository_url" {
  description = "Image repository."
  value       = module.platform.ecr_repository_url
}

output "irsa_role_arns" {
  description = "IRSA roles by ServiceAccount."
  value       = module.platform.irsa_role_arns
}

output "app_config" {
  description = "Non-secret MOVIESTORE_* settings of this environment."
  value       = module.platform.app_config
}

output "access_logs_bucket" {
  description = "Bucket of the ALB access logs."
  value       = module.platform.access_logs_bucket
}

output "upload_role_arns" {
  description = "Upload role of each provider."
  value       = module.platform.upload_role_arns
}

output "database_instance_identifier" {
  description = "RDS instance identifier."
  value       = module.platform.database_instance_identifier
}

output "cache_replication_group_id" {
  description = "ElastiCache replication group ID."
  value       = module.platform.cache_replication_group_id
}

output "alarm_names" {
  description = "CloudWatch alarms that notify the alerts topic."
  value       = module.platform.alarm_names
}

output "ecr_push_role_arn" {
  description = "Repository variable STAGING_ECR_PUSH_ROLE_ARN (docs/release.md)."
  value       = module.platform.ecr_push_role_arn
}

output "deploy_role_arn" {
  description = "Variable AWS_DEPLOY_ROLE_ARN of the GitHub environment staging (docs/release.md)."
  value       = module.platform.deploy_role_arn
}

output "gate_upload_role_arn" {
  description = "Variable GATE_UPLOAD_ROLE_ARN of the GitHub environment staging (docs/release.md)."
  value       = module.platform.gate_upload_role_arn
}

output "gate_upload_external_id" {
  description = "Variable GATE_UPLOAD_EXTERNAL_ID of the GitHub environment staging (terraform output -raw gate_upload_external_id)."
  value       = module.platform.gate_upload_external_id
  sensitive   = true
}
