"""Client errors as RFC 9457 ``application/problem+json`` bodies, naming the parameter at fault.

Every problem type is listed here (and in the OpenAPI document), so clients can match on
``type`` instead of parsing prose.
"""

from __future__ import annotations

from typing import Any

import orjson

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://moviestore.example.com/problems/"

TITLES = {
    "invalid-parameter": "A query or path parameter is invalid",
    "unknown-parameter": "A query parameter is not known",
    "too-many-parameters": "The request has too many query parameters",
    "unauthorized": "A valid API key is required",
    "forbidden": "This key may not read this resource",
    "not-found": "No such resource",
    "gone": "The movie was withdrawn by its provider",
    "method-not-allowed": "Only GET is served here",
    "body-not-allowed": "Read requests take no body",
    "rate-limited": "Too many requests for this key; retry after the time given",
    "unavailable": "The catalog database is unavailable; retry shortly",
    "internal": "An internal error; it is logged",
}


class Problem(Exception):  # noqa: N818 - RFC 9457 calls it a problem
    """Raised anywhere in a request; becomes the response's problem document."""

    def __init__(self, status: int, kind: str, detail: str, parameter: str | None = None):
        super().__init__(detail)
        self.status, self.kind, self.detail, self.parameter = status, kind, detail, parameter
        self.retry_after: int | None = None  # seconds, for 429 and 503

    def document(self, instance: str, request_id: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.kind,
            "title": TITLES[self.kind],
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            "request_id": request_id,
        }
        if self.parameter is not None:
            doc["parameter"] = self.parameter
        return doc

    def body(self, instance: str, request_id: str) -> bytes:
        return orjson.dumps(self.document(instance, request_id))


def invalid(parameter: str, detail: str) -> Problem:
    return Problem(400, "invalid-parameter", detail, parameter)


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", detail)
