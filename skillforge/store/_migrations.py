"""Named, forward-only migrations. An applied migration is never edited: add a new one."""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    ("0001_initial", """
CREATE TABLE trajectories (
    id VARCHAR PRIMARY KEY,
    format VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line INTEGER,
    source_record VARCHAR,
    task_id VARCHAR,
    task VARCHAR,
    agent VARCHAR,
    model VARCHAR,
    attempt INTEGER,
    success BOOLEAN,
    reward DOUBLE,
    outcome_detail VARCHAR,
    n_steps INTEGER NOT NULL,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cost DOUBLE,
    started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    meta JSON,
    ingest_run VARCHAR,
    ingested_at TIMESTAMPTZ
);
CREATE TABLE steps (
    trajectory_id VARCHAR NOT NULL,
    idx INTEGER NOT NULL,
    role VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    text VARCHAR,
    tool_name VARCHAR,
    tool_args JSON,
    call_id VARCHAR,
    is_error BOOLEAN NOT NULL,
    ts TIMESTAMPTZ,
    tokens INTEGER
);
CREATE TABLE lessons (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    polarity VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    content VARCHAR NOT NULL,
    capability VARCHAR NOT NULL,
    support INTEGER NOT NULL,
    analyst VARCHAR NOT NULL,
    analyzer_version VARCHAR NOT NULL,
    confidence DOUBLE,
    meta JSON,
    run_id VARCHAR,
    created_at TIMESTAMPTZ
);
CREATE TABLE lesson_evidence (
    lesson_id VARCHAR NOT NULL,
    trajectory_id VARCHAR NOT NULL,
    step_index INTEGER NOT NULL,
    quote VARCHAR NOT NULL
);
CREATE TABLE analyzed (
    trajectory_id VARCHAR NOT NULL,
    analyzer VARCHAR NOT NULL,
    analyzer_version VARCHAR NOT NULL,
    analyzed_at TIMESTAMPTZ
);
CREATE TABLE skills (
    library VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    description VARCHAR,
    latest_version INTEGER,
    updated_at TIMESTAMPTZ
);
CREATE TABLE skill_versions (
    library VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    git_commit VARCHAR,
    reason VARCHAR,
    run_id VARCHAR,
    statements INTEGER,
    support INTEGER,
    pdi DOUBLE,
    created_at TIMESTAMPTZ
);
CREATE TABLE verifications (
    library VARCHAR,
    name VARCHAR NOT NULL,
    version INTEGER,
    run_id VARCHAR,
    pdi DOUBLE,
    phi_exec DOUBLE,
    phi_plan DOUBLE,
    phi_oss DOUBLE,
    grounding DOUBLE,
    holdout JSON,
    details JSON,
    created_at TIMESTAMPTZ
);
CREATE TABLE runs (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    schema_version INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    config JSON,
    counts JSON,
    usage JSON,
    timings JSON,
    errors JSON,
    outputs JSON,
    started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ
);
CREATE TABLE llm_cache (
    key VARCHAR PRIMARY KEY,
    model VARCHAR,
    request JSON,
    response JSON,
    input_tokens INTEGER,
    output_tokens INTEGER,
    created_at TIMESTAMPTZ
);
CREATE TABLE feedback (
    id VARCHAR PRIMARY KEY,
    skill VARCHAR NOT NULL,
    version INTEGER,
    text VARCHAR NOT NULL,
    changes JSON,
    created_at TIMESTAMPTZ
);
"""),
    ("0002_train_steps", """
CREATE TABLE train_steps (
    run_id VARCHAR NOT NULL,
    step INTEGER NOT NULL,
    reward DOUBLE,
    success_rate DOUBLE,
    grpo_loss DOUBLE,
    distill_loss DOUBLE,
    kl DOUBLE,
    kl_behaviour DOUBLE,
    skill_coverage DOUBLE,
    grad_norm DOUBLE,
    tokens BIGINT,
    gen_tokens BIGINT,
    tokens_per_s DOUBLE,
    seconds DOUBLE,
    eval_accuracy DOUBLE,
    created_at TIMESTAMPTZ
);
"""),
    ("0003_train_step_episodes", """
ALTER TABLE train_steps ADD COLUMN turns DOUBLE;
ALTER TABLE train_steps ADD COLUMN tool_calls BIGINT;
ALTER TABLE train_steps ADD COLUMN bad_calls BIGINT;
"""),
    ("0004_skill_outcomes", """
CREATE TABLE skill_outcomes (
    id VARCHAR PRIMARY KEY,
    library VARCHAR NOT NULL,
    skill VARCHAR NOT NULL,
    version INTEGER,
    task VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    notes VARCHAR,
    source VARCHAR NOT NULL,
    created_at TIMESTAMPTZ,
    distill_run VARCHAR
);
"""),
    ("0005_outcome_signals_and_harvest", """
CREATE TABLE signals (
    trajectory_id VARCHAR PRIMARY KEY,
    score DOUBLE NOT NULL,
    kinds JSON,
    segments JSON,
    run_id VARCHAR,
    created_at TIMESTAMPTZ
);
CREATE TABLE signal_evidence (
    trajectory_id VARCHAR NOT NULL,
    segment INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    step_index INTEGER NOT NULL,
    weight DOUBLE NOT NULL,
    quote VARCHAR NOT NULL
);
CREATE TABLE harvest_files (
    host VARCHAR NOT NULL,
    path VARCHAR PRIMARY KEY,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    run_id VARCHAR,
    harvested_at TIMESTAMPTZ
);
"""),
    ("0006_ingested_files", """
CREATE TABLE ingested_files (
    path_sha VARCHAR PRIMARY KEY,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    head_sha VARCHAR NOT NULL,
    redact BOOLEAN NOT NULL,
    ids VARCHAR[] NOT NULL,
    steps BIGINT NOT NULL,
    format VARCHAR,
    run_id VARCHAR,
    ingested_at TIMESTAMPTZ
);
"""),
    # One row per completed distill whose analysis a later run may reuse (see
    # skillforge/_distill_reuse.py): the key of its inputs and settings, the key of the
    # library and lessons it left, and what rebuilds its report. Written last, so an
    # interrupted run has none.
    ("0007_distill_reuse", """
CREATE TABLE distill_reuse (
    run_id VARCHAR PRIMARY KEY,
    inputs_key VARCHAR NOT NULL,
    state_key VARCHAR NOT NULL,
    report JSON NOT NULL,
    created_at TIMESTAMPTZ
);
"""),
    # The miner's per-run features (skillforge/analyze/_mine_cache.py): chunks of indexed
    # runs, keyed by the code that built them, so a grown folder indexes only its new runs.
    ("0008_mine_cache", """
CREATE TABLE mine_cache (
    code VARCHAR NOT NULL,
    chunk BIGINT PRIMARY KEY,
    ids VARCHAR[] NOT NULL,
    data BLOB NOT NULL,
    created_at TIMESTAMPTZ
);
"""),
]
