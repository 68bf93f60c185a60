data "aws_region" "current" {}

locals {
  region = data.aws_region.current.region

  # Each role trusts exactly one Kubernetes ServiceAccount of the cluster.
  service_accounts = merge(
    {
      api              = "${var.namespace}:moviestore-api"
      worker           = "${var.namespace}:moviestore-worker"
      external-secrets = "${var.namespace}:moviestore-external-secrets"
    },
    var.keda_service_account == null ? {} : { keda-operator = var.keda_service_account },
  )
}

data "aws_iam_policy_document" "assume" {
  for_each = local.service_accounts

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${each.value}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.service_accounts

  name                 = "${var.name}-${each.key}"
  description          = "IRSA role of ServiceAccount ${each.value}"
  assume_role_policy   = data.aws_iam_policy_document.assume[each.key].json
  max_session_duration = 3600

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# API: reads PostgreSQL and Redis, not AWS APIs; it only signs links to error reports (the
# ingestions endpoint), which work only if its role may read them: reports/ and nothing else.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "api" {
  statement {
    sid       = "SignReportLinks"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arn}/reports/*"]
  }

  statement {
    sid       = "DecryptReportsThroughS3"
    actions   = ["kms:Decrypt"]
    resources = [var.bucket_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "api"
  role   = aws_iam_role.this["api"].id
  policy = data.aws_iam_policy_document.api.json
}

# ---------------------------------------------------------------------------------------------
# Worker: reads providers/ (exactly the version an event names), writes reports/ and signs links
# to them, consumes the ingest queue (and queues a confirmed held snapshot again), inspects and
# redrives the dead-letter queue (`moviestore dlq`), publishes provider notifications and alerts.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "ReadProviderUploads"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.bucket_arn}/providers/*"]
  }

  statement {
    sid       = "WriteAndLinkReports"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"]
    resources = ["${var.bucket_arn}/reports/*"]
  }

  statement {
    sid       = "UseBucketKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.bucket_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid = "ConsumeIngestQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [var.queue_arn]
  }

  statement {
    sid       = "RedriveToIngestQueue"
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arn]
  }

  statement {
    sid = "InspectAndRedriveDeadLetters"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:SendMessage",
      "sqs:StartMessageMoveTask",
      "sqs:ListMessageMoveTasks",
      "sqs:CancelMessageMoveTask",
    ]
    resources = [var.dlq_arn]
  }

  statement {
    sid       = "PublishNotifications"
    actions   = ["sns:Publish"]
    resources = [var.provider_topic_arn, var.alerts_topic_arn]
  }

  statement {
    sid       = "UseMessagingKeysThroughSqsAndSns"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.messaging_kms_key_arn, var.alerts_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com", "sns.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "worker"
  role   = aws_iam_role.this["worker"].id
  policy = data.aws_iam_policy_document.worker.json
}

# ---------------------------------------------------------------------------------------------
# External Secrets (SecretStore moviestore-aws): read moviestore's secrets, nothing else.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "external_secrets" {
  statement {
    sid       = "ReadMoviestoreSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = var.secret_arns
  }

  statement {
    sid       = "DecryptThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = var.secret_kms_key_arns

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "external_secrets" {
  name   = "external-secrets"
  role   = aws_iam_role.this["external-secrets"].id
  policy = data.aws_iam_policy_document.external_secrets.json
}

# ---------------------------------------------------------------------------------------------
# KEDA operator (components/keda): the ingest queue's depth.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "keda_operator" {
  statement {
    sid       = "ReadIngestQueueDepth"
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.queue_arn]
  }
}

resource "aws_iam_role_policy" "keda_operator" {
  count = var.keda_service_account == null ? 0 : 1

  name   = "keda-operator"
  role   = aws_iam_role.this["keda-operator"].id
  policy = data.aws_iam_policy_document.keda_operator.json
}
