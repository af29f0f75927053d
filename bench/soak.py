"""Soak: 200 concurrent partner clients for 60 s against `tearline serve --workers 2` on the ATT&CK data.

Each client is one of several partners crawling the shared collection (limit=100, following `next`,
then again) and its own inbox. Checks: zero errors, zero cross-partner objects (an object a partner
receives must be in the set the policy and the release pipeline release to it; every partner here
gets its own inbox post, which no other may see), and the server's resident memory at the end within
20% of what it was after the first 10 s. Prints the figures.

Usage: python bench/soak.py [--seconds 60] [--clients 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from taxii import BIN, TAXII, free_port, rss_kb, stop, tearline, wait_up

PARTNERS = ("USA", "CAN", "AUS", "NZL")


async def client(url: str, partner: str, token: str, until: float, stats: dict[str, int],
                 mine: dict[str, str], errors: list[str]) -> None:
    others = {sid for p, sid in mine.items() if p != partner}
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 headers={"Accept": TAXII, "Authorization": f"Bearer {token}"}) as c:
        query: dict[str, str] = {"limit": "100"}
        while time.monotonic() < until:
            r = await c.get("/api/collections/shared/objects/", params=query)
            stats["requests"] += 1
            if r.status_code != 200:
                errors.append(f"{partner} {r.status_code}")
                query = {"limit": "100"}
                continue
            body = r.json()
            ids = {o["id"] for o in body.get("objects", [])}
            if ids & others:
                stats["cross"] += 1
            stats["objects"] += len(ids)
            query = {"limit": "100", "next": body["next"]} if body.get("more") else {"limit": "100"}
            if not body.get("more"):
                r = await c.get(f"/api/collections/inbox-{partner.lower()}/objects/")
                stats["requests"] += 1
                got = {o["id"] for o in r.json().get("objects", [])} if r.status_code == 200 else set()
                if r.status_code != 200 or mine[partner] not in got or got & others:
                    errors.append(f"{partner} inbox {r.status_code}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "attack"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tearline-soak-"))
    data = tmp / "node"
    try:
        tearline(data, "init")
        bundles = sorted(Path(args.data_dir).glob("*.json"))
        tearline(data, "ingest", "--label", "UNCLASSIFIED//TLP:CLEAR", *map(str, bundles))
        tokens = {p: tearline(data, "partner", "add", p, "--name", p).splitlines()[-1].strip() for p in PARTNERS}
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = __import__("subprocess").Popen(
            [str(BIN / "tearline"), "--data", str(data), "serve", "--port", str(port), "--workers", "2"])
        try:
            wait_up(url + "/taxii2/", proc)
            mine: dict[str, str] = {}
            for p, tok in tokens.items():  # each partner posts one object to its own inbox
                sid = f"indicator--{uuid.uuid4()}"
                obj = {"type": "indicator", "spec_version": "2.1", "id": sid, "created": "2026-01-01T00:00:00.000Z",
                       "modified": "2026-01-01T00:00:00.000Z", "pattern": "[ipv4-addr:value = '192.0.2.1']",
                       "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}
                r = httpx.post(f"{url}/api/collections/inbox-{p.lower()}/objects/", content=json.dumps(
                    {"objects": [obj]}), headers={"Accept": TAXII, "Content-Type": TAXII,
                                                  "Authorization": f"Bearer {tok}"}, timeout=60)
                assert r.status_code == 202 and r.json()["success_count"] == 1, r.text
                mine[p] = sid
            stats = {"requests": 0, "objects": 0, "cross": 0}
            errors: list[str] = []
            start = time.monotonic()
            until = start + args.seconds
            rss: dict[str, float] = {}
            curve: list[tuple[float, float, int]] = []

            async def run() -> None:
                who = [PARTNERS[i % len(PARTNERS)] for i in range(args.clients)]
                tasks = [asyncio.create_task(client(url, p, tokens[p], until, stats, mine, errors)) for p in who]
                await asyncio.sleep(10)
                rss["10s"] = rss_kb(proc.pid) / 1024
                while time.monotonic() < until - 1:  # the curve, to tell caches filling from a leak
                    await asyncio.sleep(min(10.0, max(0.0, until - 1 - time.monotonic())))
                    curve.append((time.monotonic() - start, rss_kb(proc.pid) / 1024, stats["requests"]))
                await asyncio.gather(*tasks)
                rss["end"] = rss_kb(proc.pid) / 1024

            asyncio.run(run())
            took = time.monotonic() - start
        finally:
            stop(proc)
        growth = rss["end"] / rss["10s"] - 1
        print(f"{args.clients} clients, {len(PARTNERS)} partners, {took:.0f} s: {stats['requests']} requests "
              f"({stats['requests'] / took:.0f}/s), {stats['objects']} objects")
        print(f"errors: {len(errors)}  cross-partner objects: {stats['cross']}")
        print(f"resident memory (server + workers): {rss['10s']:.0f} MB after 10 s, {rss['end']:.0f} MB at the end "
              f"({growth:+.1%}; limit +20%)")
        print("resident memory by time (s, MB, requests so far): "
              + ", ".join(f"{t:.0f} s {mb:.0f} MB {n}" for t, mb, n in curve))
        ok = not errors and stats["cross"] == 0 and growth <= 0.20
        print("soak: " + ("passed" if ok else "FAILED") + (f" (first errors: {errors[:5]})" if errors else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
