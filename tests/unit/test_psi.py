"""PSI for indicators: normalisation, the protocol's answer against a plaintext intersection,
cardinality-only answers, and the server set drawn only from what the pipeline releases."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.data import T0

from tearline.canonical import loads
from tearline.demo.scenario import build_scenario
from tearline.model.labeltext import parse_label
from tearline.services import psi
from tearline.services.intake import IngestSummary, Prepared
from tearline.services.prepare import label_object
from tearline.services.trust import ProfileChange
from tearline.store import nodes
from tearline.store import objects as objects_store

KINDS = ("ipv4-addr", "ipv6-addr", "domain-name", "file:hashes.SHA-256")


def test_normalisation_folds_spellings() -> None:
    assert psi.item("domain-name", "Evil.Example.COM.") == psi.item("domain-name", "evil.example.com")
    assert psi.item("ipv6-addr", "2001:0DB8:0000:0000:0000:0000:0000:0001") == psi.item("ipv6-addr", "2001:db8::1")
    assert psi.item("file:hashes.SHA-256", "AB" * 32) == psi.item("file:hashes.SHA-256", "ab" * 32)
    assert psi.item("ipv4-addr", "10.0.0.1") != psi.item("domain-name", "10.0.0.1")
    assert psi.item("ipv4-addr", "not an ip") is None
    assert psi.item("file:hashes.SHA-256", "xyz") is None


@given(st.ip_addresses(v=6))
def test_ipv6_any_spelling_same_item(ip) -> None:  # type: ignore[no-untyped-def]
    assert psi.item("ipv6-addr", ip.exploded.upper()) == psi.item("ipv6-addr", str(ip))


def test_patterns_and_observables() -> None:
    ind = {"type": "indicator", "pattern": "[domain-name:value = 'Bad.Example.'] OR "
                                           "[file:hashes.'SHA-256' = '" + "CD" * 32 + "']"}
    assert set(psi.observables(ind, KINDS)) == {psi.item("domain-name", "bad.example"),
                                                 psi.item("file:hashes.SHA-256", "cd" * 32)}
    assert list(psi.observables({"type": "ipv4-addr", "value": "1.2.3.4"}, ("domain-name",))) == []


def _run(server: list[str], client: list[str], cardinality_only: bool):  # type: ignore[no-untyped-def]
    ss = psi.server_setup(server, len(client), cardinality_only=cardinality_only)
    c = psi.Client(client, cardinality_only=cardinality_only)
    return c.result(ss.setup, psi.server_answer(ss, c.request()))


def test_overlap_exact_against_plaintext() -> None:
    rng = random.Random(21)
    universe = [psi.item("ipv4-addr", f"10.{rng.randrange(256)}.{rng.randrange(256)}.{i % 256}") for i in range(6000)]
    universe = sorted({u for u in universe if u})
    server = rng.sample(universe, 3000)
    client = rng.sample(universe, 1500)
    expected = sorted(set(server) & set(client))
    assert expected
    assert _run(server, client, False) == expected
    assert _run(server, client, True) == len(expected)


def test_cardinality_only_reveals_only_the_count() -> None:
    server = [psi.item("domain-name", f"d{i}.example") for i in range(200)]
    client = [psi.item("domain-name", f"d{i}.example") for i in range(150, 260)]
    out = _run(server, client, True)  # type: ignore[arg-type]
    assert out == 50 and isinstance(out, int)
    # a cardinality-only session cannot be turned into a list of matching values afterwards
    ss = psi.server_setup(server, len(client), cardinality_only=True)  # type: ignore[arg-type]
    c = psi.Client(client, cardinality_only=True)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="reveal_intersection == false"):
        c._c.GetIntersection(*_parsed(ss.setup, psi.server_answer(ss, c.request())))


def _parsed(setup: bytes, response: bytes):  # type: ignore[no-untyped-def]
    import private_set_intersection.python as lib

    s, r = lib.ServerSetup(), lib.Response()
    s.ParseFromString(setup)
    r.ParseFromString(response)
    return s, r


def test_withheld_values_never_take_part(node):  # type: ignore[no-untyped-def]
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
    prepared = [Prepared(obj=i.obj, item=label_object(i.obj, {}, parse_label(i.label))) for i in scenario.items]
    node.intake.store(prepared, collection_id=shared.id, added=[i.added for i in scenario.items],
                      summary=IngestSummary())
    code, _topic = scenario.scale_back  # a partner scaled back: some objects withheld from it
    with node.db.read() as conn:
        rows = objects_store.rows_by_seq(conn, list(range(1, objects_store.max_seq(conn) + 1)))
    kinds = psi.TYPES
    got = psi.released_items(node.release, code, [r.seq for r in rows], kinds)
    outcomes = {o.seq: o for o in node.release.release(code, [r.seq for r in rows], channel="preview", record=False)}
    released_vals: set[str] = set()
    withheld_vals: set[str] = set()
    for r in rows:
        obj = loads(r.body) if hasattr(r, "body") else None
        if obj is None:
            continue
        vals = set(psi.observables(obj, kinds))
        if outcomes[r.seq].body is not None:
            released_vals |= psi.items_from_bodies([outcomes[r.seq].body], kinds)
        else:  # withheld (the scale-back topic among the reasons)
            withheld_vals |= vals
    assert got and withheld_vals, 'the scenario must have indicators on both sides'
    assert got == released_vals
    assert got.isdisjoint(withheld_vals - released_vals)


def test_budget_refuses_past_it() -> None:
    b = psi.Budget(queries_per_day=2, max_total_items=1000, min_query_size=100)
    now = 10 * psi.DAY_US
    psi.check_budget(b, [], 100, now)
    with pytest.raises(psi.PsiError, match="below the minimum of 100"):
        psi.check_budget(b, [], 99, now)
    two = [psi.Session(now - 10, 100), psi.Session(now - 20, 100)]
    with pytest.raises(psi.PsiError, match="2 of 2 queries"):
        psi.check_budget(b, two, 100, now)
    with pytest.raises(psi.PsiError, match="900 \\+ 200 items exceeds 1000"):
        psi.check_budget(b, [psi.Session(now - 5, 900)], 200, now)
    # a day later the allowance is back
    psi.check_budget(b, two, 100, now + psi.DAY_US)


@pytest.mark.parametrize("cardinality_only", [False, True])
def test_cached_set_grows_by_shards_and_stays_exact(cardinality_only: bool) -> None:
    rng = random.Random(5)
    first = [f"ipv4-addr\x1f{rng.randrange(1 << 32)}" for _ in range(2000)]
    later = [f"ipv4-addr\x1f{rng.randrange(1 << 32)}" for _ in range(500)] + first[:100]  # overlap held once
    cs = psi.CachedSet(1000, cardinality_only=cardinality_only)
    assert cs.add(first) == len(set(first))
    assert cs.add(later) == len(set(later) - set(first))
    assert len(cs.shards) == 2
    client = rng.sample(first, 300) + rng.sample(later, 200) + [f"domain-name\x1fx{i}.example" for i in range(300)]
    client = sorted(set(client))  # a client sends each item once
    c = psi.Client(client, cardinality_only=cardinality_only)
    got = psi.client_result(c, cs.shards, cs.answer(c.request()))
    expected = sorted(set(client) & (set(first) | set(later)))
    assert got == (len(expected) if cardinality_only else expected)
