"""The ``reachimpact etl`` commands: help everywhere, clear errors, exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner

from service.cli import main
from tests.etl.helpers import reachimpact_documents, reachimpact_users, write_snapshot

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REACHIMPACT_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
    }


@pytest.mark.parametrize("command", [[], ["extract"], ["load"], ["verify"], ["run"], ["export"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, ["etl", *command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_errors_are_one_clear_line(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["etl", "load", str(tmp_path / "nowhere")], env=env)
    assert missing.exit_code == 1
    assert "is not a snapshot" in missing.output and "Traceback" not in missing.output
    nothing = runner.invoke(main, ["etl", "extract", str(tmp_path / "snap")], env=env)
    assert nothing.exit_code == 1 and "nothing to extract" in nothing.output
    both = runner.invoke(
        main,
        [
            "etl",
            "extract",
            str(tmp_path / "s2"),
            "--firestore-live",
            "--firestore-export",
            str(FIXTURES / "firestore_export.json"),
        ],
        env=env,
    )
    assert both.exit_code == 1 and "choose one Firestore source" in both.output
    bad_hash = runner.invoke(
        main,
        ["etl", "run", "--hash-config", '{"rounds": 8}', "--auth-export", str(FIXTURES / "auth_export.json")],
        env=env,
    )
    assert bad_hash.exit_code == 2 and "--hash-config" in bad_hash.output


def _sql(database_url: str, statement: str) -> object:
    async def run() -> object:
        connection = await asyncpg.connect(database_url)
        try:
            return await connection.fetchval(statement)
        finally:
            await connection.close()

    return asyncio.run(run())


def test_load_dry_run_then_load_then_verify(env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    snapshot = str(write_snapshot(tmp_path / "snap", reachimpact_documents(), reachimpact_users()))
    runner = CliRunner()
    dry = runner.invoke(main, ["etl", "load", snapshot, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and _sql(database_url, "SELECT count(*) FROM contacts") == 0

    loaded = runner.invoke(main, ["etl", "load", snapshot, "--report", str(tmp_path / "load.json")], env=env)
    assert loaded.exit_code == 0, loaded.output
    assert json.loads((tmp_path / "load.json").read_text())["stages"][2]["load"]["inserted"] == 3

    verified = runner.invoke(main, ["etl", "verify", snapshot], env=env)
    assert verified.exit_code == 0, verified.output
    _sql(database_url, "DELETE FROM contacts WHERE firebase_id = 'contacts/c1'")
    failed = runner.invoke(main, ["etl", "verify", snapshot, "--report", str(tmp_path / "v.json")], env=env)
    assert failed.exit_code == 1
    assert json.loads((tmp_path / "v.json").read_text())["ok"] is False


def test_run_from_export_files(env: dict[str, str], tmp_path: Path) -> None:
    arguments = [
        "etl",
        "run",
        "--auth-export",
        str(FIXTURES / "auth_export.json"),
        "--firestore-export",
        str(FIXTURES / "firestore_export.json"),
        "--snapshot-dir",
        str(tmp_path / "snap"),
    ]
    result = CliRunner().invoke(main, arguments, env=env)
    assert result.exit_code == 0, result.output
    assert "Every source document is accounted for" in result.output
    again = CliRunner().invoke(main, arguments, env=env)
    assert again.exit_code == 0, again.output  # a finished run, run again: nothing to do, still all accounted


def test_export_refuses_a_non_empty_directory(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("")
    result = CliRunner().invoke(main, ["etl", "export", str(tmp_path / "out")], env=env)
    assert result.exit_code == 1 and "not empty" in result.output
