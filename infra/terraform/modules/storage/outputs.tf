output "bucket_name" {
  description = "Name of the data bucket (MOVIESTORE_S3_BUCKET)."
  value       = aws_s3_bucket.data.id
}

output "bucket_arn" {
  description = "ARN of the data bucket."
  value       = aws_s3_bucket.data.arn
}

output "kms_key_arn" {
  description = "KMS key of the data bucket."
  value       = aws_kms_key.this.arn
}

output "logs_bucket_name" {
  description = "Name of the access logs bucket (the Ingress's access_logs.s3.bucket)."
  value       = aws_s3_bucket.logs.id
}

output "upload_role_arns" {
  description = "Upload role of each provider, by provider name."
  value       = { for provider, role in aws_iam_role.upload : provider => role.arn }
}
