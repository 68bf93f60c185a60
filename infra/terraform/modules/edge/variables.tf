variable "name" {
  description = "Prefix of every name (moviestore-<environment>)."
  type        = string
}

variable "load_balancer_arn" {
  description = "The API's load balancer, made by the AWS Load Balancer Controller; null until it exists."
  type        = string
  default     = null
}

variable "requests_per_ip" {
  description = "Requests one client address may send in rate_window_seconds before WAF blocks it."
  type        = number
  default     = 3000
}

variable "rate_window_seconds" {
  description = "The window of the per-address rate (60, 120, 300 or 600 seconds)."
  type        = number
  default     = 60

  validation {
    condition     = contains([60, 120, 300, 600], var.rate_window_seconds)
    error_message = "WAF evaluates rates over 60, 120, 300 or 600 seconds."
  }
}

variable "log_retention_days" {
  description = "Days the WAF's logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
