"""A skill's description names words that requests of its kind use, counted over tasks."""

import re

from conftest import TAU_AIRLINE, need_shared

from skillforge import ingest
from skillforge.consolidate import load_view
from skillforge.store import connect


def test_description_words_come_from_several_tasks_not_one_tasks_trials(settings):
    # tau-bench airline: 50 tasks x 4 trials; a word of one task's instruction (a customer's
    # name, a city) appears in 4 runs but in 1 task, and must not describe a skill
    need_shared()
    ingest([TAU_AIRLINE], settings=settings, show_progress=False)
    con = connect(settings.db_path, read_only=True)
    try:
        view = load_view(con)
        rows = con.execute("SELECT task_id, task FROM trajectories").fetchall()
    finally:
        con.close()
    assert len({t for t, _ in rows}) == 50
    tasks_of: dict[str, set[str]] = {}
    for task_id, text in rows:  # the request each run opened with
        for w in set(re.findall(r"[a-z]+", (text or "").lower())):
            tasks_of.setdefault(w, set()).add(task_id)
    described = {name: st.keywords for name, st in view.stats.items() if st.keywords}
    assert "cancel-reservation" in described and "cancel" in described["cancel-reservation"]
    for name, words in described.items():
        for w in words:
            assert len(tasks_of.get(w, ())) >= 2, (name, w, tasks_of.get(w))
