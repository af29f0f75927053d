"""Tables (SQLAlchemy 2 Core). Times are integer microseconds since the Unix epoch (``*_us``).

Changes to this file need an Alembic migration under ``migrations/versions``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Key/value facts about the node: code, name, default label, created time.
node_meta = Table(
    "node_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

collections = Table(
    "collections",
    metadata,
    Column("id", String(64), primary_key=True),  # a UUID, the TAXII collection id
    Column("alias", String(128), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("kind", String(16), nullable=False),  # shared | inbox | custom
    Column("owner", String(16), nullable=True),  # partner code for an inbox
    Column("partner_write", Boolean, nullable=False, default=False),
    Column("created_us", BigInteger, nullable=False),
)

# Every stored version of every STIX object: canonical JSON bytes plus the columns TAXII filters
# on and the label columns the policy reads.
objects = Table(
    "objects",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("collection_id", String(64), nullable=False),
    Column("stix_id", String(160), nullable=False),
    Column("type", String(64), nullable=False),
    Column("version", String(40), nullable=False),  # the STIX `modified` (or `created`) text
    Column("version_us", BigInteger, nullable=False),
    Column("spec_version", String(8), nullable=False),
    Column("date_added_us", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("label", Text, nullable=False),  # canonical label text
    Column("classification", SmallInteger, nullable=False),
    Column("tlp", SmallInteger, nullable=False),
    Column("noforn", Boolean, nullable=False),
    Column("orcon", Boolean, nullable=False),
    Column("rel_to", Text, nullable=False),  # comma-joined codes, sorted
    Column("topics", Text, nullable=False),  # comma-joined, sorted
    Column("source_refs", Text, nullable=False),  # comma-joined vault ids
    Column("originator", String(16), nullable=True),  # None: this node
    Column("further_sharing", Text, nullable=True),  # None: unspecified
    Column("portions", Text, nullable=True),  # JSON [[selector, label text], ...]
    Column("posted_by", String(16), nullable=True),  # partner that posted it over TAXII
    # one index serves uniqueness and every look-up by id (and by id and version)
    UniqueConstraint("stix_id", "version_us", "collection_id"),
    Index("ix_objects_page", "collection_id", "date_added_us", "seq"),
)

partners = Table(
    "partners",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 hex of the API token
)

profile_versions = Table(
    "profile_versions",
    metadata,
    Column("partner", String(16), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("effective_from_us", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("clearance", SmallInteger, nullable=False),
    Column("tlp_ceiling", SmallInteger, nullable=False),
    Column("excluded_topics", Text, nullable=False),
    Column("embargo_s", BigInteger, nullable=False),
    Column("sanitised_only", Boolean, nullable=False),
    Column("suspended", Boolean, nullable=False),
    Column("fingerprint", Boolean, nullable=False, server_default=true()),
    Column("reason", Text, nullable=False),
    Column("approved_by", Text, nullable=False),
)

# ORCON / TLP:RED approvals, per object id (all versions) and partner; revocable, never deleted.
approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stix_id", String(160), nullable=False),
    Column("partner", String(16), nullable=False),
    Column("approved_by", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger, nullable=True),
    Column("revoked_by", Text, nullable=True),
    Column("revoke_reason", Text, nullable=True),
    Index("ix_approvals_partner", "partner", "stix_id"),
)

# Materialised decisions: per partner, the verdict of every stored version (indexed by
# `objects.seq`) in fixed-size chunks of compressed bytes (see tearline.store.decisions).
decision_sets = Table(
    "decision_sets",
    metadata,
    Column("partner", String(16), primary_key=True),
    Column("profile_version", Integer, nullable=False),
    Column("computed_us", BigInteger, nullable=False),
    Column("watermark_seq", BigInteger, nullable=False),
    Column("generation", Integer, nullable=False),
)

decision_chunks = Table(
    "decision_chunks",
    metadata,
    Column("partner", String(16), primary_key=True),
    Column("chunk", Integer, primary_key=True, autoincrement=False),
    Column("verdicts", LargeBinary, nullable=False),
)

# Release events: the record stage of the pipeline. One row per (partner, exact bytes): repeat
# deliveries bump `deliveries`; the ledger leaf is written on the first.
releases = Table(
    "releases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner", String(16), nullable=False),
    Column("stix_id", String(160), nullable=False),
    Column("version", String(40), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("verdict", String(20), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("first_us", BigInteger, nullable=False),
    Column("last_us", BigInteger, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("ledger_seq", BigInteger, nullable=True),
    UniqueConstraint("partner", "sha256", "verdict"),
    Index("ix_releases_object", "stix_id", "partner"),
)

# Decisions not to release (withheld at a gate or stage), kept for the officer's view.
gate_alerts = Table(
    "gate_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("partner", String(16), nullable=False),
    Column("stix_id", String(160), nullable=False),
    Column("version", String(40), nullable=False),
    Column("field", Text, nullable=False),  # JSON path of the hit; never the term itself
    Column("channel", String(16), nullable=False),
)

# The release ledger (RFC 9162 Merkle log). Leaves are RFC 8785 JSON; `nodes` keeps the hash of
# every complete subtree (level, index) so proofs cost O(log n) reads; `heads` are signed.
ledger_leaves = Table(
    "ledger_leaves",
    metadata,
    # 0-based leaf index; on SQLite the rowid itself (no second index to maintain per append)
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("kind", String(24), nullable=False),
    Column("partner", String(16), nullable=True),
    Column("at_us", BigInteger, nullable=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Index("ix_ledger_leaves_partner", "partner", "seq"),
)

ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

ledger_heads = Table(
    "ledger_heads",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("timestamp_us", BigInteger, nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

# The source vault. Secret values are AES-GCM sealed (fresh nonce, the source id as associated
# data) under a data key that is itself wrapped by a key-encryption key kept outside the database.
vault_keys = Table(
    "vault_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("kek_id", String(64), nullable=False),  # fingerprint of the wrapping key
    Column("created_us", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
)

vault_sources = Table(
    "vault_sources",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("cover", String(64), nullable=False, unique=True),
    Column("reliability", String(1), nullable=False),
    Column("credibility", SmallInteger, nullable=False),
    Column("compartments", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
)

vault_fields = Table(
    "vault_fields",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", String(64), nullable=False, index=True),
    Column("field", String(16), nullable=False),  # name | alias | phone | email | address | note | term
    Column("key_id", Integer, nullable=False),
    Column("sealed", LargeBinary, nullable=False),  # nonce || ciphertext || tag
    Column("created_us", BigInteger, nullable=False),
)

vault_reveals = Table(
    "vault_reveals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", String(64), nullable=False),
    Column("by", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

# TAXII status resources (TAXII 2.1 §4.3), one per Add Objects request, readable by its partner only.
taxii_status = Table(
    "taxii_status",
    metadata,
    Column("id", String(64), primary_key=True),  # a UUID, the TAXII status id
    Column("partner", String(16), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),  # the status resource, canonical JSON
)

# Operators of the web UI: name, role and an argon2id password hash (never the password).
users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # viewer | officer | admin
    Column("password_hash", Text, nullable=False),  # argon2id, PHC string form
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

# Federation: peers (their tokens are sealed vault secrets), pull cursors, versions a
# peer confirmed, rejections in either direction, and each peer's health for backoff.
sync_peers = Table(
    "sync_peers",
    metadata,
    Column("code", String(16), primary_key=True),  # an existing partner code
    Column("url", Text, nullable=False),  # the peer's TAXII discovery URL
    Column("collections", Text, nullable=False),  # comma-joined ids or aliases to pull; "" = every readable one
    Column("created_us", BigInteger, nullable=False),
)

# One pull cursor per (peer, remote collection): the `added_after` of the crawl in progress, its
# `next` token (None between crawls) and the highest date added seen in it.
sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("peer", String(16), primary_key=True),
    Column("collection", String(160), primary_key=True),
    Column("added_after", String(40), nullable=True),
    Column("next", Text, nullable=True),
    Column("high", String(40), nullable=True),
    Column("updated_us", BigInteger, nullable=False),
)

# Every stored version confirmed by a peer (accepted or rejected): the push cursor is its highest
# seq, and what is released but absent here is what a push sends next.
sync_pushed = Table(
    "sync_pushed",
    metadata,
    Column("peer", String(16), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("outcome", String(10), nullable=False),  # accepted | rejected
    Column("at_us", BigInteger, nullable=False),
)

sync_rejections = Table(
    "sync_rejections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("peer", String(16), nullable=False),
    Column("direction", String(8), nullable=False),  # pull | push
    Column("stix_id", String(200), nullable=False),
    Column("version", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("collection", String(160), nullable=True),  # pull: the peer's collection it came from
    # refused (final) | pending (retried on the next pulls) | stored (a retry stored it) | gone (the
    # peer no longer serves it)
    Column("state", String(12), nullable=False, server_default="refused"),
    Column("attempts", Integer, nullable=False, server_default="0"),  # retries so far
    Column("outcome", Text, nullable=True),  # what the last retry found
    Column("retried_us", BigInteger, nullable=True),
    UniqueConstraint("peer", "direction", "stix_id", "version", "reason"),
    Index("ix_sync_rejections_peer", "peer", "id"),
    Index("ix_sync_rejections_state", "peer", "state", "id"),
)

sync_health = Table(
    "sync_health",
    metadata,
    Column("peer", String(16), primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("last_ok_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("failures", Integer, nullable=False),
    Column("next_try_us", BigInteger, nullable=False),
)
