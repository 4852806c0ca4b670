"""The normalized trajectory model, one reader module per input format, detection, redaction.

Every name loads from its module on first use, so that what needs one piece (the secret
pre-check a run record goes through, the signal model) imports neither the trajectory model
nor the format registry behind the rest; ``Redactor`` loads its detectors only then too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skillforge._lazy import lazy_getattr

if TYPE_CHECKING:
    from skillforge.traces._beside import BesideLabel, LabelIndex, build_label_index
    from skillforge.traces._io import Probe, probe
    from skillforge.traces._precheck import precheck_sql
    from skillforge.traces._precheck_lazy import blob_may_hold
    from skillforge.traces._registry import (
        BUILTIN_SIDECAR_SUFFIXES,
        Problem,
        ReadContext,
        TraceFormat,
        detect,
        formats,
        register_format,
        unloaded_sidecar_names,
    )
    from skillforge.traces._renderings import Rendering, rendering_key, rendering_of, richest
    from skillforge.traces._signals import Segment, Signal, SignalEvidence, session_signals
    from skillforge.traces.labels import apply_labels, load_labels
    from skillforge.traces.model import Outcome, Source, Step, Trajectory, Usage
    from skillforge.traces.redact import Redactor

# public name -> module defining it
_LAZY = {
    **dict.fromkeys(("BesideLabel", "LabelIndex", "build_label_index"), "_beside"),
    **dict.fromkeys(("Probe", "probe"), "_io"),
    "precheck_sql": "_precheck",
    "blob_may_hold": "_precheck_lazy",
    **dict.fromkeys(("BUILTIN_SIDECAR_SUFFIXES", "Problem", "ReadContext", "TraceFormat",
                     "detect", "formats", "register_format", "unloaded_sidecar_names"),
                    "_registry"),
    **dict.fromkeys(("Rendering", "rendering_key", "rendering_of", "richest"), "_renderings"),
    **dict.fromkeys(("Segment", "Signal", "SignalEvidence", "session_signals"), "_signals"),
    **dict.fromkeys(("apply_labels", "load_labels"), "labels"),
    **dict.fromkeys(("Outcome", "Source", "Step", "Trajectory", "Usage"), "model"),
    "Redactor": "redact",
}

__all__ = [
    "BUILTIN_SIDECAR_SUFFIXES",
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
    "unloaded_sidecar_names",
]


__getattr__ = lazy_getattr(__name__, globals(), _LAZY, prefix="skillforge.traces.")
