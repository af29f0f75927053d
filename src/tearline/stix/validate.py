"""Structural validation of inbound STIX 2.1 objects.

:func:`check_object` runs on every object a node ingests, so it is written by hand as a handful of
dictionary look-ups and precompiled regular expressions rather than run through a JSON Schema engine.
It checks what storage, policy and release depend on: the type and identifier syntax, the version
(``spec_version`` exactly ``2.1``), ``created``/``modified`` (syntax, millisecond precision, order),
the required properties of each STIX 2.1 object type, and that every ``*_ref``/``*_refs`` value is an
identifier. The tables below are transcribed from the OASIS STIX 2.1 JSON schemas
(``oasis-open/cti-stix2-json-schemas``, the copy shipped inside ``stix2-validator`` 3.3.2:
``schemas-2.1/schemas/{sdos,sros,common,observables}``). Custom object types (``x-mitre-tactic``) and
custom properties (``x_mitre_*``) are accepted: the spec allows them and ATT&CK relies on them.

Measured on the four ATT&CK bundles in ``shared/data/attack`` (7,496 objects; 2-core machine under
load; best of five passes): about 206,000 objects/s for :func:`check_object` with its caches emptied
before each pass, 235,000 to 290,000 objects/s with them warm (across runs), against 4.5 to 6.4
million/s for a loop of three ``dict`` look-ups in the same runs. The caches (below) are what lift it
past 100,000/s: with regular expressions alone it ran at about 109,000/s. The common cases (a value
already found valid, of the type the property wants) are tested inline, without a call: on a quieter
machine, 517,000 to 550,000/s warm against 436,000 to 471,000/s before (same runs, best of nine).
What an object's type and property names decide (required properties missing, which properties to
check as timestamps and references) is found once per shape: on a slower machine (a loop of three
look-ups at 2.2 million/s), 178,000/s warm and 99,000/s cold, against 144,000/s and 90,000/s before.

:func:`deep_check` runs the real OASIS ``stix2-validator`` (JSON Schemas plus its hand-written MUST
checks, STIX 2.1, custom content allowed, no ``--strict``). It works offline: the schemas are
bundled and only ``http(s)`` schema references would reach the network, which the bundled 2.1 schemas
do not contain (a test runs it with sockets disabled). It costs about 2.8 ms an object (362
objects/s on the same machine and data, every 50th object), some 570 times the cost of
:func:`check_object`, which is why it is kept for ``ingest --strict`` and for tests.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final, NamedTuple

from tearline.canonical import parse_timestamp

_TYPE_RE: Final = re.compile(r"[a-z0-9][a-z0-9-]+[a-z0-9]")
_UUID: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
_IDENTIFIER_RE: Final = re.compile(r"[a-z0-9][a-z0-9-]+[a-z0-9]--" + _UUID)

SCO_TYPES: Final = frozenset(
    {
        "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
        "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process",
        "software", "url", "user-account", "windows-registry-key", "x509-certificate",
    }
)  # fmt: skip

# Required properties beyond the common ones (type, id, spec_version, created, modified), per type.
REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "attack-pattern": ("name",),
    "campaign": ("name",),
    "course-of-action": ("name",),
    "grouping": ("context", "object_refs"),
    "identity": ("name",),
    "incident": ("name",),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "infrastructure": ("name",),
    "intrusion-set": ("name",),
    "location": (),
    "malware": ("is_family",),
    "malware-analysis": ("product",),
    "note": ("content", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed"),
    "opinion": ("opinion", "object_refs"),
    "report": ("name", "published", "object_refs"),
    "threat-actor": ("name",),
    "tool": ("name",),
    "vulnerability": ("name",),
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
    "language-content": ("object_ref", "contents"),
    "extension-definition": ("created_by_ref", "name", "schema", "version", "extension_types"),
    "marking-definition": (),
}

SCO_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "autonomous-system": ("number",),
    "directory": ("path",),
    "domain-name": ("value",),
    "email-addr": ("value",),
    "email-message": ("is_multipart",),
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "network-traffic": ("protocols",),
    "software": ("name",),
    "url": ("value",),
}

# Timestamp properties other than created/modified, checked for syntax where present.
_TIMESTAMPS: Final[dict[str, tuple[str, ...]]] = {
    "campaign": ("first_seen", "last_seen"),
    "indicator": ("valid_from", "valid_until"),
    "infrastructure": ("first_seen", "last_seen"),
    "intrusion-set": ("first_seen", "last_seen"),
    "language-content": ("object_modified",),
    "malware": ("first_seen", "last_seen"),
    "malware-analysis": ("submitted", "analysis_started", "analysis_ended"),
    "observed-data": ("first_observed", "last_observed"),
    "report": ("published",),
    "relationship": ("start_time", "stop_time"),
    "sighting": ("first_seen", "last_seen"),
    "threat-actor": ("first_seen", "last_seen"),
}

# References whose target type the spec fixes.
_REF_TARGETS: Final[dict[str, str]] = {
    "created_by_ref": "identity--",
    "object_marking_refs": "marking-definition--",
}

_STANDARD_TYPES: Final = SCO_TYPES | REQUIRED.keys()
_SPECIAL_RULES: Final = frozenset(
    {"location", "malware", "malware-analysis", "observed-data", "marking-definition"}
)
_REF_SUFFIXES: Final = ("_ref", "_refs")
_EMPTY: Final[tuple[str, ...]] = ()


# A timestamp as `tearline.canonical.parse_timestamp` accepts it, in one regular expression; only
# days 29 to 31 need the calendar. A property test holds the two equal on ASCII text. Digits are
# `[0-9]`, not `\d`, which in Python also matches other scripts' digits (`١`).
_TIMESTAMP_RE: Final = re.compile(
    r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?Z"
)
_match_timestamp: Final = _TIMESTAMP_RE.fullmatch
_match_identifier_re: Final = _IDENTIFIER_RE.fullmatch

# Identifiers and timestamps repeat across a feed (every object names the same `created_by_ref` and
# markings; relationships point at the same few hundred objects), so the ones already found valid are
# remembered: a set look-up costs a tenth of a regular expression. Bounded, and only ever holds valid
# strings, so it changes the speed and never the answer.
_CACHE_LIMIT: Final = 65_536
_valid_identifiers: set[str] = set()
_valid_timestamps: set[str] = set()


# Objects of a feed come in a few hundred shapes (the same type and properties in the same order), and
# what the shape alone decides (which required properties are missing, which timestamp and reference
# properties there are to check) is found once per shape: a tuple of the names costs less than testing
# each. Bounded like the caches above.
class _Shape(NamedTuple):
    missing: tuple[str, ...]  # the problem lines of the required properties absent
    timestamps: tuple[str, ...]  # the type's timestamp properties (beyond created/modified) present
    refs: tuple[tuple[str, bool, str | None], ...]  # each reference property: (name, a list?, target prefix)


_shapes: dict[tuple[Any, ...], _Shape] = {}
_SHAPE_LIMIT: Final = 4096


def _shape(key: tuple[Any, ...], kind: str, is_sco: bool) -> _Shape:
    names = key[1:]
    missing: list[str] = []
    timestamps: tuple[str, ...] = ()
    if kind and not is_sco:
        missing = [f"missing required property `{n}`" for n in REQUIRED.get(kind, _EMPTY) if n not in names]
        timestamps = tuple(n for n in _TIMESTAMPS.get(kind, _EMPTY) if n in names)
    elif is_sco:
        missing = [f"missing required property `{n}`" for n in SCO_REQUIRED.get(kind, _EMPTY) if n not in names]
        if kind == "file" and "hashes" not in names and "name" not in names:
            missing.append("a file needs `hashes` or `name`")
    refs = tuple(
        (n, n[-1] == "s", _REF_TARGETS.get(n))
        for n in names
        if type(n) is str and "_ref" in n and n.endswith(_REF_SUFFIXES)
    )
    shape = _Shape(tuple(missing), timestamps, refs)
    if len(_shapes) >= _SHAPE_LIMIT:
        _shapes.clear()
    _shapes[key] = shape
    return shape


def _match_identifier(value: str) -> bool:
    if value in _valid_identifiers:
        return True
    if _match_identifier_re(value) is None:
        return False
    if len(_valid_identifiers) >= _CACHE_LIMIT:
        _valid_identifiers.clear()
    _valid_identifiers.add(value)
    return True


def is_timestamp(value: str) -> bool:
    """True when ``value`` is a STIX timestamp (``parse_timestamp`` accepts it), faster than parsing."""
    if value in _valid_timestamps:
        return True
    m = _match_timestamp(value)
    if m is None:
        return False
    if m.group(1) >= "29":
        try:
            parse_timestamp(value)
        except ValueError:
            return False
    if len(_valid_timestamps) >= _CACHE_LIMIT:
        _valid_timestamps.clear()
    _valid_timestamps.add(value)
    return True


def _timestamp_problem(name: str, value: Any, millis: bool) -> str | None:
    if type(value) is not str:
        return f"`{name}` must be a timestamp string"
    if not is_timestamp(value):
        return f"`{name}` is not a STIX timestamp: `{_clip(value)}`"
    if millis and (len(value) < 24 or value[19] != "."):
        return f"`{name}` must be precise to the millisecond: `{value}`"
    return None


def _clip(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_identifier(value: Any) -> bool:
    return type(value) is str and _match_identifier(value)


def _ref_problems(key: str, value: Any, problems: list[str]) -> None:
    target = _REF_TARGETS.get(key)
    if key[-1] == "s":
        if type(value) is not list:
            problems.append(f"`{key}` must be a list of identifiers")
            return
        for item in value:
            if type(item) is not str or not _match_identifier(item):
                problems.append(f"`{key}` holds `{_clip(item)}`, which is not an identifier")
            elif target is not None and not item.startswith(target):
                problems.append(f"`{key}` must point at type `{target[:-2]}`, not `{item}`")
    elif type(value) is not str or not _match_identifier(value):
        # ATT&CK leaves some custom references empty (`x_mitre_data_source_ref: ""`): an empty
        # custom reference names nothing, so it reveals nothing and is accepted.
        if not (value == "" and key.startswith("x_")):
            problems.append(f"`{key}` is not an identifier: `{_clip(value)}`")
    elif target is not None and not value.startswith(target):
        problems.append(f"`{key}` must point at type `{target[:-2]}`, not `{value}`")


def _type_specific(kind: str, obj: dict[str, Any], problems: list[str]) -> None:
    """The few rules that are more than a list of required names (location, malware, ...)."""
    if kind == "location":
        if "region" not in obj and "country" not in obj and not ("latitude" in obj and "longitude" in obj):
            problems.append("a location needs `region`, `country` or `latitude` and `longitude`")
        elif ("latitude" in obj) != ("longitude" in obj):
            problems.append("`latitude` and `longitude` go together")
    elif kind == "malware":
        if obj.get("is_family") is True and "name" not in obj:
            problems.append("missing required property `name` (required when `is_family` is true)")
    elif kind == "malware-analysis":
        if "result" not in obj and "analysis_sco_refs" not in obj:
            problems.append("a malware-analysis needs `result` or `analysis_sco_refs`")
    elif kind == "observed-data":
        if ("objects" in obj) == ("object_refs" in obj):
            problems.append("observed-data needs exactly one of `objects` and `object_refs`")
    elif kind == "marking-definition":
        if "definition_type" in obj and "definition" not in obj:
            problems.append("missing required property `definition`")
        if "modified" in obj:
            problems.append("a marking-definition has no `modified` (marking definitions are immutable)")


def check_object(obj: Any) -> list[str]:
    """Return the structural problems of one STIX 2.1 object; an empty list means it is valid."""
    if not isinstance(obj, dict):
        return [f"not a JSON object but a JSON {type(obj).__name__}"]
    problems: list[str] = []
    kind = obj.get("type")
    if not isinstance(kind, str):
        problems.append("missing required property `type`" if kind is None else "`type` must be a string")
        kind = ""
    elif kind not in _STANDARD_TYPES and (not 3 <= len(kind) <= 250 or _TYPE_RE.fullmatch(kind) is None):
        problems.append(f"`type` is not a STIX type name (a-z, 0-9, -; 3 to 250 characters): `{_clip(kind)}`")
        kind = ""
    elif kind == "bundle":
        return ["a bundle cannot be stored as an object (bundles hold objects)"]

    ident = obj.get("id")
    if ident is None:
        problems.append("missing required property `id`")
    elif not isinstance(ident, str):
        problems.append("`id` must be a string")
    else:
        if not _match_identifier(ident):
            problems.append(f"`id` is not `<type>--<RFC 4122 UUID>`: `{_clip(ident)}`")
        elif kind and ident.partition("--")[0] != kind:
            problems.append(f"`id` `{_clip(ident)}` does not start with its type `{kind}--`")

    is_sco = kind in SCO_TYPES
    shape_key = (kind, *obj)
    shape = _shapes.get(shape_key) or _shape(shape_key, kind, is_sco)
    version = obj.get("spec_version")
    if version != "2.1" and not (is_sco and version is None):
        got = "missing (a STIX 2.0 object?)" if version is None else f"`{_clip(version)}`"
        problems.append(f"spec_version must be `2.1`, got {got}")

    if kind and not is_sco:
        # Custom types may be objects without created/modified (custom SCOs): checked where present.
        known = kind in REQUIRED
        created = obj.get("created")
        modified = obj.get("modified")
        bad_created = None
        if created is None:
            if known:
                problems.append("missing required property `created`")
        elif not (type(created) is str and created in _valid_timestamps and len(created) >= 24 and created[19] == "."):
            # (the common case, a timestamp already seen, without a call)
            bad_created = _timestamp_problem("created", created, True)
            if bad_created:
                problems.append(bad_created)
        if modified is None:
            if known and kind != "marking-definition":
                problems.append("missing required property `modified`")
        elif kind != "marking-definition":
            if type(modified) is str and modified in _valid_timestamps and len(modified) >= 24 and modified[19] == ".":
                bad_modified = None
            else:
                bad_modified = _timestamp_problem("modified", modified, True)
            if bad_modified:
                problems.append(bad_modified)
            elif created is not None and not bad_created:
                if len(modified) == len(created) and type(created) is str:
                    if modified < created:  # same-length STIX timestamps order as strings
                        problems.append(f"`modified` `{modified}` is earlier than `created` `{created}`")
                elif _earlier(modified, created):
                    problems.append(f"`modified` `{modified}` is earlier than `created` `{created}`")
        if shape.missing:
            problems.extend(shape.missing)
        for name in shape.timestamps:
            value = obj[name]
            if value is not None and not (type(value) is str and value in _valid_timestamps):
                bad = _timestamp_problem(name, value, False)
                if bad:
                    problems.append(bad)
        if kind in _SPECIAL_RULES:
            _type_specific(kind, obj, problems)
    elif shape.missing:  # an SCO's
        problems.extend(shape.missing)

    for key, many, target in shape.refs:
        # the common cases (an identifier seen before, of the right type; a list of them) without a
        # call; anything else goes through _ref_problems, which names what is wrong
        value = obj[key]
        if not many:
            if (
                type(value) is str
                and (value in _valid_identifiers or _match_identifier(value))
                and (target is None or value.startswith(target))
            ):
                continue
        elif type(value) is list:
            for item in value:
                if type(item) is not str or not (item in _valid_identifiers or _match_identifier(item)):
                    break
                if target is not None and not item.startswith(target):
                    break
            else:
                continue
        _ref_problems(key, value, problems)
    granular = obj.get("granular_markings")
    if granular is not None:
        _granular_problems(granular, problems)
    return problems


def _earlier(modified: str, created: str) -> bool:
    # Same-length STIX timestamps (validated above) order as strings; otherwise compare as times.
    if len(modified) == len(created):
        return modified < created
    return parse_timestamp(modified) < parse_timestamp(created)


def _granular_problems(granular: Any, problems: list[str]) -> None:
    if not isinstance(granular, list):
        problems.append("`granular_markings` must be a list")
        return
    for number, marking in enumerate(granular):
        if not isinstance(marking, dict):
            problems.append(f"`granular_markings[{number}]` must be an object")
            continue
        selectors = marking.get("selectors")
        if not isinstance(selectors, list) or not selectors or not all(isinstance(s, str) for s in selectors):
            problems.append(f"`granular_markings[{number}].selectors` must be a non-empty list of strings")
        ref = marking.get("marking_ref")
        if ref is None:
            if "lang" not in marking:
                problems.append(f"`granular_markings[{number}]` needs `marking_ref` or `lang`")
        elif not _is_identifier(ref) or not ref.startswith("marking-definition--"):
            problems.append(
                f"`granular_markings[{number}].marking_ref` is not a marking-definition id: `{_clip(ref)}`"
            )


def describe(source: str, index: int, obj: Any, problems: list[str], *, kind: str | None = None) -> str:
    """One line naming where an object is and what is wrong with it.

    ``index`` is the 0-based position the reader gives (``#12`` is ``jq '.objects[12]'``); for a
    JSON-lines unit (``kind="jsonl"``) the line number (``index + 1``) is shown instead.
    """
    where = f"{source} line {index + 1}" if kind == "jsonl" else f"{source} object #{index}"
    ident = obj.get("id") if isinstance(obj, dict) else None
    label = f" ({_clip(ident, 100)})" if isinstance(ident, str) and ident else ""
    return f"{where}{label}: " + "; ".join(problems)


def deep_check(obj: dict[str, Any]) -> list[str]:
    """Errors (not warnings) of the OASIS ``stix2-validator`` for one object, as strings.

    STIX 2.1, custom objects and properties allowed, no network access. Slow (about 2.8 ms an object):
    for ``ingest --strict`` and tests, not for every ingest.
    """
    from stix2validator import validate_instance  # slow import, only when used
    from stix2validator.errors import ValidationError

    try:
        result = validate_instance(obj, _deep_options())
    except ValidationError as exc:  # not an object with `type` and `id`
        return [str(exc)]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # The validator's own checks assume well-typed input (`id` a string, ...) and crash on
        # anything else; such an object is invalid, and the crash is its verdict.
        return [f"stix2-validator could not check this object ({type(exc).__name__}: {exc})"]
    return [str(error) for error in result.errors]


@functools.cache
def _deep_options() -> Any:
    from stix2validator import ValidationOptions

    return ValidationOptions(version="2.1", strict=False, silent=True)
