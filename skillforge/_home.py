"""Where the skillforge home and its store are, without loading the settings model (pydantic).

``Settings.load`` and the commands that only need a path (``traces stats``) share this.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_HOME", "HOME_ENV", "STORE_FILE", "home_dir", "store_path"]

HOME_ENV = "SKILLFORGE_HOME"
DEFAULT_HOME = ".skillforge"
STORE_FILE = "store.duckdb"


def home_dir(home: Path | str | None = None) -> Path:
    """The home: ``home`` when given, else ``$SKILLFORGE_HOME``, else ``./.skillforge``."""
    return Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()


def store_path(home: Path | str | None = None) -> Path:
    """The DuckDB store file of that home (``Settings.db_path``)."""
    return home_dir(home) / STORE_FILE
