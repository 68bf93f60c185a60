variable "name" {
  description = "Name prefix, e.g. \"moviestore-production\" (the KMS alias is \"alias/<name>-app-secrets\")."
  type        = string
}

variable "secret_name_prefix" {
  description = "Prefix of the Secrets Manager names, the same in every environment (each has its own account); deploy/k8s's ExternalSecret reads \"<prefix>/api/cursor\"."
  type        = string
  default     = "moviestore"
}

variable "cursor_secret_version" {
  description = "Version of the API's cursor-signing key; increase to rotate (docs/operations.md: outstanding pagination cursors stop validating)."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
