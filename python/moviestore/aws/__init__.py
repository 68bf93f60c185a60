"""Adapters for S3, SQS and SNS (boto3), and the resources the platform needs."""
