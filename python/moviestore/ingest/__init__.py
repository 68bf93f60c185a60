"""Ingestion: from an S3 event to committed rows, reports and notifications."""
