"""One exception tree: every error a user can meet is a TearlineError with a code, an HTTP status
and an exit code, and every one of them answers a TAXII request with the same error body shape."""

from __future__ import annotations

import asyncio
import inspect

import orjson
import pytest
from starlette.requests import Request

import tearline.errors as errors
from tearline.errors import EXIT_DENIED, EXIT_ERROR, EXIT_INVALID, TearlineError
from tearline.sanitize.scanner import GateError
from tearline.services.sync import PeerError
from tearline.web.taxii.errors import on_tearline_error


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_subclasses(sub)}
    return out


def _make(cls: type[TearlineError]) -> TearlineError:
    if cls is errors.TaxiiError:
        return errors.TaxiiError(400, "the body is not valid JSON", code="bad_json")
    if cls is errors.UiError:
        return errors.UiError(400, "reason missing", "a reason is required")
    return cls("something `x` went wrong")


ALL = sorted(_subclasses(TearlineError) | {PeerError, GateError}, key=lambda c: c.__name__)


def test_the_tree_holds_the_errors_of_every_edge() -> None:
    names = {c.__name__ for c in ALL}
    assert {"TaxiiError", "UiError", "BadCursor", "NoProfile", "GateError", "PeerError"} <= names
    assert issubclass(errors.NoProfile, LookupError)  # a missing key, still


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_has_a_code_a_status_and_an_exit_code(cls: type[TearlineError]) -> None:
    exc = _make(cls)
    assert isinstance(exc.code, str) and exc.code and exc.code == exc.code.lower()
    assert 400 <= exc.http_status <= 599
    assert exc.exit_code in (EXIT_ERROR, EXIT_DENIED, EXIT_INVALID)
    assert inspect.getdoc(cls)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_answers_taxii_with_one_body_shape(cls: type[TearlineError]) -> None:
    exc = _make(cls)
    request = Request({"type": "http", "method": "GET", "path": "/api/", "headers": [], "query_string": b""})
    response = asyncio.run(on_tearline_error(request, exc))
    body = orjson.loads(bytes(response.body))
    assert set(body) == {"title", "description", "error_code", "http_status"}
    assert body["http_status"] == str(response.status_code) == str(exc.http_status)
    if exc.http_status >= 500:
        assert body["description"] == "the server could not answer"  # exception text is never sent
    elif exc.http_status == 404:
        assert body["description"] == "no such resource"  # withheld and absent answer alike
    else:
        assert body["description"] == exc.message
