"""Skill packages: the model, SKILL.md render/parse, the validator, and the git-backed library.

The model loads with the package; the rest (the library and git behind it, parse, render,
validate) on first use, so that what only reads packages (a distill's report, a reused
analysis) imports none of it.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from skillforge._lazy import lazy_getattr
from skillforge.package.model import (
    SECTION_FOR_KIND,
    SECTION_TITLES,
    SECTIONS,
    SIDECAR,
    TRACK_OF,
    BaseRef,
    Conflict,
    Evidence,
    Lineage,
    SkillPackage,
    SkillVersion,
    Statement,
)

if TYPE_CHECKING:
    from skillforge.package.library import Library
    from skillforge.package.parse import parse, parse_files
    from skillforge.package.render import render, statement_tag, write
    from skillforge.package.validate import (
        RULES,
        SPEC_RULES,
        Problem,
        errors,
        validate,
        validate_many,
    )

# public name -> module defining it (loaded on first use)
_LAZY = {
    "Library": "library",
    **dict.fromkeys(("parse", "parse_files"), "parse"),
    **dict.fromkeys(("render", "statement_tag", "write"), "render"),
    **dict.fromkeys(("RULES", "SPEC_RULES", "Problem", "errors", "validate", "validate_many"),
                    "validate"),
}


__getattr__ = lazy_getattr(__name__, globals(), _LAZY, prefix="skillforge.package.")


class _Package(types.ModuleType):
    """``skillforge.package.parse``, ``.render`` and ``.validate`` name the functions, as they
    always have, even once their modules are imported (the import system would bind the
    module)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("parse", "render", "validate") and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "RULES",
    "SECTIONS",
    "SECTION_FOR_KIND",
    "SECTION_TITLES",
    "SIDECAR",
    "SPEC_RULES",
    "TRACK_OF",
    "BaseRef",
    "Conflict",
    "Evidence",
    "Library",
    "Lineage",
    "Problem",
    "SkillPackage",
    "SkillVersion",
    "Statement",
    "errors",
    "parse",
    "parse_files",
    "render",
    "statement_tag",
    "validate",
    "validate_many",
    "write",
]
