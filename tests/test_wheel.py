"""The built wheel works on its own: installed outside the checkout it migrates, checks and serves.

It is built from exactly the files the Dockerfile's build stage copies, like the image. The fresh virtualenv
reuses the checkout's installed dependencies (a .pth line to its site-packages) instead of downloading them
again; the package itself, its console script and its migrations come from the wheel only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx

from tests.conftest import REPO
from tests.test_serve import start_service, stop

CHECKOUT_VENV_SITE_PACKAGES = sysconfig.get_paths()["purelib"]


def build_stage_sources() -> list[str]:
    """What the Dockerfile's build stage copies from the build context (its COPY lines without --from)."""
    dockerfile = (REPO / "Dockerfile").read_text()
    build_stage = dockerfile.split("\nFROM ")[1]
    sources: list[str] = []
    for line in re.findall(r"^COPY (?!--from)(.+)$", build_stage, re.M):
        *names, _destination = line.split()
        sources += names
    return sources


def build_wheel(workdir: Path) -> Path:
    source = workdir / "src"
    source.mkdir()
    for name in build_stage_sources():
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(workdir / "dist"), str(source)], check=True)
    (wheel,) = (workdir / "dist").glob("reachimpact-*.whl")
    return wheel


def install_into_fresh_venv(wheel: Path, venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = Path(
        subprocess.check_output(
            [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # A plain path line: the checkout's .pth files (its editable install among them) are not processed from it.
    (site_packages / "checkout_dependencies.pth").write_text(CHECKOUT_VENV_SITE_PACKAGES + "\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "--python", str(venv / "bin" / "python")]
    subprocess.run([*pip, "install", "--no-deps", str(wheel)], check=True)
    return venv / "bin" / "reachimpact"


def test_the_wheel_migrates_checks_and_serves_outside_the_checkout(tmp_path, empty_database):
    wheel = build_wheel(tmp_path)
    reachimpact = install_into_fresh_venv(wheel, tmp_path / "venv")
    elsewhere = tmp_path / "elsewhere"  # no alembic/ here: the migrations must come from the wheel
    elsewhere.mkdir()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("PYTHON")},
        "ENV": "production",
        "DATABASE_URL": empty_database,
        "JWT_SECRET": "wheel-test-" + "x" * 40,
        "PUBLIC_BASE_URL": "https://api.example.test",
        "REACHIMPACT_DATA_DIR": str(tmp_path / "data"),
    }
    python = str(reachimpact.parent / "python")
    where = subprocess.check_output(
        [python, "-c", "import service, service.db.migrations as m; print(service.__file__, m.script_location())"],
        cwd=elsewhere,
        env=env,
        text=True,
    ).split()
    assert all(path.startswith(str(tmp_path / "venv")) for path in where), where

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(reachimpact), *args], cwd=elsewhere, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result

    run("migrate", "upgrade")
    assert "models and migrations agree" in run("migrate", "check").stdout
    assert "(head)" in run("migrate", "current").stdout

    process, base = start_service(env, "--no-migrate", program=str(reachimpact), cwd=elsewhere)
    try:
        ready = httpx.get(base + "/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        for path in ("/health", "/ready"):
            head = httpx.head(base + path)
            assert (head.status_code, head.content) == (200, b"")
        spec = httpx.get(base + "/schema/openapi.json").json()
        assert spec["info"]["version"] == wheel.name.split("-")[1]
    finally:
        assert stop(process) == 0
