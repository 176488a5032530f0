"""Alembic, driven from code: `reachimpact migrate`, start-up migration and the readiness check use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def _script_location() -> Path:
    # In a checkout (and the Docker image) alembic/ sits beside service/; fall back to the working directory.
    beside_package = Path(__file__).resolve().parents[2] / "alembic"
    return beside_package if beside_package.is_dir() else Path.cwd() / "alembic"


def alembic_config(dsn: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_script_location()))
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
