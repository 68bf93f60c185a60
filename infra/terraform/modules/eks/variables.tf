variable "name" {
  description = "Name of the EKS cluster and prefix of its resources, e.g. \"moviestore-production\"."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and nodes, e.g. \"1.35\". deploy/k8s is validated against it."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version is a minor version such as \"1.35\"."
  }
}

variable "vpc_id" {
  description = "ID of the VPC of the cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the control plane's network interfaces and of the nodes, one per AZ; one managed node group is created per subnet."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) == 3
    error_message = "One private subnet in each of the three availability zones."
  }
}

variable "node_instance_types" {
  description = "EC2 instance types of the managed node groups (the first available is used)."
  type        = list(string)
  default     = ["m7i.large", "m6i.large"]
}

variable "node_min_size_per_az" {
  description = "Minimum number of nodes in each availability zone's node group."
  type        = number
  default     = 1

  validation {
    condition     = var.node_min_size_per_az >= 1
    error_message = "At least one node per availability zone, so that pods can spread over the three."
  }
}

variable "node_max_size_per_az" {
  description = "Maximum number of nodes in each availability zone's node group."
  type        = number
  default     = 4
}

variable "node_disk_size_gib" {
  description = "Size in GiB of each node's encrypted root volume (images, logs, emptyDir volumes)."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "Days the control plane logs are kept in CloudWatch Logs."
  type        = number
  default     = 365
}

variable "cluster_admin_principal_arns" {
  description = "IAM principals (e.g. the SSO administrators' role, the deploy role) given cluster-admin through EKS access entries."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
