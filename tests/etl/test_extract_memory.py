"""Defect 1 of issue #17: extract memory stays flat on a single-line export (what node-firestore-import-export
writes), measured as the peak RSS of a real ``reachimpact etl extract`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec

CLI = [str(Path(sys.executable).with_name("reachimpact")), "etl", "extract"]
PADDING = "x" * 2000


def _single_line_export(path: Path, documents: int) -> None:
    """``{"__collections__": {...}}`` on one line, written in pieces so the test itself stays small."""
    with open(path, "w") as out:
        out.write('{"__collections__":{"contacts":{')
        for i in range(documents):
            body = {
                "firstName": f"C{i}",
                "notes": PADDING,
                "n": i,
                "at": {"__datatype__": "timestamp", "value": {"_seconds": 1_700_000_000 + i, "_nanoseconds": 0}},
            }
            out.write(("," if i else "") + json.dumps(f"c{i}") + ":" + json.dumps(body, separators=(",", ":")))
        out.write("}}}")


def _lines(path: Path) -> int:
    with open(path, "rb") as f:
        return 1 + sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _extract_peak_rss(export: Path, snapshot: Path) -> int:
    """Peak RSS in bytes of one extract process (from wait4; it includes what the forking test process held,
    the same for both runs, so the difference of two runs is the extract's own growth)."""
    process = subprocess.Popen([*CLI, str(snapshot), "--firestore-export", str(export)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss * 1024


def test_a_single_line_export_is_extracted_in_flat_memory(tmp_path: Path) -> None:
    small, big = tmp_path / "small.json", tmp_path / "big.json"
    _single_line_export(small, 10)
    _single_line_export(big, 40_000)
    assert big.stat().st_size > 80_000_000 and _lines(big) == 1
    baseline = _extract_peak_rss(small, tmp_path / "s1")
    peak = _extract_peak_rss(big, tmp_path / "s2")
    manifest = msgspec.json.decode((tmp_path / "s2" / "manifest.json").read_bytes())
    assert manifest["complete"] and manifest["collections"] == {"contacts": 40_000}
    # The process may grow by a few buffers, never by anything near the file's 80 MB.
    assert peak - baseline < 20_000_000, (baseline, peak)


def _ndjson_export(path: Path, documents: int) -> None:
    with open(path, "w") as out:
        for i in range(documents):
            out.write(json.dumps({"path": f"contacts/c{i}", "data": {"firstName": f"C{i}", "notes": PADDING}}) + "\n")


def test_an_ndjson_export_is_extracted_by_workers_in_flat_memory(tmp_path: Path) -> None:
    """The worker processes get blocks of lines, at most two each in flight: neither they nor the extract
    process grow with the file."""
    small, big = tmp_path / "small.ndjson", tmp_path / "big.ndjson"
    _ndjson_export(small, 10)
    _ndjson_export(big, 40_000)
    assert big.stat().st_size > 80_000_000
    baseline = _extract_peak_rss(small, tmp_path / "s1")
    peak = _extract_peak_rss(big, tmp_path / "s2")
    manifest = msgspec.json.decode((tmp_path / "s2" / "manifest.json").read_bytes())
    assert manifest["complete"] and manifest["collections"] == {"contacts": 40_000}
    assert peak - baseline < 40_000_000, (baseline, peak)  # 1 MiB blocks: about 20 MB
