variable "github_repository" {
  description = "The GitHub repository whose workflows may assume these roles, as \"owner/name\" (its OIDC token's repository claim)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.github_repository))
    error_message = "github_repository is \"owner/name\", without wildcards."
  }
}

variable "github_environment" {
  description = "The GitHub environment whose deploy jobs may assume the deploy role (\"staging\" or \"production\": the environment of this account)."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.github_environment)
    error_message = "github_environment is \"staging\" or \"production\"."
  }
}

variable "release_workflow" {
  description = "Path of the workflow that builds and pushes the image on a tag (.github/workflows/release.yml); only its jobs may push."
  type        = string
  default     = ".github/workflows/release.yml"
}

variable "release_tag_pattern" {
  description = "Git refs the image may be pushed from (IAM StringLike pattern): the release tags."
  type        = string
  default     = "refs/tags/v*"
}

variable "role_name_prefix" {
  description = "Prefix of the roles' names: \"<prefix>-ecr-push\" and \"<prefix>-deploy\" (docs/release.md names them)."
  type        = string
  default     = "moviestore-github"
}

variable "ecr_repository_arns" {
  description = "ECR repositories the push role may push to and the deploy role may describe images of."
  type        = list(string)

  validation {
    condition     = length(var.ecr_repository_arns) > 0
    error_message = "At least one repository."
  }
}

variable "cluster_arn" {
  description = "ARN of the EKS cluster the deploy role may describe (aws eks update-kubeconfig). Its Kubernetes access is the cluster's access entry (modules/eks, cluster_admin_principal_arns)."
  type        = string
}

variable "deploy_max_session_seconds" {
  description = "Maximum session of the deploy role: the deploy job asks for 7200 s (a rollout, the gate and a rollback)."
  type        = number
  default     = 7200

  validation {
    condition     = var.deploy_max_session_seconds >= 7200 && var.deploy_max_session_seconds <= 43200
    error_message = "At least 7200 s (what the deploy job asks for), at most 43200 s."
  }
}

variable "gate_upload_role_arns" {
  description = "Roles the deploy role may assume for the release gate (the provider upload role of its ingest scenario); empty: none."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
