"""The deploy files are real: they parse, agree with each other, and name commands the CLI has."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from click.testing import CliRunner

from service.cli import GRACEFUL_SHUTDOWN_SECONDS, main

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


def test_the_docs_need_nothing_outside_the_clone():
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text()
        assert "../shared" not in text and "/work/" not in text, doc
        for target in re.findall(r"\]\(([^)#:]+)\)", text):  # relative links point at files of the repository
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


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
    assert int(fly["kill_timeout"].removesuffix("s")) > GRACEFUL_SHUTDOWN_SECONDS
    assert service["processes"] == ["app"]
    # One image, two process groups: the API (behind the HTTP service) and the job worker.
    assert set(fly["processes"]) == {"app", "worker"}
    assert all(command_exists(command) for command in fly["processes"].values())
    worker_grace = int(shlex.split(fly["processes"]["worker"])[-1])
    assert int(fly["kill_timeout"].removesuffix("s")) > worker_grace
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


# The first major of each action that runs on node24 (node20 is retired from GitHub's runners).
NODE24_MAJORS = {"actions/checkout": 5, "actions/setup-python": 6, "actions/setup-node": 5}
NODE_LTS_LINES = {"22", "24"}  # Node.js lines in LTS support


def workflow() -> dict:
    return yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())


def test_github_workflow_runs_the_readme_tests_then_deploys_main_with_flyctl():
    jobs = workflow()["jobs"]
    lint = " ".join(step.get("run", "") for step in jobs["lint"]["steps"])
    for tool in ("ruff check", "ruff format --check", "mypy service etl"):
        assert tool in lint
    for name in ("test", "test-postgres-service"):
        assert "bash .ci/run" in [step.get("run") for step in jobs[name]["steps"]]
    assert "postgres" in jobs["test-postgres-service"]["services"]
    deploy = jobs["deploy"]
    assert set(deploy["needs"]) == {"lint", "test", "test-postgres-service"}
    assert "refs/heads/main" in deploy["if"]
    run = next(step for step in deploy["steps"] if "flyctl deploy" in step.get("run", ""))
    assert run["env"]["FLY_API_TOKEN"] == "${{ secrets.FLY_API_TOKEN }}"


def test_github_actions_are_current_and_pinned():
    steps = [step for job in workflow()["jobs"].values() for step in job["steps"]]
    for step in steps:
        if "uses" not in step:
            continue
        action, ref = step["uses"].split("@")
        assert ref not in ("master", "main"), f"{action} follows a branch; pin a release"
        if action in NODE24_MAJORS:
            assert int(ref.removeprefix("v").split(".")[0]) >= NODE24_MAJORS[action], step["uses"]
        if action == "superfly/flyctl-actions/setup-flyctl":
            assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?", ref), "setup-flyctl pinned to a release"
            assert re.fullmatch(r"\d+\.\d+\.\d+", str(step["with"]["version"])), "flyctl pinned to a version"
        if action == "actions/setup-node":
            assert str(step["with"]["node-version"]) in NODE_LTS_LINES


def test_the_workflow_lints_clean_with_actionlint():
    actionlint = Path(sys.executable).parent / "actionlint"
    result = subprocess.run(
        [actionlint, "-no-color", *sorted((REPO / ".github" / "workflows").glob("*.yml"))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
