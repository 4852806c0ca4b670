"""The pre-check of one serialized part of a trajectory, with the detectors loaded lazily.

``_precheck.may_hold`` asks the detectors' randomness score for key-like runs; most runs
(identifiers, paths, hashes) have too little Shannon entropy to pass it, which this module
decides itself, so a folder with no secret-looking text never imports detect-secrets. It
sits above ``redact`` (which it imports only when a run needs the real score), so ``redact``
keeps its own ``blob_may_hold``.
"""

from __future__ import annotations

import math
from collections import Counter

from skillforge.traces._precheck import ENTROPY_LIMIT, may_hold


def looks_random(tok: str, bare: bool) -> bool:
    """The detectors' randomness score, for a run the Shannon entropy does not rule out
    first (the detectors load the first time one is needed)."""
    core = tok.rstrip("=")
    if len(core) < 20:  # the detectors want 20 characters (32 for a bare token)
        return False
    n = len(core)
    entropy = -sum(c / n * math.log2(c / n) for c in Counter(core).values())
    if entropy <= ENTROPY_LIMIT - 1e-9:  # theirs is the same sum: it cannot pass either
        return False
    from skillforge.traces.redact import _looks_random_run

    return _looks_random_run(tok, bare)


def blob_may_hold(blob: bytes) -> bool:
    """The pre-check ``Redactor.may_hold_secret`` runs on each part of a trajectory (its
    content JSON; its file name followed by its meta JSON), on one such part; the same as
    ``redact.blob_may_hold``, without loading the detectors until a key-like run needs their
    score."""
    return may_hold(blob, looks_random)
