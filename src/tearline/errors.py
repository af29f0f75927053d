"""The one exception tree of tearline.

Every error a user can meet is a :class:`TearlineError`. Each class carries a stable ``code``, the
HTTP status a web edge answers with, and the process exit code a CLI edge exits with (0 ok, 1 error,
2 denied or withheld, 3 invalid input). Messages are safe to show: lower case, no final period,
user input in backticks. Third-party errors (``sqlite3``, ``psycopg``, ``orjson``) are translated
where they enter, never shown raw.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DENIED = 2
EXIT_INVALID = 3


class TearlineError(Exception):
    """Base of every tearline error."""

    code: str = "error"
    http_status: int = 500
    exit_code: int = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(TearlineError):
    """Input that cannot be accepted as it is: bad JSON, a bad label, an unknown option value."""

    code = "invalid_input"
    http_status = 400
    exit_code = EXIT_INVALID


class LabelError(InvalidInput):
    """A releasability label that cannot be parsed; the message names the offending part."""

    code = "invalid_label"


class StixError(InvalidInput):
    """A STIX object or envelope that fails validation."""

    code = "invalid_stix"


class NotFound(TearlineError):
    """Something named does not exist (or, for a partner, is not visible: the same answer)."""

    code = "not_found"
    http_status = 404
    exit_code = EXIT_ERROR


class NoProfile(NotFound, LookupError):
    """A partner with no trust profile in force at the time asked: it may receive nothing. (Also a
    ``LookupError``, as a missing key is.)"""

    code = "no_profile"


class BadCursor(InvalidInput, ValueError):
    """A TAXII ``next`` value this node did not issue for this request (another partner, another
    collection or filter, tampered, or from another node)."""

    code = "bad_cursor"


class UiError(TearlineError):
    """An answer the web UI shows as a page: its status, a title and a message safe to show."""

    exit_code = EXIT_ERROR

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = self.http_status = status
        self.title = title


class Conflict(TearlineError):
    """The request contradicts the current state (a duplicate partner, a widening scale-back)."""

    code = "conflict"
    http_status = 409
    exit_code = EXIT_INVALID


class Denied(TearlineError):
    """The action or release is not allowed."""

    code = "denied"
    http_status = 403
    exit_code = EXIT_DENIED


class Unauthenticated(TearlineError):
    """No or wrong credentials."""

    code = "unauthenticated"
    http_status = 401
    exit_code = EXIT_DENIED


class ConfigError(TearlineError):
    """The node is not set up, or its settings are wrong."""

    code = "config"
    http_status = 500
    exit_code = EXIT_ERROR


class SchemaTooNew(ConfigError):
    """The database was written by a newer tearline; refused rather than risk damaging it."""

    code = "schema_too_new"


class StorageError(TearlineError):
    """The database failed; the driver's message is kept for the log, not shown."""

    code = "storage"
    http_status = 503
    exit_code = EXIT_ERROR


class IntegrityError(TearlineError):
    """Stored data fails a check (the ledger, a sealed value)."""

    code = "integrity"
    http_status = 500
    exit_code = EXIT_ERROR


TITLES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    406: "not acceptable",
    413: "request entity too large",
    415: "unsupported media type",
    422: "unprocessable entity",
    429: "too many requests",
    500: "internal error",
    503: "service unavailable",
}


class TaxiiError(TearlineError):
    """An error answered as a TAXII error message resource (TAXII 2.1 §3.6.1), raised by the TAXII
    edge and by the services behind it; ``status`` is its HTTP status."""

    exit_code = EXIT_ERROR

    def __init__(
        self,
        status: int,
        description: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = self.http_status = status
        self.description = description
        self.code = code or TITLES.get(status, "error").replace(" ", "_")
        self.headers = headers or {}
        self.details = details


def not_found() -> TaxiiError:
    """A withheld object, a foreign inbox and a missing one all answer with exactly these bytes."""
    return TaxiiError(404, "no such resource", code="not_found")
