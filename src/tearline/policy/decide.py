"""The release decision for one item and one partner: the reference the vectorised engine must equal.

:func:`decide` is pure, deterministic and total. It evaluates every rule of ``docs/policy.md``,
reports every reason that applies (in :data:`RULES` order, parameters sorted), and the verdict is
the most severe verdict of any reason. Release needs every rule to pass; anything the engine cannot
evaluate withholds with ``POLICY_ERROR`` (unlike an authoriser that skips an erroring rule, which
would let a broken forbid release data).

:data:`RULES` is the one list of rule kinds: their order is the order reasons are reported in, their
index is their bit in the reason masks of :mod:`tearline.policy.vector`, and their verdict is the
severity they carry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tearline.canonical import format_timestamp
from tearline.model.markings import Label, MarkedItem, Tlp
from tearline.model.partners import TrustProfile
from tearline.model.releases import Decision, Reason, Verdict

__all__ = [
    "ALL",
    "RULES",
    "approval_needed",
    "decide",
    "label_withholds",
    "originator_allows",
    "portion_kept",
]

#: The further-sharing entry that lets the recipient pass an item on to anyone.
ALL = "ALL"

#: Every rule kind, in report order, with the verdict it gives. The index is the rule's bit.
RULES: tuple[tuple[str, Verdict], ...] = (
    (Reason.OWN_OBJECT, Verdict.RELEASE),
    (Reason.SUSPENDED, Verdict.WITHHOLD),
    (Reason.ABOVE_CLEARANCE, Verdict.WITHHOLD),
    (Reason.TLP_ABOVE_CEILING, Verdict.WITHHOLD),
    (Reason.NOFORN, Verdict.WITHHOLD),
    (Reason.NOT_IN_REL_TO, Verdict.WITHHOLD),
    (Reason.TOPIC_EXCLUDED, Verdict.WITHHOLD),
    (Reason.ORIGINATOR_CONTROL, Verdict.WITHHOLD),
    (Reason.TLP_RED, Verdict.HOLD),
    (Reason.ORCON_APPROVAL_REQUIRED, Verdict.HOLD),
    (Reason.EMBARGO_UNTIL, Verdict.HOLD),
    (Reason.SANITISED_ONLY, Verdict.RELEASE_TEARLINE),
    (Reason.SOURCE_PROTECTED, Verdict.RELEASE_TEARLINE),
    (Reason.PORTION_WITHHELD, Verdict.RELEASE_TEARLINE),
    (Reason.APPROVED, Verdict.RELEASE),
    (Reason.POLICY_ERROR, Verdict.WITHHOLD),
)
_SEVERITY = {code: verdict for code, verdict in RULES}
_ERROR = Decision(Verdict.WITHHOLD, (Reason.POLICY_ERROR,))


def originator_allows(label: Label, recipient: str) -> bool:
    """Whether the originator's own markings let this node pass the item on to ``recipient``.

    Further sharing decides when given (``ALL`` or the recipient named); else REL TO when given;
    else only TLP CLEAR and GREEN pass on. NOFORN and TLP AMBER+STRICT or above never pass on.
    """
    if label.noforn or label.tlp >= Tlp.AMBER_STRICT:
        return False
    if label.further_sharing is not None:
        return recipient in label.further_sharing or ALL in label.further_sharing
    if label.rel_to:
        return recipient in label.rel_to
    return label.tlp <= Tlp.GREEN


def label_withholds(label: Label, profile: TrustProfile) -> list[str]:
    """The withholding reasons a label gives on its own (not ``SUSPENDED``, a profile-wide rule).

    In :data:`RULES` order; ``TOPIC_EXCLUDED`` once per excluded topic, sorted.
    """
    partner = profile.partner
    out: list[str] = []
    if label.classification > profile.clearance:
        out.append(Reason.ABOVE_CLEARANCE)
    if label.tlp > profile.tlp_ceiling:
        out.append(Reason.TLP_ABOVE_CEILING)
    if label.noforn:
        out.append(Reason.NOFORN)
    if label.rel_to and partner not in label.rel_to:
        out.append(Reason.NOT_IN_REL_TO)
    out.extend(f"{Reason.TOPIC_EXCLUDED}:{t}" for t in sorted(label.topics & profile.excluded_topics))
    origin = label.originator
    if origin is not None and origin != partner and not originator_allows(label, partner):
        out.append(f"{Reason.ORIGINATOR_CONTROL}:{origin}")
    return out


def approval_needed(label: Label) -> list[str]:
    """The holding reasons an approval lifts: TLP RED and ORCON."""
    out: list[str] = []
    if label.tlp == Tlp.RED:
        out.append(Reason.TLP_RED)
    if label.orcon:
        out.append(Reason.ORCON_APPROVAL_REQUIRED)
    return out


GRADE_CLEARANCE = 2  # CONFIDENTIAL in the default scheme


def grade_visible(profile: TrustProfile) -> bool:
    """Whether a cited source shows as its Admiralty grade ("a source graded B2") or only as "a source".

    The grade is shown to partners cleared CONFIDENTIAL or above that are not sanitised-only.
    """
    return profile.clearance >= GRADE_CLEARANCE and not profile.sanitised_only


def portion_kept(label: Label, profile: TrustProfile, approved: bool) -> bool:
    """Whether a portion (field-level label) stays in what the partner receives.

    The partner's own portions stay. Otherwise the portion label is judged by the label rules
    (clearance, TLP ceiling, NOFORN, REL TO, topics, originator control): any of them strips it.
    A portion is never *held*: TLP RED or ORCON strips it unless the item is approved for the
    partner (an approval covers the whole object). Embargo and suspension are decided for the whole
    item, not per portion.
    """
    if label.originator is not None and label.originator == profile.partner:
        return True
    if label_withholds(label, profile):
        return False
    return approved or not approval_needed(label)


def _decide(
    item: MarkedItem, profile: TrustProfile, at: datetime, added: datetime, approved: bool
) -> Decision:
    if at.tzinfo is None or added.tzinfo is None:
        raise ValueError("naive datetime")
    label = item.label
    if label.originator is not None and label.originator == profile.partner:
        return Decision(Verdict.RELEASE, (Reason.OWN_OBJECT,))
    reasons: list[str] = []
    if profile.suspended:
        reasons.append(Reason.SUSPENDED)
    reasons.extend(label_withholds(label, profile))
    needs = approval_needed(label)
    if not approved:
        reasons.extend(needs)
    if profile.embargo > timedelta(0):
        until = added + profile.embargo
        if at < until:
            reasons.append(f"{Reason.EMBARGO_UNTIL}:{format_timestamp(until)}")
    if profile.sanitised_only:
        reasons.append(Reason.SANITISED_ONLY)
    if label.source_refs or any(p.label.source_refs for p in item.portions):
        reasons.append(Reason.SOURCE_PROTECTED)
    if not all(portion_kept(p.label, profile, approved) for p in item.portions):
        reasons.append(Reason.PORTION_WITHHELD)
    verdict = max((_SEVERITY[r.split(":", 1)[0]] for r in reasons), default=Verdict.RELEASE)
    if approved and needs and verdict <= Verdict.RELEASE_TEARLINE:
        reasons.append(Reason.APPROVED)
    return Decision(verdict, tuple(reasons))


def decide(
    item: MarkedItem | Label,
    profile: TrustProfile,
    at: datetime,
    *,
    added: datetime,
    approved: bool = False,
) -> Decision:
    """Whether the version of ``item`` added at ``added`` may go to ``profile.partner`` at ``at``.

    ``approved`` says a recorded approval (ORCON, TLP RED) exists for this item and partner.
    Never raises: an error in any rule withholds with ``POLICY_ERROR``.
    """
    try:
        marked = item if isinstance(item, MarkedItem) else MarkedItem(item)
        return _decide(marked, profile, at, added, approved)
    except Exception:  # total by contract: a broken rule must deny, never release or raise
        return _ERROR
