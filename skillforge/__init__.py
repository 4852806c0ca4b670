"""skillforge: turn what AI agents did into skills that agents can use.

The public names below load on first use (module ``__getattr__``), so ``import skillforge``
and the command line start without importing the pipeline, DuckDB or Arrow.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skillforge.distill import DistillReport, distill
    from skillforge.errors import SkillforgeError
    from skillforge.ingest import IngestReport, ingest
    from skillforge.settings import Settings

from skillforge._version import __version__

__all__ = [
    "DistillReport",
    "IngestReport",
    "Settings",
    "SkillforgeError",
    "__version__",
    "distill",
    "ingest",
]

# public name -> module that defines it
_LAZY = {
    "DistillReport": "skillforge.distill",
    "distill": "skillforge.distill",
    "SkillforgeError": "skillforge.errors",
    "IngestReport": "skillforge.ingest",
    "ingest": "skillforge.ingest",
    "Settings": "skillforge.settings",
}


def __getattr__(name: str) -> Any:
    """Load a public name (or a submodule named like one) on first access."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'skillforge' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``skillforge.distill`` and ``skillforge.ingest`` name the functions, as they always
    have, even once their modules are imported (the import system would bind the module)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("distill", "ingest") and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
