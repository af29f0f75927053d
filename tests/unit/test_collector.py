"""The collector pause: nests, restores the state it found, and survives errors."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tearline.services import collector


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_pause_turns_the_collector_off_and_back_on() -> None:
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()


def test_an_error_inside_still_resumes_the_collector() -> None:
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_pauses_in_two_threads_resume_only_when_both_end() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collector.paused():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    assert inside.wait(10)
    with collector.paused():
        pass
    assert not gc.isenabled()  # the other thread's pause is still open
    release.set()
    t.join(10)
    assert gc.isenabled()


def test_ingest_leaves_the_collector_on_after_good_and_bad_units(tmp_path: Path) -> None:
    from tearline.bootstrap import create_node
    from tearline.errors import StixError
    from tearline.settings import Settings

    node, _ = create_node(Settings(data=tmp_path / "node", db=""), code="GBR")
    try:
        good = tmp_path / "good.json"
        good.write_text(
            '{"type": "bundle", "id": "bundle--6ba7b810-9dad-41d1-80b4-00c04fd430c8", "objects": [{"type": '
            '"identity", "spec_version": "2.1", "id": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff", '
            '"created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "A"}]}'
        )
        bad = tmp_path / "bad.json"
        bad.write_text('{"type": "bundle", "objects": [')
        with pytest.raises(StixError):
            node.intake.ingest_paths([str(good), str(bad)], default=node.info.default_label)
        assert gc.isenabled()
        # the unit before the bad one was stored
        assert node.intake.ingest_paths([str(good)], default=node.info.default_label).duplicate == 1
        assert gc.isenabled()
    finally:
        node.close()
