"""The node itself: creating it (`init`) and reading its facts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from tearline.canonical import format_timestamp, to_micros
from tearline.clock import Clock
from tearline.crypto.keys import create_keys
from tearline.errors import ConfigError, Conflict, InvalidInput
from tearline.ids import IdFactory, RandomIds
from tearline.model.labeltext import format_label, parse_label
from tearline.model.markings import Label, Tlp
from tearline.model.partners import check_code
from tearline.store import nodes
from tearline.store.engine import Database

DEFAULT_CODE = "GBR"
DEFAULT_NAME = "tearline node"
# What an object carries when neither its markings nor the ingest options say otherwise.
DEFAULT_LABEL = Label(classification=0, tlp=Tlp.AMBER)


@dataclass(frozen=True)
class NodeInfo:
    code: str
    name: str
    created: str
    default_label: Label
    identity_id: str  # the STIX identity id of this node (created_by_ref of its markings)


def init_node(
    db: Database,
    keys_dir: Path,
    clock: Clock,
    *,
    code: str | None,
    name: str | None,
    ids: IdFactory | None = None,
) -> tuple[NodeInfo, bool]:
    """Create the node (schema, keys, identity, the `shared` collection). Returns (info, created).

    Running it again on an existing node only applies pending migrations; a different code is refused.
    """
    db.migrate()
    create_keys(keys_dir)
    with db.write() as conn:
        meta = nodes.get_meta(conn)
        if meta.get("code"):
            if code and check_code(code) != meta["code"]:
                raise ConfigError(f"this node is already `{meta['code']}`; it cannot become `{code}`")
            return _info(meta), False
        try:
            node_code = check_code(code or DEFAULT_CODE)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        now = clock.now()
        meta = {
            "code": node_code,
            "name": (name or f"{node_code} {DEFAULT_NAME}").strip(),
            "created": format_timestamp(now),
            "default_label": format_label(DEFAULT_LABEL),
            "identity_id": f"identity--{uuid.uuid5(uuid.NAMESPACE_URL, 'tearline:node:' + node_code)}",
        }
        nodes.set_meta(conn, meta)
        nodes.add_collection(
            conn,
            nodes.CollectionRow(
                id=(ids or RandomIds()).new_uuid(),
                alias="shared",
                title="Shared",
                description="what this node shares; each partner sees what its profile allows",
                kind="shared",
                owner=None,
                partner_write=False,
                created_us=to_micros(now),
            ),
        )
    return _info(meta), True


def add_collection(
    db: Database, clock: Clock, alias: str, title: str, description: str, *, ids: IdFactory | None = None
) -> nodes.CollectionRow:
    """Add a collection that partners read (policy decides what each sees); an alias in use is a conflict."""
    with db.write() as conn:
        if nodes.find_collection(conn, alias) is not None:
            raise Conflict(f"collection `{alias}` already exists")
        row = nodes.CollectionRow(
            id=(ids or RandomIds()).new_uuid(), alias=alias, title=title, description=description,
            kind="custom", owner=None, partner_write=False, created_us=to_micros(clock.now()),
        )
        nodes.add_collection(conn, row)
    return row


def read_node(db: Database) -> NodeInfo:
    with db.read() as conn:
        meta = nodes.get_meta(conn)
    if not meta.get("code"):
        raise ConfigError("this folder holds no tearline node: run `tearline init` first")
    return _info(meta)


def _info(meta: dict[str, str]) -> NodeInfo:
    return NodeInfo(
        code=meta["code"],
        name=meta["name"],
        created=meta["created"],
        default_label=parse_label(meta["default_label"]),
        identity_id=meta["identity_id"],
    )
