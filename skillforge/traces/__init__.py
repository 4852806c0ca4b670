"""The normalized trajectory model, one reader module per input format, detection, redaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skillforge.traces._beside import BesideLabel, LabelIndex, build_label_index
from skillforge.traces._io import Probe, probe
from skillforge.traces._precheck import precheck_sql
from skillforge.traces._precheck_lazy import blob_may_hold
from skillforge.traces._registry import (
    Problem,
    ReadContext,
    TraceFormat,
    detect,
    formats,
    register_format,
)
from skillforge.traces._renderings import Rendering, rendering_key, rendering_of, richest
from skillforge.traces._signals import Segment, Signal, SignalEvidence, session_signals
from skillforge.traces.labels import apply_labels, load_labels
from skillforge.traces.model import Outcome, Source, Step, Trajectory, Usage

if TYPE_CHECKING:
    from skillforge.traces.redact import Redactor

__all__ = [
    "BesideLabel",
    "LabelIndex",
    "Outcome",
    "Probe",
    "Problem",
    "ReadContext",
    "Rendering",
    "Redactor",
    "Segment",
    "Signal",
    "SignalEvidence",
    "Source",
    "Step",
    "TraceFormat",
    "Trajectory",
    "Usage",
    "apply_labels",
    "blob_may_hold",
    "build_label_index",
    "detect",
    "formats",
    "load_labels",
    "precheck_sql",
    "probe",
    "register_format",
    "rendering_key",
    "rendering_of",
    "richest",
    "session_signals",
]


def __getattr__(name: str) -> Any:
    """``Redactor`` loads on first use (its detectors take a while to import)."""
    if name == "Redactor":
        from skillforge.traces.redact import Redactor

        globals()["Redactor"] = Redactor
        return Redactor
    raise AttributeError(f"module 'skillforge.traces' has no attribute {name!r}")
