"""TAXII read throughput: `tearline serve` against an HTTP floor, replayed with wrk.

Loads the four ATT&CK bundles (all versions) into a fresh node with three partners, builds a fixed
read mix as request URLs (paginated crawl with limit=100, `match[type]`, `match[id]`, `added_after`,
manifest pages; stateless cursors make every page URL replayable), then replays it round robin with
wrk at 4 and 16 connections against (a) `tearline serve --workers 1` and `--workers 2` and (b) the
floor (bench/taxii_floor.py: the same pages prebuilt in memory behind the same auth check, same
server and worker count). Prints requests/s, p50, p99, bytes/s, the ratio to the floor, and the
server's resident memory. Goals at 16 connections: >= 25% of the floor's requests/s, p99 <= 20 ms.

With ``--workers N>1`` uvicorn binds its listening socket with protocol 0, so asyncio does not set
``TCP_NODELAY`` on accepted connections and every response waits on delayed ACKs (~40 ms; a trivial
app drops from ~6,800 to ~90 requests/s). ``--nodelay`` starts both servers with a
``sitecustomize`` that sets ``TCP_NODELAY`` whatever the protocol number, to show what the workers
would do once ``tearline serve`` binds its socket itself; rows are marked ``+nd``.

The fingerprint stage's cost: run with ``--fingerprint on`` (the default) and ``--fingerprint off``
and compare the tearline rows (each partner's bytes are its own with fingerprints on, so the
release cache no longer shares one copy between partners).

Usage: python bench/taxii.py [--seconds 15] [--data-dir ../shared/data/attack] [--workers 1,2] [--nodelay]
       [--fingerprint on|off]
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TAXII = "application/taxii+json;version=2.1"
PARTNERS = ("USA", "CAN", "AUS")
LUA = r"""
local lines = {}
for line in io.lines(os.getenv("TAXII_URLS")) do
  local auth, path = line:match("([^\t]+)\t(.+)")
  lines[#lines + 1] = {auth, path}
end
local i = math.random(#lines)
request = function()
  i = i % #lines + 1
  local headers = {["Authorization"] = lines[i][1], ["Accept"] = "application/taxii+json;version=2.1"}
  return wrk.format("GET", lines[i][2], headers)
end
"""


NODELAY = """
import socket
from asyncio import base_events, selector_events


def _set_nodelay(sock):
    if sock.family in {socket.AF_INET, socket.AF_INET6} and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


base_events._set_nodelay = selector_events._set_nodelay = _set_nodelay
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tearline(data: Path, *args: str) -> str:
    out = subprocess.run([str(BIN / "tearline"), "--data", str(data), *args], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (the workers)."""
    total = 0
    pids = [pid]
    try:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


Pages = dict[str, tuple[bytes, dict[str, str]]]
COLL = "/api/collections/shared/"


def build_mix(url: str, tokens: dict[str, str]) -> tuple[list[tuple[str, str]], Pages]:
    """(auth, path) pairs and each page's bytes and headers (for the floor)."""
    mix: list[tuple[str, str]] = []
    pages: dict[str, tuple[bytes, dict[str, str]]] = {}
    for token in tokens.values():
        auth = f"Bearer {token}"
        c = httpx.Client(base_url=url, headers={"Accept": TAXII, "Authorization": auth}, timeout=60)

        def crawl(kind: str, params: dict[str, str], max_pages: int, c: httpx.Client = c,
                  auth: str = auth) -> list[str]:
            ids: list[str] = []
            query = dict(params)
            for _ in range(max_pages):
                path = f"{COLL}{kind}/?{urlencode(query)}"
                r = c.get(path)
                r.raise_for_status()
                mix.append((auth, path))
                keep = {k: v for k, v in r.headers.items() if k.lower().startswith("x-taxii")}
                pages[path] = (r.content, keep)
                body = r.json()
                ids += [o["id"] for o in body.get("objects", [])]
                if not body.get("more"):
                    break
                query["next"] = body["next"]
            return ids

        ids = crawl("objects", {"limit": "100"}, 1000)
        crawl("objects", {"limit": "100", "match[type]": "attack-pattern"}, 1000)
        for sid in ids[:: max(1, len(ids) // 20)][:20]:
            crawl("objects", {"match[id]": sid}, 1)
        first = c.get(f"{COLL}manifest/?limit=1000").json()["objects"]
        middle = first[len(first) // 2]["date_added"] if first else "2020-01-01T00:00:00Z"
        crawl("objects", {"limit": "100", "added_after": middle}, 1000)
        crawl("manifest", {"limit": "100"}, 1000)
        c.close()
    return mix, pages


def run_wrk(url: str, urls_file: Path, lua: Path, conns: int, seconds: int) -> dict[str, float]:
    env = {**os.environ, "TAXII_URLS": str(urls_file)}
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(lua), url],
        capture_output=True, text=True, env=env, check=True,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    def rate(label: str) -> float:
        m = re.search(rf"{label}:\s+([\d.]+)([KMG]?B?)", out)
        if not m:
            return float("nan")
        scale = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "K": 1e3, "M": 1e6}[m.group(2)]
        return float(m.group(1)) * scale

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.+)", out)
    return {
        "rps": rate("Requests/sec"),
        "p50": ms("50"),
        "p99": ms("99"),
        "bytes": rate("Transfer/sec"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
        "sockerr": 1.0 if socket_errors else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "attack"))
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--nodelay", action="store_true", help="set TCP_NODELAY on accepted sockets (see above)")
    ap.add_argument("--fingerprint", choices=("on", "off"), default="on",
                    help="the partners' fingerprint flag (run both to see what the fingerprint stage costs)")
    ap.add_argument("--scale", type=int, default=1,
                    help="store the data N times (N-1 more collections) to see memory at N x the data")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    bundles = sorted(Path(args.data_dir).glob("*.json"))
    tmp = Path(tempfile.mkdtemp(prefix="tearline-bench-"))
    data = tmp / "node"
    try:
        t0 = time.perf_counter()
        tearline(data, "init")
        tearline(data, "ingest", "--label", "UNCLASSIFIED//TLP:CLEAR", *map(str, bundles))
        for i in range(1, args.scale):
            tearline(data, "collection", "add", f"copy-{i}")
            tearline(data, "ingest", "--collection", f"copy-{i}", "--label", "UNCLASSIFIED//TLP:CLEAR",
                     *map(str, bundles))
        tokens = {p: tearline(data, "partner", "add", p, "--name", p, "--fingerprint", args.fingerprint)
                  .splitlines()[-1].strip() for p in PARTNERS}
        took = time.perf_counter() - t0
        print(f"node: {len(bundles)} ATT&CK bundles x {args.scale} (the data {args.scale} times), "
              f"{len(PARTNERS)} partners (fingerprint {args.fingerprint}), built in {took:.1f} s")

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([str(BIN / "tearline"), "--data", str(data), "serve", "--port", str(port)],
                                stdout=subprocess.DEVNULL)
        try:
            wait_up(url + "/taxii2/", proc)
            mix, pages = build_mix(url, tokens)
        finally:
            stop(proc)
        urls_file, lua, floor_file = tmp / "urls.tsv", tmp / "mix.lua", tmp / "floor.pickle"
        urls_file.write_text("".join(f"{a}\t{p}\n" for a, p in mix))
        lua.write_text(LUA)
        from tearline.services.trust import hash_token

        with floor_file.open("wb") as f:
            pickle.dump((pages, [hash_token(t) for t in tokens.values()]), f)
        print(f"mix: {len(mix)} request URLs ({sum(len(b) for b, _ in pages.values()) / 1e6:.1f} MB of pages)")

        results: dict[tuple[str, int, int], dict[str, float]] = {}
        for workers in (int(w) for w in args.workers.split(",")):
            for name in ("floor", "tearline"):
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                if name == "tearline":
                    cmd = [str(BIN / "tearline"), "--data", str(data), "serve", "--port", str(port),
                           "--workers", str(workers)]
                    env = dict(os.environ)
                else:
                    cmd = [str(BIN / "uvicorn"), "--factory", "bench.taxii_floor:from_env", "--port", str(port),
                           "--workers", str(workers), "--log-level", "warning", "--no-server-header"]
                    env = {**os.environ, "TEARLINE_FLOOR_PAGES": str(floor_file), "PYTHONPATH": str(ROOT)}
                if args.nodelay:
                    (tmp / "nd").mkdir(exist_ok=True)
                    (tmp / "nd" / "sitecustomize.py").write_text(NODELAY)
                    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tmp / "nd"), env.get("PYTHONPATH")) if p)
                proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
                try:
                    wait_up(url + "/", proc)
                    # warm every worker's caches: a new connection per request lets each worker take some
                    with httpx.Client(base_url=url, headers={"Accept": TAXII, "Connection": "close"},
                                      timeout=600) as c:
                        for _ in range(workers + 1):
                            for auth, path in mix:
                                c.get(path, headers={"Authorization": auth})
                    for conns in (4, 16):
                        results[(name, workers, conns)] = r = run_wrk(url, urls_file, lua, conns, args.seconds)
                        r["rss_mb"] = rss_kb(proc.pid) / 1024
                finally:
                    stop(proc)

        tag = "+nd" if args.nodelay else ""
        print(f"\n{'server':<10}{'workers':>8}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'MB/s':>8}"
              f"{'non-2xx':>9}{'RSS MB':>8}{'vs floor':>10}")
        for (name, workers, conns), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
            floor = results.get(("floor", workers, conns))
            ratio = f"{r['rps'] / floor['rps']:.0%}" if floor and name != "floor" else ""
            print(f"{name + tag:<10}{workers:>8}{conns:>6}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
                  f"{r['bytes'] / 1e6:>8.1f}{r['non2xx']:>9.0f}{r['rss_mb']:>8.0f}{ratio:>10}")
        for workers in (int(w) for w in args.workers.split(",")):
            t, f = results.get(("tearline", workers, 16)), results.get(("floor", workers, 16))
            if t and f:
                ok = t["rps"] >= 0.25 * f["rps"] and t["p99"] <= 20
                print(f"goal at 16 connections, {workers} worker(s): {'met' if ok else 'NOT met'} "
                      f"({t['rps'] / f['rps']:.0%} of floor, p99 {t['p99']:.1f} ms)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
