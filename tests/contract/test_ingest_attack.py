"""Ingest the real ATT&CK bundles on SQLite and PostgreSQL; counts and round trip."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from tearline.canonical import loads
from tearline.store.schema import objects


def _expected(files: list[Path]) -> tuple[int, int, dict[tuple[str, str], dict]]:
    by_version: dict[tuple[str, str], dict] = {}
    for f in files:
        for obj in json.loads(f.read_text("utf-8"))["objects"]:
            version = obj.get("modified") or obj.get("created")
            by_version.setdefault((obj["id"], version), obj)
    ids = {k[0] for k in by_version}
    return len(ids), len(by_version), by_version


def test_attack_bundles_ingest_with_exact_counts_and_round_trip(node, attack):  # type: ignore[no-untyped-def]
    n_ids, n_versions, by_version = _expected(attack)
    summary = node.intake.ingest_paths([str(p) for p in attack], default=node.info.default_label)
    assert summary.rejected == 0
    assert summary.new == n_versions
    with node.db.read() as conn:
        from tearline.store.objects import counts

        assert counts(conn) == (n_ids, n_versions)
        rows = conn.execute(select(objects.c.stix_id, objects.c.version, objects.c.body)).all()
    assert len(rows) == n_versions
    for stix_id, version, body in rows:
        assert loads(body) == by_version[(stix_id, version)]


def test_reingest_is_a_no_op(node, attack):  # type: ignore[no-untyped-def]
    first = node.intake.ingest_paths([str(attack[0])], default=node.info.default_label)
    again = node.intake.ingest_paths([str(attack[0])], default=node.info.default_label)
    assert first.new > 0
    assert again.new == 0
    assert again.duplicate == first.new + first.duplicate
