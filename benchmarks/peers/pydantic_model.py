"""pydantic v2: a strict model with the constraints, validating JSON in pydantic-core."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from peers import CHUNK, MAX_YEAR, URL_PATTERN, Counts, Runner


def _text(min_length: int, max_length: int, pattern: str | None = None) -> StringConstraints:
    return StringConstraints(
        strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=pattern
    )


Name = Annotated[str, _text(1, 200)]
Genre = Annotated[str, _text(1, 64)]
Size = Annotated[int, Field(ge=1, le=100_000)]


class Movie(BaseModel):
    # strict: 2010.0 and "2010" are not years. Unknown fields are ignored, as the rules say.
    model_config = ConfigDict(strict=True, extra="ignore")

    title: Annotated[str, _text(1, 500)]
    year: Annotated[int, Field(ge=1888, le=MAX_YEAR)]
    cast: Annotated[list[Name], Field(max_length=1000)] | None = None
    genres: Annotated[list[Genre], Field(max_length=50)] | None = None
    id: Annotated[str, _text(1, 200)] | int | None = None
    href: Annotated[str, _text(0, 1000)] | None = None
    extract: Annotated[str, _text(0, 100_000)] | None = None
    thumbnail: Annotated[str, _text(0, 2000, URL_PATTERN)] | None = None
    thumbnail_width: Size | None = None
    thumbnail_height: Size | None = None


def prepare_array() -> Runner:
    adapter = TypeAdapter(list[Movie])

    def run(path: Path) -> Counts:
        with open(path, "rb") as f:
            movies = adapter.validate_json(f.read())
        return Counts(len(movies), len(movies))

    return run


def prepare_ndjson() -> Runner:
    validate = Movie.model_validate_json

    def run(path: Path) -> Counts:
        total = valid = 0
        with open(path, "rb", buffering=CHUNK) as f:
            for line in f:
                total += 1
                try:
                    validate(line)
                    valid += 1
                except ValidationError:
                    pass
        return Counts(total, valid)

    return run
