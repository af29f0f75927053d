"""A request id on every HTTP exchange: the caller's ``X-Request-ID`` when it is a short, printable
token, a fresh random one otherwise; it is set in ``scope["state"]["request_id"]`` and returned in the
response's ``X-Request-ID``. Hand-written (a dozen lines of pure ASGI) rather than a dependency: it
must not buffer bodies (streamed TAXII pages) and holds nothing of the node, the database or the vault.
"""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_OK = re.compile(rb"[A-Za-z0-9._:-]{1,128}")  # bounded, log-safe: no spaces, quotes or newlines


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == HEADER), b"")
        rid = given if _OK.fullmatch(given) else secrets.token_hex(16).encode()
        scope.setdefault("state", {})["request_id"] = rid.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid)]}
            await send(message)

        await self.app(scope, receive, send_with_id)
