"""Federation state: peers, pull cursors, what was pushed, rejections, per-peer health; and the
reads reciprocity needs.

The tables are in :mod:`tearline.store.schema`. A peer's token is not here: it is a sealed vault
secret (``peer:<code>`` / ``token``), re-sealed by every vault key rotation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    and_,
    select,
)

from tearline.store.rows import MappedRow
from tearline.store.schema import (
    collections,
    objects,
    releases,
    sync_cursors,
    sync_health,
    sync_peers,
    sync_pushed,
    sync_rejections,
)


# -- peers ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeerRow:
    code: str
    url: str
    collections: tuple[str, ...]
    created_us: int


def _peer(row: MappedRow) -> PeerRow:
    r = row._mapping
    cols = tuple(c for c in str(r["collections"]).split(",") if c)
    return PeerRow(r["code"], r["url"], cols, int(r["created_us"]))


def put_peer(conn: Connection, peer: PeerRow) -> None:
    conn.execute(sync_peers.delete().where(sync_peers.c.code == peer.code))
    conn.execute(
        sync_peers.insert().values(
            code=peer.code, url=peer.url, collections=",".join(peer.collections), created_us=peer.created_us,
        )
    )


def get_peer(conn: Connection, code: str) -> PeerRow | None:
    row = conn.execute(select(sync_peers).where(sync_peers.c.code == code)).first()
    return None if row is None else _peer(row)


def list_peers(conn: Connection) -> list[PeerRow]:
    return [_peer(r) for r in conn.execute(select(sync_peers).order_by(sync_peers.c.code))]


def remove_peer(conn: Connection, code: str) -> bool:
    """Forget a peer and its cursors and health; what it sent and what was pushed stay recorded."""
    gone = conn.execute(sync_peers.delete().where(sync_peers.c.code == code)).rowcount
    conn.execute(sync_cursors.delete().where(sync_cursors.c.peer == code))
    conn.execute(sync_health.delete().where(sync_health.c.peer == code))
    return bool(gone)


# -- pull cursors -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cursor:
    added_after: str | None = None
    next: str | None = None
    high: str | None = None


def get_cursor(conn: Connection, peer: str, collection: str) -> Cursor:
    row = conn.execute(
        select(sync_cursors).where(sync_cursors.c.peer == peer, sync_cursors.c.collection == collection)
    ).first()
    return Cursor() if row is None else Cursor(row.added_after, row.next, row.high)


def set_cursor(conn: Connection, peer: str, collection: str, cursor: Cursor, at_us: int) -> None:
    where = and_(sync_cursors.c.peer == peer, sync_cursors.c.collection == collection)
    values = {"added_after": cursor.added_after, "next": cursor.next, "high": cursor.high, "updated_us": at_us}
    if conn.execute(sync_cursors.update().where(where).values(**values)).rowcount == 0:
        conn.execute(sync_cursors.insert().values(peer=peer, collection=collection, **values))


def cursors(conn: Connection, peer: str) -> dict[str, Cursor]:
    rows = conn.execute(select(sync_cursors).where(sync_cursors.c.peer == peer).order_by(sync_cursors.c.collection))
    return {r.collection: Cursor(r.added_after, r.next, r.high) for r in rows}


# -- push -------------------------------------------------------------------------------------------
def pushed_seqs(conn: Connection, peer: str) -> set[int]:
    return {int(s) for (s,) in conn.execute(select(sync_pushed.c.seq).where(sync_pushed.c.peer == peer))}


def mark_pushed(conn: Connection, peer: str, outcomes: Sequence[tuple[int, str]], at_us: int) -> None:
    if not outcomes:
        return
    done = pushed_seqs(conn, peer) & {s for s, _ in outcomes}
    rows = [{"peer": peer, "seq": s, "outcome": o, "at_us": at_us} for s, o in outcomes if s not in done]
    if rows:
        conn.execute(sync_pushed.insert(), rows)


def push_cursor(conn: Connection, peer: str) -> int:
    """The highest seq a peer has confirmed (0: none)."""
    from sqlalchemy import func

    v = conn.execute(select(func.max(sync_pushed.c.seq)).where(sync_pushed.c.peer == peer)).scalar()
    return 0 if v is None else int(v)


def push_candidates(conn: Connection, scope: Sequence[str], exclude_originator: str) -> Iterator[object]:
    """Light rows (seq, date_added_us) of every version in the collections ``scope`` that did not
    come from ``exclude_originator``, in seq order."""
    q = (
        select(objects.c.seq, objects.c.date_added_us)
        .where(objects.c.collection_id.in_(list(scope)))
        .where((objects.c.originator.is_(None)) | (objects.c.originator != exclude_originator))
        .order_by(objects.c.seq)
    )
    yield from conn.execute(q)


def shared_collections(conn: Connection) -> list[str]:
    """Ids of the collections this node shares (``shared`` and ``custom``): what a push offers."""
    q = select(collections.c.id).where(collections.c.kind.in_(("shared", "custom"))).order_by(collections.c.id)
    return [str(r[0]) for r in conn.execute(q)]


def own_ids(conn: Connection, stix_ids: Sequence[str]) -> set[str]:
    """The ids among ``stix_ids`` that this node itself originated (some version without originator).

    A plain driver statement per 500 ids: asked once per pulled page, and rendering an expanding
    ``IN`` of a thousand parameters cost more than the look-ups themselves."""
    ids = list(dict.fromkeys(stix_ids))
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = (
            f"SELECT DISTINCT stix_id FROM {objects.name} "
            f"WHERE originator IS NULL AND stix_id IN ({', '.join([mark] * len(chunk))})"
        )
        found.update(str(r[0]) for r in conn.exec_driver_sql(sql, tuple(chunk)))
    return found


# -- rejections and health --------------------------------------------------------------------------
REJECTION_STATES = ("pending", "refused", "stored", "gone")


@dataclass(frozen=True)
class Rejection:
    """An object a peer refused (push) or this node refused from a peer (pull).

    ``state``: ``refused`` is final; ``pending`` is retried on the next pulls; ``stored`` and
    ``gone`` are the outcomes of a retry (stored at last; the peer no longer serves it).
    """

    peer: str
    direction: str
    stix_id: str
    version: str
    reason: str
    at_us: int
    collection: str | None = None
    state: str = "refused"
    attempts: int = 0
    outcome: str | None = None
    retried_us: int | None = None
    id: int | None = None


def _rejection(r: MappedRow) -> Rejection:
    m = r._mapping
    return Rejection(
        m["peer"], m["direction"], m["stix_id"], m["version"], m["reason"], int(m["at_us"]), m["collection"],
        m["state"], int(m["attempts"]), m["outcome"], None if m["retried_us"] is None else int(m["retried_us"]),
        int(m["id"]),
    )


def add_rejections(conn: Connection, items: Sequence[Rejection]) -> int:
    """Record rejections once each (the same object, version and reason again is not a new one)."""
    added = 0
    for r in items:
        exists = conn.execute(
            select(sync_rejections.c.id).where(
                sync_rejections.c.peer == r.peer, sync_rejections.c.direction == r.direction,
                sync_rejections.c.stix_id == r.stix_id[:200], sync_rejections.c.version == r.version[:40],
                sync_rejections.c.reason == r.reason,
            )
        ).first()
        if exists is None:
            conn.execute(sync_rejections.insert().values(
                peer=r.peer, direction=r.direction, stix_id=r.stix_id[:200], version=r.version[:40],
                reason=r.reason, at_us=r.at_us, collection=r.collection, state=r.state, attempts=r.attempts,
                outcome=r.outcome, retried_us=r.retried_us,
            ))
            added += 1
    return added


def rejections(conn: Connection, peer: str | None = None, limit: int = 1000, *,
               state: str | None = None) -> list[Rejection]:
    """Rejections, newest first."""
    q = select(sync_rejections).order_by(sync_rejections.c.id.desc()).limit(limit)
    if peer is not None:
        q = q.where(sync_rejections.c.peer == peer)
    if state is not None:
        q = q.where(sync_rejections.c.state == state)
    return [_rejection(r) for r in conn.execute(q)]


def pending_rejections(conn: Connection, peer: str, limit: int) -> list[Rejection]:
    """A peer's pull rejections waiting for a retry, the least recently tried first."""
    q = (
        select(sync_rejections)
        .where(sync_rejections.c.peer == peer, sync_rejections.c.direction == "pull",
               sync_rejections.c.state == "pending")
        .order_by(sync_rejections.c.retried_us.is_not(None), sync_rejections.c.retried_us, sync_rejections.c.id)
        .limit(limit)
    )
    return [_rejection(r) for r in conn.execute(q)]


def settle_rejection(conn: Connection, rejection_id: int, *, state: str, outcome: str, attempts: int,
                     at_us: int) -> None:
    """Record what a retry of one rejection found."""
    if state not in REJECTION_STATES:
        raise ValueError(f"unknown rejection state `{state}`")
    conn.execute(
        sync_rejections.update().where(sync_rejections.c.id == rejection_id).values(
            state=state, outcome=outcome[:2000], attempts=attempts, retried_us=at_us,
        )
    )


def has_version(conn: Connection, collection_id: str, stix_id: str, version: str) -> bool:
    """Whether one version (by its version text) is stored in a collection."""
    q = select(objects.c.seq).where(
        objects.c.collection_id == collection_id, objects.c.stix_id == stix_id, objects.c.version == version
    ).limit(1)
    return conn.execute(q).first() is not None


@dataclass(frozen=True)
class Health:
    peer: str
    direction: str
    last_ok_us: int | None
    last_error: str | None
    failures: int
    next_try_us: int


def get_health(conn: Connection, peer: str, direction: str) -> Health:
    row = conn.execute(
        select(sync_health).where(sync_health.c.peer == peer, sync_health.c.direction == direction)
    ).first()
    if row is None:
        return Health(peer, direction, None, None, 0, 0)
    return Health(peer, direction, row.last_ok_us, row.last_error, int(row.failures), int(row.next_try_us))


def set_health(conn: Connection, h: Health) -> None:
    where = and_(sync_health.c.peer == h.peer, sync_health.c.direction == h.direction)
    values = {"last_ok_us": h.last_ok_us, "last_error": h.last_error, "failures": h.failures,
              "next_try_us": h.next_try_us}
    if conn.execute(sync_health.update().where(where).values(**values)).rowcount == 0:
        conn.execute(sync_health.insert().values(peer=h.peer, direction=h.direction, **values))


# -- reciprocity ------------------------------------------------------------------------------------
def received_rows(conn: Connection, since_us: int | None) -> Iterator[tuple[str, int, str]]:
    """(partner, date_added_us, topics) of every version a partner sent (posted or pulled)."""
    q = select(objects.c.posted_by, objects.c.date_added_us, objects.c.topics).where(
        objects.c.posted_by.is_not(None), objects.c.type != "marking-definition"
    )
    if since_us is not None:
        q = q.where(objects.c.date_added_us >= since_us)
    for r in conn.execute(q):
        yield str(r[0]), int(r[1]), str(r[2] or "")


def released_rows(conn: Connection, since_us: int | None) -> Iterator[tuple[str, int, str, str]]:
    """(partner, first release us, stix id, version) of every distinct version released (marking
    definitions, recorded when they go out with objects, aside)."""
    q = select(releases.c.partner, releases.c.first_us, releases.c.stix_id, releases.c.version).where(
        releases.c.verdict.in_(("RELEASE", "RELEASE_TEARLINE")),
        ~releases.c.stix_id.startswith("marking-definition--"),
    )
    if since_us is not None:
        q = q.where(releases.c.first_us >= since_us)
    for r in conn.execute(q):
        yield str(r[0]), int(r[1]), str(r[2]), str(r[3])


def topics_of(conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Topics (comma-joined) of stored versions by (stix id, version text)."""
    out: dict[tuple[str, str], str] = {}
    ids = sorted({k[0] for k in keys})
    for start in range(0, len(ids), 500):
        q = select(objects.c.stix_id, objects.c.version, objects.c.topics).where(
            objects.c.stix_id.in_(ids[start : start + 500])
        )
        for sid, ver, topics in conn.execute(q):
            if (sid, ver) in keys:
                out.setdefault((sid, ver), str(topics or ""))
    return out


def marking_definitions(conn: Connection, collection_id: str) -> dict[str, bytes]:
    """The marking-definition objects stored in one collection, by id (the last stored wins)."""
    q = (
        select(objects.c.stix_id, objects.c.body)
        .where(objects.c.collection_id == collection_id, objects.c.type == "marking-definition")
        .order_by(objects.c.seq)
    )
    return {str(sid): bytes(body) for sid, body in conn.execute(q)}


def versions_in(conn: Connection, collection_id: str) -> set[tuple[str, str]]:
    """(stix id, version) of every version in a collection, marking definitions aside."""
    q = select(objects.c.stix_id, objects.c.version).where(
        objects.c.collection_id == collection_id, objects.c.type != "marking-definition"
    )
    return {(str(a), str(b)) for a, b in conn.execute(q)}


def versions_with_topic(conn: Connection, topic: str) -> set[tuple[str, str]]:
    """(stix id, version) of every stored version labelled with ``topic``."""
    q = select(objects.c.stix_id, objects.c.version, objects.c.topics).where(objects.c.topics.contains(topic))
    return {(str(a), str(b)) for a, b, t in conn.execute(q) if topic in str(t).split(",")}
