"""PSI between two real nodes over real HTTP on 127.0.0.1: exact overlap, cardinality-only,
the budget, and the ledger's session leaves (sizes, never values)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import orjson
import pytest

from tearline.demo.network import Member
from tearline.services.sync import PeerError
from tearline.store import ledger as ledger_store

KINDS = ("ipv4-addr", "domain-name", "file:hashes.SHA-256", "file:hashes.MD5", "url")


def test_psi_query_between_two_nodes(pair: tuple[Member, Member], serve: Callable[[Member], str]) -> None:
    a, b = pair
    b.node.settings = dataclasses.replace(b.node.settings, psi_queries_per_day=2, psi_min_query=1)
    serve(b)
    fed = a.node.federation()
    fed.peers.add("USA", b.url, b.tokens["GBR"])
    mine = a.node.psi_querier().our_items(KINDS)
    [report] = fed.run("pull", "USA")  # GBR now holds what USA released to it: a real overlap
    assert report.error is None
    querier = a.node.psi_querier()
    ours = querier.our_items(KINDS)
    theirs = b.node.psi_server()._server_items("GBR", KINDS)  # what USA would release to GBR
    expected = sorted(ours & theirs)
    assert ours and theirs and len(expected) > len(mine & theirs)
    print(f"ours {len(ours)}, theirs {len(theirs)}, overlap {len(expected)}")

    got = querier.query("USA", ",".join(KINDS), cardinality_only=False)
    assert got.values == expected  # exact against the plaintext intersection
    assert got.count == len(expected) and got.client_size == len(ours) and got.server_size == len(theirs)

    card = querier.query("USA", ",".join(KINDS), cardinality_only=True)
    assert card.values is None and card.count == len(expected)

    with pytest.raises(PeerError, match="budget spent: 2 of 2 queries"):
        querier.query("USA", ",".join(KINDS), cardinality_only=True)

    values = {v.split("\x1f", 1)[1] for v in ours | theirs}
    for m, role in ((b, "server"), (a, "client")):
        with m.node.db.read() as conn:
            leaves = [orjson.loads(r.leaf) for r in ledger_store.iter_leaves(conn) if r.kind == "psi"]
        assert [leaf["role"] for leaf in leaves] == [role] * len(leaves)
        assert [leaf["outcome"] for leaf in leaves] == (["answered"] * 2 + (["refused"] if role == "server" else []))
        assert leaves[0]["client_size"] == len(ours) and leaves[0]["server_size"] == len(theirs)
        if role == "client":
            assert [leaf["result_size"] for leaf in leaves] == [len(expected)] * 2
        else:
            assert "result_size" not in leaves[0]
        text = orjson.dumps(leaves)
        assert not [v for v in values if len(v) > 3 and v.encode() in text]  # never a value
