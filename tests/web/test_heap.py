"""The serving process's heap trimming (``tearline.web.heap``): it gives free heap pages back to
the system, runs only while the app runs, and only where it is asked for."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time

import pytest

from tearline.asgi import from_env, taxii_app
from tearline.bootstrap import Node
from tearline.settings import Settings
from tearline.web.heap import TRIM_EVERY_S, HeapTrimmer

needs_glibc = pytest.mark.skipif(not HeapTrimmer().available, reason="the allocator is not glibc")


@needs_glibc
def test_a_trim_gives_fragmented_free_memory_back() -> None:
    # A fresh process: 100 MB of 2 KB blocks (glibc's, not pymalloc's), every 32nd one kept, so the
    # freed memory lies in holes glibc cannot return by shrinking the top of its heap.
    script = textwrap.dedent("""
        import os
        from tearline.web.heap import TRIM_EVERY_S, HeapTrimmer
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        blocks = [bytes(2048) + bytes([i % 256]) for i in range(50_000)]
        kept = blocks[::32]
        del blocks
        before = rss()
        HeapTrimmer().trim()
        print(before, rss(), len(kept))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    before, after, _ = map(int, out.split())
    assert before - after > 50 * 1024 * 1024, (before, after)


@needs_glibc
def test_the_trimmer_runs_every_period_until_stopped() -> None:
    trimmer = HeapTrimmer(0.02)
    trimmer.start()
    try:
        deadline = time.monotonic() + 10
        while trimmer.trims < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert trimmer.trims >= 3
    finally:
        trimmer.stop()
    done = trimmer.trims
    time.sleep(0.1)
    assert trimmer.trims == done


def test_a_trim_period_must_be_positive() -> None:
    with pytest.raises(ValueError):
        HeapTrimmer(0)


@needs_glibc
def test_a_served_app_trims_while_it_runs(node: Node) -> None:
    app = taxii_app(node, trim_every_s=0.02)

    async def serve() -> None:  # the app's lifespan, as a server runs it
        async with app.router.lifespan_context(app):
            deadline = time.monotonic() + 10
            while app.state.heap.trims < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert app.state.heap.trims >= 2

    asyncio.run(serve())
    done = app.state.heap.trims
    time.sleep(0.1)
    assert app.state.heap.trims == done  # stopped with the app


def test_an_app_trims_only_when_asked(node: Node) -> None:
    assert taxii_app(node).state.heap is None


def test_the_served_worker_trims(node: Node, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEARLINE_DATA", str(settings.data))
    monkeypatch.setenv("TEARLINE_KEK_FILE", str(settings.kek_file))
    if settings.db:
        monkeypatch.setenv("TEARLINE_DB_URL", settings.db)
    app = from_env()  # what `tearline serve` gives uvicorn in each worker
    try:
        assert app.state.heap is not None and app.state.heap.every_s == TRIM_EVERY_S
    finally:
        async def run_and_stop() -> None:  # its lifespan's end closes the node it opened
            async with app.router.lifespan_context(app):
                pass

        asyncio.run(run_and_stop())
