"""The source vault: sources in, protected terms out, identities only through a recorded reveal.

This module and :mod:`tearline.crypto.sealing` are the only places where vault values are in the
clear; nothing under ``tearline.web`` may import either (an import contract checks it).

Keys (see ``docs/vault.md``): each data key has a *number* (the id of the ``vault_keys`` row that
introduced it) and one wrap per key-encryption key (KEK). A process opens the active wraps made
for its own KEK. New values are sealed under the highest-numbered data key, chosen inside the write
transaction, so a data-key rotation in another process is picked up at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tearline.canonical import dumps, loads, to_micros
from tearline.clock import Clock
from tearline.crypto.sealing import (
    Kek,
    new_key,
    open_value,
    seal_value,
    unwrap_data_key,
    wrap_data_key,
    wrapped_key_number,
)
from tearline.errors import ConfigError, Conflict, InvalidInput, NotFound
from tearline.ids import IdFactory, RandomIds
from tearline.model.sources import (
    TERM_KINDS,
    Grade,
    SourceIdentity,
    SourceSummary,
    check_compartment,
    check_cover,
    parse_sources_csv,
)
from tearline.sanitize.normalize import normalise
from tearline.services.intake import SOURCE_TOKEN, ObjectCheck, Prepared
from tearline.store import nodes as nodes_store
from tearline.store import vault as repo
from tearline.store.engine import Database

RevealHook = Callable[[Connection, str, str, str], None]  # (conn, source_id, by, reason)
MIN_TERM = 3  # the protected-term gate refuses shorter terms


@dataclass(frozen=True)
class KeyStatus:
    row: int
    number: int | None  # the data key it wraps; None once erased
    kek_id: str
    active: bool
    created_us: int
    mine: bool  # wrapped for this process's KEK


@dataclass(frozen=True)
class RotationReport:
    new_key: int
    resealed: int
    retired: tuple[int, ...]


class Vault:
    """Use cases of the vault. ``kek`` is a key or a function that loads it when first needed."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        kek: Kek | Callable[[], Kek],
        ids: IdFactory | None = None,
        on_reveal: Sequence[RevealHook] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self._kek_source = kek
        self._kek: Kek | None = kek if isinstance(kek, Kek) else None
        self.ids = ids or RandomIds()
        self.on_reveal = list(on_reveal)
        self._data_keys: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self.changes = 0  # bumped by every write of sources or terms made through this object

    # -- keys -----------------------------------------------------------------------------
    @property
    def kek(self) -> Kek:
        if self._kek is None:
            assert callable(self._kek_source)
            self._kek = self._kek_source()
        return self._kek

    def _open_keys(self, conn: Connection, *, lock: bool = False) -> dict[int, bytes]:
        """Every active data key this KEK opens, by number; refuse a KEK the vault does not know."""
        rows = repo.keys(conn, active_only=True, lock=lock)
        mine = [r for r in rows if r.kek_id == self.kek.kek_id]
        if rows and not mine:
            known = ", ".join(sorted({f"`{r.kek_id}`" for r in rows}))
            raise ConfigError(
                f"the key-encryption key `{self.kek.kek_id}` does not open this vault "
                f"(its keys are wrapped for {known})"
            )
        keys = dict(unwrap_data_key(self.kek, r.wrapped) for r in mine)
        with self._lock:
            self._data_keys = dict(keys)
        return keys

    def _key(self, conn: Connection, number: int) -> bytes:
        key = self._data_keys.get(number)
        if key is None:
            key = self._open_keys(conn).get(number)
        if key is None:
            raise ConfigError(f"vault data key {number} has no active wrap for key-encryption key `{self.kek.kek_id}`")
        return key

    def _current_key(self, conn: Connection) -> tuple[int, bytes]:
        """The data key new values are sealed under (made on first use), chosen in this transaction."""
        keys = self._open_keys(conn, lock=True)
        if keys:
            number = max(keys)
            return number, keys[number]
        return self._new_data_key(conn)

    def _new_data_key(self, conn: Connection) -> tuple[int, bytes]:
        key = new_key()
        number = repo.add_key(conn, b"", self.kek.kek_id, self._now())
        repo.set_wrapped(conn, number, wrap_data_key(self.kek, number, key))
        return number, key

    def key_status(self) -> list[KeyStatus]:
        with self.db.read() as conn:
            rows = repo.keys(conn)
        mine = self._kek.kek_id if self._kek is not None else None
        return [
            KeyStatus(r.id, _number(r) if r.wrapped else None, r.kek_id, r.active, r.created_us, r.kek_id == mine)
            for r in rows
        ]

    def rotate_kek(self, new: Kek) -> int:
        """Wrap every active data key under ``new`` too; values are untouched. Returns wraps added."""
        if new.kek_id == self.kek.kek_id:
            raise InvalidInput("the new key-encryption key is the one already in use")
        with self.db.write() as conn:
            keys = self._open_keys(conn, lock=True)
            have = {_number(r) for r in repo.keys(conn, active_only=True) if r.kek_id == new.kek_id}
            now = self._now()
            added = 0
            for number, key in sorted(keys.items()):
                if number not in have:
                    repo.add_key(conn, wrap_data_key(new, number, key), new.kek_id, now)
                    added += 1
        return added

    def retire_kek(self, kek_id: str) -> int:
        """Erase the wraps made for ``kek_id`` once every data key has a wrap for the KEK in use."""
        if kek_id == self.kek.kek_id:
            raise Conflict("cannot retire the key-encryption key in use: point tearline at the new key first")
        with self.db.write() as conn:
            keys = self._open_keys(conn, lock=True)
            rows = repo.keys(conn, active_only=True)
            old = [r for r in rows if r.kek_id == kek_id]
            if not old:
                raise NotFound(f"no active key wraps for key-encryption key `{kek_id}`")
            orphans = sorted({_number(r) for r in old} - set(keys))
            if orphans:
                raise Conflict(f"data keys {orphans} have no wrap for the key in use: run `vault rotate-key` first")
            repo.retire_keys(conn, [r.id for r in old])
        return len(old)

    def rotate_data_key(self, *, batch: int = 500, progress: Callable[[int], None] | None = None) -> RotationReport:
        """A new data key; every value re-sealed under it in batches; then the old keys erased.

        Readers keep working throughout (both keys stay open until the end). Refused while wraps
        for more than one KEK are active: finish a KEK rotation first.
        """
        with self.db.write() as conn:
            rows = repo.keys(conn, active_only=True, lock=True)
            if len({r.kek_id for r in rows}) > 1:
                raise Conflict("a key-encryption key rotation is in progress: retire the old key first")
            self._open_keys(conn)
            number, key = self._new_data_key(conn)
        resealed = 0
        while True:
            with self.db.write() as conn:
                done = self._reseal_batch(conn, number, key, batch)
            resealed += done
            if progress is not None and done:
                progress(done)
            if done < batch:
                break
        with self.db.write() as conn:
            keys = self._open_keys(conn, lock=True)
            old = [r for r in repo.keys(conn, active_only=True) if _number(r) != number]
            repo.retire_keys(conn, [r.id for r in old])  # on PostgreSQL, waits for writers using them
            while (done := self._reseal_batch(conn, number, key, batch, keys)) > 0:  # sealed meanwhile
                resealed += done
        with self._lock:
            self._data_keys = {number: key}
        return RotationReport(number, resealed, tuple(r.id for r in old))

    def _reseal_batch(
        self, conn: Connection, number: int, key: bytes, batch: int, keys: dict[int, bytes] | None = None
    ) -> int:
        rows = repo.fields_not_under(conn, number, batch)
        for f in rows:
            old = (keys or {}).get(f.key_id) or self._key(conn, f.key_id)
            value = open_value(old, f.source_id, f.field, f.sealed)
            repo.reseal(conn, f.id, number, seal_value(key, f.source_id, f.field, value))
        return len(rows)

    # -- sources --------------------------------------------------------------------------
    def add_source(
        self,
        cover: str,
        identity: SourceIdentity,
        *,
        grade: Grade | None = None,
        compartments: Iterable[str] = (),
    ) -> SourceSummary:
        summary, pairs = self._prepare(cover, identity, grade, compartments)
        with self.db.write() as conn:
            self._insert(conn, summary, pairs)
        self.changes += 1
        return summary

    def import_csv(self, text: str) -> list[SourceSummary]:
        """Sources from CSV (see :func:`parse_sources_csv`), all or nothing; errors name the line only."""
        batch: list[tuple[int, SourceSummary, list[tuple[str, str]]]] = []
        covers: set[str] = set()
        for rec in parse_sources_csv(text):
            try:
                summary, pairs = self._prepare(rec.cover, rec.identity, rec.grade, rec.compartments)
            except InvalidInput as exc:
                raise InvalidInput(f"line {rec.line}: {exc.message}") from None
            if summary.cover in covers:
                raise Conflict(f"line {rec.line}: cover `{summary.cover}` appears twice")
            covers.add(summary.cover)
            batch.append((rec.line, summary, pairs))
        with self.db.write() as conn:
            for line, summary, pairs in batch:
                try:
                    self._insert(conn, summary, pairs)
                except Conflict as exc:
                    raise Conflict(f"line {line}: {exc.message}") from None
        self.changes += 1
        return [s for _, s, _ in batch]

    def _prepare(
        self, cover: str, identity: SourceIdentity, grade: Grade | None, compartments: Iterable[str]
    ) -> tuple[SourceSummary, list[tuple[str, str]]]:
        cover = check_cover(cover)
        if not identity.name.strip():
            raise InvalidInput("a source needs a name")
        pairs: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for kind, value in identity.fields():
            value = " ".join(value.split()) if kind != "note" else value.strip()
            if not value or (kind, value) in seen:
                continue
            _check_term(kind, value)
            pairs.append((kind, value))
            seen.add((kind, value))
        if any(kind in TERM_KINDS and normalise(v).strip() == normalise(cover).strip() for kind, v in pairs):
            raise InvalidInput(f"the cover name `{cover}` must not be one of the source's own protected terms")
        summary = SourceSummary(
            id=self.ids.new("source"),
            cover=cover,
            grade=grade or Grade(),
            compartments=frozenset(check_compartment(c) for c in compartments if c.strip()),
            term_count=sum(1 for k, _ in pairs if k in TERM_KINDS),
        )
        return summary, pairs

    def _insert(self, conn: Connection, s: SourceSummary, pairs: list[tuple[str, str]]) -> None:
        if repo.find_source(conn, s.cover) is not None:
            raise Conflict(f"a source with cover `{s.cover}` already exists")
        now = self._now()
        repo.add_source(
            conn,
            repo.SourceRow(s.id, s.cover, s.grade.reliability, s.grade.credibility, ",".join(sorted(s.compartments)),
                           now),
        )
        self._seal_into(conn, s.id, pairs, now)
        nodes_store.bump_epoch(conn)  # served answers depend on terms and grades

    def _seal_into(self, conn: Connection, source_id: str, pairs: list[tuple[str, str]], now: int) -> None:
        number, key = self._current_key(conn)
        repo.add_fields(
            conn,
            [repo.NewField(source_id, kind, number, seal_value(key, source_id, kind, v), now) for kind, v in pairs],
        )

    def add_term(self, key: str, term: str) -> SourceSummary:
        value = " ".join(term.split())
        _check_term("term", value)
        with self.db.write() as conn:
            row = self._find(conn, key)
            self._seal_into(conn, row.id, [("term", value)], self._now())
            nodes_store.bump_epoch(conn)  # served answers depend on terms
            count = repo.term_counts(conn, TERM_KINDS).get(row.id, 0)
        self.changes += 1
        return _summary(row, count)

    def summary(self, key: str) -> SourceSummary:
        with self.db.read() as conn:
            row = self._find(conn, key)
            return _summary(row, repo.term_counts(conn, TERM_KINDS).get(row.id, 0))

    def sources(self) -> list[SourceSummary]:
        with self.db.read() as conn:
            counts = repo.term_counts(conn, TERM_KINDS)
            return [_summary(r, counts.get(r.id, 0)) for r in repo.sources(conn)]

    def reveal(self, key: str, *, by: str, reason: str) -> tuple[SourceSummary, SourceIdentity]:
        """Decrypt one source's identity; the reveal is recorded (who, why, when) in the same transaction."""
        by, reason = by.strip(), reason.strip()
        if not reason:
            raise InvalidInput("a reveal needs a reason")
        if not by:
            raise InvalidInput("a reveal needs the name of who asks")
        with self.db.write() as conn:
            row = self._find(conn, key)
            repo.add_reveal(conn, row.id, by, reason, self._now())
            for hook in self.on_reveal:
                hook(conn, row.id, by, reason)
            pairs = [(f.field, self._open(conn, f)) for f in repo.fields(conn, source_id=row.id)]
        identity = SourceIdentity.from_fields(pairs)
        return _summary(row, sum(1 for k, _ in pairs if k in TERM_KINDS)), identity

    def reveals(self, key: str | None = None) -> list[repo.RevealRow]:
        with self.db.read() as conn:
            return repo.reveals(conn, self._find(conn, key).id if key else None)

    # -- what the rest of the node reads --------------------------------------------------
    def protected_terms(self) -> list[tuple[str, str]]:
        """(term id, term) of every protected value of every source, decrypted in memory."""
        with self.db.read() as conn:
            return [
                (f"{f.source_id}/{f.field}/{f.id}", self._open(conn, f)) for f in repo.fields(conn, kinds=TERM_KINDS)
            ]

    def terms_version(self) -> tuple[int, int]:
        """Changes whenever a protected term (or a source) is added or removed."""
        with self.db.read() as conn:
            return repo.fields_version(conn, TERM_KINDS)

    def grades(self) -> dict[str, Grade]:
        with self.db.read() as conn:
            return {r.cover: Grade(r.reliability, int(r.credibility)) for r in repo.sources(conn)}

    def source_text(self, *, show_grade: bool) -> Callable[[str], str]:
        """What a ``{{source:COVER}}`` token becomes for a recipient: "a source graded B2" or "a source"."""
        grades = self.grades() if show_grade else {}

        def text(cover: str) -> str:
            grade = grades.get(cover.upper())
            return f"a source graded {grade}" if grade else "a source"

        return text

    def cover_ids(self) -> dict[str, str]:
        with self.db.read() as conn:
            return {r.cover: r.id for r in repo.sources(conn)}

    # -- other secrets (peer tokens): sealed like identities, re-sealed by every rotation -----
    def put_secret(self, conn: Connection, record_id: str, field: str, value: str) -> None:
        """Seal ``value`` for ``(record_id, field)``, replacing any earlier one. ``field`` must not
        be an identity kind: secrets are never protected terms."""
        if field in TERM_KINDS:
            raise InvalidInput(f"`{field}` is reserved for source identities")
        repo.delete_fields(conn, record_id, field)
        self._seal_into(conn, record_id, [(field, value)], self._now())

    def get_secret(self, conn: Connection, record_id: str, field: str) -> str | None:
        rows = repo.fields(conn, source_id=record_id, kinds=[field])
        return self._open(conn, rows[-1]) if rows else None

    def delete_secret(self, conn: Connection, record_id: str, field: str) -> None:
        repo.delete_fields(conn, record_id, field)

    # -- helpers --------------------------------------------------------------------------
    def _open(self, conn: Connection, f: repo.FieldRow) -> str:
        return open_value(self._key(conn, f.key_id), f.source_id, f.field, f.sealed)

    @staticmethod
    def _find(conn: Connection, key: str) -> repo.SourceRow:
        row = repo.find_source(conn, key.strip())
        if row is None:
            raise NotFound(f"no source `{key}` in the vault")
        return row

    def _now(self) -> int:
        return to_micros(self.clock.now())


def _number(row: repo.KeyRow) -> int:
    return wrapped_key_number(row.wrapped)


def _summary(row: repo.SourceRow, count: int) -> SourceSummary:
    comps = frozenset(c for c in row.compartments.split(",") if c)
    return SourceSummary(row.id, row.cover, Grade(row.reliability, int(row.credibility)), comps, count)


def _check_term(kind: str, value: str) -> None:
    if kind in TERM_KINDS and len(normalise(value).strip()) < MIN_TERM:
        raise InvalidInput(f"a {kind} must be at least {MIN_TERM} characters to be protected")


# -- ingest check ---------------------------------------------------------------------------------
def vault_object_check(vault: Vault, *, region: str = "GB", recheck_s: float = 1.0) -> ObjectCheck:
    """An intake check: refuse an object that names a source outside a ``{{source:COVER}}`` token,
    or cites a cover the vault does not hold. Problems name the object and the JSON path, never the
    term or its source.

    The term set is rebuilt when :meth:`Vault.terms_version` changes. That query costs more than the
    scan of a typical object, so it runs at most every ``recheck_s`` seconds; a change made through
    the same :class:`Vault` object is seen at once (the release gate, not this check, is the last word).
    """
    from tearline.sanitize.scanner import TermSet

    # (local change count, checked at, terms version, terms, covers): replaced whole, so a reader
    # without the lock sees one consistent snapshot
    snapshot: list[tuple[int, float, Any, Any, dict[str, str]]] = [(-1, float("-inf"), None, None, {})]
    lock = threading.Lock()

    def current() -> tuple[Any, dict[str, str]]:
        local, checked, _, terms, covers = snapshot[0]
        if local == vault.changes and time.monotonic() - checked < recheck_s:
            return terms, covers  # the common case: no lock, no query
        with lock:
            _, _, version, terms, covers = snapshot[0]
            local, now = vault.changes, time.monotonic()
            latest = vault.terms_version()
            if latest != version:
                terms = TermSet.build(vault.protected_terms(), region=region)
                covers = vault.cover_ids()
            snapshot[0] = (local, now, latest, terms, covers)
            return terms, covers

    def check(objects: Sequence[Prepared]) -> dict[int, list[str]]:
        terms, covers = current()  # one snapshot for the whole batch
        scan = terms.scan_json if len(terms) else None
        found: dict[int, list[str]] = {}
        for n, p in enumerate(objects):
            cited = p.item.label.source_refs  # intake put every cited cover there
            if not cited and scan is None:
                continue
            oid, body = p.obj["id"], p.body
            problems = [f"object `{oid}` cites unknown source `{c}`" for c in sorted(cited) if c not in covers]
            if scan is not None:
                hits = scan(dumps(_mask_tokens(loads(body))) if cited else body)
                problems.extend(_NAMED.format(oid=oid, field=f) for f in sorted({h.field for h in hits}))
            if problems:
                found[n] = problems
        return found

    return check


_NAMED = "object `{oid}`: `{field}` contains a protected term (cite the source as a `{{{{source:COVER}}}}` token)"


def _mask_tokens(value: Any) -> Any:
    if isinstance(value, str):
        return SOURCE_TOKEN.sub(" ", value) if "{{source:" in value else value
    if isinstance(value, dict):
        return {k: _mask_tokens(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_tokens(v) for v in value]
    return value
