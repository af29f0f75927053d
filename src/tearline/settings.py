"""Settings, declared once: name, type, default, help.

Precedence: command-line flags > environment (``TEARLINE_<NAME>``) > the node's settings file
(``<data>/settings.toml``) > default. Secrets are masked in ``repr``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tearline.errors import ConfigError


def _setting(default: Any, help: str, *, secret: bool = False, env: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "secret": secret, "env": env})


@dataclass(frozen=True)
class Settings:
    data: Path = _setting(Path("tearline-data"), "the node's data folder", env="TEARLINE_DATA")
    db: str = _setting(
        "",
        "database URL; empty means SQLite `tearline.db` in the data folder "
        "(PostgreSQL: `postgresql+psycopg://user@host/db`)",
        secret=True,
        env="TEARLINE_DB_URL",
    )
    kek_file: str = _setting(
        "",
        "file outside the data folder holding the vault key-encryption key (base64, 32 bytes); "
        "default `<data>.kek` beside the data folder when it exists",
        env="TEARLINE_KEK_FILE",
    )
    kek: str = _setting("", "the vault key-encryption key itself (base64)", secret=True, env="TEARLINE_KEK")
    max_body_bytes: int = _setting(
        10 * 1024 * 1024, "largest TAXII request body accepted, in bytes", env="TEARLINE_MAX_BODY_BYTES"
    )
    page_limit: int = _setting(1000, "largest TAXII page a client may ask for", env="TEARLINE_PAGE_LIMIT")
    psi_queries_per_day: int = _setting(20, "PSI queries a partner may make in 24 hours",
                                        env="TEARLINE_PSI_QUERIES_PER_DAY")
    psi_items_per_day: int = _setting(200_000, "PSI items a partner may send in 24 hours, all queries together",
                                      env="TEARLINE_PSI_ITEMS_PER_DAY")
    psi_min_query: int = _setting(100, "fewest items a PSI query may hold (fewer is a dictionary probe)",
                                  env="TEARLINE_PSI_MIN_QUERY")

    @property
    def db_url(self) -> str:
        if self.db:
            return self.db
        return f"sqlite:///{(self.data / 'tearline.db').resolve()}"

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = "***" if f.metadata.get("secret") and value else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"Settings({', '.join(parts)})"


def setting_docs() -> list[tuple[str, str, str, str]]:
    """(name, environment variable, default, help) of every setting."""
    out = []
    for f in fields(Settings):
        out.append((f.name, f.metadata.get("env") or "", repr(f.default), f.metadata["help"]))
    return out


def _coerce(name: str, kind: Any, value: Any) -> Any:
    try:
        if kind in (Path, "Path"):
            return Path(value)
        if kind in (int, "int"):
            return int(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting `{name}` has a bad value `{value}`") from None


def load_settings(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve settings from flags, environment, the data folder's settings file and defaults."""
    env = os.environ if environ is None else environ
    given = {k: v for k, v in (flags or {}).items() if v not in (None, "")}
    values: dict[str, Any] = {}
    for f in fields(Settings):
        ev = f.metadata.get("env")
        if f.name in given:
            values[f.name] = _coerce(f.name, f.type, given[f.name])
        elif ev and env.get(ev):
            values[f.name] = _coerce(f.name, f.type, env[ev])
    data = Path(values.get("data", Settings.data))
    file = data / "settings.toml"
    if file.is_file():
        try:
            from_file = tomllib.loads(file.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read `{file}`: {exc}") from None
        known = {f.name: f for f in fields(Settings)}
        for key, value in from_file.items():
            if key not in known:
                raise ConfigError(f"unknown setting `{key}` in `{file}`")
            values.setdefault(key, _coerce(key, known[key].type, value))
    return Settings(**values)
