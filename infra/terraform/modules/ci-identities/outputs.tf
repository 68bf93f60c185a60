output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider of GitHub Actions in this account."
  value       = aws_iam_openid_connect_provider.github.arn
}

output "ecr_push_role_arn" {
  description = "Role of the release workflow's image job: repository variable <ENVIRONMENT>_ECR_PUSH_ROLE_ARN (docs/release.md)."
  value       = aws_iam_role.ecr_push.arn
}

# Built from the role's name, which is known at plan time, so that the EKS access entries can
# use it as a for_each key; the reference to the role still orders them after it.
output "deploy_role_arn" {
  description = "Role of the deploy job: the environment's variable AWS_DEPLOY_ROLE_ARN (docs/release.md), and a cluster-admin access entry."
  value       = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/${aws_iam_role.deploy.name}"
}
