"""UI page times on the demo data: median and max per page over N requests, in-process.

Builds the richer demo node of the UI tests (3,000 versions, 7 partners, releases and received
objects over 30 days), logs in, then requests every page N times through ``httpx.ASGITransport``
(the full ASGI stack: session, templates, SVG charts). Goal: under 300 ms per page. The baseline in
the same run is the login page (a template and nothing else), so the ratio is what each page's
queries and charts cost on top of rendering.

    python bench/ui.py [N]
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

from tests.ui.support import PASSWORDS, build, make_app  # noqa: E402

GOAL_MS = 300.0


async def main(n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ui = build(Path(tmp) / "node")
        print(f"demo node built in {time.perf_counter() - t0:.1f} s")
        app = make_app(ui.node)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            token = re.search(r'name="csrf" value="([^"]+)"', (await c.get("/ui/login")).text).group(1)  # type: ignore[union-attr]
            baseline = await time_page(c, "/ui/login", n)
            r = await c.post("/ui/login", data={"name": "vic", "password": PASSWORDS["vic"], "csrf": token})
            assert r.status_code in (200, 303), r.status_code
            pages = {
                "overview": "/ui/",
                "partner": "/ui/partners/USA",
                "partner + what-if": "/ui/partners/CAN?exclude_topics=china&since=2025-01-01",
                "item": f"/ui/items/{ui.cited_report}",
                "ledger": "/ui/ledger",
                "ledger search": f"/ui/ledger?partner=FRA&object={ui.alert_object}",
                "vault": "/ui/vault",
                "ledger api proof": "/ui/ledger/api/proof/inclusion?seq=100",
            }
            print(f"{'page':<20} {'median ms':>10} {'max ms':>8} {'x login':>8}")
            b_med = statistics.median(baseline)
            print(f"{'login (baseline)':<20} {b_med:>10.1f} {max(baseline):>8.1f} {1.0:>8.1f}")
            worst = 0.0
            for name, path in pages.items():
                times = await time_page(c, path, n)
                med = statistics.median(times)
                worst = max(worst, med)
                print(f"{name:<20} {med:>10.1f} {max(times):>8.1f} {med / b_med:>8.1f}")
        ui.node.close()
    verdict = "within" if worst < GOAL_MS else "OVER"
    print(f"slowest median {worst:.1f} ms: {verdict} the {GOAL_MS:.0f} ms goal")
    return 0


async def time_page(c: httpx.AsyncClient, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = await c.get(path)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return out


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)))
