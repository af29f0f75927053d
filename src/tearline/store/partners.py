"""Partners and their versioned, effective-dated trust profiles. Nothing is updated in place
except a partner's token hash (rotation)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, func, select

from tearline.canonical import from_micros, to_micros
from tearline.model.markings import Tlp
from tearline.model.partners import Partner, ProfileVersion, TrustProfile
from tearline.store.rows import MappedRow
from tearline.store.schema import partners, profile_versions


def add_partner(conn: Connection, partner: Partner, token_hash: str) -> None:
    conn.execute(
        partners.insert().values(
            code=partner.code,
            name=partner.name,
            created_us=to_micros(partner.created_at),
            token_hash=token_hash,
        )
    )


def get_partner(conn: Connection, code: str) -> Partner | None:
    row = conn.execute(select(partners).where(partners.c.code == code)).first()
    if row is None:
        return None
    return Partner(code=row.code, name=row.name, created_at=from_micros(row.created_us))


def list_partners(conn: Connection) -> list[Partner]:
    rows = conn.execute(select(partners).order_by(partners.c.code))
    return [Partner(code=r.code, name=r.name, created_at=from_micros(r.created_us)) for r in rows]


def partner_by_token_hash(conn: Connection, token_hash: str) -> str | None:
    return conn.execute(select(partners.c.code).where(partners.c.token_hash == token_hash)).scalar()


def token_hashes(conn: Connection) -> dict[str, str]:
    """partner code → token hash (for constant-time comparison at the edge)."""
    return {r.code: r.token_hash for r in conn.execute(select(partners.c.code, partners.c.token_hash))}


def set_token_hash(conn: Connection, code: str, token_hash: str) -> None:
    conn.execute(partners.update().where(partners.c.code == code).values(token_hash=token_hash))


def count_partners(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(partners)).scalar_one())


def add_profile_version(conn: Connection, pv: ProfileVersion) -> None:
    p = pv.profile
    conn.execute(
        profile_versions.insert().values(
            partner=pv.partner,
            version=pv.version,
            effective_from_us=to_micros(pv.effective_from),
            created_us=to_micros(pv.created_at),
            clearance=p.clearance,
            tlp_ceiling=int(p.tlp_ceiling),
            excluded_topics=",".join(sorted(p.excluded_topics)),
            embargo_s=int(p.embargo.total_seconds()),
            sanitised_only=p.sanitised_only,
            suspended=p.suspended,
            fingerprint=p.fingerprint,
            reason=pv.reason,
            approved_by=pv.approved_by,
        )
    )


def _pv(row: MappedRow) -> ProfileVersion:
    r = row._mapping
    topics = frozenset(t for t in r["excluded_topics"].split(",") if t)
    return ProfileVersion(
        partner=r["partner"],
        version=r["version"],
        profile=TrustProfile(
            partner=r["partner"],
            clearance=r["clearance"],
            tlp_ceiling=Tlp(r["tlp_ceiling"]),
            excluded_topics=topics,
            embargo=timedelta(seconds=r["embargo_s"]),
            sanitised_only=bool(r["sanitised_only"]),
            suspended=bool(r["suspended"]),
            fingerprint=bool(r["fingerprint"]),
        ),
        effective_from=from_micros(r["effective_from_us"]),
        created_at=from_micros(r["created_us"]),
        reason=r["reason"],
        approved_by=r["approved_by"],
    )


def history(conn: Connection, code: str) -> list[ProfileVersion]:
    rows = conn.execute(
        select(profile_versions)
        .where(profile_versions.c.partner == code)
        .order_by(profile_versions.c.version)
    )
    return [_pv(r) for r in rows]


def all_versions(conn: Connection) -> list[ProfileVersion]:
    return [_pv(r) for r in conn.execute(_ALL_VERSIONS)]


# built once (ingest reads it for every unit): making a statement costs several times running it
_ALL_VERSIONS = select(profile_versions).order_by(profile_versions.c.partner, profile_versions.c.version)


def latest_version_number(conn: Connection, code: str) -> int:
    v = conn.execute(
        select(func.max(profile_versions.c.version)).where(profile_versions.c.partner == code)
    ).scalar()
    return int(v or 0)
