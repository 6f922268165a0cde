"""The level bands of `prompts/levels.toml`: what each band expects of an answer.

One file, read once, validated: the review prompt cites the band a draft is judged against,
and `practice` shows the same text, so what practice asks for is what the review expects.
A malformed file is an error, never an empty list.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from storycoach.errors import StorycoachError, describe
from storycoach.models import Level

LEVELS_FILE = "levels.toml"


class Band(BaseModel):
    """One band: the levels it spans, its name and what it expects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = ""
    levels: list[Level]
    name: str
    expects: str


class LevelBands(BaseModel):
    """The whole file: the bands in ladder order and the level used when none is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Level = "E5"
    bands: dict[str, Band]

    @field_validator("bands")
    @classmethod
    def _named(cls, bands: dict[str, Band]) -> dict[str, Band]:
        return {key: band.model_copy(update={"id": key}) for key, band in bands.items()}

    @model_validator(mode="after")
    def _default_covered(self) -> LevelBands:
        if self.band(self.default) is None:
            raise ValueError(f"default: no band covers {self.default}")
        return self

    def band(self, level: str) -> Band | None:
        """The band covering `level`, if any."""
        return next((b for b in self.bands.values() if level in b.levels), None)

    def covering(self, levels: Iterable[str]) -> list[Band]:
        """The bands covering any of `levels`, in ladder order."""
        wanted = set(levels)
        return [b for b in self.bands.values() if wanted & set(b.levels)]


@cache
def load_levels(path: Path | None = None) -> LevelBands:
    """`levels.toml` from the prompts directory (or `path`), parsed and validated once."""
    if path is None:
        from storycoach.resources import resource_dir

        path = resource_dir("prompts") / LEVELS_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StorycoachError(f"the prompt file {path} is missing") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise StorycoachError(f"the prompt file {path}: {error}") from None
    try:
        return LevelBands.model_validate(data)
    except ValidationError as error:
        raise StorycoachError(f"the prompt file {path}: {describe(error)}") from None
