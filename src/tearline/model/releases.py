"""Verdicts, decisions and their stable reason codes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Verdict(IntEnum):
    """Ordered by severity: the most severe verdict any rule gives wins."""

    RELEASE = 0
    RELEASE_TEARLINE = 1
    HOLD = 2
    WITHHOLD = 3


class Reason:
    """Stable reason codes. Parametrised codes are ``CODE:<value>``."""

    OWN_OBJECT = "OWN_OBJECT"
    ABOVE_CLEARANCE = "ABOVE_CLEARANCE"
    TLP_ABOVE_CEILING = "TLP_ABOVE_CEILING"
    TLP_RED = "TLP_RED_APPROVAL_REQUIRED"
    NOT_IN_REL_TO = "NOT_IN_REL_TO"
    NOFORN = "NOFORN"
    TOPIC_EXCLUDED = "TOPIC_EXCLUDED"  # :<topic>
    EMBARGO_UNTIL = "EMBARGO_UNTIL"  # :<time>
    ORCON_APPROVAL_REQUIRED = "ORCON_APPROVAL_REQUIRED"
    SUSPENDED = "SUSPENDED"
    ORIGINATOR_CONTROL = "ORIGINATOR_CONTROL"  # :<originator>
    SANITISED_ONLY = "SANITISED_ONLY"
    SOURCE_PROTECTED = "SOURCE_PROTECTED"
    PORTION_WITHHELD = "PORTION_WITHHELD"
    APPROVED = "APPROVED"
    NO_PROFILE = "NO_PROFILE"
    NO_TEARLINE = "TEARLINE_UNAVAILABLE"
    POLICY_ERROR = "POLICY_ERROR"  # :<rule that failed>
    UNHANDLED = "UNHANDLED"  # :<label or profile field no rule handles, or holds a value none is written for>
    PIPELINE_ERROR = "PIPELINE_ERROR"  # :<stage>
    GATE_HIT = "GATE_HIT"
    REQUIRED_PROPERTY = "REQUIRED_PROPERTY_WITHHELD"  # :<property>
    REF_WITHHELD = "REF_WITHHELD"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reasons: tuple[str, ...] = ()

    @property
    def released(self) -> bool:
        return self.verdict in (Verdict.RELEASE, Verdict.RELEASE_TEARLINE)
