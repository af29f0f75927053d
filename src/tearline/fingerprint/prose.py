"""Meaning-preserving alternatives in prose: where a sentence can say the same thing two ways.

Written here because no library offers a curated, reversible set of fact-preserving variants with
stable positions; the vocabulary is small, explicit and reviewed (:data:`TWO_WAY`, :data:`ONE_WAY`).

A text is read once into **tokens** (words, numbers, and every *form* of every variant class, a
multi-word form counting as one token) and the **gaps** between them. The *slots* are:

* a token that is a form of a **two-way** class (``organization`` / ``organisation``,
  ``does not`` / ``doesn't``, ``e-mail`` / ``email``): either form may stand for the other;
* a token that is the *first* form of a **one-way** class (``utilizes`` may become ``uses``; a
  native ``uses`` never becomes ``utilizes``);
* a word with an apostrophe (``adversary's`` / ``adversary’s``), a number in thousands
  (``10,000`` / ``10000``), a percentage (``5%`` / ``5 percent``);
* the serial comma of a list (``A, B, and C`` / ``A, B and C``).

Each slot is named by its class and its *context*: the two tokens before and after it, reduced to a
canonical form (lower case, every form of a class read as the class), so the name is the same in
every partner's copy and survives re-wrapping, re-casing and partial quoting.

Never touched: text inside quotes, backticks, ``<code>``, URLs, ``(Citation: ...)`` and markdown
links; a form joined to a dot, slash, backslash, ``@``, ``=``, ``_`` or ``-`` (file names, paths,
domains, identifiers); numbers that start with 0 or follow a word such as ``port`` or ``ID``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["ONE_WAY", "TWO_WAY", "Slot", "Text", "frozen_classes", "read"]

_IZE = (
    "organiz", "recogniz", "authoriz", "prioritiz", "minimiz", "maximiz", "customiz", "initializ",
    "serializ", "normaliz", "virtualiz", "categoriz", "characteriz", "summariz", "optimiz",
    "specializ", "centraliz", "synchroniz", "emphasiz", "realiz", "standardiz", "weaponiz",
    "operationaliz", "monetiz", "compartmentaliz", "sanitiz", "familiariz", "memoriz", "jeopardiz",
    "unauthoriz", "unrecogniz", "reorganiz", "decentraliz", "visualiz", "localiz", "finaliz",
)
_IZE_ENDINGS = ("e", "es", "ed", "ing", "ation", "ations", "er", "ers", "ational")


def _spelling() -> list[tuple[str, str]]:
    pairs = [(s + e, s[:-1] + "s" + e) for s in _IZE for e in _IZE_ENDINGS]
    pairs += [("analyze", "analyse"), ("analyzed", "analysed"), ("analyzing", "analysing"),
              ("analyzer", "analyser"), ("analyzers", "analysers"), ("paralyze", "paralyse")]
    for us, uk in (("behavior", "behaviour"), ("color", "colour"), ("favor", "favour"),
                   ("honor", "honour"), ("labor", "labour"), ("neighbor", "neighbour"),
                   ("endeavor", "endeavour"), ("rumor", "rumour"), ("harbor", "harbour")):
        pairs += [(us, uk), (us + "s", uk + "s")]
    pairs += [("behavioral", "behavioural"), ("favorite", "favourite"), ("favored", "favoured"),
              ("favorable", "favourable"), ("harbored", "harboured")]
    pairs += [("defense", "defence"), ("defenses", "defences"), ("offense", "offence"),
              ("offenses", "offences"), ("center", "centre"), ("centers", "centres"),
              ("fiber", "fibre"), ("theater", "theatre"), ("catalog", "catalogue"),
              ("catalogs", "catalogues"), ("analog", "analogue")]
    for stem in ("label", "model", "cancel", "travel", "signal", "tunnel", "channel", "funnel",
                 "fuel", "level", "marshal", "total"):
        pairs += [(stem + "ed", stem + "led"), (stem + "ing", stem + "ling")]
    pairs += [("judgment", "judgement"), ("acknowledgment", "acknowledgement"),
              ("acknowledgments", "acknowledgements"), ("enrollment", "enrolment"),
              ("fulfill", "fulfil"), ("gray", "grey"), ("toward", "towards"), ("among", "amongst"),
              ("afterward", "afterwards"), ("onward", "onwards"), ("upward", "upwards"),
              ("spelled", "spelt")]
    return pairs


_HYPHENS = [
    ("e-mail", "email"), ("e-mails", "emails"), ("command-and-control", "command and control"),
    ("open-source", "open source"), ("real-time", "real time"), ("end-user", "end user"),
    ("end-users", "end users"), ("pre-defined", "predefined"), ("re-use", "reuse"),
    ("re-used", "reused"), ("multi-factor", "multifactor"), ("plug-in", "plugin"),
    ("plug-ins", "plugins"), ("file-less", "fileless"), ("cyber-attack", "cyberattack"),
    ("cyber-attacks", "cyberattacks"), ("cyber-security", "cybersecurity"),
    ("spear-phishing", "spearphishing"), ("on-line", "online"), ("co-ordinate", "coordinate"),
    ("co-ordinated", "coordinated"), ("web site", "website"), ("web sites", "websites"),
    ("pre-existing", "preexisting"), ("non-standard", "nonstandard"), ("non-existent", "nonexistent"),
    ("sub-domain", "subdomain"), ("sub-domains", "subdomains"), ("re-enable", "reenable"),
    ("re-install", "reinstall"), ("third-party", "third party"), ("furthermore", "moreover"),
    ("data set", "dataset"), ("data sets", "datasets"), ("set up", "set-up"),
]
_CONTRACTIONS = [
    ("cannot", "can't"), ("do not", "don't"), ("does not", "doesn't"), ("did not", "didn't"),
    ("is not", "isn't"), ("are not", "aren't"), ("was not", "wasn't"), ("were not", "weren't"),
    ("will not", "won't"), ("would not", "wouldn't"), ("could not", "couldn't"),
    ("should not", "shouldn't"), ("has not", "hasn't"), ("have not", "haven't"), ("had not", "hadn't"),
]
_CONNECTIVES: list[tuple[str, str]] = []

TWO_WAY: tuple[tuple[str, str], ...] = tuple(_spelling() + _HYPHENS + _CONTRACTIONS + _CONNECTIVES)
ONE_WAY: tuple[tuple[str, str], ...] = (
    ("utilize", "use"), ("utilizes", "uses"), ("utilized", "used"), ("utilizing", "making use of"),
("in order to", "to"), ("prior to", "before"), ("such as", "including"),
    ("via", "through"), ("approximately", "about"), ("numerous", "many"), ("typically", "usually"),
    ("frequently", "often"), ("attempt to", "try to"), ("attempts to", "tries to"),
    ("attempted to", "tried to"), ("attempting to", "trying to"), ("e.g.", "for instance"),
    ("i.e.", "that is"), ("begin", "start"), ("begins", "starts"),
    ("began", "started"), ("execute", "run"), ("executes", "runs"), ("executing", "running"),
    ("modify", "change"), ("modifies", "changes"), ("modifying", "changing"), ("collect", "gather"),
    ("collects", "gathers"), ("collected", "gathered"), ("collecting", "gathering"),
    ("obtain", "acquire"), ("obtains", "acquires"), ("obtained", "acquired"),
    ("obtaining", "acquiring"), ("quickly", "rapidly"), ("whether or not", "whether"),
    ("also", "additionally"), ("monitor", "watch"), ("monitors", "watches"), ("specific", "particular"),
    ("perform", "carry out"), ("performs", "carries out"), ("performed", "carried out"),
    ("performing", "carrying out"), ("provide", "supply"), ("provides", "supplies"),
    ("allows", "enables"), ("allowing", "enabling"), ("multiple", "several"), ("various", "a variety of"),
    ("additional", "further"), ("potentially", "possibly"), ("associated with", "linked to"),
    ("observed", "seen"), ("discovered", "found"), ("previously", "earlier"), ("currently", "at present"),
    ("primarily", "mainly"), ("particularly", "especially"), ("probably", "likely"), ("although", "though"),
    ("therefore", "thus"), ("because", "since"), ("sends", "transmits"), ("sent", "transmitted"),
    ("two", "2"), ("three", "3"), ("four", "4"), ("five", "5"), ("six", "6"), ("seven", "7"), ("eight", "8"),
    ("nine", "9"), ("ten", "10"), ("may", "might"), ("using", "employing"),
)

CLASS_APOS, CLASS_NUM, CLASS_PCT, CLASS_COMMA = "'", "#", "%", ","
CONTEXT = 2  # tokens on each side that name a slot

# form (lower case) -> (class id, form index 0/1, two-way?)
_FORMS: dict[str, tuple[str, int, bool]] = {}
for _i, (_a, _b) in enumerate(TWO_WAY):
    _FORMS[_a], _FORMS[_b] = (f"t{_i}", 0, True), (f"t{_i}", 1, True)
for _i, (_a, _b) in enumerate(ONE_WAY):
    _FORMS[_a], _FORMS[_b] = (f"o{_i}", 0, False), (f"o{_i}", 1, False)
assert len(_FORMS) == 2 * (len(TWO_WAY) + len(ONE_WAY)), "a form belongs to one class"
_CLASS_FORMS: dict[str, tuple[str, str]] = {
    **{f"t{i}": p for i, p in enumerate(TWO_WAY)}, **{f"o{i}": p for i, p in enumerate(ONE_WAY)},
}


_FIRST_WORDS: dict[str, int] = {}  # first word of a form of several words -> most words in such a form
for _f in _FORMS:
    _w = _f.split(" ")
    if len(_w) > 1:
        _FIRST_WORDS[_w[0]] = max(_FIRST_WORDS.get(_w[0], 1), len(_w))
_RAW = re.compile(
    r"(?P<num>\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?%?)"
    r"|(?P<abbr>(?<![\w.])(?:e\.g|i\.e)\.)"
    r"|(?P<word>[^\W_]+(?:['’\-][^\W_]+)*)",
    re.IGNORECASE,
)
_JOINED_BEFORE = frozenset("./\\@:=_-'’")
_JOINED_AFTER = frozenset("/\\@=_-'’")
_SKIP = re.compile(
    r"\(Citation:[^)]*\)|\b(?:https?|hxxps?|ftp)://\S+|`[^`]*`|<code>.*?</code>|\"[^\"\n]{0,300}\""
    r"|“[^”]{0,300}”|\[[^\]\n]*\]\([^)\s]*\)|\{\{.*?\}\}",
    re.IGNORECASE | re.DOTALL,
)
_NO_NUMBER_AFTER = frozenset({"port", "id", "pid", "event", "code", "build", "version", "kb", "cve", "no", "number"})
_BIG_NUMBER = re.compile(r"[1-9]\d{1,2}(?:,\d{3})+|[1-9](?:,\d{3}){2,}|[1-9]\d{4,}")


def _free(text: str, start: int, end: int) -> bool:
    """Not joined to a path, file name, domain or identifier on either side."""
    if start > 0 and text[start - 1] in _JOINED_BEFORE:
        return False
    if end < len(text):
        c = text[end]
        if c in _JOINED_AFTER or (c in ".:" and end + 1 < len(text) and text[end + 1].isalnum()):
            return False
    return True


@dataclass(frozen=True, slots=True)
class Slot:
    """One place a choice is made: characters ``start:end`` hold form ``form`` (0 or 1) of ``cls``;
    ``name`` is the class and context, the same in every copy; ``two_way`` as for the class."""

    start: int
    end: int
    cls: str
    form: int
    name: str
    two_way: bool
    edge: bool  # its context reaches the start or the end of the text


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    slots: tuple[Slot, ...]


def _case_like(model: str, form: str) -> str:
    if len(model) > 1 and model.isupper():
        return form.upper()
    if model[:1].isupper():
        return form[:1].upper() + form[1:]
    return form


def _tokens(text: str) -> list[tuple[int, int, str, str, int]]:
    """(start, end, kind, canonical, form) for each token; forms of several words are one token."""
    raw = [(m.start(), m.end(), m.lastgroup or "word", m.group(0)) for m in _RAW.finditer(text)]
    lows = [r[3].lower().replace("’", "'") for r in raw]
    toks: list[tuple[int, int, str, str, int]] = []
    i, n = 0, len(raw)
    while i < n:
        start, end, kind, s = raw[i]
        if kind != "num":
            low = lows[i]
            found = None
            for w in range(min(_FIRST_WORDS.get(low, 1), n - i), 0, -1):
                if w > 1 and any(not text[raw[i + k][1]:raw[i + k + 1][0]].isspace() for k in range(w - 1)):
                    continue
                hit = _FORMS.get(low if w == 1 else " ".join(lows[i:i + w]))
                if hit is not None and _free(text, start, raw[i + w - 1][1]):
                    found = (w, hit)
                    break
            if found is not None:
                w, (cls, form, _) = found
                toks.append((start, raw[i + w - 1][1], "form", cls, form))
                i += w
                continue
            toks.append((start, end, "apos" if ("'" in low and "-" not in low) else "word", low, 1 if "’" in s else 0))
            i += 1
            continue
        digits = s.replace(",", "")
        word_form = _FORMS.get(s) if len(s) <= 2 else None
        if word_form is not None and _free(text, start, end) and not (
            i + 1 < n and raw[i + 1][3].lower() == "percent"
        ):
            toks.append((start, end, "form", word_form[0], word_form[1]))
        elif s.endswith("%"):
            toks.append((start, end, "pct", "%" + digits[:-1], 0))
        elif i + 1 < n and raw[i + 1][3].lower() == "percent" and text[end:raw[i + 1][0]].isspace():
            toks.append((start, raw[i + 1][1], "pct", "%" + digits, 1))
            i += 1
        else:
            big = _BIG_NUMBER.fullmatch(s) is not None and _free(text, start, end)
            toks.append((start, end, "num" if big else "word", "#" + digits, 0 if "," in s else 1))
        i += 1
    return toks


def tokens(text: str) -> list[tuple[int, str]]:
    """(start, canonical form) of each token: what text matching compares (every form of a class
    reads as the class, so every partner's copy of a text gives the same tokens)."""
    return [(t[0], t[3]) for t in _tokens(text)]


@lru_cache(maxsize=8192)
def read(text: str) -> Text:
    """The slots of ``text`` (see the module docstring), in order. Kept for the texts seen last: a
    release to several partners reads each text once."""
    toks = _tokens(text)
    if not toks:
        return Text(text, ())
    skips = [(m.start(), m.end()) for m in _SKIP.finditer(text)] if ("(" in text or "`" in text or "\"" in text
                                                                    or "“" in text or "{" in text or "://" in text
                                                                    or "<" in text) else []

    def skipped(a: int, b: int) -> bool:
        return any(s < b and a < e for s, e in skips)

    canon = [t[3] for t in toks]
    n = len(toks)

    def name(cls: str, before_end: int, after_start: int) -> tuple[str, bool]:
        lo, hi = max(0, before_end - CONTEXT), min(n, after_start + CONTEXT)
        edge = before_end - CONTEXT < 0 or after_start + CONTEXT > n
        return cls + "|" + " ".join(canon[lo:before_end]) + "|" + " ".join(canon[after_start:hi]), edge

    slots: list[Slot] = []
    for i, (start, end, kind, c, form) in enumerate(toks):
        if kind == "word":
            if c in ("and", "or"):
                slot = _comma_slot(text, toks, i, name)
                if slot is not None and not skipped(slot.start - 1, slot.end + 1):
                    slots.append(slot)
            continue
        if skipped(start, end):
            continue
        if kind == "num" and i > 0 and canon[i - 1] in _NO_NUMBER_AFTER:
            continue
        cls = c if kind == "form" else {"num": CLASS_NUM, "pct": CLASS_PCT, "apos": CLASS_APOS}[kind]
        nm, edge = name(c, i, i + 1)
        slots.append(Slot(start, end, cls, form, nm, kind != "form" or c.startswith("t"), edge))
    return Text(text, tuple(slots))


def _comma_slot(text: str, toks: list[tuple[int, int, str, str, int]], j: int,
                name: Callable[[str, int, int], tuple[str, bool]]) -> Slot | None:
    """The serial-comma slot before the ``and``/``or`` token ``j``: a list of three or more items,
    each the last one to three tokens after a comma."""
    if j == 0:
        return None
    gap = text[toks[j - 1][1]:toks[j][0]]
    if gap.strip() not in ("", ",") or not gap.lstrip(",").isspace():
        return None
    for k in range(1, 4):
        if j - k - 1 < 0:
            return None
        if toks[j - k][3] in ("and", "or"):
            return None  # the item holds a conjunction: not a simple list
        before = text[toks[j - k - 1][1]:toks[j - k][0]]
        if before.strip() == ",":
            break
        if before.strip() not in ("", "-"):
            return None
    else:
        return None
    at = toks[j - 1][1]
    form = 0 if "," in gap else 1
    nm, edge = name(CLASS_COMMA, j, j)
    return Slot(at, at + (1 if form == 0 else 0), CLASS_COMMA, form, nm, True, edge)


def render(text: Text, choose: Callable[[Slot], int], frozen: frozenset[str] = frozenset()) -> str:
    """``text`` with each slot set to the form ``choose`` gives (slots of ``frozen`` classes and
    native second forms of one-way classes left as they are)."""
    out: list[str] = []
    pos = 0
    src = text.text
    for s in text.slots:
        if s.cls in frozen or (not s.two_way and s.form != 0):
            continue
        want = choose(s)
        if want == s.form:
            continue
        out.append(src[pos:s.start])
        out.append(_form_text(src[s.start:s.end], s, want))
        pos = s.end
    if not out:
        return src
    out.append(src[pos:])
    return "".join(out)


def _form_text(current: str, s: Slot, want: int) -> str:
    if s.cls == CLASS_COMMA:
        return "," if want == 0 else ""
    if s.cls == CLASS_APOS:
        return current.replace("’", "'") if want == 0 else current.replace("'", "’")
    if s.cls == CLASS_NUM:
        digits = current.replace(",", "")
        return f"{int(digits):,}" if want == 0 else digits
    if s.cls == CLASS_PCT:
        number = re.sub(r"\s*(%|percent)$", "", current, flags=re.IGNORECASE)
        return number + ("%" if want == 0 else " percent")
    return _case_like(current, _CLASS_FORMS[s.cls][want])


def facts(text: str) -> str:
    """The text with every slot read as its class: equal for every copy of the same text."""
    t = read(text)
    out: list[str] = []
    pos = 0
    for s in t.slots:
        out.append(text[pos:s.start])
        out.append("\u27e6" + s.name.split("|", 1)[0] + "\u27e7")
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def frozen_classes(terms: Iterable[str], normalise: Callable[[str], str]) -> frozenset[str]:
    """The classes whose forms occur in a protected term (normalised as the gate does): choices there
    are never made, so fingerprinting can never change the text of a protected term."""
    texts = [normalise(t) for t in terms]
    if not texts:
        return frozenset()
    frozen: set[str] = set()
    for form, (cls, _, _) in _FORMS.items():
        nf = normalise(form)
        if any(nf in t for t in texts):
            frozen.add(cls)
    for t in texts:
        if "'" in t or "’" in t:
            frozen.add(CLASS_APOS)
        if "," in t:
            frozen.add(CLASS_COMMA)
        if any(ch.isdigit() for ch in t):
            frozen |= {CLASS_NUM, CLASS_PCT}
        if "%" in t or "percent" in t:
            frozen.add(CLASS_PCT)
    return frozenset(frozen)
