"""Module attributes loaded on first access (PEP 562), so importing a package stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, namespace: dict[str, Any], where: Mapping[str, str], *,
                 prefix: str = "") -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: a name in ``where`` is imported from the
    module ``prefix + where[name]`` on first access and kept in ``namespace`` (the module's
    globals), so later lookups are plain; any other name raises AttributeError."""

    def __getattr__(name: str) -> Any:
        mod = where.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(prefix + mod), name)
        namespace[name] = value
        return value

    __getattr__.__doc__ = "Load a public name from its module on first access."
    return __getattr__
