"""TAXII 2.1 media types (§1.6.8, §3.2): what a request may accept and send.

Accepted ``Accept`` values: ``application/taxii+json`` with no ``version`` or ``version=2.1``, and
the HTTP wildcards ``*/*`` and ``application/*`` (answered with the 2.1 type). Anything else is 406.
A request body must be ``application/taxii+json`` (no version or ``version=2.1``), else 415.
"""

from __future__ import annotations

TAXII_21 = "application/taxii+json;version=2.1"
STIX_21 = "application/stix+json;version=2.1"


def _parse(value: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in value.split(","):
        pieces = [p.strip() for p in part.split(";")]
        kind = pieces[0].lower()
        if not kind:
            continue
        params: dict[str, str] = {}
        for p in pieces[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip().lower()] = v.strip().strip('"')
        out.append((kind, params))
    return out


def _taxii(kind: str, params: dict[str, str]) -> bool:
    return kind == "application/taxii+json" and params.get("version", "2.1") == "2.1"


def acceptable(accept: str | None) -> bool:
    """Whether an ``Accept`` header allows the TAXII 2.1 media type."""
    if not accept:
        return False
    for kind, params in _parse(accept):
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if _taxii(kind, params) or kind in ("*/*", "application/*"):
            return True
    return False


def sendable(content_type: str | None) -> bool:
    """Whether a request ``Content-Type`` is the TAXII 2.1 media type."""
    if not content_type:
        return False
    parsed = _parse(content_type)
    return len(parsed) == 1 and _taxii(*parsed[0])
