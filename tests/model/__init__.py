"""A plain-Python reference model of docs/provider-format.md, for differential tests.

Slow and obvious on purpose: it shares no code and no cleverness with the Rust validator.
`validate(data, ...)` reads a whole file from memory and returns the report the extension
should produce (`Report.to_dict()` shape) and the valid records (`Batch.records()` shape, without
`record_key` and `content_hash`).
"""

from tests.model.validate import DEFAULT_MAX_RECORD_BYTES, ModelResult, validate

__all__ = ["DEFAULT_MAX_RECORD_BYTES", "ModelResult", "validate"]
