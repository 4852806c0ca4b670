"""Analysis: the Lesson model, the offline miner, the capability vocabulary, the LLM
analysts and their LangGraph fan-out, and the ``analyze`` stage.

Everything but the Lesson model is imported on first use: the LLM side (``analyze``,
``LLMAnalyst``, ``fan_out``, lesson browsing) reads the store and pulls in LangGraph, and
``skillforge.store`` itself imports the Lesson model from this package; the miner and the
vocabulary are not needed by what only reads lessons or skill packages (a distill that reuses
an earlier run's analysis imports none of them).
"""

from typing import TYPE_CHECKING, Any

from skillforge.analyze._miner_version import MINER_VERSION
from skillforge.analyze.model import Evidence, Lesson

if TYPE_CHECKING:
    from skillforge.analyze.miner import (
        FamilyStats,
        MineReport,
        MinerSettings,
        MinerStats,
        collect_stats,
        mine,
        mine_store,
        miner_context,
    )
    from skillforge.analyze.vocab import (
        Vocabulary,
        build_vocabulary,
        vocabulary_from_trajectories,
    )

_LAZY = {
    **{n: ("skillforge.analyze.miner", n) for n in (
        "FamilyStats", "MineReport", "MinerSettings", "MinerStats", "collect_stats", "mine",
        "mine_store", "miner_context")},
    **{n: ("skillforge.analyze.vocab", n) for n in (
        "Vocabulary", "build_vocabulary", "vocabulary_from_trajectories")},
    "LLM_ANALYZER_VERSION": ("skillforge.analyze.llm_analysts", "ANALYZER_VERSION"),
    "AnalystOutcome": ("skillforge.analyze.llm_analysts", "AnalystOutcome"),
    "DroppedLesson": ("skillforge.analyze.llm_analysts", "DroppedLesson"),
    "LLMAnalyst": ("skillforge.analyze.llm_analysts", "LLMAnalyst"),
    "analyzer_name": ("skillforge.analyze.llm_analysts", "analyzer_name"),
    "FanoutResult": ("skillforge.analyze.fanout", "FanoutResult"),
    "fan_out": ("skillforge.analyze.fanout", "fan_out"),
    "AnalyzeReport": ("skillforge.analyze.run", "AnalyzeReport"),
    "analyze": ("skillforge.analyze.run", "analyze"),
    "analyze_llm_into": ("skillforge.analyze.run", "analyze_llm_into"),
    "get_lesson": ("skillforge.analyze.browse", "get_lesson"),
    "lesson_text": ("skillforge.analyze.browse", "lesson_text"),
    "list_lessons": ("skillforge.analyze.browse", "list_lessons"),
}


def __getattr__(name: str) -> Any:
    """Import the miner, vocabulary and LLM-side names on first use (see the module
    docstring)."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LLM_ANALYZER_VERSION",
    "MINER_VERSION",
    "AnalystOutcome",
    "AnalyzeReport",
    "DroppedLesson",
    "Evidence",
    "FamilyStats",
    "FanoutResult",
    "LLMAnalyst",
    "Lesson",
    "MineReport",
    "MinerSettings",
    "MinerStats",
    "Vocabulary",
    "analyze",
    "analyze_llm_into",
    "analyzer_name",
    "build_vocabulary",
    "collect_stats",
    "fan_out",
    "get_lesson",
    "lesson_text",
    "list_lessons",
    "mine",
    "mine_store",
    "miner_context",
    "vocabulary_from_trajectories",
]
