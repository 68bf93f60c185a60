output "alerts_topic_arn" {
  description = "ARN of the alerts topic (MOVIESTORE_SNS_ALERTS_TOPIC_ARN)."
  value       = aws_sns_topic.alerts.arn
}

output "alerts_kms_key_arn" {
  description = "KMS key of the alerts topic."
  value       = aws_kms_key.alerts.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value = concat(
    [
      aws_cloudwatch_metric_alarm.dlq_not_empty.alarm_name,
      aws_cloudwatch_metric_alarm.oldest_message_age.alarm_name,
      aws_cloudwatch_metric_alarm.db_cpu.alarm_name,
      aws_cloudwatch_metric_alarm.db_free_storage.alarm_name,
    ],
    aws_cloudwatch_metric_alarm.db_replica_lag[*].alarm_name,
    [for alarm in aws_cloudwatch_metric_alarm.cache_memory : alarm.alarm_name],
    aws_cloudwatch_metric_alarm.api_5xx_rate[*].alarm_name,
  )
}
