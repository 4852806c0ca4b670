"""The DuckDB store: connection, migrations, and read/write functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skillforge._lazy import lazy_getattr

if TYPE_CHECKING:
    from skillforge.store._db import connect, home_lock, migrate, writer_active
    from skillforge.store._stats_file import stats
    from skillforge.store.lessons import (
        load_lessons,
        mark_analyzed,
        unanalyzed_ids,
        write_lessons,
    )
    from skillforge.store.runs import RunRecord, load_run, save_run
    from skillforge.store.signals import delete_signals, load_signals, write_signals
    from skillforge.store.trajectories import (
        get_trajectory,
        iter_trajectories,
        list_trajectories,
        write_trajectories,
    )

# public name -> module defining it; loaded on first use, so that a command reading counts
# does not import the lesson model and the miner behind it
_LAZY = {
    **dict.fromkeys(("connect", "home_lock", "migrate", "writer_active"), "_db"),
    **dict.fromkeys(("load_lessons", "mark_analyzed", "unanalyzed_ids", "write_lessons"),
                    "lessons"),
    **dict.fromkeys(("RunRecord", "load_run", "save_run"), "runs"),
    **dict.fromkeys(("delete_signals", "load_signals", "write_signals"), "signals"),
    **dict.fromkeys(("get_trajectory", "iter_trajectories", "list_trajectories",
                     "write_trajectories"), "trajectories"),
    "stats": "_stats_file",
}


__getattr__ = lazy_getattr(__name__, globals(), _LAZY, prefix="skillforge.store.")


__all__ = [
    "RunRecord",
    "connect",
    "delete_signals",
    "get_trajectory",
    "home_lock",
    "iter_trajectories",
    "list_trajectories",
    "load_lessons",
    "load_run",
    "load_signals",
    "mark_analyzed",
    "migrate",
    "save_run",
    "stats",
    "unanalyzed_ids",
    "write_lessons",
    "write_signals",
    "write_trajectories",
    "writer_active",
]
