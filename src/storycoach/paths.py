"""Where storycoach keeps the user's files: the bank, the config, caches, recovered drafts.

The per-user application directory, as click (and so typer) names it with its defaults, so
existing banks stay where they are; computed here so that the core never imports a CLI library.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "storycoach"


def app_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`%APPDATA%\\storycoach` on Windows, `~/Library/Application Support/storycoach` on
    macOS, `$XDG_CONFIG_HOME/storycoach` (default `~/.config/storycoach`) elsewhere."""
    environ = os.environ if environ is None else environ
    if sys.platform.startswith("win"):
        return Path(environ.get("APPDATA") or os.path.expanduser("~")) / APP_NAME
    if sys.platform == "darwin":
        return Path(os.path.expanduser("~/Library/Application Support")) / APP_NAME
    config_home = environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(config_home) / APP_NAME
