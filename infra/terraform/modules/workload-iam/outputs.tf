output "api_role_arn" {
  description = "IRSA role of moviestore-api (the ServiceAccount's eks.amazonaws.com/role-arn)."
  value       = aws_iam_role.this["api"].arn
}

output "worker_role_arn" {
  description = "IRSA role of moviestore-worker."
  value       = aws_iam_role.this["worker"].arn
}

output "external_secrets_role_arn" {
  description = "IRSA role of moviestore-external-secrets (SecretStore moviestore-aws)."
  value       = aws_iam_role.this["external-secrets"].arn
}

output "keda_operator_role_arn" {
  description = "IRSA role of the KEDA operator, or null."
  value       = var.keda_service_account == null ? null : aws_iam_role.this["keda-operator"].arn
}
