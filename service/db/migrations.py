"""Alembic, driven from code: `reachimpact migrate`, start-up migration and the readiness check use this."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

# The top-level alembic/ folder, installed under this name (setup.py): the checkout's folder in an editable
# install, a copy in site-packages from a wheel or in the image. Never looked up relative to the working directory.
SCRIPTS_PACKAGE = "reachimpact_alembic"


def script_location() -> Path:
    spec = find_spec(SCRIPTS_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "env.py").is_file():
            return Path(folder)
    raise RuntimeError(f"the migrations ({SCRIPTS_PACKAGE}) are not installed: reinstall the reachimpact package")


def alembic_config(dsn: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    if dsn:
        config.attributes["dsn"] = dsn
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "alembic/versions holds no revision"
    return head


def upgrade(dsn: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(dsn), revision)


def downgrade(dsn: str, revision: str) -> None:
    command.downgrade(alembic_config(dsn), revision)


def current(dsn: str) -> None:
    command.current(alembic_config(dsn), verbose=False)


def check(dsn: str) -> None:
    """Raise if the models and the migrations disagree (what autogenerate would write)."""
    command.check(alembic_config(dsn))
