"""The ingestion worker: an SQS consumer around ``moviestore.ingest``."""
