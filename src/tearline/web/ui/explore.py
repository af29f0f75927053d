"""Item page (what each partner receives), ledger explorer with its JSON API, vault summaries.

The item page asks the release pipeline for every partner's version (``Insight.preview``: the
pipeline run without recording), so it shows exactly what would leave the node. The ledger JSON
under ``/ui/ledger/api/`` has the shapes of docs/ledger.md's partner endpoints, for operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tearline.canonical import from_micros, loads
from tearline.errors import InvalidInput, NotFound
from tearline.services.release import Outcome
from tearline.services.users import Role
from tearline.web.ui.auth import Ctx, page, secure
from tearline.web.ui.diff import FieldChange, field_diff

MAX_LEAVES = 1000
PAGE = 25


@dataclass(frozen=True)
class PartnerCopy:
    partner: str
    name: str
    verdict: str
    reasons: tuple[str, ...]
    released: bool
    diff: list[FieldChange]


def _copy(full: dict[str, Any], name: str, outcome: Outcome) -> PartnerCopy:
    diff = field_diff(full, loads(outcome.body)) if outcome.body is not None else []
    return PartnerCopy(outcome.partner, name, outcome.verdict.name, outcome.reasons, outcome.body is not None, diff)


@page()
def item(ctx: Ctx) -> Response:
    d = ctx.deps
    stix_id = str(ctx.request.path_params["stix_id"]).strip()
    versions = d.reports.versions(stix_id)
    if not versions:
        raise NotFound(f"no object `{stix_id}`")
    latest = versions[-1]
    full = loads(latest.body)
    copies = [_copy(full, p.name, d.insight.preview(p.code, stix_id)) for p in d.trust.partners()]
    return ctx.render(
        "item.html",
        title=stix_id,
        stix_id=stix_id,
        latest=latest,
        versions=versions[::-1],
        full=full,
        obj_name=full.get("name") or full.get("value") or full.get("pattern") or "",
        copies=copies,
    )


@page()
def lookup(ctx: Ctx) -> Response:
    """The "open an item" box: redirect to the item page."""
    from urllib.parse import quote

    from starlette.responses import RedirectResponse

    from tearline.web.ui.auth import href

    stix_id = ctx.request.query_params.get("id", "").strip()
    if not stix_id:
        raise InvalidInput("give a STIX id such as `report--…`")
    return secure(RedirectResponse(href(ctx.request, "/items/" + quote(stix_id, safe="-")), 303))


def _int(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"`{name}` must be a whole number, not `{raw}`") from None
    if value < 0:
        raise InvalidInput(f"`{name}` cannot be negative")
    return value


@page()
def ledger(ctx: Ctx) -> Response:
    d = ctx.deps
    q = ctx.request.query_params
    partner = q.get("partner", "").strip().upper() or None
    stix_id = q.get("object", "").strip() or None
    before = _int(ctx.request, "before")
    head = d.ledger.head()
    rows = d.reports.ledger_search(partner=partner, stix_id=stix_id, before=before, limit=PAGE)
    return ctx.render(
        "ledger.html",
        title="ledger",
        head=head,
        root=head.root.hex() if head else "",
        signed_at=from_micros(head.timestamp_us) if head else None,
        public_key=d.ledger.public_key().hex(),
        rows=[(r, loads(r.leaf)) for r in rows],
        partner=partner or "",
        object=stix_id or "",
        older=rows[-1].seq if len(rows) == PAGE else None,
        partners=[p.code for p in d.trust.partners()],
    )


@page(api=True)
def api_head(ctx: Ctx) -> Response:
    """``GET /ledger/v1/head`` (docs/ledger.md, HTTP endpoints), for operators."""
    head = ctx.deps.ledger.head()
    if head is None:
        raise NotFound("the ledger is empty")
    return secure(JSONResponse(head.to_json()))


@page(api=True)
def api_inclusion(ctx: Ctx) -> Response:
    """``GET /ledger/v1/proof/inclusion?seq=N&size=M`` (RFC 9162 §2.1.3), for operators."""
    seq = _int(ctx.request, "seq")
    if seq is None:
        raise InvalidInput("`seq` is required")
    proof = ctx.deps.ledger.prove(seq, _int(ctx.request, "size"))
    return secure(JSONResponse({"seq": proof.seq, "size": proof.size, "path": [h.hex() for h in proof.path]}))


@page(api=True)
def api_consistency(ctx: Ctx) -> Response:
    """``GET /ledger/v1/proof/consistency?first=A&second=B`` (RFC 9162 §2.1.4), for operators."""
    first = _int(ctx.request, "first")
    if first is None:
        raise InvalidInput("`first` is required")
    a, b, path = ctx.deps.ledger.consistency(first, _int(ctx.request, "second"))
    return secure(JSONResponse({"first": a, "second": b, "path": [h.hex() for h in path]}))


@page(api=True)
def api_leaves(ctx: Ctx) -> Response:
    """``GET /ledger/v1/leaves?start=A&end=B``; operators get every leaf in full."""
    start = _int(ctx.request, "start", 0) or 0
    end = _int(ctx.request, "end", start + 100)
    assert end is not None
    if end < start or end - start > MAX_LEAVES:
        raise InvalidInput(f"`start` and `end` must satisfy start <= end <= start + {MAX_LEAVES}")
    leaves = [{"seq": r.seq, "leaf_hash": r.leaf_hash, "leaf": r.leaf} for r in ctx.deps.reports.leaves(start, end)]
    return secure(JSONResponse({"start": start, "end": end, "leaves": leaves}))


@page()
def vault(ctx: Ctx) -> Response:
    """Sources by cover name, grade, compartments and term counts: nothing that names anyone."""
    return ctx.render("vault.html", title="source vault", sources=ctx.deps.vault_summaries())


MAX_LEAK_BYTES = 20 * 1024 * 1024


@page(Role.OFFICER)
def trace(ctx: Ctx) -> Response:
    """Paste or upload a leak; see which partner's copy it came from (docs/trace.md)."""
    result = None
    pasted = ""
    if ctx.form is not None:
        pasted = ctx.field("leak")
        files: list[tuple[str, bytes]] = []
        if pasted:
            files.append(("pasted text", pasted.encode()))
        for up in ctx.form.getlist("file"):
            if isinstance(up, str) or not getattr(up, "filename", ""):
                continue
            data = up.file.read(MAX_LEAK_BYTES + 1)
            if len(data) > MAX_LEAK_BYTES:
                raise InvalidInput(f"`{up.filename}` is larger than {MAX_LEAK_BYTES // (1024 * 1024)} MiB")
            files.append((str(up.filename), data))
        if not files:
            raise InvalidInput("paste the leaked text or choose a file")
        result = ctx.deps.trace(files)
    return ctx.render("trace.html", title="trace a leak", result=result, pasted=pasted)
