"""The release decision for one item and one partner: the reference the vectorised engine must equal.

:func:`decide` is pure, deterministic and total. It evaluates every rule of ``docs/policy.md``,
reports every reason that applies (in :data:`RULES` order, parameters sorted), and the verdict is
the most severe verdict of any reason. Release needs every rule to pass; anything the engine cannot
evaluate withholds with ``POLICY_ERROR:<rule>``, naming the rule that failed (unlike an authoriser
that skips an erroring rule, which would let a broken forbid release data).

Default deny, structurally: :data:`LABEL_FIELDS` and :data:`PROFILE_FIELDS` name the rules that
read each field of a label and of a trust profile. A field that no rule reads (one a newer model
adds) withholds every decision with ``UNHANDLED:<field>``, and so does a value no rule is written
for (a negative level, a TLP that is not a :class:`Tlp`, a topic that is not a non-empty string).
Stored labels are parsed and checked at intake, so such values never reach the columns of the
vectorised engine, which therefore has no bit for them.

:data:`RULES` is the one list of rule kinds: their order is the order reasons are reported in, their
index is their bit in the reason masks of :mod:`tearline.policy.vector`, and their verdict is the
severity they carry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from tearline.canonical import format_timestamp
from tearline.model.markings import Label, MarkedItem, Tlp
from tearline.model.partners import TrustProfile
from tearline.model.releases import Decision, Reason, Verdict

__all__ = [
    "ALL",
    "LABEL_FIELDS",
    "PROFILE_FIELDS",
    "RULES",
    "approval_needed",
    "decide",
    "label_withholds",
    "originator_allows",
    "portion_kept",
    "profile_unhandled",
    "unhandled_fields",
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

#: The rules that read each field of a :class:`Label` (every field must be here, or it withholds).
LABEL_FIELDS: dict[str, tuple[str, ...]] = {
    "classification": (Reason.ABOVE_CLEARANCE,),
    "tlp": (Reason.TLP_ABOVE_CEILING, Reason.TLP_RED, Reason.ORIGINATOR_CONTROL),
    "rel_to": (Reason.NOT_IN_REL_TO, Reason.ORIGINATOR_CONTROL),
    "noforn": (Reason.NOFORN, Reason.ORIGINATOR_CONTROL),
    "orcon": (Reason.ORCON_APPROVAL_REQUIRED,),
    "topics": (Reason.TOPIC_EXCLUDED,),
    "source_refs": (Reason.SOURCE_PROTECTED,),
    "originator": (Reason.OWN_OBJECT, Reason.ORIGINATOR_CONTROL),
    "further_sharing": (Reason.ORIGINATOR_CONTROL,),
}
#: The rules that read each field of a :class:`TrustProfile`.
PROFILE_FIELDS: dict[str, tuple[str, ...]] = {
    "partner": (Reason.OWN_OBJECT, Reason.NOT_IN_REL_TO, Reason.ORIGINATOR_CONTROL),
    "clearance": (Reason.ABOVE_CLEARANCE,),
    "tlp_ceiling": (Reason.TLP_ABOVE_CEILING,),
    "excluded_topics": (Reason.TOPIC_EXCLUDED,),
    "embargo": (Reason.EMBARGO_UNTIL,),
    "sanitised_only": (Reason.SANITISED_ONLY,),
    "suspended": (Reason.SUSPENDED,),
    # read by the release pipeline's fingerprint stage, which changes bytes, never a verdict
    "fingerprint": (),
}


_UNHANDLED_BY_TYPE: dict[tuple[type, type], tuple[str, ...]] = {}


def unhandled_fields(label_type: type = Label, profile_type: type = TrustProfile) -> tuple[str, ...]:
    """The fields of a label or profile type that no rule reads (each withholds), sorted."""
    found = _UNHANDLED_BY_TYPE.get((label_type, profile_type))
    if found is None:
        names = {f.name for f in fields(label_type)} - LABEL_FIELDS.keys()
        names |= {f.name for f in fields(profile_type)} - PROFILE_FIELDS.keys()
        found = _UNHANDLED_BY_TYPE[(label_type, profile_type)] = tuple(sorted(names))
    return found


def _level(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _codes(v: Any) -> bool:
    return isinstance(v, frozenset) and all(isinstance(x, str) and x for x in v)


_LABEL_VALUES: dict[str, Callable[[Any], bool]] = {
    "classification": _level,
    "tlp": lambda v: isinstance(v, Tlp),
    "rel_to": _codes,
    "noforn": lambda v: isinstance(v, bool),
    "orcon": lambda v: isinstance(v, bool),
    "topics": _codes,
    "source_refs": _codes,
    "originator": lambda v: v is None or (isinstance(v, str) and bool(v)),
    "further_sharing": lambda v: v is None or _codes(v),
}
_PROFILE_VALUES: dict[str, Callable[[Any], bool]] = {
    "partner": lambda v: isinstance(v, str) and bool(v),
    "clearance": _level,
    "tlp_ceiling": lambda v: isinstance(v, Tlp),
    "excluded_topics": _codes,
    "embargo": lambda v: isinstance(v, timedelta),  # none when not positive
    "sanitised_only": lambda v: isinstance(v, bool),
    "suspended": lambda v: isinstance(v, bool),
    "fingerprint": lambda v: isinstance(v, bool),
}


def profile_unhandled(profile: TrustProfile) -> list[str]:
    """``UNHANDLED:<field>`` for every profile field that holds a value no rule is written for
    (the vectorised engine checks the profile with this before it computes)."""
    return [f"{Reason.UNHANDLED}:{n}" for n, ok in _PROFILE_VALUES.items() if not ok(getattr(profile, n, None))]


def _unhandled(item: MarkedItem, profile: TrustProfile) -> list[str]:
    """``UNHANDLED:<field>`` for every field no rule reads and every value no rule is written for."""
    bad = set(unhandled_fields(type(item.label), type(profile)))
    bad.update(n for n, ok in _PROFILE_VALUES.items() if not ok(getattr(profile, n, None)))
    for label in (item.label, *(p.label for p in item.portions)):
        bad.update(n for n, ok in _LABEL_VALUES.items() if not ok(getattr(label, n, None)))
    return [f"{Reason.UNHANDLED}:{n}" for n in sorted(bad)]


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
    item: MarkedItem, profile: TrustProfile, at: datetime, added: datetime, approved: bool, step: list[str]
) -> Decision:
    step[0] = "TIME"
    if at.tzinfo is None or added.tzinfo is None:
        raise ValueError("naive datetime")
    step[0] = Reason.UNHANDLED
    unhandled = _unhandled(item, profile)
    if unhandled:
        return Decision(Verdict.WITHHOLD, tuple(unhandled))
    label = item.label
    step[0] = Reason.OWN_OBJECT
    if label.originator is not None and label.originator == profile.partner:
        return Decision(Verdict.RELEASE, (Reason.OWN_OBJECT,))
    reasons: list[str] = []
    step[0] = Reason.SUSPENDED
    if profile.suspended:
        reasons.append(Reason.SUSPENDED)
    step[0] = "LABEL"  # clearance, TLP ceiling, NOFORN, REL TO, topics, originator control
    reasons.extend(label_withholds(label, profile))
    step[0] = "APPROVAL"  # TLP RED, ORCON
    needs = approval_needed(label)
    if not approved:
        reasons.extend(needs)
    step[0] = Reason.EMBARGO_UNTIL
    if profile.embargo > timedelta(0):
        until = added + profile.embargo
        if at < until:
            reasons.append(f"{Reason.EMBARGO_UNTIL}:{format_timestamp(until)}")
    step[0] = Reason.SANITISED_ONLY
    if profile.sanitised_only:
        reasons.append(Reason.SANITISED_ONLY)
    step[0] = Reason.SOURCE_PROTECTED
    if label.source_refs or any(p.label.source_refs for p in item.portions):
        reasons.append(Reason.SOURCE_PROTECTED)
    step[0] = Reason.PORTION_WITHHELD
    if not all(portion_kept(p.label, profile, approved) for p in item.portions):
        reasons.append(Reason.PORTION_WITHHELD)
    step[0] = "VERDICT"
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
    Never raises: an error in any rule withholds with ``POLICY_ERROR:<rule>``.
    """
    step = ["ITEM"]
    try:
        marked = item if isinstance(item, MarkedItem) else MarkedItem(item)
        return _decide(marked, profile, at, added, approved, step)
    except Exception:  # total by contract: a broken rule must deny, never release or raise
        return Decision(Verdict.WITHHOLD, (f"{Reason.POLICY_ERROR}:{step[0]}",))
