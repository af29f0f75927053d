"""Standalone verifier of a tearline release ledger.

This one file is what a partner copies: it imports only the standard library and ``cryptography``,
nothing of tearline (a test proves it). It holds the single copy of every check a verifier makes;
the node's own modules import the proof checks and the signed byte form from here.

* RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) proof verification, transcribed.
* The signed tree head: the byte form of §"Signed tree heads" in docs/ledger.md, Ed25519.
* ``--export FILE``: recompute every leaf hash and root of an export (JSON lines) and check every
  signed head in it.
* ``--url URL --leaf FILE_OR_SEQ``: fetch a live node's latest head, check its signature, and
  check that the leaf is included under it (and, with ``--previous-head``, that the log only grew).

Exit status: 0 verified, 1 verification failed, 3 unusable input (key, file, arguments).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

CHECKPOINT_TAG = b"tearline-ledger-checkpoint/v1"
_ORIGIN = re.compile(r"^[\x21-\x7e]{1,128}$")


class VerificationError(ValueError):
    """A proof, a head or an export that does not verify; the message says which check failed."""


class UnusableInput(ValueError):
    """A key, a file or an argument the verifier cannot use at all."""


def hash_leaf(leaf: bytes) -> bytes:
    """RFC 9162 leaf hash ``SHA-256(0x00 || leaf)``."""
    return sha256(b"\x00" + leaf).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior hash ``SHA-256(0x01 || left || right)``."""
    return sha256(b"\x01" + left + right).digest()


def root_from_inclusion_path(index: int, size: int, leaf_hash: bytes, path: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion path (RFC 9162 §2.1.3.2 steps 1-6)."""
    if index < 0 or index >= size:
        raise VerificationError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            raise VerificationError("inclusion path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion path is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf_hash: bytes, path: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`VerificationError` unless ``path`` proves leaf ``index`` under ``root``."""
    if root_from_inclusion_path(index, size, leaf_hash, path) != root:
        raise VerificationError(f"inclusion proof of leaf {index} does not lead to the root of size {size}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]) -> None:
    """Raise unless ``path`` proves the tree of ``second`` leaves extends that of ``first`` (§2.1.4.2)."""
    if first < 0 or second < first:
        raise VerificationError(f"sizes {first} and {second} are not in order")
    if first == second:
        if path or first_root != second_root:
            raise VerificationError(f"two different roots for the same size {first}")
        return
    if first == 0:
        if path:
            raise VerificationError("a consistency proof from the empty tree must be empty")
        return
    if not path:
        raise VerificationError("empty consistency proof")
    proof = list(path)
    if first & (first - 1) == 0:  # step 1: first is an exact power of two
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:  # step 3
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is shorter than needed")
    if fr != first_root:
        raise VerificationError(f"consistency proof does not lead to the root of size {first}")
    if sr != second_root:
        raise VerificationError(f"consistency proof does not lead to the root of size {second}")


def checkpoint_body(origin: str, size: int, root: bytes, timestamp_us: int) -> bytes:
    """The exact bytes a tree head signature covers (docs/ledger.md, "Signed tree heads")."""
    if not _ORIGIN.match(origin):
        raise VerificationError(f"origin `{origin}` is not 1-128 printable ascii characters without spaces")
    if size < 0 or timestamp_us < 0 or len(root) != 32:
        raise VerificationError("a tree head needs a size >= 0, a timestamp >= 0 and a 32-byte root")
    lines = [CHECKPOINT_TAG, origin.encode(), b"%d" % size, root.hex().encode(), b"%d" % timestamp_us]
    return b"\n".join(lines) + b"\n"


@dataclass(frozen=True)
class SignedHead:
    """A signed tree head: origin (the node code), size, root and time, signed with Ed25519."""

    origin: str
    size: int
    root: bytes
    timestamp_us: int
    signature: bytes

    def body(self) -> bytes:
        return checkpoint_body(self.origin, self.size, self.root, self.timestamp_us)

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "root": self.root.hex(),
            "signature": base64.b64encode(self.signature).decode(),
            "size": self.size,
            "timestamp_us": self.timestamp_us,
        }

    @classmethod
    def from_json(cls, obj: Any) -> SignedHead:
        try:
            return cls(
                origin=_typed(obj["origin"], str),
                size=_typed(obj["size"], int),
                root=_unhex(obj["root"]),
                timestamp_us=_typed(obj["timestamp_us"], int),
                signature=base64.b64decode(_typed(obj["signature"], str), validate=True),
            )
        except (KeyError, TypeError, binascii.Error) as exc:
            raise VerificationError(f"malformed tree head: {exc}") from None


def verify_head(head: SignedHead, public_key: Ed25519PublicKey) -> None:
    """Raise unless ``head`` carries a valid signature by ``public_key``."""
    try:
        public_key.verify(head.signature, head.body())
    except InvalidSignature:
        raise VerificationError(f"bad signature on the tree head of size {head.size}") from None


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"`{value!r}` is not a {kind.__name__}")
    return value


def _unhex(value: Any) -> bytes:
    try:
        out = bytes.fromhex(_typed(value, str))
    except ValueError:
        raise TypeError(f"`{value}` is not hex") from None
    if len(out) != 32:
        raise TypeError(f"`{value}` is not a 32-byte hash")
    return out


def load_public_key(spec: str) -> Ed25519PublicKey:
    """A key from a PEM file, or a file or string holding the raw 32 bytes in hex or base64."""
    path = Path(spec)
    data = path.read_bytes() if path.is_file() else spec.encode()
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise UnusableInput("the public key is not an ed25519 key")
            return key
        text = data.strip().decode()
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error) as exc:
        raise UnusableInput(f"cannot read an ed25519 public key from `{spec}`: {exc}") from None


def check_export(lines: Iterable[str], public_key: Ed25519PublicKey) -> str:
    """Verify an export (docs/ledger.md, "Export"); return a summary or raise VerificationError."""
    stack: list[tuple[int, bytes]] = []  # the frontier: (level, hash) of complete subtrees
    size = 0
    pending: dict[int, SignedHead] = {}
    checked = 0
    origin = None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            kind = obj["type"]
        except (ValueError, KeyError, TypeError):
            raise VerificationError(f"line {lineno}: not a json object with a `type`") from None
        if kind == "head":
            head = SignedHead.from_json(obj)
            verify_head(head, public_key)
            if origin is not None and head.origin != origin:
                raise VerificationError(f"line {lineno}: heads of two origins, `{origin}` and `{head.origin}`")
            origin = head.origin
            if head.size < size:
                raise VerificationError(f"line {lineno}: head of size {head.size} comes after leaf {size - 1}")
            pending[head.size] = head
        elif kind == "leaf":
            leaf_hash = _export_leaf_hash(obj, size, lineno)
            level, h = 0, leaf_hash
            while stack and stack[-1][0] == level:
                h = hash_children(stack.pop()[1], h)
                level += 1
            stack.append((level, h))
            size += 1
        else:
            raise VerificationError(f"line {lineno}: unknown type `{kind}`")
        if size in pending:
            head = pending.pop(size)
            root = _fold([h for _, h in stack])
            if root != head.root:
                raise VerificationError(f"head of size {size}: root differs from the leaves (first bad size)")
            checked += 1
    if pending:
        raise VerificationError(f"head of size {min(pending)} is beyond the {size} leaves in the export")
    if not checked:
        raise VerificationError("no signed tree head in the export")
    return f"OK: {size} leaves, {checked} signed heads of `{origin}` verified"


def _export_leaf_hash(obj: dict[str, Any], seq: int, lineno: int) -> bytes:
    if obj.get("seq") != seq:
        raise VerificationError(f"line {lineno}: leaf seq {obj.get('seq')!r} where {seq} was expected")
    stated = obj.get("leaf_hash")
    try:
        stated_hash = _unhex(stated) if stated is not None else None
    except TypeError as exc:
        raise VerificationError(f"seq {seq}: {exc}") from None
    text = obj.get("leaf")
    if text is None:
        if stated_hash is None:
            raise VerificationError(f"seq {seq}: neither `leaf` nor `leaf_hash`")
        return stated_hash
    if not isinstance(text, str):
        raise VerificationError(f"seq {seq}: `leaf` is not a string")
    data = text.encode()
    try:
        inner = json.loads(data)
    except ValueError:
        raise VerificationError(f"seq {seq}: leaf is not json") from None
    if not isinstance(inner, dict) or inner.get("seq") != seq:
        raise VerificationError(f"seq {seq}: the leaf records seq {_get(inner, 'seq')!r}")
    computed = hash_leaf(data)
    if stated_hash is not None and stated_hash != computed:
        raise VerificationError(f"seq {seq}: leaf_hash does not match the leaf")
    return computed


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _fold(hashes: Sequence[bytes]) -> bytes:
    if not hashes:
        return sha256(b"").digest()
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = hash_children(left, acc)
    return acc


def _get_json(base: str, path: str, params: dict[str, int], timeout: float, token: str | None = None) -> Any:
    url = base.rstrip("/") + path + ("?" + urllib.parse.urlencode(params) if params else "")
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError) as exc:
        raise VerificationError(f"`{url}`: {exc}") from None


def check_node(
    base: str,
    public_key: Ed25519PublicKey,
    leaf: str,
    previous: SignedHead | None = None,
    timeout: float = 30.0,
    token: str | None = None,
) -> str:
    """Check a live node: its latest head, one leaf's inclusion, and growth from ``previous``."""
    head = SignedHead.from_json(_get_json(base, "/ledger/v1/head", {}, timeout, token))
    verify_head(head, public_key)
    leaf_path = Path(leaf)
    if leaf_path.is_file():
        data = leaf_path.read_bytes().rstrip(b"\n")
        try:
            seq = json.loads(data)["seq"]
        except (ValueError, KeyError, TypeError):
            raise UnusableInput(f"`{leaf}` is not a ledger leaf with a `seq`") from None
        leaf_hash = hash_leaf(data)
    elif leaf.isdigit():
        seq = int(leaf)
        page = _get_json(base, "/ledger/v1/leaves", {"start": seq, "end": seq + 1}, timeout, token)
        try:
            entry = page["leaves"][0]
            leaf_hash = _unhex(entry["leaf_hash"])
        except (KeyError, IndexError, TypeError):
            raise VerificationError(f"the node returned no leaf hash for seq {seq}") from None
        if "leaf" in entry and hash_leaf(str(entry["leaf"]).encode()) != leaf_hash:
            raise VerificationError(f"seq {seq}: the leaf served does not match its hash")
    else:
        raise UnusableInput(f"`{leaf}` is neither a leaf file nor a seq")
    if not isinstance(seq, int) or not 0 <= seq < head.size:
        raise VerificationError(f"seq {seq!r} is not in the tree of size {head.size}")
    proof = _get_json(base, "/ledger/v1/proof/inclusion", {"seq": seq, "size": head.size}, timeout, token)
    verify_inclusion(seq, head.size, leaf_hash, _hash_list(proof), head.root)
    if previous is not None:
        verify_head(previous, public_key)
        if previous.origin != head.origin:
            raise VerificationError(f"previous head is of `{previous.origin}`, not `{head.origin}`")
        params = {"first": previous.size, "second": head.size}
        cons = _get_json(base, "/ledger/v1/proof/consistency", params, timeout, token)
        verify_consistency(previous.size, head.size, previous.root, head.root, _hash_list(cons))
    grown = f", consistent with size {previous.size}" if previous is not None else ""
    return f"OK: seq {seq} included in the tree of size {head.size} of `{head.origin}`{grown}"


def _hash_list(body: Any) -> list[bytes]:
    try:
        return [_unhex(h) for h in body["path"]]
    except (KeyError, TypeError) as exc:
        raise VerificationError(f"malformed proof: {exc}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 3 (invalid input), not argparse's 2 (denied)
        self.print_usage(sys.stderr)
        self.exit(3, f"error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m tearline.ledger.verify", description=__doc__.split("\n")[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--export", metavar="FILE", help="an export file (json lines)")
    src.add_argument("--url", help="base url of a live node")
    parser.add_argument("--public-key", required=True, metavar="KEY", help="PEM file, or raw key hex/base64")
    parser.add_argument("--leaf", metavar="FILE_OR_SEQ", help="with --url: your leaf file, or a seq")
    parser.add_argument("--previous-head", metavar="FILE", help="with --url: a head seen before (json)")
    parser.add_argument("--token-file", metavar="FILE",
                        help="with --url: file holding your partner token (or set TEARLINE_TOKEN)")
    args = parser.parse_args(argv)
    try:
        key = load_public_key(args.public_key)
        if args.export:
            with open(args.export, encoding="utf-8") as fh:
                print(check_export(fh, key))
        else:
            if not args.leaf:
                raise UnusableInput("--url needs --leaf")
            prev = None
            if args.previous_head:
                try:
                    prev = SignedHead.from_json(json.loads(Path(args.previous_head).read_text()))
                except VerificationError as exc:
                    raise UnusableInput(f"`{args.previous_head}`: {exc}") from None
                except ValueError:
                    raise UnusableInput(f"`{args.previous_head}` is not json") from None
            token = os.environ.get("TEARLINE_TOKEN") or None
            if args.token_file:
                token = Path(args.token_file).read_text("utf-8").strip()
            print(check_node(args.url, key, args.leaf, prev, token=token))
    except VerificationError as exc:
        print(f"FAILED: {exc}")
        return 1
    except (UnusableInput, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
