"""The deploy files are real: they parse, agree with each other, and name commands the CLI has."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import yaml
from click.testing import CliRunner

from service.cli import main

REPO = Path(__file__).resolve().parents[1]


def command_exists(command: str) -> bool:
    """True when `reachimpact ...` with these arguments is a command and options the CLI accepts."""
    program, *args = shlex.split(command)
    assert program == "reachimpact", command
    return CliRunner().invoke(main, [*args, "--help"]).exit_code == 0


def readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert first_block, "the README opens with a code block of commands"
    return [line for line in first_block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_the_serve_and_test_commands():
    serve, test = readme_commands()
    assert serve.endswith("reachimpact serve")
    assert "pytest" in test


def test_ci_runs_exactly_the_readme_test_command():
    ci_script = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci_script[-1] == readme_commands()[1]


def test_fly_toml_migrates_on_release_and_checks_health():
    fly = tomllib.loads((REPO / "fly.toml").read_text())
    assert command_exists(fly["deploy"]["release_command"])
    assert "migrate" in fly["deploy"]["release_command"]
    service = fly["http_service"]
    assert service["internal_port"] == int(fly["env"]["PORT"])
    assert [check["path"] for check in service["checks"]] == ["/health"]
    assert fly["kill_signal"] == "SIGTERM"
    assert fly["env"]["ENV"] == "production"
    for secret in ("JWT_SECRET", "DATABASE_URL"):
        assert secret not in fly["env"], "secrets belong in `fly secrets`, not fly.toml"


def test_dockerfile_is_multi_stage_slim_non_root_and_runs_a_real_command():
    dockerfile = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", dockerfile, re.M).group(1)
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert len(stages) >= 2 and all(image == "${PYTHON_IMAGE}" for image in stages)
    assert base.startswith("python:3.11") and base.endswith("-slim")
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "[dev]" not in dockerfile and "embedded" not in dockerfile
    cmd = json.loads(re.search(r"^CMD (\[.*\])", dockerfile, re.M).group(1))
    assert command_exists(shlex.join(cmd))
    fly = tomllib.loads((REPO / "fly.toml").read_text())
    assert f"PORT={fly['http_service']['internal_port']}" in dockerfile
    assert f"EXPOSE {fly['http_service']['internal_port']}" in dockerfile


def test_github_workflow_tests_then_deploys_main_with_flyctl():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    test_steps = " ".join(step.get("run", "") for step in workflow["jobs"]["test"]["steps"])
    for tool in ("ruff check", "mypy", "pytest"):
        assert tool in test_steps
    assert "postgres" in workflow["jobs"]["test"]["services"]
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "test"
    assert "refs/heads/main" in deploy["if"]
    run = next(step for step in deploy["steps"] if "flyctl deploy" in step.get("run", ""))
    assert run["env"]["FLY_API_TOKEN"] == "${{ secrets.FLY_API_TOKEN }}"
