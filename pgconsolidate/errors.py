"""One error tree for the whole tool; the CLI maps each class to an exit code.

::

    PgConsolidateError                 exit 1   anything the tool anticipated
    ├── UsageError                     exit 2   bad flags, bad input files
    │   └── PlanError                  exit 2   a plan file that fails validation (names the field path)
    │       └── StalePlanError         exit 2   plan fingerprints no longer match the source/target
    ├── ConnectionFailed               exit 4   a service cannot be reached or refuses the credentials
    ├── SourceError                    exit 5   Redis/Elasticsearch answered, but not as needed
    ├── TargetError                    exit 6   PostgreSQL answered, but not as needed (DDL, COPY)
    │   └── DataError                  exit 6   a value does not fit its planned column (names key + fix)
    └── ParityError                    exit 3   verify found differences (raised only by the CLI layer)

Exit code 0 is success; 3 is reserved for "verify ran and found mismatches" so scripts can
tell a data difference from a broken run. Every message is already redacted: constructors
never receive raw connection URLs, only :func:`pgconsolidate.config.redact_url` output.
"""

from __future__ import annotations


class PgConsolidateError(Exception):
    """Base of every error the tool raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\nhint: {self.hint}"


class UsageError(PgConsolidateError):
    """The user asked for something impossible: bad flags, unreadable input file."""

    exit_code = 2


class PlanError(UsageError):
    """A plan file failed validation; the message names the exact field path."""


class StalePlanError(PlanError):
    """The plan was made against a source/target that has since changed shape."""


class ConnectionFailed(PgConsolidateError):
    """A service could not be reached, or refused the credentials."""

    exit_code = 4


class SourceError(PgConsolidateError):
    """Redis or Elasticsearch answered, but not in a way the tool can use."""

    exit_code = 5


class TargetError(PgConsolidateError):
    """PostgreSQL answered, but a statement or a COPY failed."""

    exit_code = 6


class DataError(TargetError):
    """A source value does not fit the planned column; the message names the key and the fix."""


class ParityError(PgConsolidateError):
    """Verification found differences between source and target."""

    exit_code = 3
