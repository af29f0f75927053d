"""Private set intersection for indicator deconfliction.

The protocol is ``openmined-psi`` (ECDH-PSI over P-256 with a Golomb-compressed set or a Bloom
filter carrying the server's encrypted set); nothing here touches curve arithmetic. This module
only decides *which* values take part and *how they are written* before hashing:

- the server's set is read from the bytes the release pipeline would release to the querying
  partner (``ReleasePipeline.release(..., record=False)``), so a withheld object, a withheld
  topic or a value removed by sanitising never takes part;
- every value is normalised (``normalise``) so that two nodes holding the same indicator in
  different spellings agree: see docs/psi.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

TYPES = ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr",
         "file:hashes.MD5", "file:hashes.SHA-1", "file:hashes.SHA-256")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_PATTERN = re.compile(r"\[\s*([a-z0-9-]+):([A-Za-z0-9_.'\-]+)\s*=\s*'((?:[^'\\]|\\.)*)'\s*\]")


class PsiError(ValueError):
    """A refused or malformed PSI request; the message is shown to the caller."""


def normalise(kind: str, value: str) -> str | None:
    """The canonical text of one observable value, or ``None`` if it is not a valid one."""
    v = value.strip()
    if not v:
        return None
    try:
        if kind in ("ipv4-addr", "ipv6-addr"):
            net = ipaddress.ip_network(v, strict=False)
            if net.num_addresses == 1:
                return str(net.network_address)  # IPv6 compressed, lower case
            return str(net)
        if kind == "domain-name":
            d = v.rstrip(".").lower()
            return d.encode("idna").decode("ascii") if d and not d.isascii() else (d or None)
        if kind == "email-addr":
            return v.lower()
        if kind.startswith("file:hashes."):
            return v.lower() if _HEX.match(v) else None
        if kind == "url":
            return v
    except (ValueError, UnicodeError):
        return None
    return None


def item(kind: str, value: str) -> str | None:
    """The PSI item: the type and the normalised value (a hash never meets an IP of equal text)."""
    n = normalise(kind, value)
    return None if n is None else f"{kind}\x1f{n}"


def observables(obj: dict[str, Any], kinds: Sequence[str]) -> Iterator[str]:
    """PSI items of one STIX object: a cyber observable's value, or an indicator's simple pattern."""
    t = obj.get("type")
    if t in ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr") and t in kinds:
        val = obj.get("value")
        if isinstance(val, str) and (it := item(t, val)):
            yield it
    elif t == "file":
        for algo, h in (obj.get("hashes") or {}).items():
            k = f"file:hashes.{algo.upper() if algo.upper() in ('MD5', 'SHA-1', 'SHA-256') else algo}"
            if k in kinds and isinstance(h, str) and (it := item(k, h)):
                yield it
    elif t == "indicator" and isinstance(obj.get("pattern"), str):
        for otype, prop, val in _PATTERN.findall(obj["pattern"]):
            prop = prop.replace("'", "")
            k = otype if prop == "value" else f"{otype}:{prop}"
            if k in kinds and (it := item(k, val.replace("\\'", "'"))):
                yield it


def items_from_bodies(bodies: Iterable[bytes], kinds: Sequence[str]) -> set[str]:
    """PSI items of released bodies (bundles or single objects)."""
    out: set[str] = set()
    for body in bodies:
        doc = orjson.loads(body)
        objs = doc.get("objects", [doc]) if isinstance(doc, dict) else []
        for o in objs:
            if isinstance(o, dict):
                out.update(observables(o, kinds))
    return out


def released_items(pipeline: Any, partner: str, versions: Sequence[Any], kinds: Sequence[str]) -> set[str]:
    """The server's set for ``partner``: items only from what the pipeline would release to it."""
    outcomes = pipeline.release(partner, versions, channel="psi", record=False)
    return items_from_bodies((o.body for o in outcomes if o.body is not None), kinds)


def parse_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in TYPES]
    if bad or not kinds:
        raise PsiError(f"unknown observable type {', '.join(bad) or '(none)'}; one of {', '.join(TYPES)}")
    return kinds


# --- the protocol (openmined-psi) ---------------------------------------------------------------

def _lib() -> Any:
    import private_set_intersection.python as psi  # imported late: a native extension

    return psi


@dataclass
class ServerSet:
    """The server's encrypted set, kept for many queries (key and setup are reused)."""

    key: Any
    setup: bytes
    size: int
    cardinality_only: bool


def server_setup(items: Sequence[str], client_size: int, *, cardinality_only: bool,
                 fpr: float = 1e-9, gcs: bool = True) -> ServerSet:
    psi = _lib()
    srv = psi.server.CreateWithNewKey(not cardinality_only)
    ds = psi.DataStructure.GCS if gcs else psi.DataStructure.BLOOM_FILTER
    setup = srv.CreateSetupMessage(fpr, max(client_size, 1), list(items), ds)
    return ServerSet(key=srv, setup=bytes(setup.SerializeToString()), size=len(items),
                     cardinality_only=cardinality_only)


def server_answer(ss: ServerSet, request: bytes) -> bytes:
    psi = _lib()
    req = psi.Request()
    req.ParseFromString(request)
    return bytes(ss.key.ProcessRequest(req).SerializeToString())


class Client:
    """The querying side: builds the request and reads the answer (indices or a count)."""

    def __init__(self, items: Sequence[str], *, cardinality_only: bool) -> None:
        psi = _lib()
        self.items = sorted(set(items))  # each item once: a repeat would count twice
        self.cardinality_only = cardinality_only
        self._c = psi.client.CreateWithNewKey(not cardinality_only)

    def request(self) -> bytes:
        return bytes(self._c.CreateRequest(self.items).SerializeToString())

    def result(self, setup: bytes, response: bytes) -> int | list[str]:
        psi = _lib()
        s, r = psi.ServerSetup(), psi.Response()
        s.ParseFromString(setup)
        r.ParseFromString(response)
        if self.cardinality_only:
            return int(self._c.GetIntersectionSize(s, r))
        return sorted(self.items[i] for i in self._c.GetIntersection(s, r))


# --- budget against probing -------------------------------------------------------------------

@dataclass(frozen=True)
class Budget:
    """A partner's PSI allowance: sessions per day, total items per day, the smallest query."""

    queries_per_day: int = 20
    max_total_items: int = 200_000
    min_query_size: int = 100


@dataclass(frozen=True)
class Session:
    """What is kept of one session (never a value): when and how many items the client sent."""

    at_us: int
    client_size: int


DAY_US = 86_400 * 1_000_000


def check_budget(budget: Budget, past: Iterable[Session], client_size: int, now_us: int) -> None:
    """Raise ``PsiError`` with the reason when a query of ``client_size`` items is past the budget.

    A small query is refused because a handful of guessed values is a dictionary probe; the day
    window is the 24 hours before ``now_us``."""
    if client_size < budget.min_query_size:
        raise PsiError(f"query of {client_size} items is below the minimum of {budget.min_query_size}")
    recent = [s for s in past if now_us - DAY_US < s.at_us <= now_us]
    if len(recent) >= budget.queries_per_day:
        raise PsiError(f"budget spent: {len(recent)} of {budget.queries_per_day} queries in the last 24 hours")
    used = sum(s.client_size for s in recent)
    if used + client_size > budget.max_total_items:
        raise PsiError(f"budget spent: {used} + {client_size} items exceeds {budget.max_total_items} "
                       "in the last 24 hours")


# --- the cached server set, updated incrementally -----------------------------------------------

class CachedSet:
    """The server's encrypted set kept between queries and grown without re-encrypting it.

    The library builds a setup message from plaintext items in one call and exposes no encrypted
    items, so growth is by shards: new values (not already held) become one more setup message under
    the same server key. A client's request is answered once; its result is read against every
    shard (shards are disjoint, so counts add up). Adding 10k values costs one 10k-item setup."""

    def __init__(self, max_client_size: int, *, cardinality_only: bool, fpr: float = 1e-9) -> None:
        psi = _lib()
        self.max_client_size = max_client_size
        self.cardinality_only = cardinality_only
        self.fpr = fpr
        self._key = psi.server.CreateWithNewKey(not cardinality_only)
        self._held: set[str] = set()
        self.shards: list[bytes] = []

    def __len__(self) -> int:
        return len(self._held)

    def add(self, items: Iterable[str]) -> int:
        """Add the values not yet held as one new shard; the number added."""
        new = sorted(set(items) - self._held)
        if new:
            psi = _lib()
            setup = self._key.CreateSetupMessage(self.fpr, max(self.max_client_size, 1), new, psi.DataStructure.GCS)
            self.shards.append(bytes(setup.SerializeToString()))
            self._held.update(new)
        return len(new)

    def answer(self, request: bytes) -> bytes:
        psi = _lib()
        req = psi.Request()
        req.ParseFromString(request)
        return bytes(self._key.ProcessRequest(req).SerializeToString())


def client_result(client: Client, shards: Sequence[bytes], response: bytes) -> int | list[str]:
    """A client's result against every shard of a cached set."""
    count, found = 0, set()
    for s in shards:
        r = client.result(s, response)
        if isinstance(r, int):
            count += r
        else:
            found.update(r)
    return count if client.cardinality_only else sorted(found)
