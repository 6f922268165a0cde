"""One level normaliser and one validated reader of `prompts/levels.toml`."""

from __future__ import annotations

from pathlib import Path

import pytest

from storycoach.errors import StorycoachError
from storycoach.levels import load_levels
from storycoach.models import Question, Story, normalize_level


def test_records_and_options_read_a_level_the_same_way() -> None:
    story = Story(title="t", situation="s", task="t", action="a", result="r", level=" e5 ")
    assert story.level == "E5"
    assert Question(id="q", text="Q?", levels=["e3", "E7"]).levels == ["E3", "E7"]
    assert normalize_level(" e6") == "E6"
    assert normalize_level(None) is None
    with pytest.raises(StorycoachError, match="level must be one of E3, E4, E5, E6, E7"):
        normalize_level("senior")


def test_the_shipped_bands_cover_every_level() -> None:
    levels = load_levels()
    for level in ("E3", "E4", "E5", "E6", "E7"):
        band = levels.band(level)
        assert band is not None and band.name and band.expects
    assert levels.band(levels.default) is not None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("default = 'E5'\n[bands.E5]\nlevels = ['E5']\nname = 'x'\n", "bands.E5.expects"),
        ("default = 'E5'\n[bands.E5]\nlevels = ['E9']\nname = 'x'\nexpects = 'y'\n", "E9"),
        ("default = 'E6'\n[bands.E5]\nlevels = ['E5']\nname = 'x'\nexpects = 'y'\n", "E6"),
        ("default = \n", "levels.toml"),
    ],
)
def test_a_broken_levels_file_is_an_error_not_an_empty_list(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "levels.toml"
    path.write_text(text)
    with pytest.raises(StorycoachError, match=fragment):
        load_levels(path)
