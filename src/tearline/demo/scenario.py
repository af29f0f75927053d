"""Build the demo scenario: partners, protected sources and labelled STIX 2.1 objects from a seed.

Pure and deterministic: one :class:`random.Random` seeded from ``seed`` drives every choice, and
nothing iterates a set or reads the clock, so the same ``(seed, now, size)`` gives identical output.
Objects are generated in time order (every object refers only to objects made before it), so the
``added`` times, drawn up front and sorted, keep references pointing back in time. Labels are in the
canonical text form of :mod:`tearline.model.labeltext` (``TLP:CLEAR`` is the default and omitted); a
relationship's label is the join of its own and its endpoints' labels, so it is never less
restrictive than what it links.
"""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tearline.demo import catalog as cat
from tearline.errors import InvalidInput

CLASSIFICATIONS = ("UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET")
TLPS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
MIN_SIZE = 500
SPAN = timedelta(days=730)
VERSION_SHARE = 0.12  # share of items that are later versions of an earlier object


@dataclass(frozen=True)
class PartnerSpec:
    code: str
    name: str
    clearance: str  # classification name, e.g. "SECRET"
    tlp_ceiling: str  # "AMBER", "AMBER+STRICT", ...
    excluded_topics: tuple[str, ...]
    embargo_days: int
    sanitised_only: bool


@dataclass(frozen=True)
class SourceSpec:
    cover: str
    true_name: str
    aliases: tuple[str, ...]
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    grade: str  # Admiralty grade: reliability A-F, credibility 1-6
    compartments: tuple[str, ...]


@dataclass(frozen=True)
class ScenarioItem:
    obj: dict[str, Any]  # a STIX 2.1 object without markings
    label: str  # label text, e.g. "SECRET//REL TO USA, GBR//TLP:AMBER//TOPICS russia"
    added: datetime  # aware UTC


@dataclass(frozen=True)
class Scenario:
    node_code: str
    node_name: str
    partners: tuple[PartnerSpec, ...]
    sources: tuple[SourceSpec, ...]
    items: tuple[ScenarioItem, ...]  # sorted by `added`
    scale_back: tuple[str, str]  # (partner code, topic)


@dataclass(frozen=True)
class Lab:
    """A label in the scenario's own terms (levels as ints), with the join used for relationships."""

    cls: int
    tlp: int
    rel: frozenset[str] = frozenset()
    noforn: bool = False
    orcon: bool = False
    topics: frozenset[str] = frozenset()

    def join(self, *others: Lab) -> Lab:
        """The least label at least as restrictive as all of these."""
        labs = (self, *others)
        noforn = any(x.noforn for x in labs)
        rels = [x.rel for x in labs if x.rel]
        rel = frozenset() if noforn or not rels else frozenset.intersection(*rels)
        return Lab(max(x.cls for x in labs), max(x.tlp for x in labs), rel, noforn,
                   any(x.orcon for x in labs), frozenset().union(*(x.topics for x in labs)))

    def text(self) -> str:
        parts = [CLASSIFICATIONS[self.cls]]
        if self.rel:
            parts.append("REL TO " + ", ".join(["USA", *sorted(self.rel - {"USA"})]))
        if self.noforn:
            parts.append("NOFORN")
        if self.orcon:
            parts.append("ORCON")
        if self.tlp:
            parts.append("TLP:" + TLPS[self.tlp])
        if self.topics:
            parts.append("TOPICS " + ", ".join(sorted(self.topics)))
        return "//".join(parts)


_USA_GBR = frozenset({"USA", "GBR"})
_FVEY = frozenset(cat.FVEY)
_EUROPE = frozenset({"USA", "DEU", "FRA", "GBR"})
_ALLIES = _FVEY | {"DEU", "FRA", "JPN"}
_CLS_WEIGHTS = {  # UNCLASSIFIED .. TOP SECRET, by STIX type
    "identity": (60, 30, 10, 0, 0), "threat-actor": (5, 25, 40, 25, 5), "intrusion-set": (5, 25, 40, 25, 5),
    "malware": (30, 35, 25, 10, 0), "campaign": (10, 30, 35, 20, 5), "indicator": (35, 35, 22, 8, 0),
    "report": (15, 25, 30, 22, 8), "relationship": (45, 35, 17, 3, 0),
}
_TLP_WEIGHTS = ((25, 50, 23, 2, 0), (5, 45, 45, 5, 0), (0, 30, 58, 10, 2), (0, 10, 60, 22, 8), (0, 0, 30, 40, 30))
# (weight, REL TO, NOFORN) by classification
_CAVEATS: tuple[tuple[tuple[int, frozenset[str], bool], ...], ...] = (
    ((1, frozenset(), False),),
    ((80, frozenset(), False), (10, _FVEY, False), (10, _ALLIES, False)),
    ((55, frozenset(), False), (25, _FVEY, False), (10, _EUROPE, False), (10, _USA_GBR, False)),
    ((20, frozenset(), False), (45, _FVEY, False), (27, _USA_GBR, False), (8, frozenset(), True)),
    ((10, frozenset(), False), (35, _FVEY, False), (40, _USA_GBR, False), (15, frozenset(), True)),
)
_ORCON = (0.0, 0.0, 0.03, 0.08, 0.2)
_PUBLIC = Lab(0, 0)


@dataclass
class _Entry:
    obj: dict[str, Any]
    lab: Lab
    added: datetime
    cites: bool = False


@dataclass
class _Campaign:
    id: str
    name: str
    actor: cat.Actor
    iset: str
    iset_name: str
    tools: tuple[str, ...]
    sector: str
    victim: tuple[str, str]  # (identity id, name)
    topics: frozenset[str]
    refs: list[str] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)
    techniques: list[int] = field(default_factory=list)


def build_scenario(*, seed: int = 7, now: datetime, size: int = 3000) -> Scenario:
    """A deterministic scenario of ``size`` items added over the two years before ``now``."""
    if now.tzinfo is None:
        raise InvalidInput("`now` must be timezone-aware")
    if size < MIN_SIZE:
        raise InvalidInput(f"a scenario needs at least {MIN_SIZE} items, not `{size}`")
    b = _Builder(seed, now.astimezone(UTC).replace(microsecond=0), size - round(size * VERSION_SHARE))
    b.core()
    b.activity()
    every = sorted(b.entries + b.versions(size - len(b.entries)), key=lambda e: e.added)  # stable
    items = tuple(ScenarioItem(e.obj, e.lab.text(), e.added) for e in every)
    partners = tuple(PartnerSpec(*p) for p in cat.PARTNERS)
    sources = tuple(SourceSpec(s.cover, s.true_name, s.aliases, s.phones, s.emails, s.grade, s.compartments)
                    for s in cat.SOURCES)
    return Scenario(cat.NODE_CODE, cat.NODE_NAME, partners, sources, items, cat.SCALE_BACK)


def stamp(at: datetime) -> str:
    """A STIX timestamp with millisecond precision."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class _Builder:
    def __init__(self, seed: int, now: datetime, base: int) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.base = base
        self.times = self._times(base)
        self.entries: list[_Entry] = []
        self.labs: dict[str, Lab] = {}
        self.made: dict[str, datetime] = {}  # creation time by id
        self.write = cat.Writer(self.rng)
        self.pending: tuple[datetime, datetime] | None = None
        self.techniques: list[str] = []
        self.sector_class: dict[str, str] = {}
        self.victims: dict[str, list[tuple[str, str]]] = {}
        self.malware: dict[str, str] = {}
        self.actors: dict[str, str] = {}
        self.sets: dict[str, str] = {}
        self.tool_indicators: dict[str, list[str]] = {}
        self.campaigns: list[_Campaign] = []
        self.names: set[str] = set()

    def _times(self, n: int) -> list[datetime]:
        rng, start, latest = self.rng, self.now - SPAN, self.now - timedelta(minutes=5)
        out = []
        for _ in range(n):
            day = int(SPAN.days * rng.random() ** 0.85)  # volume grows a little towards today
            sec = rng.randint(6 * 3600, 20 * 3600) if rng.random() < 0.8 else rng.randint(0, 86_399)
            out.append(min(start + timedelta(days=day, seconds=sec), latest))  # mostly working hours
        return sorted(out)

    @property
    def left(self) -> int:
        return self.base - len(self.entries)

    def created(self) -> datetime:
        """The creation time of the next object (drawn once, then kept until it is added)."""
        if self.pending is None:
            added = self.times[len(self.entries)]
            self.pending = (added, added - timedelta(seconds=self.rng.randint(0, 36 * 3600)))
        return self.pending[1]

    def new_id(self, stype: str) -> str:
        return f"{stype}--{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def add(self, stype: str, lab: Lab, fields: dict[str, Any]) -> str:
        created = self.created()
        assert self.pending is not None
        refs = [*fields.get("object_refs", ()), *(fields[k] for k in ("source_ref", "target_ref") if k in fields)]
        if refs:  # made no earlier than what it refers to (all of which were added before it)
            created = max(created, *(self.made[r] for r in refs))
            if "published" in fields:
                fields["published"] = stamp(created)
        sid = self.new_id(stype)
        self.made[sid] = created
        obj = {"type": stype, "spec_version": "2.1", "id": sid, "created": stamp(created),
               "modified": stamp(created), **fields}
        self.entries.append(_Entry(obj, lab, self.pending[0]))
        self.pending = None
        self.labs[sid] = lab
        return sid

    def draw(self, stype: str, topics: frozenset[str] | set[str]) -> Lab:
        rng = self.rng
        c = rng.choices(range(5), _CLS_WEIGHTS[stype])[0]
        t = rng.choices(range(5), _TLP_WEIGHTS[c])[0]
        options = _CAVEATS[c]
        _, rel, noforn = rng.choices(options, [o[0] for o in options])[0]
        return Lab(c, t, rel, noforn, rng.random() < _ORCON[c], frozenset(topics))

    def relate(self, src: str, rtype: str, tgt: str) -> str:
        lab = self.draw("relationship", set()).join(self.labs[src], self.labs[tgt])
        return self.add("relationship", lab, {"relationship_type": rtype, "source_ref": src, "target_ref": tgt})

    def core(self) -> None:
        w = self.write
        for tid, name, tactic in cat.TECHNIQUES:
            self.techniques.append(self.add("attack-pattern", _PUBLIC, {
                "name": name, "description": w.technique(name, tactic),
                "external_references": [{"source_name": "mitre-attack", "external_id": tid}],
                "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": tactic}]}))
        for topic, (cls_name, orgs) in cat.SECTORS.items():
            self.sector_class[topic] = self.add("identity", self.draw("identity", {topic}), {
                "name": cls_name, "identity_class": "class", "sectors": sorted({s for _, s in orgs}),
                "description": f"Organisations the node tracks as the {w.sector(topic)} sector."})
            self.victims[topic] = [(self.add("identity", self.draw("identity", {topic}), {
                "name": org, "identity_class": "organization", "sectors": [sector],
                "description": f"A {w.sector(topic)} organisation that has reported incidents to the node."}),
                org) for org, sector in orgs]
        for name, (types, topics, what) in cat.MALWARE.items():
            self.malware[name] = self.add("malware", self.draw("malware", set(topics)), {
                "name": name, "description": f"{name} is {what}.", "malware_types": list(types),
                "is_family": True})
            self.tool_indicators[name] = []
        for a in cat.ACTORS:
            own = {a.nexus or "ransomware"}
            fields: dict[str, Any] = {
                "name": a.name, "description": w.actor(a), "threat_actor_types": list(a.types),
                "sophistication": a.sophistication, "resource_level": a.resources,
                "primary_motivation": a.motivation, "goals": [a.goal]}
            if a.aliases:
                fields["aliases"] = list(a.aliases)
            self.actors[a.name] = self.add("threat-actor", self.draw("threat-actor", own), fields)
            for s in a.sets:
                self.sets[s] = self.add("intrusion-set", self.draw("intrusion-set", own), {
                    "name": s, "description": f"Activity cluster {s}, attributed to {a.name}.",
                    "goals": [a.goal], "resource_level": a.resources, "primary_motivation": a.motivation})
                self.relate(self.sets[s], "attributed-to", self.actors[a.name])
        for a in cat.ACTORS:
            for s in a.sets:
                for tool in a.tools:
                    self.relate(self.sets[s], "uses", self.malware[tool])
                for k in self.rng.sample(range(len(self.techniques)), 3):
                    self.relate(self.sets[s], "uses", self.techniques[k])
            for topic in a.sectors:
                self.relate(self.actors[a.name], "targets", self.sector_class[topic])
        index = {name: i for i, (_, name, _) in enumerate(cat.TECHNIQUES)}
        for name, (types, _, _) in cat.MALWARE.items():
            picks = {"ransomware": ["Data Encrypted for Impact", "Inhibit System Recovery"],
                     "wiper": ["Data Destruction"]}
            chosen = [n for t in types for n in picks.get(t, [])] or [self.rng.choice(cat.TECHNIQUES)[1]]
            for n in dict.fromkeys(chosen):
                self.relate(self.malware[name], "uses", self.techniques[index[n]])

    def activity(self) -> None:
        rng = self.rng
        while self.left > 0:
            r = rng.random()
            if (not self.campaigns or r < 0.03) and self.left >= 7:
                self.campaign()
            elif r < 0.13 and self.campaigns:
                self.report()
            elif r < 0.17 and self.campaigns:
                camp = rng.choice(self.campaigns[-5:])
                k = rng.randrange(len(self.techniques))
                if k not in camp.techniques:
                    camp.techniques.append(k)
                    camp.refs.append(self.relate(camp.id, "uses", self.techniques[k]))
            elif self.campaigns:
                self.indicator(rng.choice(self.campaigns[-5:]))
            else:  # too little room for a campaign: pad with a report about an actor
                self.report()

    def campaign(self) -> None:
        rng, w = self.rng, self.write
        actor = rng.choices(cat.ACTORS, [a.weight for a in cat.ACTORS])[0]
        tools = tuple(rng.sample(actor.tools, min(len(actor.tools), rng.choice((1, 1, 2)))))
        sector = rng.choice(actor.sectors)
        victim = rng.choice(self.victims[sector])
        topics = frozenset({actor.nexus or "ransomware", sector}).union(
            *(cat.MALWARE[t][1] for t in tools))
        name = w.operation(actor, tools[0], self.names)
        first = self.created() - timedelta(days=rng.randint(5, 60))
        cid = self.add("campaign", self.draw("campaign", topics), {
            "name": name, "first_seen": stamp(first), "objective": actor.goal,
            "description": w.campaign(name, actor, sector, victim[1], first)})
        iset = rng.choice(actor.sets)
        camp = _Campaign(cid, name, actor, self.sets[iset], iset, tools, sector, victim, topics)
        self.campaigns.append(camp)
        camp.refs.append(self.relate(cid, "attributed-to", camp.iset))
        camp.refs.extend(self.relate(cid, "uses", self.malware[t]) for t in tools)
        camp.refs.append(self.relate(cid, "targets", victim[0]))
        entry = [k for k, t in enumerate(cat.TECHNIQUES) if t[2] == "initial-access"]
        after = [k for k, t in enumerate(cat.TECHNIQUES) if t[2] not in ("initial-access", "reconnaissance")]
        for k in (rng.choice(entry), rng.choice(after)):  # the report text reads them in this order
            camp.techniques.append(k)
            camp.refs.append(self.relate(cid, "uses", self.techniques[k]))

    def indicator(self, camp: _Campaign) -> None:
        rng = self.rng
        tool = rng.choice(camp.tools)
        created = self.created()
        name, description, pattern = self.write.indicator(tool, camp.name, created)
        topics = camp.topics if rng.random() < 0.7 else camp.topics - {camp.sector}
        iid = self.add("indicator", self.draw("indicator", topics), {
            "name": name, "description": description, "pattern": pattern, "pattern_type": "stix",
            "pattern_version": "2.1", "valid_from": stamp(created),
            "indicator_types": ["malicious-activity"] + (["attribution"] if rng.random() < 0.2 else []),
            "confidence": rng.choice((50, 60, 70, 75, 80, 85, 90))})
        camp.indicators.append(iid)
        self.tool_indicators[tool].append(iid)
        if self.left > 0:
            target = self.malware[tool] if rng.random() < 0.6 else camp.id
            camp.refs.append(self.relate(iid, "indicates", target))

    def report(self) -> None:
        rng, w = self.rng, self.write
        kind = rng.choices(("campaign", "malware", "actor"), (70, 15, 15))[0] if self.campaigns else "actor"
        created = self.created()
        cites: list[str] = []
        if kind == "campaign":
            camp = rng.choice(self.campaigns[-6:])
            topics = set(camp.topics)
            techs = [cat.TECHNIQUES[k][1] for k in camp.techniques]
            refs = [camp.id, camp.iset, self.actors[camp.actor.name], camp.victim[0],
                    *(self.malware[t] for t in camp.tools), *camp.indicators[-rng.randint(1, 10):],
                    *camp.refs[:6], *(self.techniques[k] for k in camp.techniques)]
            if rng.random() < 0.09:
                cites = self._covers(topics)
            name, paragraphs = w.campaign_report(camp.name, camp.actor, camp.iset_name, camp.tools, camp.sector,
                                                 camp.victim[1], techs, len(camp.indicators), created, cites)
            types = ["campaign", "threat-actor"] + (["indicator"] if camp.indicators else [])
        elif kind == "malware":
            tool = rng.choice(sorted({t for c in self.campaigns for t in c.tools}))
            topics = set(cat.MALWARE[tool][1])
            inds = self.tool_indicators[tool][-rng.randint(1, 12):]
            refs = [self.malware[tool], *inds]
            name, paragraphs = w.malware_report(tool, len(inds), created)
            types = ["malware"] + (["indicator"] if inds else [])
        else:
            actor = rng.choices(cat.ACTORS, [a.weight for a in cat.ACTORS])[0]
            topics = {actor.nexus or "ransomware"}
            refs = [self.actors[actor.name], *(self.sets[s] for s in actor.sets),
                    *(self.malware[t] for t in actor.tools)]
            if rng.random() < 0.12:
                cites = self._covers(topics)
            name, paragraphs = w.actor_report(actor, created, cites)
            types = ["threat-actor", "intrusion-set"]
        lab = self.draw("report", topics)
        if (cites and not any(e.cites for e in self.entries)) or (cites and rng.random() < 0.25):
            # a sanitised assessment written for wide release: it still cites the source by token
            lab = Lab(2, 1, frozenset(), False, False, lab.topics)
        elif cites:
            lab = Lab(max(lab.cls, 3), max(lab.tlp, 2), lab.rel, lab.noforn, lab.orcon or rng.random() < 0.5,
                      lab.topics)
        self.add("report", lab, {"name": name, "description": "\n\n".join(paragraphs),
                                 "published": stamp(created), "report_types": types,
                                 "object_refs": list(dict.fromkeys(refs))})
        self.entries[-1].cites = bool(cites)

    def _covers(self, topics: set[str]) -> list[str]:
        fits = [s.cover for s in cat.SOURCES if topics & set(s.focus)] or [s.cover for s in cat.SOURCES]
        return self.rng.sample(fits, 2 if len(fits) > 1 and self.rng.random() < 0.2 else 1)

    def versions(self, wanted: int) -> list[_Entry]:
        """``wanted`` later versions of about a tenth of the objects (one or two each)."""
        rng = self.rng
        out: list[_Entry] = []
        latest: dict[str, _Entry] = {}
        kinds = {"indicator", "report", "campaign", "malware", "threat-actor", "intrusion-set"}
        pool = [e for e in self.entries if e.obj["type"] in kinds and self.now - e.added > timedelta(days=2)]
        rng.shuffle(pool)
        for entry in pool * 2:  # a second pass only when the pool is small
            if len(out) >= wanted:
                break
            prev = latest.get(entry.obj["id"], entry)
            for _ in range(min(wanted - len(out), rng.choice((1, 1, 2)))):
                room = (self.now - timedelta(minutes=5) - prev.added).total_seconds()
                if room < 7200:
                    break
                delta = rng.randint(3600, int(max(3600, min(room * 0.8, 120 * 86_400))))
                added = prev.added + timedelta(seconds=delta)
                modified = added - timedelta(seconds=rng.randint(0, min(7200, delta // 2)))
                prev = self._revise(prev, added, modified)
                out.append(prev)
            latest[entry.obj["id"]] = prev
        return out

    def _revise(self, prev: _Entry, added: datetime, modified: datetime) -> _Entry:
        rng = self.rng
        obj = copy.deepcopy(prev.obj)
        obj["modified"] = stamp(modified)
        lab = prev.lab
        relax = not prev.cites and rng.random() < 0.35
        if relax and lab.tlp >= 2:
            lab = Lab(lab.cls, lab.tlp - 1, lab.rel, lab.noforn, lab.orcon, lab.topics)
        elif relax and lab.cls in (1, 2) and not (lab.rel or lab.noforn or lab.orcon):
            lab = Lab(lab.cls - 1, lab.tlp, lab.rel, lab.noforn, lab.orcon, lab.topics)
        relaxed = lab != prev.lab
        note = self.write.update(obj["type"], modified, relaxed)
        if obj["type"] == "report":
            obj["description"] += "\n\n" + note
        else:
            obj["description"] = obj.get("description", "").split(" Update ")[0] + " " + note
        if obj["type"] == "indicator":
            obj["confidence"] = rng.choice((40, 60, 80, 90, 95))
            obj.pop("valid_until", None)
            if "no longer" in note:
                obj["valid_until"] = stamp(modified + timedelta(days=90))
        elif obj["type"] == "campaign":
            obj["last_seen"] = stamp(modified)
        return _Entry(obj, lab, added, prev.cites)
