variable "name" {
  description = "Name prefix of the roles, e.g. \"moviestore-production\" (roles \"<name>-api\", \"<name>-worker\", ...)."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider."
  type        = string
}

variable "oidc_issuer" {
  description = "OIDC issuer of the cluster without https:// (prefix of the trust conditions)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of moviestore's ServiceAccounts (deploy/k8s)."
  type        = string
  default     = "moviestore"
}

variable "bucket_arn" {
  description = "ARN of the data bucket."
  type        = string
}

variable "bucket_kms_key_arn" {
  description = "KMS key of the data bucket."
  type        = string
}

variable "queue_arn" {
  description = "ARN of the ingest queue."
  type        = string
}

variable "dlq_arn" {
  description = "ARN of the dead-letter queue."
  type        = string
}

variable "messaging_kms_key_arn" {
  description = "KMS key of the queues and of the provider-notification topic."
  type        = string
}

variable "provider_topic_arn" {
  description = "ARN of the provider-notification topic."
  type        = string
}

variable "alerts_topic_arn" {
  description = "ARN of the alerts topic (MOVIESTORE_SNS_ALERTS_TOPIC_ARN)."
  type        = string
}

variable "alerts_kms_key_arn" {
  description = "KMS key of the alerts topic."
  type        = string
}

variable "secret_arns" {
  description = "Secrets Manager secrets that External Secrets copies into the namespace."
  type        = list(string)
}

variable "secret_kms_key_arns" {
  description = "KMS keys of those secrets."
  type        = list(string)
}

variable "keda_service_account" {
  description = "namespace:name of the KEDA operator's ServiceAccount, given read access to the ingest queue's attributes; null when KEDA is not used."
  type        = string
  default     = "keda:keda-operator"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
