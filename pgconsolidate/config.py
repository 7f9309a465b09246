"""Connection settings from flags and ``PGCONSOLIDATE_*`` environment variables; URL redaction.

Every URL that can reach a log, a report, a plan file or an error message goes through
:func:`redact_url` first. :func:`redact_text` scrubs free text (driver error messages quote
DSNs and ``password=...`` fragments verbatim).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from pgconsolidate.errors import UsageError

ENV_REDIS_URL = "PGCONSOLIDATE_REDIS_URL"
ENV_ES_URL = "PGCONSOLIDATE_ES_URL"
ENV_TARGET_URL = "PGCONSOLIDATE_TARGET_URL"
ENV_STATE_DIR = "PGCONSOLIDATE_STATE_DIR"

REDACTED = "***"
_SECRET_QUERY_KEYS = {"password", "pass", "pwd", "secret", "token", "api_key", "apikey", "sslpassword"}
# scheme://user:password@host  -> keep user, hide password (also inside larger text)
_USERINFO_RE = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")
_KV_SECRET_RE = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|secret|token|api_key|apikey)\s*[=:]\s*)(?P<val>'[^']*'|\"[^\"]*\"|\S+)",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Return ``url`` with any password (userinfo or query parameter) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{REDACTED}@{hostinfo}"
    query = parts.query
    if query:
        pairs = [
            (k, REDACTED if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe="*/")
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, *secrets: str | None) -> str:
    """Scrub passwords from free text: URL userinfo, ``password=...`` pairs and any given secrets."""
    out = _USERINFO_RE.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    out = _KV_SECRET_RE.sub(lambda m: f"{m['key']}{REDACTED}", out)
    for secret in secrets:
        if secret and len(secret) >= 3:
            out = out.replace(secret, REDACTED)
    return out


def url_password(url: str) -> str | None:
    """The password embedded in ``url`` (userinfo or query), if any; used to scrub driver errors."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.password:
        return parts.password
    for k, v in parse_qsl(parts.query):
        if k.lower() in _SECRET_QUERY_KEYS:
            return v
    return None


def resolve_url(flag_value: str | None, env_var: str, *, what: str, required: bool = True) -> str | None:
    """Pick a connection URL from the flag, else the environment variable; explain when neither is set."""
    value = flag_value or os.environ.get(env_var) or None
    if value is None and required:
        raise UsageError(f"no {what} URL given", hint=f"pass the flag or set {env_var}")
    return value


def state_dir() -> Path:
    """Folder for local state (embedded PostgreSQL data, reject files): ``$PGCONSOLIDATE_STATE_DIR``
    or ``./.pgconsolidate``."""
    return Path(os.environ.get(ENV_STATE_DIR) or ".pgconsolidate").resolve()
