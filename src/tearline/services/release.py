"""The release pipeline: the one door out.

Every byte that leaves the node for a partner (TAXII responses, exports, federation pushes,
previews) is produced by :meth:`ReleasePipeline.release`, in this order:

1. **decide**: the scalar policy (:func:`tearline.policy.decide.decide`) under the partner's
   profile in force at the time of release, with its recorded approvals;
2. **tearline**: make the version this partner may see, rendered with the node's markings, with
   the marking definitions it cites (the node's own, and the statements the partner may see);
3. **fingerprint**: where the partner's profile has ``fingerprint`` on (the default), the object
   carries the partner's own codeword in meaning-preserving choices (list and property order,
   prose variants; :mod:`tearline.fingerprint`), so a leaked copy can be traced (docs/trace.md);
   choices inside a protected term are never made;
4. **serialise**: the exact bytes, object and definitions;
5. **gate**: the exact outgoing bytes, definitions included, are scanned for protected terms; a hit
   withholds and alerts;
6. **record**: the release is written (partner, object, version, SHA-256 of the bytes, verdict,
   reasons) and put in the ledger before the bytes are handed out; so is each definition sent with
   it (export and push carry them; over TAXII they are fetched by id through :meth:`definition`).

Any exception in any stage withholds that object for that partner (``PIPELINE_ERROR:<stage>``).
Stages are looked up in :attr:`ReleasePipeline.stages` so a test can inject a failure into each.
Callers hand in stored versions by ``seq``; the pipeline reads their bodies itself (nothing else
reads a stored body for a partner). No collaborator is optional: a node without protected terms
has an empty term set, not no gate.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from tearline.canonical import dumps, dumps_ordered, from_micros, loads, to_micros
from tearline.clock import Clock
from tearline.model.markings import MarkedItem
from tearline.model.partners import ProfileVersion, profile_in_force
from tearline.model.releases import Decision, Reason, Verdict
from tearline.policy.decide import decide, grade_visible, portion_kept
from tearline.sanitize.tearline import make_tearline
from tearline.services.decisions import Decisions, item_from_row
from tearline.services.fingerprints import Fingerprints
from tearline.services.ledger import Ledger
from tearline.services.markings import MarkingRegistry
from tearline.services.node import NodeInfo
from tearline.stix.markings import item_to_stix
from tearline.store import approvals as approvals_store
from tearline.store import egress
from tearline.store import partners as partners_store
from tearline.store import releases as releases_store
from tearline.store.engine import Database

log = logging.getLogger(__name__)

RECORDED_CHANNELS = ("taxii", "export", "push")
DEFINITION_CHANNELS = ("export", "push")  # channels whose bytes carry the definitions their objects cite


class Definition(NamedTuple):
    """A marking definition as it leaves: its id, version (``created``) and exact bytes."""

    id: str
    version: str
    body: bytes


@dataclass
class Candidate:
    """One object version on its way out to one partner; each stage fills in more."""

    partner: str
    seq: int
    stix_id: str
    version: str
    row: Any
    item: MarkedItem | None = None  # the row's labels, read once by the decide stage
    decision: Decision = field(default_factory=lambda: Decision(Verdict.WITHHOLD, ()))
    obj: dict[str, Any] | None = None
    definitions: list[dict[str, Any]] = field(default_factory=list)
    ordered: bool = False  # fingerprinted: its property order is one of the choices
    body: bytes | None = None
    definition_bodies: tuple[Definition, ...] = ()
    stopped_at: str | None = None
    release_id: int | None = None
    ledger_seq: int | None = None


@dataclass(frozen=True)
class Outcome:
    partner: str
    seq: int
    stix_id: str
    version: str
    verdict: Verdict
    reasons: tuple[str, ...]
    body: bytes | None  # the exact bytes released; None when not released
    definitions: tuple[Definition, ...] = ()  # the definitions it cites, as gated (and recorded)
    release_id: int | None = None
    ledger_seq: int | None = None  # the ledger entry that recorded this release

    @property
    def released(self) -> bool:
        return self.body is not None


@dataclass
class Context:
    """What the stages share for one call: partner, time, profile, approvals, channel."""

    partner: str
    at: datetime
    channel: str
    profile: ProfileVersion | None
    approved: set[str]
    record: bool


Stage = Callable[[Context, list[Candidate]], None]
SourceText = Callable[[bool], Callable[[str], str]]  # show grade? -> cover -> replacement text
class Gate(Protocol):
    """The gate stage's scanner (tearline.services.gate.Gate): refreshed once per call, then asked
    for the hits in each outgoing body; raises on any error."""

    def refresh(self) -> None: ...

    @property
    def version(self) -> str | None: ...

    def term_texts(self) -> tuple[str, ...]: ...

    def __call__(self, body: bytes) -> list[Any]: ...


class ReleasePipeline:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        node: NodeInfo,
        ledger: Ledger,
        *,
        decisions: Decisions,
        gate: Gate,
        sources: SourceText,
        markings: MarkingRegistry,
        fingerprints: Fingerprints,
    ) -> None:
        self.db = db
        self.clock = clock
        self.node = node
        self.ledger = ledger
        self.decisions = decisions  # for reference visibility
        self.gate = gate  # the protected-term scanner (no terms: an empty set)
        self.sources = sources  # what a source token becomes for a partner
        self.markings = markings  # the marking definitions objects cite
        self.fingerprints = fingerprints  # the node's fingerprint code
        self.stages: dict[str, Stage] = {
            "decide": self._decide,
            "tearline": self._tearline,
            "fingerprint": self._fingerprint,
            "serialise": self._serialise,
            "gate": self._gate,
            "record": self._record,
        }

    # -- the door -------------------------------------------------------------------------
    def release(
        self,
        partner: str,
        versions: Sequence[Any],
        *,
        channel: str,
        at: datetime | None = None,
        record: bool | None = None,
    ) -> list[Outcome]:
        """Run stored object versions through every stage for one partner, in ``seq`` order.

        ``versions``: their ``seq`` s (or anything with a ``seq``); the bodies are read here."""
        at = at or self.clock.now()
        do_record = channel in RECORDED_CHANNELS if record is None else record
        seqs = [v if isinstance(v, int) else int(v.seq) for v in versions]
        with self.db.read() as conn:
            rows = egress.full_rows(conn, seqs)
        cands = [
            Candidate(partner=partner, seq=int(r.seq), stix_id=str(r.stix_id), version=str(r.version), row=r)
            for r in rows
        ]
        try:
            ctx = self._context(partner, at, channel, do_record)
        except Exception:
            log.exception("release context failed for %s", partner)
            return [self._outcome(self._fail(c, "decide")) for c in cands]
        for name, stage in self.stages.items():
            live = [c for c in cands if c.stopped_at is None]
            if not live:
                break
            try:
                stage(ctx, live)
            except Exception:
                log.exception("release stage %s failed", name)
                for c in live:
                    self._fail(c, name)
        return [self._outcome(c) for c in cands]

    def _context(self, partner: str, at: datetime, channel: str, record: bool) -> Context:
        with self.db.read() as conn:
            history = partners_store.history(conn, partner)
            approved = approvals_store.approved_ids(conn, partner)
        return Context(partner, at, channel, profile_in_force(history, at), approved, record)

    def definition(self, partner: str, definition_id: str, *, at: datetime | None = None) -> bytes | None:
        """A marking definition the partner may see (see :mod:`tearline.services.markings`), decided,
        through the gate and recorded (in the ledger, at its first delivery) like every other
        outgoing byte; None when absent, not visible, or on any error (fail closed)."""
        at = at or self.clock.now()
        try:
            ctx = self._context(partner, at, "taxii", True)
            body = self.markings.definition(definition_id, ctx.profile.profile if ctx.profile else None, at)
            if body is None:
                return None
            definition = Definition(definition_id, str(loads(body).get("created", "")), body)
            self.gate.refresh()
            if self.gate(body):
                self._alert(ctx, [(definition_id, definition.version, "$")])
                return None
            with self.db.write() as conn:
                self._record_definitions(conn, ctx, [definition])
            return body
        except Exception:
            log.exception("marking definition %s for %s", definition_id, partner)
            return None

    # -- stages ---------------------------------------------------------------------------
    def _decide(self, ctx: Context, cands: list[Candidate]) -> None:
        for c in cands:
            if ctx.profile is None:
                c.decision = Decision(Verdict.WITHHOLD, (Reason.NO_PROFILE,))
            else:
                c.decision = decide(
                    self._item(c),
                    ctx.profile.profile,
                    ctx.at,
                    added=from_micros(int(c.row.date_added_us)),
                    approved=c.stix_id in ctx.approved,
                )
            if not c.decision.released:
                c.stopped_at = "decide"

    def _tearline(self, ctx: Context, cands: list[Candidate]) -> None:
        """The version this partner may see (tearline.sanitize.tearline), marked with the node's
        markings for what remains."""
        assert ctx.profile is not None  # the decide stage stops every candidate without a profile
        profile = ctx.profile.profile
        ref_visible = self._ref_visibility(ctx)
        source_text = self._source_text(grade_visible(profile))
        for c in cands:
            item = self._item(c)
            approved = c.stix_id in ctx.approved
            original = loads(c.row.body)
            result = make_tearline(
                original,
                item,
                portion_visible=lambda label, a=approved: portion_kept(label, profile, a),  # type: ignore[misc]
                ref_visible=ref_visible,
                source_text=source_text,
            )
            if result.obj is None:
                c.decision = Decision(Verdict.WITHHOLD, (*c.decision.reasons, str(result.withheld_reason)))
                c.stopped_at = "tearline"
                continue
            changed = bool(result.dropped) or bool(item.label.source_refs)
            if changed and c.decision.verdict is Verdict.RELEASE:
                c.decision = Decision(Verdict.RELEASE_TEARLINE, c.decision.reasons)
            marked, defs = item_to_stix(
                result.obj,
                replace(item, portions=result.portions),
                created=self.node.created,
                created_by_ref=self.node.identity_id,
            )
            statements = self._statements(c, original, ref_visible)
            if statements:
                marked["object_marking_refs"] = [*marked["object_marking_refs"], *(d["id"] for d in statements)]
                defs = [*defs, *statements]
            c.obj, c.definitions = marked, defs

    def _statements(self, c: Candidate, original: Any, ref_visible: Callable[[str], bool]) -> list[dict[str, Any]]:
        """The statement markings (copyright, terms of use) the stored object cites, kept next to
        the node's own markings where the partner may see the statement's definition object (an
        id alone tells that something exists: the reference rule)."""
        refs = original.get("object_marking_refs") if isinstance(original, dict) else None
        if not refs:
            return []
        return [d for d in self.markings.statements(str(c.row.collection_id), refs) if ref_visible(d["id"])]

    def _ref_visibility(self, ctx: Context) -> Callable[[str], bool]:
        view = self.decisions.view(ctx.partner, at=ctx.at)
        return self.decisions.id_visibility(view)

    def _source_text(self, show_grade: bool) -> Callable[[str], str]:
        return self.sources(show_grade)

    def _fingerprint(self, ctx: Context, cands: list[Candidate]) -> None:
        """The partner's codeword in each object (profile flag ``fingerprint``, on by default)."""
        assert ctx.profile is not None
        if not ctx.profile.profile.fingerprint:
            return
        self.gate.refresh()
        frozen = self.fingerprints.frozen(self.gate.version, self.gate.term_texts)
        for c in cands:
            assert c.obj is not None
            c.obj = self.fingerprints.apply(ctx.partner, c.obj, frozen)
            c.ordered = True

    def _serialise(self, ctx: Context, cands: list[Candidate]) -> None:
        """The exact bytes: the object's, and each definition it cites (rendered once per call)."""
        rendered: dict[str, Definition] = {}
        for c in cands:
            assert c.obj is not None
            c.body = dumps_ordered(c.obj) if c.ordered else dumps(c.obj)
            defs = []
            for d in c.definitions:
                if d["id"] not in rendered:
                    rendered[d["id"]] = Definition(d["id"], str(d.get("created", "")), dumps(d))
                defs.append(rendered[d["id"]])
            c.definition_bodies = tuple(defs)

    def _gate(self, ctx: Context, cands: list[Candidate]) -> None:
        """Every outgoing byte, definitions included: a hit in a definition withholds each object
        that cites it (it would leave with them, or be fetched for them)."""
        self.gate.refresh()
        alerts: list[tuple[str, str, str]] = []
        definition_hits: dict[str, list[str] | None] = {}  # id -> fields hit (None: gate error)
        for c in cands:
            assert c.body is not None
            hits = self._scan(c.body, c.stix_id, ctx)
            if hits != []:
                alerts.extend((c.stix_id, c.version, f) for f in hits or ["<gate error>"])
            cited_hit = False
            for d in c.definition_bodies:
                if d.id not in definition_hits:
                    definition_hits[d.id] = found = self._scan(d.body, d.id, ctx)
                    if found != []:
                        alerts.extend((d.id, d.version, f) for f in found or ["<gate error>"])
                cited_hit = cited_hit or definition_hits[d.id] != []
            if hits != [] or cited_hit:
                c.decision = Decision(Verdict.WITHHOLD, (*c.decision.reasons, Reason.GATE_HIT))
                c.body = None
                c.stopped_at = "gate"
        if alerts:
            self._alert(ctx, alerts)

    def _scan(self, body: bytes, what: str, ctx: Context) -> list[str] | None:
        """The fields of ``body`` the gate hit ([] when clean), None on any gate error."""
        try:
            hits = self.gate(body)
        except Exception:
            log.exception("gate error on %s for %s", what, ctx.partner)
            return None
        return sorted({getattr(h, "field", "$") for h in hits})

    def _alert(self, ctx: Context, alerts: Sequence[tuple[str, str, str]]) -> None:
        at_us = to_micros(ctx.at)
        with self.db.write() as conn:
            for stix_id, version, f in alerts:
                releases_store.add_alert(
                    conn, at_us=at_us, partner=ctx.partner, stix_id=stix_id, version=version, field=f,
                    channel=ctx.channel,
                )
                self.ledger.alert(conn, time=ctx.at, partner=ctx.partner, object_id=stix_id, version=version, field=f)

    def _record(self, ctx: Context, cands: list[Candidate]) -> None:
        if not ctx.record:
            return
        at_us = to_micros(ctx.at)
        with self.db.write() as conn:
            for c in cands:
                assert c.body is not None
                event = releases_store.ReleaseEvent(
                    partner=ctx.partner,
                    stix_id=c.stix_id,
                    version=c.version,
                    sha256=hashlib.sha256(c.body).hexdigest(),
                    verdict=c.decision.verdict.name,
                    reasons=",".join(c.decision.reasons),
                    channel=ctx.channel,
                    at_us=at_us,
                )
                c.release_id, c.ledger_seq = self._record_one(conn, ctx, event, c.decision.reasons)
            if ctx.channel in DEFINITION_CHANNELS:
                sent = {d.id: d for c in cands for d in c.definition_bodies}
                self._record_definitions(conn, ctx, [sent[k] for k in sorted(sent)])

    def _record_one(self, conn: Any, ctx: Context, event: releases_store.ReleaseEvent,
                    reasons: Sequence[str]) -> tuple[int, int | None]:
        """The release record and its ledger entry (made at the first delivery of these bytes)."""
        release_id, first = releases_store.record(conn, event)
        if not first:
            return release_id, releases_store.ledger_seq_of(conn, release_id)
        ledger_seq = self.ledger.release(
            conn, time=ctx.at, partner=ctx.partner, object_id=event.stix_id, version=event.version,
            sha256=event.sha256, verdict=event.verdict, reasons=tuple(reasons),
        )
        releases_store.set_ledger_seq(conn, release_id, ledger_seq)
        return release_id, ledger_seq

    def _record_definitions(self, conn: Any, ctx: Context, definitions: Sequence[Definition]) -> None:
        at_us = to_micros(ctx.at)
        for d in definitions:
            event = releases_store.ReleaseEvent(
                partner=ctx.partner, stix_id=d.id, version=d.version, sha256=hashlib.sha256(d.body).hexdigest(),
                verdict=Verdict.RELEASE.name, reasons="", channel=ctx.channel, at_us=at_us,
            )
            self._record_one(conn, ctx, event, ())

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _item(c: Candidate) -> MarkedItem:
        if c.item is None:
            c.item = item_from_row(c.row)
        return c.item

    @staticmethod
    def _fail(c: Candidate, stage: str) -> Candidate:
        c.decision = Decision(Verdict.WITHHOLD, (*c.decision.reasons, f"{Reason.PIPELINE_ERROR}:{stage}"))
        c.body = None
        c.stopped_at = stage
        return c

    @staticmethod
    def _outcome(c: Candidate) -> Outcome:
        released = c.stopped_at is None and c.body is not None
        return Outcome(
            partner=c.partner,
            seq=c.seq,
            stix_id=c.stix_id,
            version=c.version,
            verdict=c.decision.verdict if released or c.decision.verdict is Verdict.HOLD else Verdict.WITHHOLD,
            reasons=c.decision.reasons,
            body=c.body if released else None,
            definitions=c.definition_bodies if released else (),
            release_id=c.release_id,
            ledger_seq=c.ledger_seq,
        )
