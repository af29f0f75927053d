"""Overview and partner pages: flows, reciprocity, approvals, alerts; profile history, what-if,
scale-back and restore. Handlers parse the request, call one or two services and render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import numpy as np
from starlette.responses import RedirectResponse, Response

from tearline.errors import InvalidInput, UiError
from tearline.model.partners import Partner
from tearline.services.users import Role
from tearline.web.ui import charts
from tearline.web.ui.auth import Ctx, href, page, secure
from tearline.web.ui.deps import UiDeps
from tearline.web.ui.whatif import TLPS, WhatIfForm, profile_text, timeline, whatif_view

UNKNOWN = 255


@dataclass(frozen=True)
class PartnerState:
    partner: Partner
    version: int
    text: dict[str, str]
    release: int
    tearline: int
    awaiting: int  # held for an ORCON / TLP:RED approval
    embargoed: int
    withhold: int


def partner_state(deps: UiDeps, p: Partner) -> PartnerState:
    """Verdict counts over every stored version, from the partner's materialised decisions."""
    view = deps.decisions.view(p.code)
    cols, _ = deps.decisions.columns()
    seq = cols.seq[cols.seq < len(view.verdicts)]
    added = cols.added_us[cols.seq < len(view.verdicts)]
    v = view.verdicts[seq]
    released = (v == 0) | (v == 1)
    cutoff = view.embargo_cutoff_us
    late = released & (added > cutoff) if cutoff is not None else np.zeros_like(released)
    return PartnerState(
        partner=p,
        version=view.profile.version,
        text=profile_text(view.profile.profile, deps.scheme),
        release=int(((v == 0) & ~late).sum()),
        tearline=int(((v == 1) & ~late).sum()),
        awaiting=int((v == 2).sum()),
        embargoed=int(late.sum()),
        withhold=int((v == 3).sum() + (v == UNKNOWN).sum() + (len(cols) - len(seq))),
    )


@page()
def overview(ctx: Ctx) -> Response:
    d = ctx.deps
    now = d.clock.now()
    states = [partner_state(d, p) for p in d.trust.partners()]
    flows = d.reports.daily_flows(now, days=30)
    days = [f.day.strftime("%d %b") for f in flows]
    out_chart = charts.bars(days, [("released", [f.released for f in flows])],
                            title="object versions released to partners per day, last 30 days", label_every=5)
    in_chart = charts.bars(days, [("received", [f.received for f in flows])],
                           title="object versions received from partners per day, last 30 days", label_every=5)
    recip = d.reports.reciprocity()
    codes = {s.partner.code for s in states}
    recip_rows = [r for r in recip if r.partner in codes] + [r for r in recip if r.partner not in codes]
    balance = charts.balance([(r.partner, r.released, r.received) for r in recip_rows],
                             title="reciprocity: released to each partner against received from it")
    return ctx.render(
        "overview.html",
        states=states,
        flows=flows,
        out_chart=out_chart,
        in_chart=in_chart,
        out_total=sum(f.released for f in flows),
        in_total=sum(f.received for f in flows),
        recip=recip_rows,
        balance=balance,
        approvals=d.reports.active_approvals(),
        alerts=d.reports.recent_alerts(),
        changes=d.reports.recent_changes(),
        recent=d.reports.recent_objects(),
        title="overview",
    )


@page()
def partner(ctx: Ctx) -> Response:
    d = ctx.deps
    code = str(ctx.request.path_params["code"]).upper()
    p = d.trust.get(code)
    form = WhatIfForm.read(ctx.request.query_params)
    history = d.trust.history(code)
    state = partner_state(d, p)
    report = None
    error = None
    if form.asked:
        try:
            report = whatif_view(d.insight.whatif(code, form.change(), since=form.since_time()))
        except InvalidInput as exc:
            error = exc.message
    flows = d.reports.daily_flows(d.clock.now(), days=30, partner=code)
    flow_chart = charts.bars(
        [f.day.strftime("%d %b") for f in flows],
        [("released", [f.released for f in flows]), ("received", [f.received for f in flows])],
        title=f"object versions released to and received from {code} per day, last 30 days",
        label_every=5,
    )
    cols, _ = d.decisions.columns()
    topics = sorted(n for n in cols.topic_vocab.names if n)
    return ctx.render(
        "partner.html",
        title=f"partner {code}",
        p=p,
        state=state,
        entries=timeline(history, state.version, d.scheme),
        form=form,
        report=report,
        error=error,
        flow_chart=flow_chart,
        levels=d.scheme.names,
        tlps=TLPS,
        topics=topics,
        can_apply=ctx.user.can(Role.OFFICER),
        applied=ctx.request.query_params.get("applied", ""),
        default_since=(d.clock.now() - timedelta(days=365)).date().isoformat(),
    )


def _reason(ctx: Ctx) -> str:
    reason = ctx.field("reason")
    if not reason:
        raise UiError(400, "reason missing", "a reason is required; go back and give one")
    return reason


@page(Role.OFFICER)
def apply_change(ctx: Ctx) -> Response:
    """Apply the scale-back that the what-if showed: a new profile version, narrowing only."""
    code = str(ctx.request.path_params["code"]).upper()
    form = WhatIfForm.read(ctx.form or {})
    if not form.asked:
        raise UiError(400, "nothing to apply", "give at least one profile option to change")
    reason = _reason(ctx)
    pv = ctx.deps.trust.change(code, form.change(), reason=reason, approved_by=ctx.user.name, narrowing_only=True)
    return _back(ctx, code, pv.version)


@page(Role.OFFICER)
def restore(ctx: Ctx) -> Response:
    """Make a new profile version equal to an earlier one."""
    code = str(ctx.request.path_params["code"]).upper()
    try:
        version = int(ctx.field("version"))
    except ValueError:
        raise UiError(400, "version missing", "choose the version to restore") from None
    reason = _reason(ctx)
    pv = ctx.deps.trust.restore(code, version, reason=reason, approved_by=ctx.user.name)
    return _back(ctx, code, pv.version)


def _back(ctx: Ctx, code: str, version: int) -> Response:
    url = href(ctx.request, f"/partners/{code}") + "?" + urlencode({"applied": str(version)}) + "#history"
    return secure(RedirectResponse(url, 303))

