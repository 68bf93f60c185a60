variable "name" {
  description = "Name prefix, e.g. \"moviestore-production\"; the buckets are \"<name>-data-<account>\" and \"<name>-logs-<account>\"."
  type        = string
}

variable "notification_queue_arn" {
  description = "SQS queue notified of every object created under providers/ (its policy must already admit this bucket)."
  type        = string
}

variable "upload_providers" {
  description = "Data providers, by name (lower-case letters, digits and dashes): who may assume the provider's upload role (AWS principal ARNs of the provider's account) and the external ID they must present."
  type = map(object({
    principal_arns = list(string)
    external_id    = string
  }))
  default = {}

  validation {
    condition     = alltrue([for provider in keys(var.upload_providers) : can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", provider))])
    error_message = "Provider names are lower-case letters, digits and dashes."
  }

  validation {
    condition     = alltrue([for provider in values(var.upload_providers) : length(provider.principal_arns) > 0 && length(provider.external_id) >= 16])
    error_message = "Each provider needs at least one principal and an external ID of 16 characters or more."
  }
}

variable "provider_uploads_ia_days" {
  description = "Days after which uploaded provider files move to S3 Standard-IA."
  type        = number
  default     = 30
}

variable "reports_ia_days" {
  description = "Days after which validation reports move to S3 Standard-IA."
  type        = number
  default     = 30
}

variable "reports_expiration_days" {
  description = "Days after which validation reports are deleted."
  type        = number
  default     = 365
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept (recovery from overwrites)."
  type        = number
  default     = 90
}

variable "access_logs_expiration_days" {
  description = "Days the S3 server access logs and ALB access logs are kept."
  type        = number
  default     = 400
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
