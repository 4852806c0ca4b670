"""The detectors behind :mod:`skillforge.traces.redact`: detect-secrets' plugins plus a few more.

Every detector is a detect-secrets plugin (``analyze_string`` yields the secret values found
in one line). detect-secrets ships the keyword, high-entropy, AWS, GitHub, GitLab, Slack,
OpenAI (legacy format), Stripe, JWT, private-key and URL-credential ones; the plugins defined
here, on the same base class, cover formats it does not know: Anthropic keys, OpenAI project
and service keys, Hugging Face and Google API keys, bearer tokens, ``*_token=`` assignments.

``DETECTORS`` lists ``(kind, plugin, triggers)``; a line is given to a plugin only when its
lowercased text holds one of the trigger substrings (``None``: a regex prefilter decides), so
most lines cost a few substring tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import (
    CONFIG_DENYLIST_REGEX_TO_GROUP,
    DENYLIST,
    QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
    KeywordDetector,
)
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.stripe import StripeDetector

from skillforge.traces._precheck import BLOB_TRIGGERS, ENTROPY_LIMIT


class AnthropicKeyDetector(RegexBasedDetector):
    """Anthropic API and admin keys (``sk-ant-...``)."""

    secret_type = "Anthropic Key"
    denylist = (re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,}"),)


class OpenAIProjectKeyDetector(RegexBasedDetector):
    """OpenAI keys of the current formats (``sk-proj-``, ``sk-svcacct-``, plain ``sk-``)."""

    secret_type = "OpenAI Project Key"
    denylist = (re.compile(r"(?<![A-Za-z0-9_\-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?"
                           r"[A-Za-z0-9_\-]{20,}"),)


class HuggingFaceDetector(RegexBasedDetector):
    """Hugging Face user access tokens."""

    secret_type = "Hugging Face Token"
    denylist = (re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}"),)


class GoogleApiKeyDetector(RegexBasedDetector):
    """Google API keys."""

    secret_type = "Google API Key"
    denylist = (re.compile(r"AIza[0-9A-Za-z_\-]{35}"),)


class GitHubPatDetector(RegexBasedDetector):
    """Fine-grained GitHub personal access tokens (``github_pat_...``)."""

    secret_type = "GitHub Fine-grained Token"
    denylist = (re.compile(r"github_pat_[A-Za-z0-9_]{22,}"),)


class StripeTestKeyDetector(RegexBasedDetector):
    """Stripe test and restricted keys (detect-secrets knows the live ones)."""

    secret_type = "Stripe Test Key"
    denylist = (re.compile(r"(?:r|s)k_test_[0-9a-zA-Z]{20,}"),)


class BearerTokenDetector(RegexBasedDetector):
    """``Authorization: Bearer <token>`` values."""

    secret_type = "Bearer Token"
    denylist = (re.compile(r"(?i)\bbearer\s+([A-Za-z0-9_\-.=~+/]{16,})"),)


class TokenAssignmentDetector(RegexBasedDetector):
    """``access_token=...``, ``auth-token: ...`` and such (not in the keyword list)."""

    secret_type = "Token Assignment"
    denylist = (RegexBasedDetector.build_assignment_regex(
        prefix_regex=r"(?:access|auth|api|refresh|session|bearer|secret|private|client)",
        secret_keyword_regex=r"tokens?",
        secret_regex=r"([^\s\"'`,;()\[\]{}]{8,})"),)


# A bare run of base64 / url-safe characters long enough to be a key (AWS secret access keys
# are 40). Quoted strings are detect-secrets' Base64HighEntropyString's job.
BARE_TOKEN = re.compile(r"(?<![A-Za-z0-9+/_\-.])[A-Za-z0-9+/_\-]{32,}={0,2}(?![A-Za-z0-9+/=_\-])")
BARE_TOKEN_B = re.compile(BARE_TOKEN.pattern.encode())

_KEYWORD_TRIGGERS = tuple(sorted({d.replace("_?", "") for d in DENYLIST}
                                 | {d.replace("_?", "_") for d in DENYLIST}
                                 | {"contrase"}))


_TOKEN_TRIGGERS = tuple(f"{p}{sep}token" for p in ("access", "auth", "api", "refresh",
                                                     "session", "bearer", "secret", "private",
                                                     "client") for sep in ("_", "-", ""))


@dataclass(frozen=True)
class Detector:
    """One plugin, the kind name its finds are redacted under, and its trigger substrings."""

    kind: str
    plugin: BasePlugin
    triggers: tuple[str, ...]
    # token: the find is extended to the end of the token it starts (JWT signatures,
    # longer-than-documented tokens); keyword: the value of an assignment, checked for code
    token: bool = True


class KeywordValues(KeywordDetector):
    """detect-secrets' keyword plugin, trying quoted then unquoted (config-style) values."""

    def analyze_string(self, string: str, denylist_regex_to_group: object = None):  # type: ignore[override]  # noqa: D102
        found = list(super().analyze_string(string, QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP))
        yield from found
        for v in super().analyze_string(string, CONFIG_DENYLIST_REGEX_TO_GROUP):
            if v not in found:
                yield v


DETECTORS: tuple[Detector, ...] = (
    Detector("private-key", PrivateKeyDetector(), ("private key", "putty-user-key")),
    Detector("anthropic-key", AnthropicKeyDetector(), ("sk-ant-",)),
    Detector("openai-key", OpenAIDetector(), ("t3blbkfj",)),
    Detector("openai-key", OpenAIProjectKeyDetector(), ("sk-",)),
    Detector("aws-access-key", AWSKeyDetector(), ("akia", "asia", "abia", "acca", "a3t", "aws")),
    Detector("github-token", GitHubTokenDetector(), ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    Detector("github-token", GitHubPatDetector(), ("github_pat_",)),
    Detector("gitlab-token", GitLabTokenDetector(), ("glpat-", "gldt-", "glrt-", "glcbt-",
                                                      "glptt-", "glft-", "glimt-", "glagent-",
                                                      "gloas-", "glsoat-", "glffct-")),
    Detector("slack-token", SlackDetector(), ("xox", "hooks.slack.com")),
    Detector("stripe-key", StripeDetector(), ("k_live_",)),
    Detector("stripe-key", StripeTestKeyDetector(), ("k_test_",)),
    Detector("google-api-key", GoogleApiKeyDetector(), ("aiza",)),
    Detector("huggingface-token", HuggingFaceDetector(), ("hf_",)),
    Detector("sendgrid-key", SendGridDetector(), ("sg.",)),
    Detector("npm-token", NpmDetector(), ("_authtoken",)),
    Detector("pypi-token", PypiTokenDetector(), ("pypi-",)),
    Detector("azure-storage-key", AzureStorageKeyDetector(), ("accountkey=",)),
    Detector("jwt", JwtTokenDetector(), ("eyj",)),
    Detector("bearer-token", BearerTokenDetector(), ("bearer",), token=False),
    Detector("url-password", BasicAuthDetector(), ("://",), token=False),
    Detector("password", KeywordValues(), _KEYWORD_TRIGGERS, token=False),
    Detector("password", TokenAssignmentDetector(), _TOKEN_TRIGGERS, token=False),
    Detector("high-entropy", Base64HighEntropyString(limit=4.5), ("'", '"', "`"),
             token=False),
)

ENTROPY = Base64HighEntropyString(limit=ENTROPY_LIMIT)
ALL_TRIGGERS = tuple(sorted({t for d in DETECTORS if d.kind != "high-entropy"
                             for t in d.triggers}))
# BLOB_TRIGGERS (the pre-check's stems, imported above) must each be implied by some
# detector's triggers; see _precheck.
ALL_TRIGGERS_B = tuple(t.encode() for t in BLOB_TRIGGERS)
URL_CRED_B = re.compile(rb"://[^\s/:@\"'\\]+:[^\s/@\"'\\]+@")
