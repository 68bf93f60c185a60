"""The gates file (``benchmarks/gates.toml``): per environment, the load to apply and its limits.

Read strictly: an unknown key (``p59_ms``), a missing limit or an environment without a single
endpoint group is an error that names its place in the file, never a gate silently dropped.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from moviestore.ingest.events import valid_provider

DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class GatesError(ValueError):
    """The gates file is missing, unreadable or wrong; the message says where."""


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``2m``, ``1h30m`` (locust's ``--run-time`` forms) → seconds, above zero."""
    text = text.strip().lower()
    if text.isdigit():
        seconds = int(text)
    else:
        match = DURATION.fullmatch(text)
        if not text or match is None:
            raise ValueError(f"{text!r} is not a duration such as 90s, 2m or 1h30m")
        hours, minutes, secs = (int(g or 0) for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be above zero")
    return seconds


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(Strict):
    """Ceilings (milliseconds) for one endpoint group's response-time percentiles."""

    p50_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def has_a_ceiling(self) -> Latency:
        if not self.ceilings():
            raise ValueError("give at least one of p50_ms, p95_ms, p99_ms")
        return self

    def ceilings(self) -> dict[int, float]:
        """percentile → ceiling in ms, for the ceilings set."""
        pairs = ((50, self.p50_ms), (95, self.p95_ms), (99, self.p99_ms))
        return {p: ms for p, ms in pairs if ms is not None}


class Load(Strict):
    """The load the limits were set for: a limit means nothing without it."""

    users: int = Field(ge=1, le=100_000)
    spawn_rate: float = Field(gt=0)
    duration: str
    # Movies generated and ingested first when the gate runs its own local platform.
    catalog_size: int = Field(default=20_000, ge=100)
    # Upper bound of a reader's pause between two requests, in seconds.
    think_time_s: float = Field(default=0.1, ge=0)

    @field_validator("duration")
    @classmethod
    def is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def seconds(self) -> int:
        return parse_duration(self.duration)


class Ingest(Strict):
    """The provider scenario and its gate: upload a small catalog, wait until it is queryable."""

    p95_ms: float = Field(gt=0)
    provider: str = "loadtest"
    records: int = Field(default=50, ge=1, le=10_000)
    interval_s: float = Field(default=15, ge=0)
    timeout_s: float = Field(default=300, gt=0)

    @field_validator("provider")
    @classmethod
    def is_provider(cls, value: str) -> str:
        if not valid_provider(value):
            raise ValueError("a provider is lower-case letters, digits and single dashes")
        return value


class Environment(Strict):
    description: str = ""
    load: Load
    max_failure_ratio: float = Field(ge=0, le=1)
    min_rps: float = Field(ge=0)
    groups: dict[str, Latency] = Field(min_length=1)
    ingest: Ingest | None = None


class Gates(Strict):
    version: int = Field(ge=1)
    environments: dict[str, Environment] = Field(min_length=1)

    def environment(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments))
            raise GatesError(
                f"no environment {name!r} in the gates file (known: {known})"
            ) from None


def load_gates(path: Path) -> Gates:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise GatesError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise GatesError(f"{path} is not valid TOML: {e}") from None
    return parse_gates(data, str(path))


def parse_gates(data: dict[str, object], source: str = "the gates file") -> Gates:
    try:
        return Gates.model_validate(data)
    except ValidationError as e:
        problems = "\n".join(
            f"  {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in e.errors()
        )
        raise GatesError(f"{source} is not a valid gates file:\n{problems}") from None
