"""The format registry: a decorator for built-ins plus the ``skillforge.formats`` entry points."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # (not imported with the registry: ingest asks it of unchanged files)
    from skillforge.traces._io import Probe
    from skillforge.traces.model import Trajectory

# Modules of this package that are not input formats; every other public module is one.
NOT_FORMATS = frozenset({"model", "redact", "labels"})


def _builtin_modules() -> list[str]:
    # the package's folder, read without importing the package (which imports this module)
    here = str(Path(__file__).resolve().parent)
    return [
        f"skillforge.traces.{m.name}"
        for m in pkgutil.iter_modules([here])
        if not m.name.startswith("_") and m.name not in NOT_FORMATS
    ]


@dataclass
class Problem:
    """Something in an input that could not be used: which file, which line, why."""

    file: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


@dataclass
class ReadContext:
    """Passed to readers: where to report problems, the sidecar labels in force, and the
    input path the file was found under (``root``; readers look for sidecars up to it)."""

    report: Callable[[Problem], None]
    labels: dict[str, object] = field(default_factory=dict)
    root: Path | None = None

    def problem(self, path: Path, reason: str, line: int | None = None) -> None:
        """Report a problem with one file or line; the run goes on."""
        self.report(Problem(str(path), reason, line))


class TraceFormat(Protocol):
    """One input format. ``sniff`` scores a probe in [0, 1]; ``read`` yields trajectories.

    Readers must stream: yield each trajectory as soon as it is complete, and report bad
    records through ``ctx`` instead of raising, so the rest of the file is kept.
    """

    name: str

    def sniff(self, probe: Probe) -> float:
        """How sure this format is that the probed file is its own (0 means no)."""
        ...

    def read(self, probe: Probe, ctx: ReadContext) -> Iterator[Trajectory]:
        """Yield the file's trajectories, unfinalized or finalized."""
        ...


_FORMATS: dict[str, TraceFormat] = {}
_loaded = False


def register_format(cls: type) -> type:
    """Class decorator: instantiate and register a TraceFormat under its ``name``."""
    inst = cls()
    _FORMATS[inst.name] = inst
    return cls


def formats() -> dict[str, TraceFormat]:
    """All registered formats, loading built-ins and entry-point plugins on first use."""
    global _loaded
    if not _loaded:
        for mod in _builtin_modules():
            importlib.import_module(mod)
        for ep in entry_points(group="skillforge.formats"):
            obj = ep.load()
            if isinstance(obj, type):
                register_format(obj)
        _loaded = True
    return dict(_FORMATS)


# what every built-in format's ``sidecar_names`` end in (tests/test_ingest_unchanged.py keeps
# it so), for telling a file that cannot be a sidecar without loading the readers
BUILTIN_SIDECAR_SUFFIXES = frozenset({".json", ".txt", ".parquet"})


def unloaded_sidecar_names() -> frozenset[str] | None:
    """The sidecar names of the formats registered so far, while the readers are not loaded
    and no ``skillforge.formats`` plugin is installed: then a file is a sidecar of no format
    unless its suffix is one of ``BUILTIN_SIDECAR_SUFFIXES`` or its name is one of these
    (a format registered by hand). None when only the loaded formats can tell (ask
    :func:`formats`)."""
    if _loaded or len(entry_points(group="skillforge.formats")) > 0:
        return None
    return frozenset(n for f in _FORMATS.values() for n in getattr(f, "sidecar_names", ()))


def detect(probe: Probe) -> TraceFormat | None:
    """The format that claims the probed file most confidently, or None."""
    best: tuple[float, str] | None = None
    for name, fmt in formats().items():
        try:
            score = fmt.sniff(probe)
        except Exception:  # a plugin's sniff bug must not stop detection
            score = 0.0
        if score > 0 and (best is None or score > best[0]):
            best = (score, name)
    return _FORMATS[best[1]] if best else None
