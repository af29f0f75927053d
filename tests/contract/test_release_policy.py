"""Materialised decisions, effective-dated profiles, approvals, what-if and the pipeline, on SQLite
and PostgreSQL, over the synthetic scenario."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.data import T0

from tearline.canonical import from_micros, loads
from tearline.demo.scenario import build_scenario
from tearline.model.labeltext import parse_label
from tearline.model.partners import profile_in_force
from tearline.model.releases import Reason, Verdict
from tearline.model.sources import Grade, SourceIdentity
from tearline.policy.decide import decide
from tearline.services.decisions import item_from_row
from tearline.services.intake import IngestSummary, Prepared
from tearline.services.prepare import label_object
from tearline.services.trust import ProfileChange
from tearline.store import nodes
from tearline.store import objects as objects_store


@pytest.fixture
def loaded(node):  # type: ignore[no-untyped-def]
    scenario = build_scenario(seed=11, now=T0, size=600)
    for p in scenario.partners:
        node.trust.add_partner(
            p.code, p.name,
            ProfileChange(clearance=p.clearance, tlp_ceiling=p.tlp_ceiling, exclude_topics=p.excluded_topics,
                          embargo=timedelta(days=p.embargo_days), sanitised_only=p.sanitised_only),
            effective_from=T0 - timedelta(days=800), approved_by="test", reason="setup",
        )
    with node.db.read() as conn:
        shared = nodes.find_collection(conn, "shared")
    prepared, times = [], []
    for item in scenario.items:
        prepared.append(Prepared(obj=item.obj, item=label_object(item.obj, {}, parse_label(item.label))))
        times.append(item.added)
    node.intake.store(prepared, collection_id=shared.id, added=times, summary=IngestSummary())
    return node, scenario


def _rows(node):  # type: ignore[no-untyped-def]
    with node.db.read() as conn:
        return objects_store.rows_by_seq(conn, list(range(1, objects_store.max_seq(conn) + 1)))


def _scalar(node, code, rows, at):  # type: ignore[no-untyped-def]
    pv = profile_in_force(node.trust.history(code), at)
    with node.db.read() as conn:
        from tearline.store.approvals import approved_ids

        approved = approved_ids(conn, code)
    return {
        r.seq: decide(item_from_row(r), pv.profile, at, added=from_micros(r.date_added_us),
                      approved=r.stix_id in approved)
        for r in rows
    }


def test_materialised_decisions_equal_scalar_decide(loaded):  # type: ignore[no-untyped-def]
    node, scenario = loaded
    rows = _rows(node)
    at = node.clock.now()
    for p in scenario.partners:
        view = node.decisions.view(p.code)
        expected = _scalar(node, p.code, rows, at)
        for r in rows:
            assert view.released(r.seq, r.date_added_us) == expected[r.seq].released, (p.code, r.seq)


def test_profile_effective_later_applies_without_restart(loaded):  # type: ignore[no-untyped-def]
    node, scenario = loaded
    code, topic = scenario.scale_back
    rows = _rows(node)
    topical = [r for r in rows if topic in r.topics.split(",")]
    assert topical
    before = node.decisions.released_seqs(code)
    assert any(r.seq in before for r in topical)
    node.trust.change(code, ProfileChange(exclude_topics=(topic,)), reason="later", approved_by="t",
                      effective_from=node.clock.now() + timedelta(days=1))
    assert node.decisions.released_seqs(code) == before  # not yet in force
    node.clock.advance(timedelta(days=2))
    after = node.decisions.released_seqs(code)  # same process, no restart
    assert not any(r.seq in after for r in topical)
    assert after < before


def test_embargo_boundary(loaded):  # type: ignore[no-untyped-def]
    node, _ = loaded
    code = "CAN"
    node.trust.change(code, ProfileChange(embargo=timedelta(days=3)), reason="embargo", approved_by="t")
    newest = max(_rows(node), key=lambda r: r.date_added_us)
    added = from_micros(newest.date_added_us)
    released_now = node.decisions.view(code, at=added + timedelta(days=3) - timedelta(microseconds=1))
    released_at = node.decisions.view(code, at=added + timedelta(days=3))
    scalar = _scalar(node, code, [newest], added + timedelta(days=3))[newest.seq]
    assert not released_now.released(newest.seq, newest.date_added_us)
    assert released_at.released(newest.seq, newest.date_added_us) == scalar.released


def test_orcon_approval_and_revocation(loaded):  # type: ignore[no-untyped-def]
    node, _ = loaded
    rows = _rows(node)
    at = node.clock.now()
    code = "USA"
    scalar = _scalar(node, code, rows, at)
    held = [r for r in rows if scalar[r.seq].reasons == (Reason.ORCON_APPROVAL_REQUIRED,)]
    assert held, "the scenario has ORCON items USA may otherwise see"
    target = held[0]
    out = node.release.release(code, [target], channel="preview", record=False)[0]
    assert out.verdict is Verdict.HOLD and out.body is None
    approval = node.approvals.approve(target.stix_id, code, by="Head of Liaison", reason="operational need")
    assert target.seq in node.decisions.released_seqs(code)
    out = node.release.release(code, [target], channel="preview", record=False)[0]
    assert out.body is not None and Reason.APPROVED in out.reasons
    assert loads(out.body)["id"] == target.stix_id
    node.approvals.revoke(approval.id, by="Head of Liaison", reason="no longer needed")
    assert target.seq not in node.decisions.released_seqs(code)
    assert node.release.release(code, [target], channel="preview", record=False)[0].body is None


def test_scale_back_matches_whatif_object_by_object(loaded):  # type: ignore[no-untyped-def]
    node, scenario = loaded
    code, topic = scenario.scale_back
    change = ProfileChange(exclude_topics=(topic,))
    before = node.decisions.view(code)
    report = node.insight.whatif(code, change)
    assert report.changed_seq
    node.trust.change(code, change, reason="scale back", approved_by="t", narrowing_only=True)
    after = node.decisions.view(code)
    changed = {s for s in range(len(after.verdicts)) if before.verdict(s) != after.verdict(s)}
    assert changed == set(report.changed_seq)
    assert report.after["WITHHOLD"] - report.before["WITHHOLD"] == len(report.changed_seq)


@pytest.mark.parametrize("stage", ["decide", "tearline", "fingerprint", "serialise", "gate", "record"])
def test_any_exception_in_any_stage_withholds(loaded, stage):  # type: ignore[no-untyped-def]
    node, _ = loaded
    rows = _rows(node)
    released = [r for r in rows if r.seq in node.decisions.released_seqs("USA")][:20]
    assert released
    ok = node.release.release("USA", released, channel="preview", record=False)
    assert any(o.body is not None for o in ok)

    def boom(ctx, cands):  # type: ignore[no-untyped-def]
        raise RuntimeError("injected")

    node.release.stages[stage] = boom
    outcomes = node.release.release("USA", released, channel="export")
    assert all(o.body is None and o.verdict is Verdict.WITHHOLD for o in outcomes)
    assert all(f"{Reason.PIPELINE_ERROR}:{stage}" in o.reasons for o in outcomes)


def test_gate_error_withholds_and_alerts(loaded):  # type: ignore[no-untyped-def]
    node, _ = loaded
    rows = [r for r in _rows(node) if r.seq in node.decisions.released_seqs("USA")][:5]

    class BrokenGate:  # fault injection: a scanner that fails on every body
        def refresh(self) -> None:
            pass

        version = "broken"

        def term_texts(self) -> tuple[str, ...]:
            return ()

        def __call__(self, body: bytes) -> list[object]:
            raise ValueError("scanner failed")

    node.release.gate = BrokenGate()
    outcomes = node.release.release("USA", rows, channel="export")
    assert all(o.body is None and Reason.GATE_HIT in o.reasons for o in outcomes)
    with node.db.read() as conn:
        from tearline.store.releases import alerts

        raised = alerts(conn)
    # one alert per object, and one per definition they cite (each is gated once, and fails too)
    alerted = [a.stix_id for a in raised]
    assert sorted(a for a in alerted if not a.startswith("marking-definition--")) == sorted(r.stix_id for r in rows)
    assert len(alerted) == len(set(alerted)) > len(rows)


def test_record_stage_counts_repeat_deliveries(loaded):  # type: ignore[no-untyped-def]
    node, _ = loaded
    rows = [r for r in _rows(node) if r.seq in node.decisions.released_seqs("USA")][:3]
    first = node.release.release("USA", rows, channel="export")
    second = node.release.release("USA", rows, channel="export")
    assert [o.release_id for o in first] == [o.release_id for o in second]
    with node.db.read() as conn:
        from sqlalchemy import select

        from tearline.store.schema import releases

        got = conn.execute(select(releases.c.deliveries, releases.c.sha256)).all()
    import hashlib

    # the three objects and the definitions they cite (sent with them in an export), each twice
    sent = {hashlib.sha256(o.body).hexdigest() for o in first}
    sent |= {hashlib.sha256(d.body).hexdigest() for o in first for d in o.definitions}
    assert len(got) == len(sent) > 3 and all(d == 2 for d, _ in got)
    assert {h for _, h in got} == sent


def test_source_citations_become_grade_or_a_source(loaded):  # type: ignore[no-untyped-def]
    node, scenario = loaded
    for src in scenario.sources:
        node.vault.add_source(src.cover, SourceIdentity(name=src.true_name, aliases=src.aliases, phones=src.phones,
                                                        emails=src.emails), grade=Grade.parse(src.grade))
    citing = [r for r in _rows(node) if r.source_refs]
    assert citing
    seen = {"grade": 0, "plain": 0}
    for p in scenario.partners:
        for o in node.release.release(p.code, citing, channel="preview", record=False):
            if o.body is None:
                continue
            text = o.body.decode()
            assert "{{source:" not in text
            assert not any(src.cover in text for src in scenario.sources)
            assert o.verdict is Verdict.RELEASE_TEARLINE
            if "a source graded " in text:
                seen["grade"] += 1
                assert p.clearance in ("CONFIDENTIAL", "SECRET", "TOP SECRET") and not p.sanitised_only
            else:
                assert "a source" in text
                seen["plain"] += 1
    assert seen["grade"] and seen["plain"]


def test_a_new_term_already_in_stored_objects_is_blocked_at_once(loaded):  # type: ignore[no-untyped-def]
    node, _ = loaded
    rows = [r for r in _rows(node) if r.type == "indicator" and r.seq in node.decisions.released_seqs("USA")]
    target = rows[0]
    pattern = loads(target.body)["pattern"]
    planted = pattern.split("'")[1]  # e.g. an IP address that now names a source's contact
    assert node.release.release("USA", [target], channel="preview", record=False)[0].body is not None
    node.vault.add_source("OSPREY", SourceIdentity(name="Unrelated Person", terms=(planted,)), grade=Grade.parse("B2"))
    out = node.release.release("USA", [target], channel="export")[0]
    assert out.body is None and Reason.GATE_HIT in out.reasons
    with node.db.read() as conn:
        from tearline.store.releases import alerts

        alert = alerts(conn)[0]
    assert alert.stix_id == target.stix_id and alert.field == "$.pattern" and planted not in alert.field


def test_marking_definitions_are_served_as_far_as_their_labels_are(loaded):  # type: ignore[no-untyped-def]
    node, scenario = loaded
    rows = _rows(node)
    for p in scenario.partners:
        outs = node.release.release(p.code, rows[:300], channel="preview", record=False)
        refs = {r for o in outs if o.body for r in loads(o.body).get("object_marking_refs", [])}
        for ref in refs:  # everything a partner received, it can resolve
            body = node.release.definition(p.code, ref)
            assert body is not None and loads(body)["id"] == ref
    usa_refs = {r for o in node.release.release("USA", rows, channel="preview", record=False) if o.body
                for r in loads(o.body).get("object_marking_refs", [])}
    deu = [r for r in usa_refs if node.release.definition("DEU", r) is None]
    assert deu, "some labels USA sees are not DEU's to know"
    assert node.release.definition("USA", "marking-definition--00000000-0000-4000-8000-000000000000") is None
