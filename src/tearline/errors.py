"""The one exception tree of tearline.

Every error a user can meet is a :class:`TearlineError`. Each class carries a stable ``code``, the
HTTP status a web edge answers with, and the process exit code a CLI edge exits with (0 ok, 1 error,
2 denied or withheld, 3 invalid input). Messages are safe to show: lower case, no final period,
user input in backticks. Third-party errors (``sqlite3``, ``psycopg``, ``orjson``) are translated
where they enter, never shown raw.
"""

from __future__ import annotations

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
