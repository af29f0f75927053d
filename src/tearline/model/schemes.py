"""National classification schemes as data, and the equivalence table the policy uses.

Hand-written: the schemes are a small table, and keeping them as data (not code paths) lets a
node's security officer review one place. Every level name maps to a *common rank*, the level
index of the default scheme (0 UNCLASSIFIED, 1 RESTRICTED, 2 CONFIDENTIAL, 3 SECRET, 4 TOP SECRET).
A :class:`~tearline.model.markings.Label` always carries the common rank, so the policy, the STIX
mapping (ACS codes by rank) and storage are unchanged; a scheme only changes how ranks are spelled.

Several names may share a rank (NZ ``IN-CONFIDENCE`` and ``UNCLASSIFIED``); a rank is then spelled
with the last (most protective) name listed for it, so ``parse(format(label)) == label`` still holds.
A rank with no name in a scheme (UK has no CONFIDENTIAL) cannot be written in that scheme.

The ranks are an engineering default, not an accreditation: ``docs/labels.md`` says they need
review by the node's security officer.
"""

from __future__ import annotations

from dataclasses import dataclass

from tearline.model.markings import ClassificationScheme

__all__ = ["SCHEMES", "NationalScheme", "infer_scheme", "scheme"]


def _key(name: str) -> str:
    """Case-, underscore-, whitespace- and colon-spacing-insensitive form of a level name."""
    text = " ".join(name.strip().upper().replace("_", " ").split())
    return text.replace(": ", ":").replace(" :", ":")


@dataclass(frozen=True)
class NationalScheme(ClassificationScheme):
    """A scheme whose level names map to common ranks (see the module docstring)."""

    code: str = "DEFAULT"
    ranks: tuple[int, ...] = (0, 1, 2, 3, 4)

    def __post_init__(self) -> None:
        if len(self.ranks) != len(self.names):
            raise ValueError(f"scheme {self.code}: one rank per name")
        if list(self.ranks) != sorted(self.ranks):
            raise ValueError(f"scheme {self.code}: ranks must not decrease along the names")

    def level(self, name: str) -> int:
        key = _key(name)
        for n, rank in zip(self.names, self.ranks, strict=True):
            if _key(n) == key:
                return rank
        raise ValueError(
            f"unknown classification `{name.strip()}` for scheme {self.code} "
            f"(one of {', '.join(self.names)})"
        )

    def name(self, level: int) -> str:
        spelled = [n for n, rank in zip(self.names, self.ranks, strict=True) if rank == level]
        if not spelled:
            raise ValueError(f"classification rank {level} has no name in scheme {self.code}")
        return spelled[-1]

    @property
    def top(self) -> int:
        return max(self.ranks)


def _s(code: str, *levels: tuple[str, int]) -> NationalScheme:
    return NationalScheme(
        names=tuple(n for n, _ in levels), code=code, ranks=tuple(r for _, r in levels)
    )


# The equivalence table (docs/labels.md prints it; keep the two in step).
SCHEMES: dict[str, NationalScheme] = {
    s.code: s
    for s in (
        _s("GBR", ("OFFICIAL", 0), ("OFFICIAL-SENSITIVE", 1), ("SECRET", 3), ("TOP SECRET", 4)),
        _s("USA", ("UNCLASSIFIED", 0), ("CONFIDENTIAL", 2), ("SECRET", 3), ("TOP SECRET", 4)),
        _s(
            "CAN",
            ("UNCLASSIFIED", 0),
            ("PROTECTED", 1),
            ("CONFIDENTIAL", 2),
            ("SECRET", 3),
            ("TOP SECRET", 4),
        ),
        _s(
            "AUS",
            ("OFFICIAL", 0),
            ("OFFICIAL: Sensitive", 1),
            ("PROTECTED", 2),
            ("SECRET", 3),
            ("TOP SECRET", 4),
        ),
        _s(
            "NZL",
            ("UNCLASSIFIED", 0),
            ("IN-CONFIDENCE", 0),
            ("SENSITIVE", 1),
            ("RESTRICTED", 1),
            ("CONFIDENTIAL", 2),
            ("SECRET", 3),
            ("TOP SECRET", 4),
        ),
        _s(
            "NATO",
            ("NATO UNCLASSIFIED", 0),
            ("NATO RESTRICTED", 1),
            ("NATO CONFIDENTIAL", 2),
            ("NATO SECRET", 3),
            ("COSMIC TOP SECRET", 4),
        ),
    )
}


def scheme(code: str) -> NationalScheme:
    """The scheme for a code (``GBR``, ``USA``, ``CAN``, ``AUS``, ``NZL``, ``NATO``)."""
    try:
        return SCHEMES[code.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown scheme `{code}` (one of {', '.join(SCHEMES)})") from None


def infer_scheme(level_name: str) -> NationalScheme:
    """The one scheme that has ``level_name`` with one rank; ``ValueError`` if none or ambiguous."""
    key = _key(level_name)
    ranks = {
        s.code: s.level(level_name)
        for s in SCHEMES.values()
        if any(_key(n) == key for n in s.names)
    }
    if not ranks:
        raise ValueError(f"unknown classification `{level_name.strip()}` in every scheme")
    if len(ranks) > 1:
        raise ValueError(
            f"`{level_name.strip()}` is a level in {', '.join(ranks)}; name the scheme (--scheme)"
        )
    return SCHEMES[next(iter(ranks))]
