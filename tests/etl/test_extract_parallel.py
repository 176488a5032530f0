"""An NDJSON export is encoded by worker processes in blocks of lines: the snapshot, the error messages and the
resume after SIGKILL are those of the one-process reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from etl.extract import ExtractError, ExtractOptions, extract
from etl.snapshot import PROGRESS, Snapshot
from etl.sources.firestore_files import ExportFormatError, backfire_blocks

FIXTURES = Path(__file__).parent / "fixtures"
CLI = [str(Path(sys.executable).with_name("reachimpact")), "etl", "extract"]
SEQUENTIAL = ExtractOptions(processes=1)
PARALLEL = ExtractOptions(processes=2, block_bytes=700)  # many blocks, some lines longer than one


def _export(path: Path, documents: int, *, long_every: int = 50) -> Path:
    """Backfire lines over three roots, with subcollections, type hints, blank lines and a few long lines."""
    with open(path, "w") as out:
        for i in range(documents):
            root = ("contacts", "calls", "channels")[i % 3]
            doc_path = f"channels/h{i}/messages/m{i}" if root == "channels" and i % 2 else f"{root}/d{i}"
            data = {"n": i, "at": {"_seconds": 1_700_000_000 + i, "_nanoseconds": 0}, "note": "é" * (i % 7)}
            if i % long_every == 0:
                data["notes"] = "x" * 2000
            out.write(json.dumps({"path": doc_path, "data": data, "timestamps": ["at"]}) + "\n")
            if i % 17 == 0:
                out.write("\n   \n")
    return path


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*.digests")) + sorted(directory.rglob("*.ndjson"))
    }


def _manifest(directory: Path) -> dict:
    data = json.loads((directory / "manifest.json").read_text())
    data.pop("createdAt")
    data["sources"] = [s.rsplit("/", 1)[-1] for s in data["sources"]]
    return data


def test_blocks_are_whole_lines_numbered_from_the_file(tmp_path: Path) -> None:
    export = _export(tmp_path / "e.ndjson", 200)
    content = export.read_bytes()
    blocks = list(backfire_blocks(export, size=700))
    assert len(blocks) > 20 and b"".join(data for _, data in blocks) == content
    assert all(data.endswith(b"\n") for _, data in blocks)
    lines = content.split(b"\n")
    for number, data in blocks:
        assert data.split(b"\n")[0] == lines[number - 1]
    # A resume skips records (not blank lines) without decoding them.
    number, data = next(backfire_blocks(export, skip=20, size=700))
    records = [line for line in lines if line.strip()]
    assert data.split(b"\n")[0] == records[20] == lines[number - 1]


def test_the_parallel_extract_writes_the_sequential_snapshot(tmp_path: Path) -> None:
    export = _export(tmp_path / "e.ndjson", 600)
    one = extract(tmp_path / "one", firestore_export=export, options=SEQUENTIAL)
    many = extract(tmp_path / "many", firestore_export=export, options=PARALLEL)
    assert one.documents == many.documents == 600
    assert _files(tmp_path / "one") == _files(tmp_path / "many")
    assert _manifest(tmp_path / "one") == _manifest(tmp_path / "many")
    assert [d.path for d in Snapshot(tmp_path / "many").iter_documents("calls")][:2] == ["calls/d1", "calls/d4"]
    # The fixture (NaN literal, hints, a missing parent's subcollection) also comes out the same.
    fixture = FIXTURES / "firestore_backup.ndjson"
    extract(tmp_path / "f1", firestore_export=fixture, options=SEQUENTIAL)
    extract(tmp_path / "f2", firestore_export=fixture, options=PARALLEL)
    assert _files(tmp_path / "f1") == _files(tmp_path / "f2")


def test_a_bad_line_is_named_by_its_number_in_the_file(tmp_path: Path) -> None:
    export = _export(tmp_path / "e.ndjson", 300)
    lines = export.read_text().split("\n")
    lines[250] = '{"path": "contacts/bad", "data": {"x": 99999999999999999999}}'
    export.write_text("\n".join(lines))
    for options in (SEQUENTIAL, PARALLEL):
        with pytest.raises(ExportFormatError, match=r"e\.ndjson:251: contacts/bad:x: integer .* int64"):
            extract(tmp_path / f"out{options.processes}", firestore_export=export, options=options)


def test_a_killed_parallel_extract_resumes_to_the_same_snapshot(tmp_path: Path) -> None:
    """SIGKILL once the first checkpoint is down, then the same command again: neither lost nor repeated lines."""
    export = _export(tmp_path / "e.ndjson", 60_000, long_every=5)
    reference = tmp_path / "reference"
    extract(reference, firestore_export=export, options=SEQUENTIAL)
    killed = tmp_path / "killed"
    process = subprocess.Popen([*CLI, str(killed), "--firestore-export", str(export)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _cursor(killed) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the extract finished before it could be killed"
    workers = _children(process.pid)
    assert workers, "the extract runs no worker processes"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    _wait_until_gone(workers)  # they die with it: a killed extract leaves nothing running
    assert not (killed / "manifest.json").exists() or not _manifest(killed)["complete"]
    subprocess.run([*CLI, str(killed), "--firestore-export", str(export)], check=True, stdout=subprocess.DEVNULL)
    assert _files(killed) == _files(reference)
    assert _manifest(killed) == _manifest(reference)


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def _wait_until_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and " Z " not in Path(f"/proc/{p}/stat").read_text()]
        if not alive:
            return
        time.sleep(0.02)
    raise AssertionError(f"worker processes {alive} outlived the killed command")


def _cursor(directory: Path) -> int:
    try:
        progress = msgspec.json.decode((directory / PROGRESS).read_bytes())
    except (FileNotFoundError, msgspec.DecodeError):
        return 0
    return (progress["units"].get("firestore") or {}).get("cursor") or 0


def _die(*_: object) -> None:
    os._exit(1)


def test_a_dead_worker_stops_the_extract_with_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("etl.extract.encode_backfire_block", _die)  # the forked workers inherit it
    with pytest.raises(ExtractError, match=r"a worker process died .* rerun to continue"):
        extract(tmp_path / "out", firestore_export=_export(tmp_path / "e.ndjson", 100), options=PARALLEL)
