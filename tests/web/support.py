"""What the web tests share: a served node's URL, app, node and partner tokens, and how to get them."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette

from tearline.bootstrap import Node

TAXII = "application/taxii+json;version=2.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    app: Starlette
    node: Node
    tokens: dict[str, str]

    def client(self, partner: str | None) -> httpx.Client:
        headers = {"Accept": TAXII}
        if partner is not None:
            headers["Authorization"] = f"Bearer {self.tokens[partner]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def rotate_tokens(node: Node) -> dict[str, str]:
    return {p.code: node.trust.rotate_token(p.code) for p in node.trust.partners()}
