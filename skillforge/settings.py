"""Explicit settings: one home directory, an LLM endpoint, limits. No mutable globals."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from skillforge._home import STORE_FILE, home_dir
from skillforge.errors import UsageError

SETTINGS_FILE = "settings.json"


class LLMSettings(BaseModel):
    """Where the OpenAI-compatible endpoint is and how hard to use it."""

    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    concurrency: int = 8
    timeout_s: float = 60.0  # per call (one attempt)
    max_retries: int = 4
    deadline_s: float | None = 1800.0  # for all of one run's calls; None: no deadline
    breaker_failures: int = 5  # consecutive failed calls after which the endpoint is dead
    retry_backoff_s: float = 1.0
    max_input_tokens: int = 12_000
    max_output_tokens: int = 1_500
    token_budget: int | None = None


class Settings(BaseModel):
    """Everything a pipeline stage needs to know, passed down explicitly.

    Precedence: defaults < ``$SKILLFORGE_HOME/settings.json`` < environment < explicit overrides.
    """

    home: Path = Field(default_factory=lambda: Path(".skillforge"))
    redact: bool = True
    llm: LLMSettings = Field(default_factory=LLMSettings)

    @property
    def db_path(self) -> Path:
        """The DuckDB store file."""
        return self.home / STORE_FILE

    @property
    def library_path(self) -> Path:
        """The default git-backed skill library."""
        return self.home / "skills"

    @property
    def reports_path(self) -> Path:
        """Where run reports are written."""
        return self.home / "reports"

    @classmethod
    def load(cls, home: Path | str | None = None, **overrides: Any) -> Settings:
        """Build settings from the home's settings file, the environment and overrides."""
        home_path = home_dir(home)
        data: dict[str, Any] = {}
        file = home_path / SETTINGS_FILE
        if file.exists():
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise UsageError(
                    f"cannot read settings: {exc}", where=str(file),
                    hint="fix or delete the file; it is plain JSON",
                ) from exc
        llm = dict(data.get("llm") or {})
        env = os.environ
        if env.get("SKILLFORGE_LLM_MODEL"):
            llm["model"] = env["SKILLFORGE_LLM_MODEL"]
        if env.get("OPENAI_BASE_URL"):
            llm.setdefault("base_url", env["OPENAI_BASE_URL"])
        if env.get("SKILLFORGE_LLM_BASE_URL"):
            llm["base_url"] = env["SKILLFORGE_LLM_BASE_URL"]
        if env.get("OPENAI_API_KEY") and not llm.get("api_key"):
            llm["api_key"] = env["OPENAI_API_KEY"]
        llm.update({k: v for k, v in overrides.pop("llm", {}).items() if v is not None})
        data["llm"] = llm
        data["home"] = home_path
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(data)

    def save(self) -> Path:
        """Write the persistent part of the settings (never the API key) to the home."""
        self.home.mkdir(parents=True, exist_ok=True)
        payload = {"llm": self.llm.model_dump(exclude={"api_key"}, exclude_none=True)}
        path = self.home / SETTINGS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path
