variable "name" {
  description = "Name prefix, e.g. \"moviestore-production\"; the queues are \"<name>-ingest\" and \"<name>-ingest-dlq\"."
  type        = string
}

variable "source_bucket_arn" {
  description = "ARN of the data bucket: the only sender admitted by the ingest queue's policy."
  type        = string
}

variable "visibility_timeout_seconds" {
  description = "Default visibility timeout of the ingest queue; equal to MOVIESTORE_SQS_VISIBILITY_TIMEOUT_SECONDS (the worker's heartbeat extends it)."
  type        = number
  default     = 120
}

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the dead-letter queue (the worker's documented value is 5)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "maxReceiveCount is between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  description = "How long the ingest queue keeps a message (default 4 days)."
  type        = number
  default     = 345600
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message (default and maximum 14 days): the time to inspect and redrive."
  type        = number
  default     = 1209600
}

variable "provider_subscriptions" {
  description = "Subscriptions to the provider-notification topic, by name: protocol, endpoint, and the providers whose messages they receive (filter on the message attribute \"provider\")."
  type = map(object({
    protocol  = string
    endpoint  = string
    providers = list(string)
  }))
  default = {}
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
