"""Where a command's CPU goes: every interval, the CPU seconds (user + system, from /proc) that the command, its
child processes and the PostgreSQL backends of DATABASE_URL's database each used. Linux only; the server must run
on this machine.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/db .venv/bin/python bench/cpu_by_process.py \\
        .venv/bin/reachimpact etl load bench/.data/mixed-1000000/snapshot

A line per interval: its end, the CPU seconds of all the processes together, then each process that used at
least 0.05 s (``command``, ``child <pid>``, ``backend <pid>``). With two cores an interval of 2 s holds 4.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from harness import process_tree

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _backends(database: str) -> list[int]:
    """PostgreSQL backends name their database in their title: ``postgres: user db host(port) state``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres: ") and f" {database} " in title:
                found.append(int(entry.name))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=float, default=2.0, help="seconds per interval")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    database = urlsplit(os.environ["DATABASE_URL"]).path.strip("/")
    started = time.perf_counter()
    process = subprocess.Popen(args.command, stdout=subprocess.DEVNULL)
    seen: dict[str, float] = {}
    while process.poll() is None:
        time.sleep(args.every)
        labels = {
            process.pid: "command",
            **{p: f"child {p}" for p in process_tree(process.pid)[1:]},
            **{p: f"backend {p}" for p in _backends(database)},
        }
        used = {}
        for pid, label in labels.items():
            total = _cpu_seconds(pid)
            used[label] = total - seen.get(label, 0.0)
            seen[label] = total
        busy = sorted(((s, label) for label, s in used.items() if s >= 0.05), reverse=True)
        parts = ", ".join(f"{label} {s:.2f}" for s, label in busy)
        print(f"{time.perf_counter() - started:6.1f} s  all {sum(used.values()):5.2f}  {parts}", flush=True)
    raise SystemExit(process.returncode)


if __name__ == "__main__":
    main()
