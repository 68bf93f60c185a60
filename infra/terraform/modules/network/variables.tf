variable "name" {
  description = "Name prefix of every resource, e.g. \"moviestore-production\"."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "azs" {
  description = "The three availability zones the subnets are spread over, in order."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 3 && length(distinct(var.azs)) == 3
    error_message = "Exactly three distinct availability zones are required."
  }
}

variable "public_subnets" {
  description = "CIDR blocks of the public subnets (ALB, NAT gateways), one per AZ in the order of azs."
  type        = list(string)

  validation {
    condition     = length(var.public_subnets) == 3
    error_message = "One public subnet per availability zone (3)."
  }
}

variable "private_subnets" {
  description = "CIDR blocks of the private subnets of the EKS nodes and pods, one per AZ in the order of azs."
  type        = list(string)

  validation {
    condition     = length(var.private_subnets) == 3
    error_message = "One private subnet per availability zone (3)."
  }
}

variable "database_subnets" {
  description = "CIDR blocks of the isolated subnets of RDS and ElastiCache (no route to the internet), one per AZ in the order of azs."
  type        = list(string)

  validation {
    condition     = length(var.database_subnets) == 3
    error_message = "One database subnet per availability zone (3)."
  }
}

variable "single_nat_gateway" {
  description = "Use one NAT gateway for all AZs (cheaper, but an AZ failure cuts the others' egress). False gives one per AZ."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints from the private subnets (S3 always has a gateway endpoint)."
  type        = list(string)
  default     = ["sts", "sqs", "sns", "kms", "secretsmanager", "ecr.api", "ecr.dkr", "logs"]
}

variable "flow_log_retention_days" {
  description = "Days the VPC flow logs are kept in CloudWatch Logs."
  type        = number
  default     = 365

  validation {
    condition     = var.flow_log_retention_days >= 365
    error_message = "Keep flow logs for at least a year."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
