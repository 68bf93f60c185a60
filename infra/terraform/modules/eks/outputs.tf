output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "Private endpoint of the Kubernetes API."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the Kubernetes API."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_security_group_id" {
  description = "Security group EKS created for the control plane and the managed nodes (and so the pods): the source to admit at the databases."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "kubernetes_version" {
  description = "Kubernetes minor version of the cluster."
  value       = aws_eks_cluster.this.version
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider of the cluster (IRSA)."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer" {
  description = "OIDC issuer of the cluster without https://, the prefix of IRSA trust conditions."
  value       = local.oidc_issuer
}

output "node_role_arn" {
  description = "IAM role of the managed nodes."
  value       = aws_iam_role.node.arn
}

output "load_balancer_controller_role_arn" {
  description = "IAM role for ServiceAccount kube-system/aws-load-balancer-controller."
  value       = module.load_balancer_controller_irsa.arn
}

output "cluster_autoscaler_role_arn" {
  description = "IAM role for ServiceAccount kube-system/cluster-autoscaler."
  value       = module.cluster_autoscaler_irsa.arn
}
