"""Federation pull throughput: a full pull of the four ATT&CK bundles (all versions) between two
local nodes over HTTP, against a plain paginated crawl of the same collection with `taxii2-client`
in the same run.

Node A (GBR) ingests the bundles and serves them as a node does: `tearline serve`, a process of its
own; node B (USA) pulls them with `tearline.services.sync_pull.Puller` (validation, labelling,
storage, cursor per page) in this process. The crawl is a `taxii2-client` `as_pages` loop over the
same collection with `match[version]=all` and the same page size, parsing every page. A warm-up
crawl runs first so both timed runs see the server's release cache warm. Prints objects/s of each
and the ratio (goal: sync >= 80% of the crawl).

Usage: python bench/sync.py [--page 1000]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
ATTACK = (ROOT / ".." / "shared" / "data" / "attack").resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--page", type=int, default=1000)
    args = ap.parse_args()
    from taxii2client.v21 import Server, as_pages

    from tearline.asgi import build_app
    from tearline.bootstrap import create_node
    from tearline.clock import SystemClock
    from tearline.crypto.sealing import write_kek_file
    from tearline.model.labeltext import parse_label
    from tearline.services.sync_pull import Puller
    from tearline.services.sync_push import Pusher
    from tearline.services.trust import ProfileChange
    from tearline.settings import Settings

    files = sorted(str(p) for p in ATTACK.glob("*.json"))
    if not files:
        sys.exit(f"no ATT&CK bundles in {ATTACK}")
    tmp = Path(tempfile.mkdtemp(prefix="tearline-bench-sync-"))
    nodes = {}
    for code in ("GBR", "USA"):
        write_kek_file(tmp / f"{code}.kek")
        settings = Settings(data=tmp / code, kek_file=str(tmp / f"{code}.kek"))
        nodes[code], _ = create_node(settings, code=code, clock=SystemClock())
    a, b = nodes["GBR"], nodes["USA"]
    _, token = a.trust.add_partner("USA", "USA", ProfileChange(clearance="SECRET", tlp_ceiling="AMBER"))
    b.trust.add_partner("GBR", "GBR", ProfileChange())
    t0 = time.perf_counter()
    summary = a.intake.ingest_paths(files, default=parse_label("UNCLASSIFIED//TLP:CLEAR"))
    print(f"ingested {summary.new} versions at A in {time.perf_counter() - t0:.1f} s")
    # B needs A's marking definitions once (Get Objects pages carry objects, not definitions)
    defs = {d.id: orjson.loads(d.body) for o in Pusher(a.db, a.clock, a.decisions, a.release).releasable("USA")
            for d in o.definitions}
    a.close()
    port = free_port()
    env = {**os.environ, "TEARLINE_KEK_FILE": str(tmp / "GBR.kek")}
    served = subprocess.Popen(
        [str(Path(sys.executable).parent / "tearline"), "--data", str(tmp / "GBR"), "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/taxii2/"
    fed = b.federation()
    fed.peers.add("GBR", url, token)
    import httpx

    h = {"Accept": "application/taxii+json;version=2.1", "Content-Type": "application/taxii+json;version=2.1"}
    port_b = free_port()
    server_b = uvicorn.Server(uvicorn.Config(build_app(b), host="127.0.0.1", port=port_b, log_level="error"))
    thread_b = threading.Thread(target=server_b.run, daemon=True)
    thread_b.start()
    while not server_b.started:
        time.sleep(0.05)
    b_token = b.trust.rotate_token("GBR")
    r = httpx.post(f"http://127.0.0.1:{port_b}/api/collections/inbox-gbr/objects/",
                   content=orjson.dumps({"objects": list(defs.values())}),
                   headers={**h, "Authorization": f"Bearer {b_token}"}, timeout=60)
    assert r.status_code == 202, r.text
    server_b.should_exit = True  # B serves nothing while it pulls
    thread_b.join(timeout=30)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            if served.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"tearline serve did not start: {served.stderr.read().decode() if served.stderr else ''}")
            time.sleep(0.2)

    def crawl() -> tuple[int, float]:
        coll = next(c for c in Server(url, user="USA", password=token).default.collections if c.alias == "shared")
        start = time.perf_counter()
        n = 0
        for page in as_pages(coll.get_objects, per_request=args.page, version="all"):
            n += len(page.get("objects", []))
        return n, time.perf_counter() - start

    crawl()  # warm the server's release cache for both timed runs
    n_crawl, s_crawl = crawl()
    puller = Puller(b.db, b.clock, b.intake, b.info, page=args.page)
    start = time.perf_counter()
    report = puller.pull(fed.peers.get("GBR"))
    s_sync = time.perf_counter() - start
    crawl_rate, sync_rate = n_crawl / s_crawl, report.objects / s_sync
    print(f"bare crawl (taxii2-client): {n_crawl} objects in {s_crawl:.2f} s = {crawl_rate:,.0f} objects/s")
    print(f"sync pull (tearline):       {report.objects} stored ({report.duplicates} duplicates, "
          f"{report.rejected} refused) in {s_sync:.2f} s = {sync_rate:,.0f} objects/s")
    print(f"ratio sync / crawl: {sync_rate / crawl_rate:.0%} (goal >= 80%)")
    served.terminate()
    served.wait(timeout=30)
    b.close()


if __name__ == "__main__":
    main()
