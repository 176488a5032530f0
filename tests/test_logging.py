"""Log lines go to the sys.stdout of the moment they are written, also after it was swapped and swapped back."""

from __future__ import annotations

import io
import logging
import time
from contextlib import redirect_stdout

import pytest
import structlog

from service.logging import configure_logging


def test_cached_loggers_follow_a_later_stdout(capsys):
    captured_while_configuring = io.StringIO()
    with redirect_stdout(captured_while_configuring):  # what click's CliRunner does around a command
        configure_logging("INFO", "json")
        structlog.get_logger("probe").info("during the command")
        logging.getLogger("probe.stdlib").warning("stdlib during the command")
    structlog.get_logger("probe").info("after the command")
    logging.getLogger("probe.stdlib").warning("stdlib after the command")

    assert "during the command" in captured_while_configuring.getvalue()
    assert "stdlib during the command" in captured_while_configuring.getvalue()
    after = capsys.readouterr().out
    assert '"event":"after the command"' in after
    assert "stdlib after the command" in after
    assert "after" not in captured_while_configuring.getvalue()


def _fail(depth: int) -> None:
    payload = {"rows": list(range(1000)), "text": "x" * 10_000}  # locals a pretty traceback would render
    if depth == 0:
        raise RuntimeError(f"deep failure ({len(payload)})")
    _fail(depth - 1)


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_logging_an_unhandled_error_is_cheap_in_every_format(capsys, fmt):
    """An outage fails every request: logging each failure must cost about a millisecond, not rich's 200 ms."""
    configure_logging("INFO", fmt)
    log = structlog.get_logger("probe")
    durations = []
    for _ in range(20):
        try:
            _fail(30)
        except RuntimeError:
            started = time.perf_counter()
            log.exception("unhandled error", path="/api/contacts")
            durations.append(time.perf_counter() - started)
    out = capsys.readouterr().out
    assert "Traceback (most recent call last)" in out and "RuntimeError: deep failure (2)" in out
    assert "╭" not in out and "depth = " not in out  # plain: no panels, no locals
    assert sorted(durations)[len(durations) // 2] < 0.01, durations
