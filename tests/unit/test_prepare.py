"""Preparing versions: the per-unit label cache never changes a label, and never hides an error."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import CREATED, ME, OBJ, stix_items, stix_labels

from tearline.canonical import dumps
from tearline.errors import StixError
from tearline.model.markings import Label, MarkedItem
from tearline.services.prepare import LabelCache, label_object
from tearline.stix.markings import definitions_from_bundle, item_to_stix


@settings(max_examples=100, deadline=None)
@given(
    st.lists(stix_items(), min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=25),
    stix_labels(),
)
def test_cached_labels_equal_labels_read_one_by_one(pool: list[MarkedItem], picks: list[tuple[int, bool]],
                                                    default: Label) -> None:
    marked = [item_to_stix(OBJ, item, created=CREATED, created_by_ref=ME) for item in pool]
    definitions = definitions_from_bundle([d for _, defs in marked for d in defs])
    cache: LabelCache = {}
    for i, cites in picks:
        obj: dict[str, Any] = dict(marked[i % len(marked)][0])
        if cites:  # a cited source is added per object, never shared through the cache
            obj["description"] = "per {{source:heron}}"
        body = dumps(obj)
        fresh = label_object(obj, definitions, default, body=body)
        assert label_object(obj, definitions, default, body=body, cache=cache) == fresh
        assert ("HERON" in fresh.label.source_refs) == cites


def test_an_error_is_raised_for_every_object_that_has_it() -> None:
    cache: LabelCache = {}
    obj = {**OBJ, "object_marking_refs": ["marking-definition--00000000-0000-4000-8000-000000000000"]}
    for _ in range(2):
        with pytest.raises(StixError, match="unknown marking definition"):
            label_object(obj, {}, Label(), cache=cache)
    assert cache == {}
    with pytest.raises(StixError):
        label_object({**OBJ, "object_marking_refs": [["not", "hashable"]]}, {}, Label(), cache=cache)
