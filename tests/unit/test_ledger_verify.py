"""The standalone verifier: import purity, export checks (library and CLI), live-node checks."""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tearline.ledger import leaves as L
from tearline.ledger import verify
from tearline.ledger.checkpoint import sign_head
from tearline.ledger.hashing import hash_leaf
from tearline.ledger.proofs import consistency_proof, inclusion_proof
from tearline.ledger.tree import Frontier, NodeId

VERIFY = Path(verify.__file__)
KEY = Ed25519PrivateKey.from_private_bytes(b"\x42" * 32)
PUB_HEX = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
AT = datetime(2026, 11, 29, tzinfo=UTC)


def test_verifier_imports_nothing_of_tearline_by_ast() -> None:
    tree = ast.parse(VERIFY.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in the verifier"
            names.add(node.module or "")
    roots = {name.split(".")[0] for name in names}
    assert roots <= set(sys.stdlib_module_names) | {"cryptography"}, roots


def test_verifier_runs_alone_in_an_isolated_interpreter(tmp_path: Path) -> None:
    alone = tmp_path / "verify.py"  # a partner's copy, away from the package
    alone.write_bytes(VERIFY.read_bytes())
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'tearline'];"
        "print('LOADED', bad)"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code, str(alone)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "LOADED []"


class Ledger:
    """An in-memory ledger built with the node's own code, to export and to serve."""

    def __init__(self, n: int) -> None:
        self.frontier = Frontier()
        self.nodes: dict[NodeId, bytes] = {}
        self.leaves: list[bytes] = []
        self.heads: dict[int, verify.SignedHead] = {}
        for i in range(n):
            self.append(L.sequenced(self.make(i), i))

    @staticmethod
    def make(i: int) -> dict[str, Any]:
        return L.release_leaf(
            time=AT,
            partner="GBR" if i % 2 else "CAN",
            object_id=f"x--{i}",
            version="v",
            sha256=f"{i:064x}",
            verdict="RELEASE",
            reasons=[],
        )

    def append(self, leaf: dict[str, Any]) -> None:
        data = L.encode(leaf)
        h = hash_leaf(data)
        self.nodes[(0, len(self.leaves))] = h
        self.leaves.append(data)
        for lv, ix, nh in self.frontier.append(h):
            self.nodes[(lv, ix)] = nh
        size = len(self.leaves)
        if size % 5 == 0:
            self.heads[size] = sign_head(KEY, "TEST", size, self.frontier.root(), size)

    def get_nodes(self, ids: Any) -> list[bytes]:
        return [self.nodes[i] for i in ids]

    def export(self) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for seq, data in enumerate(self.leaves):
            lines.append({"type": "leaf", "seq": seq, "leaf": data.decode()})
            if seq + 1 in self.heads:
                lines.append({"type": "head", **self.heads[seq + 1].to_json()})
        return lines


def _text(lines: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(obj) + "\n" for obj in lines]


def test_export_verifies_and_partners_see_hashes_only() -> None:
    ledger = Ledger(23)
    key = verify.load_public_key(PUB_HEX)
    assert verify.check_export(_text(ledger.export()), key) == "OK: 23 leaves, 4 signed heads of `TEST` verified"
    partner_view = [
        {"type": "leaf", "seq": o["seq"], "leaf_hash": hash_leaf(o["leaf"].encode()).hex()}
        if o["type"] == "leaf" and '"CAN"' in o["leaf"]
        else o
        for o in ledger.export()
    ]
    assert verify.check_export(_text(partner_view), key).startswith("OK: 23 leaves")
    heads_first = [o for o in ledger.export() if o["type"] == "head"] + [
        o for o in ledger.export() if o["type"] == "leaf"
    ]
    assert verify.check_export(_text(heads_first), key).startswith("OK")


def _tampered(kind: str) -> list[dict[str, Any]]:
    lines = Ledger(23).export()
    leaf_at = {o["seq"]: o for o in lines if o["type"] == "leaf"}
    head_at = {o["size"]: o for o in lines if o["type"] == "head"}
    if kind == "leaf":
        leaf_at[12]["leaf"] = leaf_at[12]["leaf"].replace("RELEASE", "WITHHOLD")
    elif kind == "leaf hash":
        leaf_at[12]["leaf_hash"] = "00" * 32
    elif kind == "swap":
        leaf_at[12]["leaf"], leaf_at[13]["leaf"] = leaf_at[13]["leaf"], leaf_at[12]["leaf"]
    elif kind == "delete":
        lines.remove(leaf_at[12])
    elif kind == "root":
        head_at[15]["root"] = "11" * 32
    elif kind == "signature":
        head_at[15]["signature"] = base64.b64encode(bytes(64)).decode()
    return lines


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("leaf", "head of size 15: root differs"),
        ("leaf hash", "seq 12: leaf_hash does not match"),
        ("swap", "seq 12: the leaf records seq 13"),
        ("delete", "leaf seq 13 where 12 was expected"),
        ("root", "bad signature on the tree head of size 15"),
        ("signature", "bad signature on the tree head of size 15"),
    ],
)
def test_tampered_exports_fail_at_the_right_place(kind: str, words: str, tmp_path: Path) -> None:
    with pytest.raises(verify.VerificationError, match=words):
        verify.check_export(_text(_tampered(kind)), verify.load_public_key(PUB_HEX))
    path = tmp_path / "export.jsonl"
    path.write_text("".join(_text(_tampered(kind))))
    out = _cli("--export", str(path), "--public-key", PUB_HEX)
    assert out.returncode == 1 and out.stdout.startswith("FAILED:") and words in out.stdout


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tearline.ledger.verify", *args], capture_output=True, text=True)


def test_cli_export_ok_with_a_pem_key(tmp_path: Path) -> None:
    pem = tmp_path / "node.pub"
    pem.write_bytes(KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    path = tmp_path / "export.jsonl"
    path.write_text("".join(_text(Ledger(10).export())))
    out = _cli("--export", str(path), "--public-key", str(pem))
    assert (out.returncode, out.stdout.strip()) == (0, "OK: 10 leaves, 2 signed heads of `TEST` verified")
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    assert _cli("--export", str(path), "--public-key", other).returncode == 1
    assert _cli("--export", str(path), "--public-key", "not-a-key").returncode == 3
    assert _cli("--export", str(tmp_path / "absent"), "--public-key", PUB_HEX).returncode == 3


# --- a live node, served by the standard library ------------------------------------------------


@pytest.fixture
def node() -> Iterator[tuple[str, Ledger, dict[str, bool]]]:
    ledger = Ledger(37)
    faults = {"bad_proof": False}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlparse(self.path)
            q = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
            size = len(ledger.leaves)
            if url.path == "/ledger/v1/head":
                body: Any = sign_head(KEY, "TEST", size, ledger.frontier.root(), 7).to_json()
            elif url.path == "/ledger/v1/proof/inclusion":
                path = inclusion_proof(q["seq"], q["size"], ledger.get_nodes)
                if faults["bad_proof"]:
                    path = path[::-1]
                body = {"seq": q["seq"], "size": q["size"], "path": [h.hex() for h in path]}
            elif url.path == "/ledger/v1/proof/consistency":
                path = consistency_proof(q["first"], q["second"], ledger.get_nodes)
                body = {"first": q["first"], "second": q["second"], "path": [h.hex() for h in path]}
            elif url.path == "/ledger/v1/leaves":
                body = {
                    "start": q["start"],
                    "end": q["end"],
                    "leaves": [
                        {"seq": s, "leaf_hash": hash_leaf(ledger.leaves[s]).hex()} for s in range(q["start"], q["end"])
                    ],
                }
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ledger, faults
    server.shutdown()
    server.server_close()
    thread.join()


def test_live_node_inclusion_and_growth(node: tuple[str, Ledger, dict[str, bool]], tmp_path: Path) -> None:
    url, ledger, faults = node
    key = verify.load_public_key(PUB_HEX)
    assert verify.check_node(url, key, "12") == "OK: seq 12 included in the tree of size 37 of `TEST`"
    mine = tmp_path / "leaf.json"
    mine.write_bytes(ledger.leaves[21])
    previous = ledger.heads[20]
    msg = verify.check_node(url, key, str(mine), previous)
    assert msg == "OK: seq 21 included in the tree of size 37 of `TEST`, consistent with size 20"
    prev_file = tmp_path / "head.json"
    prev_file.write_text(json.dumps(previous.to_json()))
    out = _cli("--url", url, "--public-key", PUB_HEX, "--leaf", str(mine), "--previous-head", str(prev_file))
    assert out.returncode == 0, out.stdout + out.stderr
    forged = tmp_path / "forged.json"
    forged.write_bytes(ledger.leaves[21].replace(b"RELEASE", b"WITHHOLD"))
    with pytest.raises(verify.VerificationError, match="inclusion proof of leaf 21"):
        verify.check_node(url, key, str(forged))
    faults["bad_proof"] = True
    out = _cli("--url", url, "--public-key", PUB_HEX, "--leaf", "12")
    assert out.returncode == 1 and "inclusion proof of leaf 12" in out.stdout


def test_live_node_that_forked_history_is_caught(node: tuple[str, Ledger, dict[str, bool]]) -> None:
    url, _, _ = node
    fork = Ledger(20)
    fork.append(L.sequenced(Ledger.make(99), 20))  # a different leaf 20: a split view
    head = sign_head(KEY, "TEST", 21, fork.frontier.root(), 1)
    with pytest.raises(verify.VerificationError, match="consistency proof"):
        verify.check_node(url, verify.load_public_key(PUB_HEX), "3", head)
