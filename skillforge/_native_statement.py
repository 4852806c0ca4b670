"""The SQL statement that stages a unit of skillforge JSONL lines (see ``_native_sql``).

Built once per ingest from the model: ``json_transform`` into the model's types, the line
``dump_line`` would write for those values (a line must equal it), the model's value rules,
the content JSON ``Trajectory.content_json`` writes and its hash, and the pre-check's
patterns. Strings are built with one ``concat`` each, so no piece is copied twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable

_ROLES = ("system", "user", "assistant", "tool", "environment")
_KINDS = ("message", "thought", "tool_call", "observation", "error", "final")
_TYPED = {
    "schema": "VARCHAR", "id": "VARCHAR",
    "source": {"format": "VARCHAR", "file": "VARCHAR", "line": "HUGEINT", "record": "VARCHAR"},
    "task_id": "VARCHAR", "task": "VARCHAR", "agent": "VARCHAR", "model": "VARCHAR",
    "attempt": "HUGEINT",
    "outcome": {"success": "BOOLEAN", "reward": "DOUBLE", "detail": "VARCHAR"},
    "steps": [{"index": "HUGEINT", "role": "VARCHAR", "kind": "VARCHAR", "text": "VARCHAR",
               "tool_name": "VARCHAR", "tool_args": "JSON", "call_id": "VARCHAR",
               "is_error": "BOOLEAN", "timestamp": "VARCHAR", "tokens": "HUGEINT"}],
    "usage": {"input_tokens": "HUGEINT", "output_tokens": "HUGEINT", "cost": "DOUBLE"},
    "started_at": "VARCHAR", "ended_at": "VARCHAR", "meta": "JSON",
}
_STR = r'"(?:[^"\\]|\\.)*"'
_FLAT = r"\{(?:S:(?:S|-?(?:0|[1-9][0-9]*)|true|false|null)(?:,S:(?:S|-?(?:0|[1-9][0-9]*)|true|" \
        r"false|null))*)?\}".replace("S", _STR)
# control characters DuckDB escapes in upper case (pydantic-core: lower case)
_UPPER = ("000B", "000E", "000F", "001A", "001B", "001C", "001D", "001E", "001F")
_UPPER_ESC = r"\\u00(?:0[BEF]|1[A-F])"
_TS = (r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}"
       r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
       r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])")


def _q(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def _ts_ok(x: str) -> str:
    return f"(regexp_full_match({x}, {_q(_TS)}) AND TRY_CAST({x} AS TIMESTAMPTZ) IS NOT NULL)"


def _simple(x: str) -> str:
    """True when DuckDB's text of a JSON object is surely pydantic-core's: flat, no
    duplicate keys, only strings, integers, booleans and nulls, no upper-case escapes."""
    return (f"(regexp_full_match({x}, {_q(_FLAT)}) AND NOT regexp_matches({x}, {_q(_UPPER_ESC)})"
            f" AND len(list_distinct(json_keys({x}))) = len(json_keys({x})))")


def _content(t: str) -> str:
    """``Trajectory.content_json`` as DuckDB text (before the upper-case escape fix); one
    ``concat`` per string, so no piece is copied twice (a NULL field reads as '': such a row
    is not ``good`` and its content is never used)."""
    step = ("lambda s: concat('[', to_json(s.role), ',', to_json(s.kind), ',', "
            "to_json(s.text), ',', coalesce(to_json(s.tool_name), 'null'), ',', "
            "coalesce(s.tool_args::VARCHAR, 'null'), ',', coalesce(to_json(s.call_id), 'null'), "
            "',', CASE WHEN s.is_error THEN 'true' ELSE 'false' END, ']')")
    return (f"concat('[', to_json(coalesce({t}.task_id, '')), ',', "
            f"to_json(coalesce({t}.task, '')), ',[', "
            f"array_to_string(list_transform({t}.steps, {step}), ','), ']]')")


def _opt(key: str, value: str) -> str:
    """``,"key":value`` when the value is not NULL (pydantic's exclude_none), else ''."""
    return f"coalesce(',\"{key}\":' || {value}, '')"


def _line(t: str) -> str:
    """The line ``traces.native.dump_line`` writes for the values DuckDB read. A field it
    always writes that DuckDB found missing reads as '' after its key, which is not JSON:
    such a recon never equals a line. A line equal to it holds no duplicate or unknown key,
    no value of another type, no null, no blank space: pydantic reads the same values."""
    step = ("lambda s: concat('{\"index\":', s.index::VARCHAR, ',\"role\":', to_json(s.role), "
            "',\"kind\":', to_json(s.kind), ',\"text\":', to_json(s.text), "
            + ", ".join([_opt("tool_name", "to_json(s.tool_name)"),
                         _opt("tool_args", "s.tool_args::VARCHAR"),
                         _opt("call_id", "to_json(s.call_id)")])
            + ", ',\"is_error\":', s.is_error::VARCHAR, "
            + ", ".join([_opt("timestamp", "to_json(s.timestamp)"),
                         _opt("tokens", "s.tokens::VARCHAR")]) + ", '}')")
    return "concat(" + ", ".join([
        "'{\"schema\":'", f"to_json({t}.schema)", "',\"id\":'", f"to_json({t}.id)",
        "',\"source\":{\"format\":'", f"to_json({t}.source.format)",
        "',\"file\":'", f"to_json({t}.source.file)",
        _opt("line", f"{t}.source.line::VARCHAR"), _opt("record", f"to_json({t}.source.record)"),
        "'}'", _opt("task_id", f"to_json({t}.task_id)"),
        "',\"task\":'", f"to_json({t}.task)", _opt("agent", f"to_json({t}.agent)"),
        _opt("model", f"to_json({t}.model)"), _opt("attempt", f"{t}.attempt::VARCHAR"),
        "',\"outcome\":{'",
        f"concat_ws(',', '\"success\":' || {t}.outcome.success::VARCHAR, "
        f"'\"reward\":' || {t}.outcome.reward::VARCHAR, "
        f"'\"detail\":' || to_json({t}.outcome.detail))",
        "'},\"steps\":['", f"array_to_string(list_transform({t}.steps, {step}), ',')",
        "'],\"usage\":{'",
        f"concat_ws(',', '\"input_tokens\":' || {t}.usage.input_tokens::VARCHAR, "
        f"'\"output_tokens\":' || {t}.usage.output_tokens::VARCHAR, "
        f"'\"cost\":' || {t}.usage.cost::VARCHAR)", "'}'",
        _opt("started_at", f"to_json({t}.started_at)"), _opt("ended_at", f"to_json({t}.ended_at)"),
        "',\"meta\":'", f"{t}.meta::VARCHAR", "'}'",
    ]) + ")"


def _lower_escapes(x: str) -> str:
    """DuckDB's JSON text with the control-character escapes pydantic-core writes."""
    out = x
    for u in _UPPER:
        out = f"replace({out}, '\\u{u}', '\\u{u.lower()}')"
    return f"CASE WHEN regexp_matches({x}, {_q(_UPPER_ESC)}) THEN {out} ELSE {x} END"


def _same_line(raw: str, line: str) -> str:
    """``raw`` (a line as read, maybe with its newline) is ``line``; compared in place."""
    return (f"(starts_with({raw}, {line}) AND (strlen({raw}) = strlen({line}) OR "
            f"(strlen({raw}) = strlen({line}) + 1 AND ends_with({raw}, chr(10)))))")


def unit_sql(table: str, precheck: Callable[[str], str], checked_json: bool) -> str:
    """The statement that stages one unit's lines (``_sf_lines``) in ``table``.

    ``checked_json``: lines that are not valid JSON are left out first (without it, a single
    one makes DuckDB fail the whole statement; the caller retries with it)."""
    steps_ok = (
        "coalesce(list_bool_and(list_transform(t.steps, lambda s: "
        f"s.role IN ({', '.join(map(_q, _ROLES))}) "
        f"AND s.kind IN ({', '.join(map(_q, _KINDS))}) "
        "AND (s.tool_args IS NULL OR json_type(s.tool_args) = 'OBJECT') "
        "AND (s.tokens IS NULL OR s.tokens BETWEEN -2147483648 AND 2147483647) "
        f"AND (s.timestamp IS NULL OR {_ts_ok('s.timestamp')}))), false)")
    values_ok = " AND ".join([
        steps_ok, "len(t.steps) > 0",
        "(t.attempt IS NULL OR t.attempt BETWEEN -2147483648 AND 2147483647)",
        "(t.outcome.reward IS NULL OR isfinite(t.outcome.reward))",
        "(t.usage.cost IS NULL OR isfinite(t.usage.cost))",
        "(t.usage.input_tokens IS NULL OR t.usage.input_tokens "
        "BETWEEN -9223372036854775808 AND 9223372036854775807)",
        "(t.usage.output_tokens IS NULL OR t.usage.output_tokens "
        "BETWEEN -9223372036854775808 AND 9223372036854775807)",
        f"(t.started_at IS NULL OR {_ts_ok('t.started_at')})",
        f"(t.ended_at IS NULL OR {_ts_ok('t.ended_at')})",
        "json_type(t.meta) = 'OBJECT'",
    ])
    ts_list = "list_transform(t.steps, lambda s: TRY_CAST(s.timestamp AS TIMESTAMPTZ))"
    where = "WHERE json_valid(raw)" if checked_json else ""
    return f"""
CREATE OR REPLACE TABLE {table} AS
WITH parsed AS (
  SELECT seq, file_no, lineno, raw, json_transform(raw, {_q(json.dumps(_TYPED))}) AS t
  FROM _sf_lines {where}
), built AS MATERIALIZED (
  SELECT p.seq, p.file_no, p.lineno, p.t, f.path, p.raw,
    {_line('p.t')} AS line, coalesce({values_ok}, false) AS values_ok,
    {_content('p.t')} AS content,
    coalesce(list_bool_and(list_transform(p.t.steps,
      lambda s: s.tool_args IS NULL OR {_simple('s.tool_args')})), true)
      AND (p.t.meta::VARCHAR = '{{}}' OR {_simple('p.t.meta')}) AS simple
  FROM parsed p JOIN _sf_files f USING (file_no)
), judged AS (
  SELECT * EXCLUDE (raw, line, values_ok),
    coalesce(values_ok AND {_same_line('raw', _lower_escapes('line'))}, false) AS good
  FROM built
), decided AS (
  SELECT *, good AND (NOT simple OR regexp_matches(content, {_q(_UPPER_ESC)})
            OR {precheck('content')}
            OR (t.meta::VARCHAR <> '{{}}' AND {precheck('(path || t.meta::VARCHAR)')}))
            AS verify
  FROM judged
)
SELECT seq, file_no, lineno, good AS fast, verify,
  CASE WHEN verify THEN content END AS content,
  CASE WHEN good THEN left(sha256(content), 32) END AS id, path,
  t.source.record AS source_record, t.task_id, coalesce(t.task, '') AS task, t.agent,
  t.model, TRY_CAST(t.attempt AS INTEGER) AS attempt, t.outcome.success AS success,
  t.outcome.reward AS reward, coalesce(t.outcome.detail, '') AS outcome_detail,
  len(t.steps)::INTEGER AS n_steps,
  TRY_CAST(t.usage.input_tokens AS BIGINT) AS input_tokens,
  TRY_CAST(t.usage.output_tokens AS BIGINT) AS output_tokens, t.usage.cost AS cost,
  coalesce(TRY_CAST(t.started_at AS TIMESTAMPTZ), list_min({ts_list})) AS started_at,
  coalesce(TRY_CAST(t.ended_at AS TIMESTAMPTZ), list_max({ts_list})) AS ended_at,
  CASE WHEN t.meta::VARCHAR <> '{{}}' THEN t.meta::VARCHAR END AS meta,
  coalesce(contains(t.meta::VARCHAR, '"session_id"') OR contains(t.meta::VARCHAR, '"report"')
    OR contains(t.meta::VARCHAR, '"reward_file"'), false) AS meta_keys,
  t.steps AS steps
FROM decided"""
