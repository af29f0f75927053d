"""The fixed cast of the demo scenario: partners, sources, actors, malware, techniques, victims, words.

Written by hand so the scenario reads like real reporting. Everything is invented except the MITRE
ATT&CK technique ids and names (public reference data). Cover names are birds; actor, malware and
organisation names deliberately avoid bird words so a cover name only ever appears in a source token.
Telephone numbers use ranges reserved for fiction or documentation (Ofcom ``07700 900xxx`` and
``020 7946 0xxx``, NANP ``555-01xx``, ACMA ``0491 570 xxx`` and ``02 5550 xxxx``, ARCEP
``01 99 00 xx xx``); e-mail addresses use ``example.org`` / ``example.net``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

NODE_CODE = "GBR"
NODE_NAME = "UK Joint Cyber Assessment Cell (demo)"

NEXUS_TOPICS = ("russia", "china", "iran", "dprk")
SECTOR_TOPICS = (
    "critical-infrastructure", "defence", "elections", "finance", "health", "maritime", "space", "telecoms",
)
TOPICS = (*NEXUS_TOPICS, "ransomware", *SECTOR_TOPICS)

FVEY = ("USA", "AUS", "CAN", "GBR", "NZL")
# (partner code, name, clearance, tlp ceiling, excluded topics, embargo days, sanitised only)
PARTNERS: tuple[tuple[str, str, str, str, tuple[str, ...], int, bool], ...] = (
    ("USA", "United States", "TOP SECRET", "AMBER+STRICT", (), 0, False),
    ("CAN", "Canada", "SECRET", "AMBER+STRICT", (), 0, False),
    ("AUS", "Australia", "SECRET", "AMBER", (), 0, False),
    ("NZL", "New Zealand", "SECRET", "AMBER", (), 0, False),
    ("FRA", "France", "CONFIDENTIAL", "AMBER", ("elections",), 0, False),
    ("DEU", "Germany", "RESTRICTED", "GREEN", ("dprk", "space"), 3, False),
    ("JPN", "Japan", "CONFIDENTIAL", "GREEN", ("elections", "iran"), 0, True),
)
SCALE_BACK = ("USA", "russia")


@dataclass(frozen=True)
class Human:
    """A protected human source as the catalogue knows it; ``focus`` picks reports it may appear in."""

    cover: str
    true_name: str
    aliases: tuple[str, ...]
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    grade: str
    compartments: tuple[str, ...]
    focus: tuple[str, ...]


SOURCES = (
    Human("KESTREL", "Radomir Tesselkin", ("Rado Tessel", "Uncle Radek"),
          ("+44 7700 900417", "+44 20 7946 0832"), ("r.tesselkin@example.org",),
          "B2", ("TALLOWMERE",), ("russia", "elections", "defence")),
    Human("OSPREY", "Wen-Li Harrowgate", ("Lily Harrowgate", "Auntie Wen"),
          ("+1 202 555 0143",), ("wl.harrowgate@example.net", "lily.h.travel@example.org"),
          "A2", ("GRAYWICK", "QUARTZLINE"), ("china", "telecoms", "space")),
    Human("MERLIN", "Cosmin Vadeanu-Pryce", ("Cos Pryce", "Dominic Vade"),
          ("+44 7700 900268", "+33 1 99 00 27 41"), ("cvpryce@example.net",),
          "C3", ("LOWBRIDGE",), ("ransomware", "finance", "health")),
    Human("PLOVER", "Darius Khorramdel-Finch", ("Dari Finch",),
          ("+61 491 570 156",), ("d.k.finch@example.org",),
          "B3", ("TALLOWMERE", "SEDGEFORD"), ("iran", "maritime", "critical-infrastructure")),
    Human("SISKIN", "Ji-ho Penhallow", ("Joe Penhallow", "J. H. Pen"),
          ("+1 416 555 0178", "+61 2 5550 3921"), ("jh.penhallow@example.net",),
          "D4", ("QUARTZLINE",), ("dprk", "finance")),
    Human("CORMORANT", "Ingrid Saltonstall-Varga", ("Inga Varga", "Captain Saltonstall"),
          ("+44 20 7946 0519",), ("ingrid.sv@example.org", "harbourmaster.iv@example.net"),
          "A1", ("SEDGEFORD",), ("maritime", "russia", "telecoms")),
)


@dataclass(frozen=True)
class Actor:
    """A threat actor; ``nexus`` is its state topic or ``None`` for a criminal group."""

    name: str
    nexus: str | None
    types: tuple[str, ...]
    motivation: str
    sophistication: str
    resources: str
    aliases: tuple[str, ...]
    sectors: tuple[str, ...]
    tools: tuple[str, ...]
    sets: tuple[str, ...]
    weight: float
    goal: str


ACTORS = (
    Actor("IRON BOREAL", "russia", ("nation-state",), "organizational-gain", "expert", "government",
          ("Frostgate Team",), ("critical-infrastructure", "defence", "telecoms"),
          ("Fernshade", "Greymantle"), ("TLN-0412", "TLN-0419"), 3.5,
          "pre-position access in energy and communications networks"),
    Actor("SLATE BOREAL", "russia", ("nation-state", "spy"), "ideology", "advanced", "government",
          ("Grey Pamphlet",), ("elections", "defence"),
          ("Quillstone",), ("TLN-0433",), 3.0, "collect political intelligence and shape public debate"),
    Actor("GLASS BOREAL", "russia", ("nation-state",), "dominance", "expert", "government",
          (), ("maritime", "critical-infrastructure", "space"),
          ("Steppefall", "Quietfen"), ("TLN-0447",), 3.0,
          "disrupt logistics and destroy data under the cover of ransomware"),
    Actor("JADE LANTERN", "china", ("nation-state",), "organizational-gain", "expert", "government",
          ("Harbour Moth",), ("telecoms", "space", "defence"),
          ("Lotusgate", "Jadecoil"), ("TLN-1108", "TLN-1115"), 2.5,
          "steal intellectual property and hold access to telecommunications cores"),
    Actor("PAPER LANTERN", "china", ("nation-state", "spy"), "organizational-gain", "advanced", "government",
          (), ("health", "maritime", "finance"), ("Paperlure",), ("TLN-1122",), 1.8,
          "collect commercial and research data"),
    Actor("SILK LANTERN", "china", ("nation-state",), "organizational-gain", "advanced", "government",
          (), ("telecoms", "critical-infrastructure"), ("Lotusgate",), ("TLN-1130",), 1.6,
          "build covert relay networks from edge devices"),
    Actor("SAFFRON SIMOOM", "iran", ("nation-state",), "coercion", "intermediate", "government",
          ("Dune Clerks",), ("critical-infrastructure", "maritime"),
          ("Dunemeter", "Saffronpipe"), ("TLN-2204",), 1.6, "signal reach into industrial control systems"),
    Actor("COPPER SIMOOM", "iran", ("nation-state", "spy"), "ideology", "intermediate", "government",
          (), ("elections", "health"), ("Saffronpipe",), ("TLN-2211",), 1.2,
          "harvest credentials of officials and journalists"),
    Actor("MOUNTAIN COMET", "dprk", ("nation-state",), "personal-gain", "advanced", "government",
          ("Tidewater Ledger",), ("finance", "defence"), ("Comettail", "Riverglass"), ("TLN-3301",), 1.6,
          "steal cryptocurrency and defence technology"),
    Actor("RIVER COMET", "dprk", ("nation-state", "criminal"), "personal-gain", "intermediate",
          "government", (), ("finance", "health"), ("Riverglass", "Sablecrypt"), ("TLN-3308",), 1.2,
          "raise revenue through ransomware and extortion"),
    Actor("VELVET RAKE", None, ("crime-syndicate",), "personal-gain", "advanced", "organization",
          ("Rake Collective",), ("health", "finance", "critical-infrastructure"),
          ("Marrowlock", "Tidecrypt", "Hushdrop"), ("TLN-5001", "TLN-5004"), 3.5,
          "extort victims through encryption and leak-site pressure"),
    Actor("NINTH HOLLOW", None, ("crime-syndicate",), "personal-gain", "intermediate", "organization",
          ("Hollow Nine",), ("finance", "maritime", "telecoms"),
          ("Nullharbor", "Gravelock", "Cinderwall", "Hushdrop"), ("TLN-5012",), 3.0,
          "run a ransomware-as-a-service programme for affiliates"),
    Actor("GILT LEDGER", None, ("criminal",), "personal-gain", "intermediate", "organization",
          (), ("health", "critical-infrastructure", "elections"),
          ("Pallidcrypt", "Emberkey", "Mirelock"), ("TLN-5020",), 2.5,
          "steal and sell data, encrypting only when victims refuse to pay"),
)

# name -> (malware types, topics, what it does)
MALWARE: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "Fernshade": (("backdoor",), ("russia",), "a modular backdoor loaded through a signed-binary side-load"),
    "Greymantle": (("downloader",), ("russia",), "a small downloader that fetches staged payloads over HTTPS"),
    "Quillstone": (("remote-access-trojan",), ("russia",), "a remote access tool with e-mail collection"),
    "Steppefall": (("wiper",), ("russia",), "a wiper that overwrites the master boot record and backups"),
    "Quietfen": (("ransomware", "wiper"), ("ransomware", "russia"),
                 "pseudo-ransomware whose 'encryption' cannot be reversed"),
    "Lotusgate": (("backdoor",), ("china",), "a passive implant for network edge appliances"),
    "Jadecoil": (("rootkit",), ("china",), "a kernel rootkit that hides a proxy listener"),
    "Paperlure": (("remote-access-trojan",), ("china",), "a remote access tool delivered in document lures"),
    "Dunemeter": (("wiper",), ("iran",), "a wiper aimed at engineering workstations"),
    "Saffronpipe": (("backdoor",), ("iran",), "a backdoor tunnelling commands over DNS"),
    "Comettail": (("downloader", "dropper"), ("dprk",), "a dropper hidden in trojanised developer packages"),
    "Riverglass": (("remote-access-trojan",), ("dprk",), "a cross-platform remote access tool"),
    "Sablecrypt": (("ransomware",), ("dprk", "ransomware"), "a ransomware family with a manual operator"),
    "Marrowlock": (("ransomware",), ("ransomware",), "a fast intermittent-encryption ransomware"),
    "Tidecrypt": (("ransomware",), ("ransomware",), "a ransomware family targeting hypervisors"),
    "Hushdrop": (("downloader",), ("ransomware",), "a loader sold to several ransomware affiliates"),
    "Nullharbor": (("ransomware",), ("ransomware",), "a ransomware-as-a-service payload"),
    "Gravelock": (("ransomware",), ("ransomware",), "a ransomware family that deletes shadow copies first"),
    "Cinderwall": (("ransomware",), ("ransomware",), "a ransomware family that exfiltrates before encrypting"),
    "Pallidcrypt": (("ransomware",), ("ransomware",), "a ransomware family written in Go"),
    "Emberkey": (("ransomware",), ("ransomware",), "a ransomware family targeting network storage"),
    "Mirelock": (("ransomware",), ("ransomware",), "a ransomware family sold with a negotiation portal"),
}

# ATT&CK (id, name, tactic): public reference data
TECHNIQUES = (
    ("T1566.001", "Spearphishing Attachment", "initial-access"),
    ("T1598.003", "Spearphishing Link", "reconnaissance"),
    ("T1190", "Exploit Public-Facing Application", "initial-access"),
    ("T1133", "External Remote Services", "initial-access"),
    ("T1078", "Valid Accounts", "defense-evasion"),
    ("T1195.002", "Compromise Software Supply Chain", "initial-access"),
    ("T1583.001", "Domains", "resource-development"),
    ("T1059.001", "PowerShell", "execution"),
    ("T1053.005", "Scheduled Task", "persistence"),
    ("T1547.001", "Registry Run Keys / Startup Folder", "persistence"),
    ("T1003.001", "LSASS Memory", "credential-access"),
    ("T1110.003", "Password Spraying", "credential-access"),
    ("T1021.001", "Remote Desktop Protocol", "lateral-movement"),
    ("T1021.002", "SMB/Windows Admin Shares", "lateral-movement"),
    ("T1071.001", "Web Protocols", "command-and-control"),
    ("T1572", "Protocol Tunneling", "command-and-control"),
    ("T1090.003", "Multi-hop Proxy", "command-and-control"),
    ("T1105", "Ingress Tool Transfer", "command-and-control"),
    ("T1562.001", "Disable or Modify Tools", "defense-evasion"),
    ("T1070.004", "File Deletion", "defense-evasion"),
    ("T1027", "Obfuscated Files or Information", "defense-evasion"),
    ("T1567.002", "Exfiltration to Cloud Storage", "exfiltration"),
    ("T1048", "Exfiltration Over Alternative Protocol", "exfiltration"),
    ("T1486", "Data Encrypted for Impact", "impact"),
    ("T1490", "Inhibit System Recovery", "impact"),
    ("T1489", "Service Stop", "impact"),
    ("T1485", "Data Destruction", "impact"),
)

# sector topic -> (sector-class name, [(organisation, STIX industry sector)])
SECTORS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "critical-infrastructure": ("UK energy and water operators", (
        ("Northmoor Water Services", "water"), ("Calder Grid Operations", "energy"),
        ("Wexcombe Gas Distribution", "utilities"))),
    "defence": ("UK defence industrial base", (
        ("Stanlow Defence Systems", "defense"), ("Ironbridge Munitions", "defense"),
        ("Harlow Naval Engineering", "defense"))),
    "elections": ("UK electoral administration", (
        ("Harwick County Electoral Services", "government-local"),
        ("Office of the Boundary Registrar", "government-national"), ("Civic Ballot Systems", "technology"))),
    "finance": ("UK banks and payment providers", (
        ("Halberd Mutual Bank", "financial-services"), ("Ashgrove Clearing House", "financial-services"),
        ("Lydgate Insurance Group", "insurance"))),
    "health": ("UK health and care providers", (
        ("Kingsmere Hospitals Trust", "healthcare"), ("Brightwater Pathology Services", "healthcare"),
        ("Vantry Pharmaceuticals", "pharmaceuticals"))),
    "maritime": ("UK ports and shipping", (
        ("Port of Easterhaven Authority", "transportation"), ("Solent Reach Shipping", "transportation"),
        ("Trident Marine Logistics", "transportation"))),
    "space": ("UK space sector", (
        ("Orbital Relay Systems", "aerospace"), ("Highmoor Satellite Ground Station", "aerospace"),
        ("Lumen Launch Services", "aerospace"))),
    "telecoms": ("UK telecommunications providers", (
        ("Westmarch Telecom", "telecommunications"), ("Cobalt Fibre Networks", "telecommunications"),
        ("Avonlink Mobile", "telecommunications"))),
}

OPERATION_WORDS = (
    ("Hollow", "Amber", "Silent", "Broken", "Northern", "Quiet", "Rusted", "Pale", "Hidden", "Shallow",
     "Winter", "Copper", "Sunken", "Narrow", "Distant", "Brittle"),
    ("Orchard", "Lantern", "Harbour", "Meridian", "Ledger", "Quarry", "Beacon", "Causeway", "Furnace",
     "Tollgate", "Compass", "Anvil", "Millrace", "Bastion", "Signal", "Rampart"),
)
DOMAIN_WORDS = (
    "sync", "cloud", "update", "cdn", "secure", "portal", "mail", "docs", "share", "auth", "verify",
    "telemetry", "assets", "relay", "files", "drive", "billing", "invoice", "support", "login", "vpn",
    "gateway", "status", "static", "api", "edge", "metrics", "backup", "office", "notify", "cache", "node",
)
DOMAIN_SUFFIXES = ("example", "test", "example", "test", "example.com", "example.net")
URL_PATHS = (
    "dl/{w}.zip", "wp-content/uploads/{y}/{m:02d}/{w}.php", "api/v2/{w}/check", "invoice/{n}.pdf.lnk",
    "s/{w}{n}", "download/{w}_setup.msi", "{w}/index.html", "gate.php?id={n}",
)
FILE_NAMES = ("svc_update.exe", "msupd.dll", "invoice_copy.lnk", "setup_x64.msi", "vmtoolsd.bin",
              "report_q{n}.docm", "wmi_host.dll", "encryptor.elf", "readme_{n}.hta", "payload.iso")
EMAIL_LOCALS = ("billing", "hr-notices", "it-support", "payroll", "invoices", "security-alerts", "recruitment")
ROLES = {
    "ipv4": ("command-and-control server", "staging server", "exfiltration endpoint", "scanning node"),
    "domain": ("command-and-control domain", "phishing domain", "payload host"),
    "url": ("payload download URL", "credential-harvesting page", "beacon URL"),
    "file": ("loader sample", "encryptor sample", "implant sample", "dropper sample"),
    "email": ("phishing sender", "lure sender"),
}

SECTOR_NAMES = {"critical-infrastructure": "critical infrastructure", "telecoms": "telecommunications"}
CONFIDENCE = ("low", "moderate", "moderate", "high")
IMPACTS = ("data theft", "the encryption of file servers", "the loss of e-mail for several days",
           "service disruption at two sites", "the theft of engineering documents")


def _month(at: datetime) -> str:
    return at.strftime("%B %Y")


def _day(at: datetime) -> str:
    return f"{at.day} {_month(at)}"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def token(cover: str) -> str:
    """The reference token by which a report cites a protected source."""
    return "{{source:" + cover + "}}"


class Writer:
    """Names, patterns and prose for scenario objects, drawn from the scenario's random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ips = [f"{net}.{h}" for net in ("192.0.2", "198.51.100", "203.0.113") for h in range(1, 255)]
        rng.shuffle(self.ips)  # documentation ranges (RFC 5737), each address used once while they last
        self.domains: set[str] = set()
        self.waves: dict[str, int] = {}

    @staticmethod
    def sector(topic: str) -> str:
        return SECTOR_NAMES.get(topic, topic)

    def technique(self, name: str, tactic: str) -> str:
        return (f"{name} ({tactic.replace('-', ' ')}), as described in MITRE ATT&CK. Tracked here because "
                "actors reported to the node use it.")

    def actor(self, a: Actor) -> str:
        kind = "state-sponsored" if a.nexus else "financially motivated criminal"
        return f"{a.name} is a {kind} actor whose main aim is to {a.goal}."

    def operation(self, a: Actor, tool: str, taken: set[str]) -> str:
        rng = self.rng
        if a.nexus is None:
            self.waves[tool] = self.waves.get(tool, 0) + 1
            name = f"{tool} affiliate wave {self.waves[tool]}"
        else:
            name = f"Operation {rng.choice(OPERATION_WORDS[0])} {rng.choice(OPERATION_WORDS[1])}"
            n = 2
            while name in taken:
                name = f"{name.rsplit(' ', 1)[0] if n > 2 else name} {n}"
                n += 1
        taken.add(name)
        return name

    def campaign(self, name: str, a: Actor, sector: str, victim: str, first: datetime) -> str:
        return (f"{name}: activity by {a.name} against the {self.sector(sector)} sector, first observed in "
                f"{_month(first)}; {victim} is among the organisations affected.")

    def _domain(self) -> str:
        rng = self.rng
        while True:
            a, b = rng.sample(DOMAIN_WORDS, 2)
            host = f"{a}-{b}" if rng.random() < 0.6 else f"{a}.{b}{rng.randint(1, 99)}"
            d = f"{host}.{rng.choice(DOMAIN_SUFFIXES)}"
            if d not in self.domains:
                self.domains.add(d)
                return d

    def indicator(self, tool: str, campaign: str, at: datetime) -> tuple[str, str, str]:
        """(name, description, STIX pattern) of a new indicator."""
        rng = self.rng
        kind = rng.choices(("ipv4", "domain", "url", "file", "email"), (30, 22, 15, 28, 5))[0]
        role = rng.choice(ROLES[kind])
        if kind == "ipv4":
            value = self.ips.pop() if self.ips else f"203.0.113.{rng.randint(1, 254)}"
            if rng.random() < 0.25:
                port = rng.choice((443, 8443, 8080, 53, 995))
                pattern = (f"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = "
                           f"'{value}' AND network-traffic:dst_port = {port}]")
            else:
                pattern = f"[ipv4-addr:value = '{value}']"
        elif kind == "domain":
            value = self._domain()
            pattern = f"[domain-name:value = '{value}']"
        elif kind == "url":
            path = rng.choice(URL_PATHS).format(w=rng.choice(DOMAIN_WORDS), y=at.year, m=at.month,
                                                n=rng.randint(100, 99_999))
            value = f"https://{self._domain()}/{path}"
            pattern = f"[url:value = '{value}']"
        elif kind == "file":
            value = f"{rng.getrandbits(256):064x}"
            pattern = f"[file:hashes.'SHA-256' = '{value}']"
            if rng.random() < 0.4:
                fname = rng.choice(FILE_NAMES).format(n=rng.randint(1, 4))
                pattern = f"[file:hashes.'SHA-256' = '{value}' AND file:name = '{fname}']"
        else:
            value = f"{rng.choice(EMAIL_LOCALS)}@{self._domain()}"
            pattern = f"[email-addr:value = '{value}']"
        short = value if len(value) <= 40 else value[:16] + "..."
        name = f"{tool} {role} {short}"
        description = rng.choice((
            f"{role.capitalize()} associated with {tool} in {campaign}; first seen {_day(at)}.",
            f"Observed as a {role} during {campaign}.",
            f"{role.capitalize()} seen in incident response to {campaign}, linked to {tool}.",
        ))
        return name, description, pattern

    def _cite(self, covers: list[str], a: Actor, sector: str, campaign: str | None) -> str:
        rng, first, more = self.rng, token(covers[0]), covers[1:]
        text = rng.choice((
            f"Reporting from {first} indicates that {a.name} intends to {a.goal}, with new tasking "
            f"against the {self.sector(sector)} sector.",
            f"{first}, who has direct access, reports that {a.name} operators have discussed widening "
            f"their targeting in the {self.sector(sector)} sector.",
            f"A sensitive source ({first}) states that the next phase of "
            f"{campaign or 'this activity'} will begin within weeks.",
        ))
        if more:
            text += f" Separate reporting from {token(more[0])} corroborates this."
        return text

    def campaign_report(self, name: str, a: Actor, iset: str, tools: tuple[str, ...], sector: str,
                        victim: str, techs: list[str], n_ind: int, at: datetime,
                        covers: list[str]) -> tuple[str, list[str]]:
        rng = self.rng
        since = _month(at - timedelta(days=rng.randint(20, 200)))
        conf, sec = rng.choice(CONFIDENCE), self.sector(sector)
        title = f"{name}: " + rng.choice((
            "activity update", "new infrastructure", f"targeting of the {sec} sector",
            "indicators and mitigations", f"intrusion at {victim}"))
        paras = [rng.choice((
            f"{name} is an ongoing intrusion campaign by {iset}, which we attribute to {a.name} with {conf} "
            f"confidence. Since {since} it has targeted the {sec} sector, most recently {victim}.",
            f"Between {since} and {_day(at)}, {iset} compromised networks in the {sec} sector as part of "
            f"{name}. We assess with {conf} confidence that {a.name} is responsible.",
            f"{victim} reported suspicious activity in {_month(at)}; analysis links it to {name}, "
            f"run by {iset} on behalf of {a.name}.",
        ))]
        t1, t2 = [*techs, "Valid Accounts", "Web Protocols"][:2]
        what = _and([f"{t} ({MALWARE[t][2]})" for t in tools])
        paras.append(rng.choice((
            f"Initial access used {t1}; the operators then relied on {t2} and deployed {what}.",
            f"The intrusion chain combines {t1} and {t2}. Analysts recovered {what} from affected hosts.",
        )))
        if n_ind:
            paras.append(rng.choice((
                f"This report references the most recent of {n_ind} indicators tracked for the campaign. "
                f"Defenders should search logs from {since} onwards.",
                f"The attached indicators cover command-and-control infrastructure and sample hashes; "
                f"several addresses were active within the last {rng.randint(3, 30)} days.",
            )))
        if covers:
            paras.append(self._cite(covers, a, sector, name))
        paras.append(rng.choice((
            f"We assess that {a.name} will continue to {a.goal}. Organisations in the {sec} sector should "
            "patch internet-facing services and review remote access logs.",
            f"Impact so far has been limited to {rng.choice(IMPACTS)}, but the access obtained would allow "
            "disruption at short notice.",
        )))
        return title, paras

    def malware_report(self, tool: str, n_ind: int, at: datetime) -> tuple[str, list[str]]:
        rng = self.rng
        title = rng.choice((f"{tool} technical analysis", f"{tool} variant analysis ({_month(at)})",
                            f"Detecting {tool}"))
        return title, [
            f"{tool} is {MALWARE[tool][2]}. Samples analysed since "
            f"{_month(at - timedelta(days=rng.randint(30, 300)))} share a configuration format and a "
            "string-obfuscation routine.",
            f"The {n_ind} indicators referenced here were extracted from recent samples and their "
            "infrastructure. Detection signatures are available on request.",
        ]

    def actor_report(self, a: Actor, at: datetime, covers: list[str]) -> tuple[str, list[str]]:
        rng = self.rng
        sectors = _and([self.sector(s) for s in a.sectors])
        paras = [self.actor(a) + f" Its activity is tracked as {', '.join(a.sets)}.",
                 f"Since {_month(at - timedelta(days=rng.randint(90, 600)))} it has targeted the {sectors} "
                 f"sectors, using {_and(list(a.tools))}."]
        if covers:
            paras.append(self._cite(covers, a, rng.choice(a.sectors), None))
        return f"{a.name} threat assessment ({_month(at)})", paras

    def update(self, stype: str, at: datetime, relaxed: bool) -> str:
        head = f"Update {_day(at)}:"
        if relaxed:
            return f"{head} re-graded for wider release after review; no substantive change."
        options = {
            "indicator": ("still active as of this date.",
                          "no longer resolving; retained for retrospective searches."),
            "report": ("new infrastructure identified and the indicator list extended.",
                       "corrections to the timeline in the first paragraph."),
        }.get(stype, ("description revised after new reporting.", "further activity observed."))
        return f"{head} {self.rng.choice(options)}"
