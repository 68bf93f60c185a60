output "secret_arns" {
  description = "Secrets Manager secrets of this module (External Secrets reads them)."
  value       = [aws_secretsmanager_secret.cursor.arn]
}

output "cursor_secret_arn" {
  description = "Secrets Manager secret with the API's cursor-signing key (property \"secret\")."
  value       = aws_secretsmanager_secret.cursor.arn
}

output "kms_key_arn" {
  description = "KMS key of these secrets."
  value       = aws_kms_key.this.arn
}
