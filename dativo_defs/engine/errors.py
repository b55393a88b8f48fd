"""Every failure is transient (retry it) or permanent (fail fast and say what to fix).

`classify` maps any exception to one of the two: dativo's own errors carry their kind; library exceptions are
matched by class name (so this module imports no driver) and by message; the job's
`retryable_error_patterns` can mark more messages transient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum

from .redaction import redact


class ErrorKind(str, Enum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


class DativoError(Exception):
    """Base of engine errors. `hint` says what to fix."""

    kind = ErrorKind.PERMANENT

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(redact(message) + (f" — {redact(hint)}" if hint else ""))


class TransientError(DativoError):
    """Worth retrying: network, timeouts, throttling, server errors, commit conflicts."""

    kind = ErrorKind.TRANSIENT


class PermanentError(DativoError):
    """Retrying cannot help: configuration, auth, contract, missing table or file."""


class ConfigurationError(PermanentError):
    """The job's configuration cannot work as written."""


class SourceNotFoundError(PermanentError):
    """A file, table or endpoint the job names does not exist."""


class AuthenticationError(PermanentError):
    """Credentials were refused."""


class ContractViolationError(PermanentError):
    """Data broke the contract in strict mode."""


class CommitConflictError(TransientError):
    """Other writers kept committing first and the rebase attempts ran out."""


class ConcurrentRunError(TransientError):
    """Another run of the same job committed after this run read its state: this run committed nothing."""


# Library exceptions by class name (anywhere in the MRO), checked in order.
_CLASS_KINDS: tuple[tuple[str, ErrorKind], ...] = (
    ("CommitFailedException", ErrorKind.TRANSIENT),
    ("CommitStateUnknownException", ErrorKind.TRANSIENT),
    ("ConnectionError", ErrorKind.TRANSIENT),  # builtins and requests
    ("Timeout", ErrorKind.TRANSIENT),
    ("TimeoutError", ErrorKind.TRANSIENT),
    ("ChunkedEncodingError", ErrorKind.TRANSIENT),
    ("IncompleteRead", ErrorKind.TRANSIENT),
    ("BrokenPipeError", ErrorKind.TRANSIENT),
    ("FileNotFoundError", ErrorKind.PERMANENT),
    ("PermissionError", ErrorKind.PERMANENT),
    ("NoSuchTableError", ErrorKind.PERMANENT),
    ("NoSuchNamespaceError", ErrorKind.PERMANENT),
    ("ProgrammingError", ErrorKind.PERMANENT),  # SQL syntax, unknown table/column
    ("IntegrityError", ErrorKind.PERMANENT),
    # unparsable data; its message quotes rows, whose numbers must not read as HTTP 5xx
    ("ArrowInvalid", ErrorKind.PERMANENT),
    ("JSONDecodeError", ErrorKind.TRANSIENT),  # a truncated or invalid page from an API; config JSON never gets here
)

# Messages that reveal the kind when the class does not (drivers raise one class for many causes).
_TRANSIENT_MESSAGES = re.compile(
    r"connection (refused|reset|aborted|timed out)|could not connect|server closed the connection|"
    r"lost connection|gone away|timed? ?out|temporarily unavailable|too many (connections|requests)|"
    r"\b(429|500|502|503|504)\b|deadlock|could not serialize|try again|network is unreachable|broken pipe|"
    r"database is locked|database table is locked",
    re.IGNORECASE,
)
_PERMANENT_MESSAGES = re.compile(
    r"authentication failed|access denied|permission denied|\b(401|403|404)\b|unauthori[sz]ed|forbidden|"
    r"does not exist|no such (table|file|column)|unknown (table|column|database)|syntax error",
    re.IGNORECASE,
)


def classify(exc: BaseException, retryable_patterns: Iterable[str] = ()) -> ErrorKind:
    """Transient or permanent. A job's `retryable_error_patterns` win over everything else."""
    message = str(exc)
    if any(re.search(pattern, message) for pattern in retryable_patterns):
        return ErrorKind.TRANSIENT
    if isinstance(exc, DativoError):
        return exc.kind
    names = {cls.__name__ for cls in type(exc).__mro__}
    for name, kind in _CLASS_KINDS:
        if name in names:
            return kind
    if _PERMANENT_MESSAGES.search(message):
        return ErrorKind.PERMANENT
    if _TRANSIENT_MESSAGES.search(message):
        return ErrorKind.TRANSIENT
    return ErrorKind.PERMANENT  # unknown failures fail fast rather than retry blindly


def describe(exc: BaseException) -> str:
    """One redacted line: the exception's class and message."""
    text = str(exc) or type(exc).__name__
    prefix = "" if isinstance(exc, DativoError) else f"{type(exc).__name__}: "
    return redact(prefix + text.splitlines()[0] if text else prefix)
