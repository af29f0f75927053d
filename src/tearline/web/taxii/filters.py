"""Request filters (TAXII 2.1 §3.4 pagination, §3.5 filtering) parsed from the query string.

``added_after`` (a timestamp), ``match[id]``, ``match[type]``, ``match[spec_version]`` and
``match[version]`` (comma-separated ``first``, ``last``, ``all`` or timestamps; default ``last``),
``limit`` (1..the node's page limit; default the page limit) and ``next``. Unknown ``match[...]``
fields are a 400 (the specification lets a server refuse filters it does not support).
"""

from __future__ import annotations

import re

from starlette.datastructures import QueryParams

from tearline.canonical import parse_timestamp, to_micros
from tearline.services.serving import Filters, Match, VersionFilter

__all__ = ["MAX_VALUES", "Filters", "Match", "VersionFilter", "parse", "parse_versions"]
from tearline.web.taxii.errors import TaxiiError

_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}--[0-9a-fA-F-]{36}$")
_SPEC = re.compile(r"^[0-9]\.[0-9]{1,2}$")
_KNOWN = {"added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]"}
MAX_VALUES = 100


def _bad(text: str) -> TaxiiError:
    return TaxiiError(400, text, code="bad_filter")


def _values(params: QueryParams, name: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    raw = params.getlist(name)
    if not raw:
        return ()
    values = [v.strip() for item in raw for v in item.split(",") if v.strip()]
    if not values or len(values) > MAX_VALUES:
        raise _bad(f"`{name}` needs 1 to {MAX_VALUES} values")
    for v in values:
        if not pattern.match(v):
            raise _bad(f"`{name}` has a bad value `{v[:80]}`")
    return tuple(sorted(set(values)))


def _timestamp(name: str, text: str) -> int:
    try:
        return to_micros(parse_timestamp(text))
    except (ValueError, TypeError):
        raise _bad(f"`{name}` is not a timestamp: `{text[:80]}`") from None


def parse_versions(params: QueryParams) -> VersionFilter:
    raw = params.getlist("match[version]")
    if not raw:
        return VersionFilter()
    items = [v.strip() for item in raw for v in item.split(",") if v.strip()]
    if not items or len(items) > MAX_VALUES:
        raise _bad(f"`match[version]` needs 1 to {MAX_VALUES} values")
    words = {v for v in items if v in ("first", "last", "all")}
    stamps = tuple(sorted({_timestamp("match[version]", v) for v in items if v not in words}))
    if "all" in words:
        return VersionFilter(first=False, last=False, all=True)
    return VersionFilter(first="first" in words, last="last" in words, all=False, at_us=stamps)


def parse(params: QueryParams, *, page_limit: int, versions: bool = True) -> Filters:
    for key in params:
        if key not in _KNOWN:
            raise _bad(f"unsupported query parameter `{key[:80]}`")
    added = params.get("added_after")
    added_us = _timestamp("added_after", added) if added else None
    limit = page_limit
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise _bad(f"`limit` is not a number: `{params['limit'][:40]}`") from None
        if limit < 1:
            raise _bad("`limit` must be at least 1")
        limit = min(limit, page_limit)
    match = Match(
        ids=_values(params, "match[id]", _ID),
        types=_values(params, "match[type]", _TYPE),
        spec_versions=_values(params, "match[spec_version]", _SPEC),
        added_after_us=added_us,
    )
    if not versions and "match[version]" in params:
        raise _bad("`match[version]` is not supported here")
    return Filters(match, parse_versions(params) if versions else VersionFilter(all=True), limit, params.get("next"))
