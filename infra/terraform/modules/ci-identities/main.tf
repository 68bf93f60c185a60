# The identities of the release pipeline (.github/workflows, docs/release.md) in one account:
# GitHub's OIDC provider, a role that pushes the release image and a role that deploys it.
# No long-lived key exists: each job exchanges its GitHub OIDC token for a session.
data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  issuer = "token.actions.githubusercontent.com"
  # Trust conditions on GitHub's claims. `sub` is "repo:<owner>/<name>:ref:<ref>" for a job
  # outside any environment and "repo:<owner>/<name>:environment:<name>" for one inside.
  push_subject   = "repo:${var.github_repository}:ref:${var.release_tag_pattern}"
  push_workflow  = "${var.github_repository}/${var.release_workflow}@${var.release_tag_pattern}"
  deploy_subject = "repo:${var.github_repository}:environment:${var.github_environment}"
}

# One per account and URL. AWS checks GitHub's certificate against its own trusted CAs, so no
# thumbprint is pinned. An account that already has it: import it (README).
resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# ECR push: the release workflow's jobs, on a release tag, and nothing else.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "ecr_push_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "${local.issuer}:sub"
      values   = [local.push_subject]
    }

    # A provider-specific claim (AWS STS validates GitHub's job_workflow_ref since 2026-01):
    # another workflow run on a release tag cannot push.
    condition {
      test     = "StringLike"
      variable = "${local.issuer}:job_workflow_ref"
      values   = [local.push_workflow]
    }
  }
}

resource "aws_iam_role" "ecr_push" {
  name                 = "${var.role_name_prefix}-ecr-push"
  description          = "Pushes the release image of ${var.github_repository} (${var.release_workflow}, ${var.release_tag_pattern})"
  assume_role_policy   = data.aws_iam_policy_document.ecr_push_assume.json
  max_session_duration = 3600

  tags = var.tags
}

data "aws_iam_policy_document" "ecr_push" {
  # docker login: this action has no resource-level permission.
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  # The repositories are encrypted with the AWS-managed ECR key: no KMS grant is needed.
  statement {
    sid = "PushToMoviestoreRepositories"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
    ]
    resources = var.ecr_repository_arns
  }
}

resource "aws_iam_role_policy" "ecr_push" {
  name   = "ecr-push"
  role   = aws_iam_role.ecr_push.id
  policy = data.aws_iam_policy_document.ecr_push.json
}

# ---------------------------------------------------------------------------------------------
# Deploy: jobs of this account's GitHub environment only, so production's reviewers approve
# every session that reaches production's cluster.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "deploy_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = [local.deploy_subject]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.role_name_prefix}-deploy"
  description          = "Deploys ${var.github_repository} from GitHub environment ${var.github_environment}"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume.json
  max_session_duration = var.deploy_max_session_seconds

  tags = var.tags
}

# Kubernetes permissions come from the cluster's access entry; IAM only lets the job find the
# cluster, check the release digest, and hand the gate its upload role.
data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "FindTheCluster"
    actions   = ["eks:DescribeCluster"]
    resources = [var.cluster_arn]
  }

  statement {
    sid       = "CheckTheReleaseDigest"
    actions   = ["ecr:DescribeImages"]
    resources = var.ecr_repository_arns
  }

  dynamic "statement" {
    for_each = length(var.gate_upload_role_arns) > 0 ? [var.gate_upload_role_arns] : []

    content {
      sid       = "AssumeTheGateUploadRole"
      actions   = ["sts:AssumeRole"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
