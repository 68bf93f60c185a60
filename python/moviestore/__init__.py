"""moviestore: catalog validation, ingestion and a low-latency catalog API."""

__version__ = "0.1.0"
