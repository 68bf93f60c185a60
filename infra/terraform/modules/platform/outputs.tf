output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "kubernetes_version" {
  description = "Kubernetes minor version of the cluster."
  value       = module.eks.kubernetes_version
}

output "vpc_id" {
  description = "VPC ID (the AWS Load Balancer Controller's vpcId)."
  value       = module.network.vpc_id
}

output "load_balancer_controller_role_arn" {
  description = "IRSA role of the AWS Load Balancer Controller."
  value       = module.eks.load_balancer_controller_role_arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role of the Cluster Autoscaler."
  value       = module.eks.cluster_autoscaler_role_arn
}

output "ecr_repository_url" {
  description = "Image repository (the overlay's images[].newName)."
  value       = aws_ecr_repository.moviestore.repository_url
}

output "irsa_role_arns" {
  description = "IRSA roles by ServiceAccount (the overlays' eks.amazonaws.com/role-arn annotations)."
  value = {
    "moviestore/moviestore-api"              = module.workload_iam.api_role_arn
    "moviestore/moviestore-worker"           = module.workload_iam.worker_role_arn
    "moviestore/moviestore-external-secrets" = module.workload_iam.external_secrets_role_arn
    "keda/keda-operator"                     = module.workload_iam.keda_operator_role_arn
  }
}

output "app_config" {
  description = "Non-secret MOVIESTORE_* settings of this environment (the overlay's ConfigMap patch)."
  value = {
    MOVIESTORE_ENV                    = var.environment
    MOVIESTORE_S3_BUCKET              = module.storage.bucket_name
    MOVIESTORE_SQS_QUEUE_URL          = module.messaging.queue_url
    MOVIESTORE_SQS_DLQ_URL            = module.messaging.dlq_url
    MOVIESTORE_SNS_PROVIDER_TOPIC_ARN = module.messaging.provider_topic_arn
    MOVIESTORE_SNS_ALERTS_TOPIC_ARN   = module.monitoring.alerts_topic_arn
  }
}

output "access_logs_bucket" {
  description = "Bucket of the ALB access logs (the Ingress's access_logs.s3.bucket)."
  value       = module.storage.logs_bucket_name
}

output "upload_role_arns" {
  description = "Upload role of each provider."
  value       = module.storage.upload_role_arns
}

output "database_instance_identifier" {
  description = "RDS instance identifier (restores start from it)."
  value       = module.database.instance_identifier
}

output "cache_replication_group_id" {
  description = "ElastiCache replication group ID (snapshots and restores)."
  value       = module.cache.replication_group_id
}

output "alarm_names" {
  description = "CloudWatch alarms that notify the alerts topic."
  value       = module.monitoring.alarm_names
}

output "github_oidc_provider_arn" {
  description = "IAM OIDC provider of GitHub Actions."
  value       = module.ci_identities.oidc_provider_arn
}

output "ecr_push_role_arn" {
  description = "Role of the release workflow's image job: repository variable STAGING_ECR_PUSH_ROLE_ARN or PRODUCTION_ECR_PUSH_ROLE_ARN (docs/release.md)."
  value       = module.ci_identities.ecr_push_role_arn
}

output "deploy_role_arn" {
  description = "Role of the deploy job: the GitHub environment's variable AWS_DEPLOY_ROLE_ARN (docs/release.md)."
  value       = module.ci_identities.deploy_role_arn
}

output "gate_upload_role_arn" {
  description = "Upload role the release gate assumes from the deploy role: the GitHub environment's variable GATE_UPLOAD_ROLE_ARN; null without gate_upload_provider."
  value       = var.gate_upload_provider == null ? null : module.storage.upload_role_arns[var.gate_upload_provider]
}

output "gate_upload_external_id" {
  description = "External ID of that role: the GitHub environment's variable GATE_UPLOAD_EXTERNAL_ID; null without gate_upload_provider."
  value       = var.gate_upload_provider == null ? null : random_password.gate_upload_external_id[0].result
  sensitive   = true
}

output "api_web_acl_arn" {
  description = "The API's WAF web ACL (on its load balancer once that exists)."
  value       = module.edge.web_acl_arn
}
