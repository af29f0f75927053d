"""The id factories: prefixed STIX ids and bare UUIDs, random or seeded."""

from __future__ import annotations

import uuid

from tearline.ids import RandomIds, SeededIds


def test_random_ids_are_version_4_uuids() -> None:
    ids = RandomIds()
    prefix, _, rest = ids.new("bundle").partition("--")
    assert prefix == "bundle" and uuid.UUID(rest).version == 4
    bare = ids.new_uuid()
    assert uuid.UUID(bare).version == 4 and str(uuid.UUID(bare)) == bare
    assert ids.new_uuid() != bare


def test_seeded_ids_repeat_per_seed_and_bare_ones_do_not_shift_the_prefixed_ones() -> None:
    plain, mixed = SeededIds("s"), SeededIds("s")
    first = [plain.new("source") for _ in range(3)]
    bare = [mixed.new_uuid(), mixed.new("source"), mixed.new_uuid(), mixed.new("source"), mixed.new("source")]
    assert [bare[1], bare[3], bare[4]] == first
    assert bare[0] != bare[2] and all(str(uuid.UUID(b)) == b for b in (bare[0], bare[2]))
    assert SeededIds("s").new_uuid() == bare[0]
    assert SeededIds("t").new_uuid() != bare[0]
