"""Release events (the record stage) and gate alerts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tearline.store.schema import gate_alerts, releases


@dataclass(frozen=True)
class ReleaseEvent:
    partner: str
    stix_id: str
    version: str
    sha256: str
    verdict: str
    reasons: str
    channel: str
    at_us: int


def record(conn: Connection, event: ReleaseEvent) -> tuple[int, bool]:
    """Record a delivery. Returns (release id, first): repeat deliveries of the same bytes to the
    same partner are counted, not recorded again. Safe when several processes deliver the same
    bytes at once: exactly one of them records the first delivery."""
    ins = pg_insert(releases) if conn.dialect.name == "postgresql" else sqlite_insert(releases)
    stmt = (
        ins.values(
            partner=event.partner,
            stix_id=event.stix_id,
            version=event.version,
            sha256=event.sha256,
            verdict=event.verdict,
            reasons=event.reasons,
            channel=event.channel,
            first_us=event.at_us,
            last_us=event.at_us,
            deliveries=1,
        )
        .on_conflict_do_nothing(index_elements=["partner", "sha256", "verdict"])
        .returning(releases.c.id)
    )
    inserted = conn.execute(stmt).scalar()
    if inserted is not None:
        return int(inserted), True
    row = conn.execute(
        select(releases.c.id).where(
            releases.c.partner == event.partner,
            releases.c.sha256 == event.sha256,
            releases.c.verdict == event.verdict,
        )
    ).one()
    conn.execute(
        releases.update()
        .where(releases.c.id == row.id)
        .values(deliveries=releases.c.deliveries + 1, last_us=event.at_us)
    )
    return int(row.id), False


def set_ledger_seq(conn: Connection, release_id: int, seq: int) -> None:
    conn.execute(releases.update().where(releases.c.id == release_id).values(ledger_seq=seq))


def ledger_seq_of(conn: Connection, release_id: int) -> int | None:
    v = conn.execute(select(releases.c.ledger_seq).where(releases.c.id == release_id)).scalar()
    return None if v is None else int(v)


def add_alert(
    conn: Connection, *, at_us: int, partner: str, stix_id: str, version: str, field: str, channel: str
) -> int:
    result = conn.execute(
        gate_alerts.insert().values(
            at_us=at_us, partner=partner, stix_id=stix_id, version=version, field=field, channel=channel
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def alerts(conn: Connection, limit: int = 100) -> list[object]:
    return list(conn.execute(select(gate_alerts).order_by(gate_alerts.c.id.desc()).limit(limit)))


RELEASED_VERDICTS = ("RELEASE", "RELEASE_TEARLINE")


def received(conn: Connection, stix_ids: Sequence[str]) -> list[Any]:
    """Who received which released version of these objects: (partner, stix_id, version, channel,
    first_us, ledger_seq), first delivery first."""
    out: list[Any] = []
    ids = sorted(set(stix_ids))
    for start in range(0, len(ids), 500):
        q = (
            select(releases.c.partner, releases.c.stix_id, releases.c.version, releases.c.channel,
                   releases.c.first_us, releases.c.ledger_seq)
            .where(releases.c.stix_id.in_(ids[start:start + 500]), releases.c.verdict.in_(RELEASED_VERDICTS))
            .order_by(releases.c.first_us, releases.c.id)
        )
        out.extend(conn.execute(q))
    return out


def released_versions(conn: Connection) -> list[tuple[str, str]]:
    """Every (object id, version) released to anyone (not marking definitions)."""
    q = (
        select(releases.c.stix_id, releases.c.version)
        .where(releases.c.verdict.in_(RELEASED_VERDICTS), ~releases.c.stix_id.startswith("marking-definition--"))
        .distinct()
    )
    return [(str(r.stix_id), str(r.version)) for r in conn.execute(q)]
