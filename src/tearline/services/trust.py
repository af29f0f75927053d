"""Partners and trust profiles: add, change, scale back, restore. Every change is a new version."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection

from tearline.clock import Clock
from tearline.errors import Conflict, InvalidInput, NotFound
from tearline.ids import IdFactory, RandomIds
from tearline.model.markings import DEFAULT_SCHEME, ClassificationScheme, Tlp
from tearline.model.partners import (
    Partner,
    ProfileVersion,
    TrustProfile,
    check_code,
    profile_in_force,
)
from tearline.services.ledger import Ledger
from tearline.store import nodes
from tearline.store import partners as store
from tearline.store.engine import Database


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "tl_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ProfileChange:
    """Options of `partner add|set|scale-back`: None means "leave as it is"."""

    clearance: str | None = None
    tlp_ceiling: str | None = None
    exclude_topics: tuple[str, ...] = ()
    include_topics: tuple[str, ...] = ()
    embargo: timedelta | None = None
    sanitised_only: bool | None = None
    suspended: bool | None = None
    fingerprint: bool | None = None

    def apply(self, base: TrustProfile, scheme: ClassificationScheme = DEFAULT_SCHEME) -> TrustProfile:
        p = base
        if self.clearance is not None:
            try:
                p = replace(p, clearance=scheme.level(self.clearance))
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
        if self.tlp_ceiling is not None:
            try:
                p = replace(p, tlp_ceiling=Tlp.from_text(self.tlp_ceiling))
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
        topics = set(p.excluded_topics)
        topics |= {t.strip().lower() for t in self.exclude_topics if t.strip()}
        topics -= {t.strip().lower() for t in self.include_topics}
        p = replace(p, excluded_topics=frozenset(topics))
        if self.embargo is not None:
            p = replace(p, embargo=self.embargo)
        if self.sanitised_only is not None:
            p = replace(p, sanitised_only=self.sanitised_only)
        if self.suspended is not None:
            p = replace(p, suspended=self.suspended)
        if self.fingerprint is not None:
            p = replace(p, fingerprint=self.fingerprint)
        return p

    @property
    def empty(self) -> bool:
        return self == ProfileChange()


def default_profile(code: str) -> TrustProfile:
    """The profile a new partner gets when no option is given: UNCLASSIFIED, TLP:GREEN, nothing else."""
    return TrustProfile(partner=code, clearance=0, tlp_ceiling=Tlp.GREEN)


ProfileHook = Callable[[Connection, str], None]


class Trust:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        on_profile: ProfileHook | None = None,
        ledger: Ledger | None = None,
        ids: IdFactory | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ids = ids or RandomIds()
        self.ledger = ledger
        self.on_profile = on_profile  # called in the transaction after a new profile version

    def add_partner(
        self,
        code: str,
        name: str,
        change: ProfileChange,
        *,
        effective_from: datetime | None = None,
        approved_by: str = "node",
        reason: str = "partner added",
    ) -> tuple[Partner, str]:
        """Add a partner with its first profile version and an inbox; returns (partner, token)."""
        try:
            code = check_code(code)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        now = self.clock.now()
        token = new_token()
        profile = change.apply(default_profile(code))
        with self.db.write() as conn:
            if store.get_partner(conn, code) is not None:
                raise Conflict(f"partner `{code}` already exists")
            partner = Partner(code=code, name=name.strip() or code, created_at=now)
            store.add_partner(conn, partner, hash_token(token))
            self._add_version(conn, code, profile, effective_from or now, reason, approved_by)
            nodes.add_collection(
                conn,
                nodes.CollectionRow(
                    id=self.ids.new_uuid(),
                    alias=f"inbox-{code.lower()}",
                    title=f"Inbox of {code}",
                    description=f"what {code} sends to this node; only {code} can see it",
                    kind="inbox",
                    owner=code,
                    partner_write=True,
                    created_us=_us(now),
                ),
            )
        return partner, token

    def change(
        self,
        code: str,
        change: ProfileChange,
        *,
        reason: str,
        approved_by: str,
        effective_from: datetime | None = None,
        narrowing_only: bool = False,
    ) -> ProfileVersion:
        """Make a new profile version from the newest one with `change` applied."""
        reason, approved_by = _need(reason, "reason"), _need(approved_by, "approved-by")
        now = self.clock.now()
        with self.db.write() as conn:
            history = self._history(conn, code)
            base = history[-1].profile
            proposed = change.apply(base)
            if narrowing_only:
                widen = base.narrows(proposed)
                if widen:
                    raise Conflict(
                        "a scale-back cannot widen what the partner receives: "
                        + ", ".join(f"`--{w}`" for w in widen)
                    )
            # (check_narrowing does the same outside a transaction, for dry runs)
            if proposed == base and effective_from is None:
                raise Conflict(f"the change leaves the profile of `{code}` as it is")
            return self._add_version(conn, code, proposed, effective_from or now, reason, approved_by)

    def proposed(self, code: str, change: ProfileChange) -> tuple[TrustProfile, TrustProfile]:
        """(profile in force now, the profile `change` would make) without changing anything."""
        with self.db.read() as conn:
            history = self._history(conn, code)
        current = profile_in_force(history, self.clock.now()) or history[-1]
        return current.profile, change.apply(history[-1].profile)

    def check_narrowing(self, code: str, change: ProfileChange) -> None:
        """Refuse a change that would widen what the partner receives."""
        with self.db.read() as conn:
            base = self._history(conn, code)[-1].profile
        widen = base.narrows(change.apply(base))
        if widen:
            raise Conflict(
                "a scale-back cannot widen what the partner receives: " + ", ".join(f"`--{w}`" for w in widen)
            )

    def restore(self, code: str, to_version: int, *, reason: str, approved_by: str) -> ProfileVersion:
        reason, approved_by = _need(reason, "reason"), _need(approved_by, "approved-by")
        with self.db.write() as conn:
            history = self._history(conn, code)
            match = [pv for pv in history if pv.version == to_version]
            if not match:
                raise NotFound(f"partner `{code}` has no profile version {to_version}")
            return self._add_version(conn, code, match[0].profile, self.clock.now(), reason, approved_by)

    def history(self, code: str) -> list[ProfileVersion]:
        with self.db.read() as conn:
            return self._history(conn, code)

    def in_force(self, code: str, at: datetime | None = None) -> ProfileVersion:
        history = self.history(code)
        pv = profile_in_force(history, at or self.clock.now())
        if pv is None:
            raise NotFound(f"partner `{code}` has no profile in force yet")
        return pv

    def partners(self) -> list[Partner]:
        with self.db.read() as conn:
            return store.list_partners(conn)

    def get(self, code: str) -> Partner:
        with self.db.read() as conn:
            p = store.get_partner(conn, code.strip().upper())
        if p is None:
            raise NotFound(f"no partner `{code}`")
        return p

    def rotate_token(self, code: str) -> str:
        token = new_token()
        with self.db.write() as conn:
            if store.get_partner(conn, code.strip().upper()) is None:
                raise NotFound(f"no partner `{code}`")
            store.set_token_hash(conn, code.strip().upper(), hash_token(token))
        return token

    # -- internals ------------------------------------------------------------------------
    def _history(self, conn: Connection, code: str) -> list[ProfileVersion]:
        code = code.strip().upper()
        history = store.history(conn, code)
        if not history:
            raise NotFound(f"no partner `{code}`")
        return history

    def _add_version(
        self,
        conn: Connection,
        code: str,
        profile: TrustProfile,
        effective_from: datetime,
        reason: str,
        approved_by: str,
    ) -> ProfileVersion:
        pv = ProfileVersion(
            partner=code,
            version=store.latest_version_number(conn, code) + 1,
            profile=replace(profile, partner=code),
            effective_from=effective_from,
            created_at=self.clock.now(),
            reason=reason,
            approved_by=approved_by,
        )
        store.add_profile_version(conn, pv)
        if self.ledger is not None:
            self.ledger.profile(
                conn, time=pv.created_at, partner=code, version=pv.version, reason=reason, approved_by=approved_by
            )
        if self.on_profile is not None:
            self.on_profile(conn, code)
        return pv


def _need(value: str, name: str) -> str:
    if not value or not value.strip():
        raise InvalidInput(f"`--{name}` is required and cannot be empty")
    return value.strip()


def _us(at: datetime) -> int:
    from tearline.canonical import to_micros

    return to_micros(at)
