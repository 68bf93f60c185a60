output "queue_arn" {
  description = "ARN of the ingest queue. Available once the queue policy admits the bucket, so that the bucket notification can be created."
  value       = aws_sqs_queue.ingest.arn

  depends_on = [aws_sqs_queue_policy.ingest]
}

output "queue_name" {
  description = "Name of the ingest queue (CloudWatch dimension QueueName)."
  value       = aws_sqs_queue.ingest.name
}

output "queue_url" {
  description = "URL of the ingest queue (MOVIESTORE_SQS_QUEUE_URL)."
  value       = aws_sqs_queue.ingest.id
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue (CloudWatch dimension QueueName)."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue (MOVIESTORE_SQS_DLQ_URL)."
  value       = aws_sqs_queue.dlq.id
}

output "provider_topic_arn" {
  description = "ARN of the provider-notification topic (MOVIESTORE_SNS_PROVIDER_TOPIC_ARN)."
  value       = aws_sns_topic.provider_notifications.arn
}

output "kms_key_arn" {
  description = "KMS key of the queues and the provider-notification topic."
  value       = aws_kms_key.this.arn
}
