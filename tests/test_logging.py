"""Log lines go to the sys.stdout of the moment they are written, also after it was swapped and swapped back."""

from __future__ import annotations

import io
import logging
from contextlib import redirect_stdout

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
